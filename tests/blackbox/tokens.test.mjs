// POST /tokens success path: response shape, headers, TTL rules, the JWT header and
// payload byte for byte, scopes passthrough and string round-trips (SPEC.md §2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, withService } from './lib/service.mjs';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const utf8 = new TextDecoder('utf-8', { fatal: true });

// Mints and checks what holds for every success: status, headers, response member order, exp - iat.
async function mintOk(svc, body, { contentType } = {}) {
  const before = nowSeconds();
  const res = await svc.post(body, contentType ? { contentType } : {});
  const after = nowSeconds();
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.deepEqual(Object.keys(res.json), ['token', 'sender', 'expires_in_seconds']);
  const jwt = decodeJwt(res.json.token);
  assert.ok(Number.isInteger(jwt.payload.iat) && jwt.payload.iat >= before && jwt.payload.iat <= after, 'iat is now, in whole seconds');
  assert.equal(jwt.payload.exp - jwt.payload.iat, res.json.expires_in_seconds, 'exp - iat == expires_in_seconds');
  return { res, jwt };
}

// The raw text of the macp_scopes claim in a payload.
function scopesText(payloadText) {
  assert.ok(payloadText.startsWith('{"macp_scopes":'));
  return payloadText.slice('{"macp_scopes":'.length, payloadText.lastIndexOf(',"iat":'));
}

test("the seed's mint: 200, token/sender/expires_in_seconds, Cache-Control: no-store", async () => {
  await withService({}, async (svc) => {
    const seedScopes =
      '{"can_start_sessions":true,"is_observer":false,"allowed_modes":["macp.mode.decision.v1"],"max_open_sessions":1,"can_manage_mode_registry":false}';
    const { res, jwt } = await mintOk(svc, `{"sender":"agent://risk","scopes":${seedScopes},"ttl_seconds":600}`);
    assert.equal(res.json.sender, 'agent://risk');
    assert.equal(res.json.expires_in_seconds, 600);
    assert.equal(scopesText(jwt.payloadText), seedScopes);
  });
});

test('RS256 header is exactly {"alg":"RS256","kid":"dev-key-1"}; payload claims in contract order', async () => {
  await withService({}, async (svc) => {
    const { jwt } = await mintOk(svc, { sender: 'agent://risk' });
    assert.equal(jwt.headerText, '{"alg":"RS256","kid":"dev-key-1"}');
    const { iat } = jwt.payload;
    assert.equal(
      jwt.payloadText,
      `{"macp_scopes":{},"iat":${iat},"exp":${iat + 300},"iss":"macp-auth-service","aud":"macp-runtime","sub":"agent://risk"}`,
    );
    assert.equal(jwt.signature.length, 256, 'a 2048-bit RSA signature');
  });
});

test('ES256 header is exactly {"alg":"ES256","kid":"dev-key-1"} and the signature is 64 bytes', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const { jwt } = await mintOk(svc, { sender: 'agent://risk' });
    assert.equal(jwt.headerText, '{"alg":"ES256","kid":"dev-key-1"}');
    assert.deepEqual(Object.keys(jwt.payload), ['macp_scopes', 'iat', 'exp', 'iss', 'aud', 'sub']);
    assert.equal(jwt.signature.length, 64, 'raw R || S, not DER');
  });
});

test('custom issuer and audience go into iss and aud (aud a string)', async () => {
  await withService({ MACP_AUTH_ISSUER: 'https://auth.example.com/"q"', MACP_AUTH_AUDIENCE: 'rt-ü' }, async (svc) => {
    const { jwt } = await mintOk(svc, { sender: 'agent://a' });
    assert.equal(jwt.payload.iss, 'https://auth.example.com/"q"');
    assert.equal(jwt.payload.aud, 'rt-ü');
  });
});

test('TTL: default, null, fractions rounded up, clamped to the max', async () => {
  await withService({}, async (svc) => {
    const cases = [
      ['{"sender":"a"}', 300],
      ['{"sender":"a","ttl_seconds":null}', 300],
      ['{"sender":"a","ttl_seconds":600}', 600],
      ['{"sender":"a","ttl_seconds":1}', 1],
      ['{"sender":"a","ttl_seconds":1.2}', 2],
      ['{"sender":"a","ttl_seconds":0.0001}', 1],
      ['{"sender":"a","ttl_seconds":299.5}', 300],
      ['{"sender":"a","ttl_seconds":600.0}', 600],
      ['{"sender":"a","ttl_seconds":6e2}', 600],
      ['{"sender":"a","ttl_seconds":3600}', 3600],
      ['{"sender":"a","ttl_seconds":3599.01}', 3600],
      ['{"sender":"a","ttl_seconds":3600.5}', 3600],
      ['{"sender":"a","ttl_seconds":999999}', 3600],
      ['{"sender":"a","ttl_seconds":1e308}', 3600],
      ['{"sender":"a","ttl_seconds":18446744073709551616}', 3600],
    ];
    for (const [body, expected] of cases) {
      const { res, jwt } = await mintOk(svc, body);
      assert.equal(res.json.expires_in_seconds, expected, body);
      assert.equal(jwt.payload.exp - jwt.payload.iat, expected, body);
    }
  });
});

