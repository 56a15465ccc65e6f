// Hostile or sloppy input must be refused with the right answer and leave the
// server up and minting: body limits, content types, broken JSON and UTF-8, deep nesting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, parseResponses, rawRequest, withService } from './lib/service.mjs';

const KIB = 1024;
const LIMIT = 100 * KIB;

// After every bad request: the process is alive, answers /healthz and still mints.
async function assertHealthy(svc, what) {
  assert.equal(svc.child.exitCode, null, `${what}: the process is still running`);
  assert.equal((await svc.request('/healthz')).status, 200, `${what}: /healthz`);
  const res = await svc.post({ sender: 'agent://still-here' });
  assert.equal(res.status, 200, `${what}: a mint still works`);
}

function assertError(res, status, message, what) {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.equal(res.text, JSON.stringify({ error: message }), what);
}

// A valid mint body of exactly `size` bytes, padded with JSON whitespace.
function bodyOfSize(size) {
  const core = '{"sender":"agent://big"}';
  return core.slice(0, -1) + ' '.repeat(size - core.length) + '}';
}

test('bad JSON of every kind: 400 invalid JSON body, and the server keeps going', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const bodies = {
      'truncated JSON': '{"sender":"agent://a","scopes":{"is_observer":tr',
      'duplicated key': '{"sender":"agent://a","ttl_seconds":60,"ttl_seconds":3600}',
      'duplicated key, nested': '{"sender":"agent://a","scopes":{"x":{"k":1,"k":1}}}',
      'invalid UTF-8 (0xFF)': Buffer.concat([Buffer.from('{"sender":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      'invalid UTF-8 (lone continuation)': Buffer.concat([Buffer.from('{"sender":"a'), Buffer.from([0x80]), Buffer.from('"}')]),
      'invalid UTF-8 in a key': Buffer.concat([Buffer.from('{"sender":"a","scopes":{"'), Buffer.from([0xc3]), Buffer.from('":1}}')]),
      // As deep as fits in the 100 KiB limit.
      '100000-deep arrays (unclosed)': '['.repeat(100_000),
      '50000-deep arrays (closed)': `{"sender":"a","scopes":{"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
      '15000-deep objects': `{"sender":"a","scopes":${'{"a":'.repeat(15_000)}1${'}'.repeat(15_000)}}`,
      'a lone surrogate escape': '{"sender":"\\udc00"}',
    };
    for (const [what, body] of Object.entries(bodies)) {
      assertError(await svc.post(body), 400, 'invalid JSON body', what);
      await assertHealthy(svc, what);
    }
  });
});

test('body size: exactly 100 KiB is accepted, one byte more is 413', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const atLimit = await svc.post(bodyOfSize(LIMIT));
    assert.equal(atLimit.status, 200, `100 KiB: ${atLimit.text}`);
    assertError(await svc.post(bodyOfSize(LIMIT + 1)), 413, 'request body too large', '100 KiB + 1');
    await assertHealthy(svc, 'after 413');
  });
});

test('a 101 KiB body -> 413, with or without a valid JSON content type', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const body = JSON.stringify({ sender: 'agent://a', scopes: { blob: 'x'.repeat(101 * KIB) } });
    assertError(await svc.post(body), 413, 'request body too large', '101 KiB JSON');
    await assertHealthy(svc, '101 KiB JSON');
    const big = 'y'.repeat(101 * KIB);
    const res = await svc.post(big, { contentType: 'text/plain' });
    assert.ok([413, 415].includes(res.status), `101 KiB text/plain: ${res.status}`);
    await assertHealthy(svc, '101 KiB text/plain');
  });
});

test('an announced 10 MB body is refused with 413 before it is sent', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const c = new Connection(svc.port);
    try {
      await c.send('POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n{"sender":');
      const res = await c.read(3000);
      assert.ok(res, 'an answer without waiting for the body');
      assert.equal(res.status, 413);
      assert.equal(res.text, '{"error":"request body too large"}');
    } finally {
      c.close();
    }
    await assertHealthy(svc, 'announced 10 MB');
  });
});

test('a chunked body that grows past 100 KiB -> 413', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const chunk = 'a'.repeat(16 * KIB);
    let request = 'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    request += '{"sender":"agent://a","scopes":{"pad":"'.length.toString(16) + '\r\n{"sender":"agent://a","scopes":{"pad":"\r\n';
    for (let i = 0; i < 8; i++) request += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    request += '4\r\n"}}\n\r\n0\r\n\r\n';
    const { data } = await rawRequest(svc.port, request, { timeoutMs: 5000 });
    const [res] = parseResponses(data);
    assert.ok(res, 'an answer');
    assert.equal(res.status, 413);
    await assertHealthy(svc, 'chunked 128 KiB');
  });
});

test('content types: missing or not JSON -> 415; application/json with charset utf-8 is fine', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const body = '{"sender":"agent://ct"}';
    // Without a content-type header at all (raw socket, so nothing adds one).
    const raw = await rawRequest(
      svc.port,
      `POST /tokens HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const [missing] = parseResponses(raw.data);
    assert.equal(missing.status, 415);
    assert.equal(missing.text, '{"error":"content-type must be application/json"}');
    assert.equal(missing.headers['content-type'], 'application/json');

    for (const contentType of [
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      'application/json-seq',
      'application/xml',
      '',
    ]) {
      assertError(await svc.post(body, { contentType }), 415, 'content-type must be application/json', contentType);
    }
    for (const contentType of [
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=UTF-8',
      'application/json;charset=utf-8',
      'Application/JSON',
    ]) {
      const res = await svc.post(body, { contentType });
      assert.equal(res.status, 200, `${contentType}: ${res.text}`);
      assert.equal(res.json.sender, 'agent://ct');
    }
    await assertHealthy(svc, 'content types');
  });
});

test('many bad requests in a row on one keep-alive connection, then a good one', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const c = new Connection(svc.port);
    try {
      const post = (body, type = 'application/json') =>
        `POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const steps = [
        [post('{'), 400],
        [post('{"sender":"a","sender":"a"}'), 400],
        [post('{"sender":" "}'), 400],
        [post('{"sender":"a","scopes":[]}'), 400],
        [post('{"sender":"a","ttl_seconds":-1}'), 400],
        [post('{"sender":"a"}', 'text/plain'), 415],
        [post('{"sender":"agent://good"}'), 200],
      ];
      for (const [request, status] of steps) {
        await c.send(request);
        const res = await c.read();
        assert.ok(res, 'still connected');
        assert.equal(res.status, status, res.text);
      }
    } finally {
      c.close();
    }
  });
});
