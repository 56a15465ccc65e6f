// Every row of SPEC.md §2's error table over a real socket: status, exact
// {"error":…} body, content-type application/json. (500 "internal error" cannot be
// provoked from outside: signing does not fail with a key that loaded.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withService } from './lib/service.mjs';

function assertError(res, status, message, what) {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.equal(res.headers.get('content-type'), 'application/json', what);
  assert.equal(res.text, JSON.stringify({ error: message }), what);
}

// Each case: a body (text, or bytes) for POST /tokens with content-type application/json.
async function expectAll(svc, bodies, status, message) {
  for (const body of bodies) {
    const what = typeof body === 'string' ? JSON.stringify(body.slice(0, 80)) : `bytes ${Buffer.from(body).toString('hex').slice(0, 40)}`;
    assertError(await svc.post(body), status, message, what);
  }
}

test('400 invalid JSON body', async () => {
  await withService({}, async (svc) => {
    await expectAll(
      svc,
      [
        '{',
        '{"sender":"a",}',
        "{'sender':'a'}",
        '{"sender":"a"} trailing',
        '{"sender":"a"}{"sender":"b"}',
        '{"sender":"a","sender":"b"}',
        '{"sender":"a","scopes":{"k":1,"k":2}}',
        '{sender:"a"}',
        '{"sender":"a\u0001"}',
        '{"sender":"a","ttl_seconds":NaN}',
        '{"sender":"a","ttl_seconds":Infinity}',
        '{"sender":"a","ttl_seconds":0x10}',
        '{"sender":"a","ttl_seconds":.5}',
        '{"sender":"a","ttl_seconds":01}',
        '{"sender":"a" /* comment */}',
        `{"sender":"a","scopes":${'['.repeat(100_000)}`,
        `{"sender":"a","scopes":{"x":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}}`,
        Buffer.from('7b2273656e646572223a2261ff227d', 'hex'), // {"sender":"a\xff"}
        Buffer.from('7b2273656e646572223a22c0af227d', 'hex'), // overlong '/'
        Buffer.from('7b2273656e646572223a22eda080227d', 'hex'), // an encoded surrogate
        Buffer.from('7b2273656e646572223a22e282227d', 'hex'), // a truncated sequence
      ],
      400,
      'invalid JSON body',
    );
  });
});

test('400 sender is required', async () => {
  await withService({}, async (svc) => {
    await expectAll(
      svc,
      [
        '',
        '   \r\n',
        '{}',
        'null',
        '[]',
        '[{"sender":"a"}]',
        '"agent://a"',
        '42',
        'true',
        '{"scopes":{}}',
        '{"sender":""}',
        '{"sender":"   "}',
        '{"sender":"\\t\\n\\r"}',
        '{"sender":"\\u00a0\\u2003\\u3000\\ufeff"}',
        '{"sender":null}',
        '{"sender":5}',
        '{"sender":true}',
        '{"sender":["agent://a"]}',
        '{"sender":{"id":"agent://a"}}',
        '{"Sender":"agent://a"}',
      ],
      400,
      'sender is required',
    );
  });
});

test('400 scopes must be an object', async () => {
  await withService({}, async (svc) => {
    await expectAll(
      svc,
      ['"x"', '""', '[]', '[{"is_observer":true}]', '1', '0', 'true', 'false', 'null'].map(
        (scopes) => `{"sender":"agent://a","scopes":${scopes}}`,
      ),
      400,
      'scopes must be an object',
    );
  });
});

test('400 scopes.<field> must be … for each runtime field of the wrong type', async () => {
  await withService({}, async (svc) => {
    const cases = {
      can_start_sessions: ['"true"', '1', '0', '[]', '{}'],
      is_observer: ['"false"', '0', '[]'],
      can_manage_mode_registry: ['"no"', '1', '{}'],
      allowed_modes: ['"macp.mode.decision.v1"', '[1]', '["a",null]', '["a",["b"]]', '{}', 'true'],
      max_open_sessions: ['-1', '1.5', '"1"', 'true', '9007199254740992', '1e300', '-0.5', '[]'],
    };
    for (const [field, values] of Object.entries(cases)) {
      for (const value of values) {
        const res = await svc.post(`{"sender":"agent://a","scopes":{"${field}":${value}}}`);
        const what = `${field}: ${value}`;
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assert.equal(res.headers.get('content-type'), 'application/json');
        assert.deepEqual(Object.keys(res.json), ['error']);
        assert.ok(res.json.error.startsWith(`scopes.${field} must be `), `${what}: ${res.text}`);
      }
    }
  });
});

test('400 ttl_seconds must be a positive number', async () => {
  await withService({}, async (svc) => {
    await expectAll(
      svc,
      ['0', '-0', '0.0', '-1', '-0.5', '-1e308', '"300"', '""', 'true', 'false', '[]', '[300]', '{}'].map(
        (ttl) => `{"sender":"agent://a","ttl_seconds":${ttl}}`,
      ),
      400,
      'ttl_seconds must be a positive number',
    );
  });
});

// SPEC.md §2: 1e400 overflows to an infinity, as in JavaScript, so it gets the ttl error, not the JSON one.
test('400 ttl_seconds must be a positive number for 1e400 and -1e400 (infinite, not invalid JSON)', async () => {
  await withService({}, async (svc) => {
    await expectAll(
      svc,
      ['1e400', '-1e400', '1E+999'].map((ttl) => `{"sender":"agent://a","ttl_seconds":${ttl}}`),
      400,
      'ttl_seconds must be a positive number',
    );
  });
});

test('404 not found', async () => {
  await withService({}, async (svc) => {
    assertError(await svc.request('/missing'), 404, 'not found', 'GET /missing');
  });
});

test('405 method not allowed (with Allow)', async () => {
  await withService({}, async (svc) => {
    const res = await svc.request('/tokens');
    assertError(res, 405, 'method not allowed', 'GET /tokens');
    assert.match(res.headers.get('allow'), /POST/);
  });
});

test('413 request body too large', async () => {
  await withService({}, async (svc) => {
    const body = JSON.stringify({ sender: 'agent://a', scopes: { pad: 'x'.repeat(101 * 1024) } });
    assertError(await svc.post(body), 413, 'request body too large', '101 KiB');
  });
});

test('415 content-type must be application/json', async () => {
  await withService({}, async (svc) => {
    const res = await svc.request('/tokens', { method: 'POST', body: new TextEncoder().encode('{"sender":"a"}') });
    assertError(res, 415, 'content-type must be application/json', 'no content-type');
    assertError(await svc.post('{"sender":"a"}', { contentType: 'text/plain' }), 415, 'content-type must be application/json', 'text/plain');
  });
});
