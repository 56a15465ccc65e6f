// The HTTP surface over a real socket: routes, 404, 405 + Allow, keep-alive,
// and malformed HTTP that must not take the server down (SPEC.md §2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, parseResponses, rawRequest, withService } from './lib/service.mjs';

function assertJsonError(res, status, message) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.text, JSON.stringify({ error: message }));
}

async function assertStillServing(svc) {
  const res = await svc.request('/healthz');
  assert.equal(res.status, 200, 'the server still answers');
  assert.equal(svc.child.exitCode, null, 'the process is still running');
}

test('GET /healthz -> 200 {"ok":true} as application/json', async () => {
  await withService({}, async (svc) => {
    const res = await svc.request('/healthz');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.text, '{"ok":true}');
  });
});

test('unknown paths -> 404 {"error":"not found"}', async () => {
  await withService({}, async (svc) => {
    for (const path of ['/', '/nope', '/token', '/tokens/', '/healthz/', '/.well-known/jwks', '/.well-known/jwks.json/x', '/TOKENS']) {
      for (const method of ['GET', 'POST']) {
        const res = await svc.request(path, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
        assertJsonError(res, 404, 'not found');
      }
    }
  });
});

test('known path, wrong method -> 405 with an Allow header', async () => {
  await withService({}, async (svc) => {
    const cases = [
      ['/healthz', ['POST', 'PUT', 'DELETE', 'PATCH'], 'GET'],
      ['/.well-known/jwks.json', ['POST', 'PUT', 'DELETE', 'PATCH'], 'GET'],
      ['/tokens', ['GET', 'PUT', 'DELETE', 'PATCH'], 'POST'],
    ];
    for (const [path, methods, allowed] of cases) {
      for (const method of methods) {
        const res = await svc.request(path, { method });
        assertJsonError(res, 405, 'method not allowed');
        const allow = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim());
        assert.ok(allow.includes(allowed), `${method} ${path}: Allow lists ${allowed}, got ${JSON.stringify(allow)}`);
        assert.ok(!allow.includes(method), `${method} ${path}: Allow does not list ${method}`);
      }
    }
  });
});

test('a query string does not change the route', async () => {
  await withService({}, async (svc) => {
    assert.equal((await svc.request('/healthz?probe=1')).status, 200);
    assert.equal((await svc.request('/.well-known/jwks.json?x=y')).status, 200);
  });
});

test('keep-alive: several requests, including errors, on one connection', async () => {
  await withService({}, async (svc) => {
    const c = new Connection(svc.port);
    try {
      const body = '{"sender":"agent://keep-alive"}';
      const requests = [
        ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 200],
        ['GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n', 200],
        [`POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 200],
        ['GET /nope HTTP/1.1\r\nHost: x\r\n\r\n', 404],
        ['GET /tokens HTTP/1.1\r\nHost: x\r\n\r\n', 405],
        ['POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}', 400],
        ['POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}', 415],
        [`POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 200],
      ];
      for (const [request, status] of requests) {
        await c.send(request);
        const res = await c.read();
        assert.ok(res, 'the connection stayed open');
        assert.equal(res.status, status, res.text);
        assert.equal(res.headers['content-type'], 'application/json');
        assert.notEqual(res.headers.connection?.toLowerCase(), 'close');
      }
      assert.equal(c.closed, false);
    } finally {
      c.close();
    }
  });
});

test('pipelined requests are answered in order on one connection', async () => {
  await withService({}, async (svc) => {
    const request =
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const { data } = await rawRequest(svc.port, request);
    const responses = parseResponses(data);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 404, 200],
    );
    assert.equal(responses[0].text, '{"ok":true}');
  });
});

test('Connection: close and HTTP/1.0 get one answer, then the server closes', async () => {
  await withService({}, async (svc) => {
    for (const request of [
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /healthz HTTP/1.0\r\n\r\n',
    ]) {
      const { data, timedOut } = await rawRequest(svc.port, request, { timeoutMs: 3000 });
      assert.equal(timedOut, false, 'the server closed the connection');
      const responses = parseResponses(data);
      assert.equal(responses.length, 1);
      assert.equal(responses[0].status, 200);
    }
  });
});

test('malformed HTTP gets a 4xx JSON error, and the server stays up', async () => {
  await withService({}, async (svc) => {
    const malformed = [
      'HELLO\r\n\r\n',
      'GET\r\n\r\n',
      'GET /healthz HTTP/9.9\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n',
      'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
      'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
      '\x00\x01\x02\x03\xff\xfe\r\n\r\n',
    ];
    for (const request of malformed) {
      const what = JSON.stringify(request.slice(0, 60));
      const { data, timedOut } = await rawRequest(svc.port, request, { timeoutMs: 3000, halfClose: true });
      assert.equal(timedOut, false, `${what}: the server closed the connection`);
      const responses = parseResponses(data);
      assert.equal(responses.length, 1, `${what}: one answer`);
      const [res] = responses;
      assert.ok(res.status >= 400 && res.status < 500, `${what}: got ${res.status}`);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.match(res.text, /^\{"error":"[^"]+"\}$/);
      await assertStillServing(svc);
    }
  });
});

test('a client that sends half a request and hangs up does not hurt the server', async () => {
  await withService({}, async (svc) => {
    for (const request of ['GET /healthz HTTP/1.1\r\nHost: x\r\n', 'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sen']) {
      const { data, timedOut } = await rawRequest(svc.port, request, { timeoutMs: 3000, halfClose: true });
      assert.equal(timedOut, false, 'the server closed its side');
      assert.equal(parseResponses(data).length, 0);
      await assertStillServing(svc);
    }
  });
});

test('a chunked POST /tokens body is accepted', async () => {
  await withService({}, async (svc) => {
    const request =
      'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      '5\r\n{"sen\r\n13\r\nder":"agent://chunk\r\n2\r\n"}\r\n0\r\n\r\n';
    const [res] = parseResponses((await rawRequest(svc.port, request)).data);
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(res.text).sender, 'agent://chunk');
  });
});

test('50 concurrent mints all succeed', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => svc.post({ sender: `agent://concurrent/${i}` })),
    );
    results.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.equal(res.json.sender, `agent://concurrent/${i}`);
    });
  });
});

// RFC 9110 §9.3.2: a HEAD response has no body, on a 404 or a 405 too; one there would be read
// by a keep-alive client as the start of the next response.
test('HEAD answers carry no body on any path, so the next response on the connection is intact', async () => {
  await withService({}, async (svc) => {
    for (const [path, status] of [
      ['/healthz', 200],
      ['/.well-known/jwks.json', 200],
      ['/nope', 404],
      ['/tokens', 405],
    ]) {
      const { data } = await rawRequest(
        svc.port,
        `HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      const text = data.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      assert.ok(text.startsWith(`HTTP/1.1 ${status} `), `HEAD ${path}: ${JSON.stringify(text.slice(0, 40))}`);
      const rest = text.slice(headEnd + 4);
      assert.ok(
        rest.startsWith('HTTP/1.1 200 '),
        `HEAD ${path}: the next response must follow the headers directly, got ${JSON.stringify(rest.slice(0, 40))}`,
      );
      assert.ok(rest.endsWith('{"ok":true}'));
    }
  });
});