test('MACP_AUTH_DEFAULT_TTL_SECONDS and MACP_AUTH_MAX_TTL_SECONDS are applied', async () => {
  await withService({ MACP_AUTH_DEFAULT_TTL_SECONDS: '45', MACP_AUTH_MAX_TTL_SECONDS: '90' }, async (svc) => {
    assert.equal((await mintOk(svc, { sender: 'a' })).res.json.expires_in_seconds, 45);
    assert.equal((await mintOk(svc, { sender: 'a', ttl_seconds: 89.5 })).res.json.expires_in_seconds, 90);
    assert.equal((await mintOk(svc, { sender: 'a', ttl_seconds: 91 })).res.json.expires_in_seconds, 90);
  });
});

test('scopes pass through in the order given, unknown keys and nesting untouched', async () => {
  await withService({}, async (svc) => {
    const scopes =
      '{"zeta":"last-first","can_manage_mode_registry":false,"nested":{"b":[1,"two",null,true,{"y":1,"x":2}],"a":{}},' +
      '"allowed_modes":["macp.mode.decision.v1","","mode/ü"],"max_open_sessions":0,"is_observer":true,' +
      '"ключ":"значение","half":0.5,"neg":-7,"can_start_sessions":false,"list":[]}';
    const { jwt } = await mintOk(svc, `{"sender":"agent://a","scopes":${scopes}}`);
    assert.equal(scopesText(jwt.payloadText), scopes);
  });
});

test('omitted scopes become {}', async () => {
  await withService({}, async (svc) => {
    const { jwt } = await mintOk(svc, { sender: 'agent://a', ttl_seconds: 60 });
    assert.equal(scopesText(jwt.payloadText), '{}');
  });
});

test('JSON null for each of the five runtime fields is allowed and kept', async () => {
  await withService({}, async (svc) => {
    const scopes =
      '{"can_start_sessions":null,"is_observer":null,"allowed_modes":null,"max_open_sessions":null,"can_manage_mode_registry":null}';
    const { jwt } = await mintOk(svc, `{"sender":"agent://a","scopes":${scopes}}`);
    assert.equal(scopesText(jwt.payloadText), scopes);
  });
});

test('max_open_sessions: 3.0 is written back as 3; 0 and 2^53-1 are accepted', async () => {
  await withService({}, async (svc) => {
    for (const [given, written] of [
      ['3.0', '3'],
      ['3', '3'],
      ['3e0', '3'],
      ['0', '0'],
      ['9007199254740991', '9007199254740991'],
      ['9007199254740991.0', '9007199254740991'],
    ]) {
      const { jwt } = await mintOk(svc, `{"sender":"a","scopes":{"max_open_sessions":${given}}}`);
      assert.equal(scopesText(jwt.payloadText), `{"max_open_sessions":${written}}`, given);
    }
  });
});

test('allowed_modes may hold empty strings and may be empty', async () => {
  await withService({}, async (svc) => {
    for (const modes of ['[""]', '[]', '["a","",""]']) {
      const { jwt } = await mintOk(svc, `{"sender":"a","scopes":{"allowed_modes":${modes}}}`);
      assert.equal(scopesText(jwt.payloadText), `{"allowed_modes":${modes}}`);
    }
  });
});

test('a sender full of quotes, backslashes, NUL, U+2028 and emoji comes back exactly as sub and sender', async () => {
  await withService({}, async (svc) => {
    const senders = [
      'agent://"quoted"\\back\\slash\\\\',
      'nul\u0000inside',
      'line\u2028sep\u2029para',
      'emoji 😀🧑‍🚀 and ünïcødé 漢字',
      '\t\n\r\b\f\u0001\u001f\u007f control',
      '</script><!-- "\'`',
      ' leading and trailing spaces are kept ',
      '\\u0041 is not an escape here',
    ];
    for (const sender of senders) {
      const { res, jwt } = await mintOk(svc, { sender, scopes: { note: sender } });
      assert.equal(res.json.sender, sender);
      assert.equal(jwt.payload.sub, sender);
      assert.equal(jwt.payload.macp_scopes.note, sender);
      assert.doesNotThrow(() => utf8.decode(Buffer.from(jwt.parts[1], 'base64url')), 'the payload is valid UTF-8');
    }
  });
});

test('escaped input (\\uXXXX, surrogate pairs) is decoded before it is signed', async () => {
  await withService({}, async (svc) => {
    const { res, jwt } = await mintOk(svc, '{"sender":"\\ud83d\\ude00 \\u00e9 \\u2028 \\"\\\\\\/"}');
    const expected = '😀 é \u2028 "\\/';
    assert.equal(res.json.sender, expected);
    assert.equal(jwt.payload.sub, expected);
  });
});

test('every mint is a new token: a second later, fresh iat and exp', async () => {
  await withService({}, async (svc) => {
    const first = await mintOk(svc, { sender: 'agent://a' });
    await new Promise((r) => setTimeout(r, 1100));
    const second = await mintOk(svc, { sender: 'agent://a' });
    assert.notEqual(first.res.json.token, second.res.json.token);
    assert.ok(second.jwt.payload.iat > first.jwt.payload.iat);
    assert.equal(second.jwt.payload.exp - second.jwt.payload.iat, 300);
  });
});

test('error responses from /tokens carry Cache-Control: no-store too', async () => {
  await withService({}, async (svc) => {
    for (const [body, contentType, status] of [
      ['{"sender":""}', 'application/json', 400],
      ['{"sender":"a"}', 'text/plain', 415],
    ]) {
      const res = await svc.post(body, { contentType });
      assert.equal(res.status, status);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
  });
});
