// GET /.well-known/jwks.json: public members only, whatever the operator pasted (SPEC.md §3).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withService } from './lib/service.mjs';
import { ecPrivateJwk, rsaPrivateJwk, thumbprint } from './lib/keys.mjs';
import { PRIVATE_MEMBERS } from './lib/secrets.mjs';

const RSA_MEMBERS = ['kty', 'n', 'e', 'kid', 'alg', 'use'];
const EC_MEMBERS = ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use'];

async function fetchJwks(svc) {
  const res = await svc.request('/.well-known/jwks.json');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.deepEqual(Object.keys(res.json), ['keys']);
  assert.equal(res.json.keys.length, 1, 'one signing key');
  return { jwks: res.json, text: res.text, key: res.json.keys[0] };
}

function assertMembers(key, expected) {
  assert.deepEqual(Object.keys(key).sort(), [...expected].sort());
  for (const name of PRIVATE_MEMBERS) assert.ok(!(name in key), `no "${name}" in the JWKS`);
}

const b64len = (s) => Buffer.from(s, 'base64url').length;

test('ephemeral RS256: kty n e kid alg use only, a 2048-bit modulus, kid dev-key-1', async () => {
  await withService({}, async (svc) => {
    const { key } = await fetchJwks(svc);
    assertMembers(key, RSA_MEMBERS);
    assert.equal(key.kty, 'RSA');
    assert.equal(key.alg, 'RS256');
    assert.equal(key.use, 'sig');
    assert.equal(key.kid, 'dev-key-1');
    assert.equal(key.e, 'AQAB');
    assert.match(key.n, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
    assert.equal(b64len(key.n), 256);
    assert.notEqual(Buffer.from(key.n, 'base64url')[0], 0, 'no leading zero byte');
  });
});

test('ephemeral ES256: kty crv x y kid alg use only, 32-byte coordinates', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const { key } = await fetchJwks(svc);
    assertMembers(key, EC_MEMBERS);
    assert.equal(key.kty, 'EC');
    assert.equal(key.crv, 'P-256');
    assert.equal(key.alg, 'ES256');
    assert.equal(key.use, 'sig');
    assert.equal(key.kid, 'dev-key-1');
    assert.equal(b64len(key.x), 32);
    assert.equal(b64len(key.y), 32);
  });
});

test('each start has a new ephemeral key', async () => {
  const first = await withService({}, async (svc) => (await fetchJwks(svc)).key.n);
  const second = await withService({}, async (svc) => (await fetchJwks(svc)).key.n);
  assert.notEqual(first, second);
});

test('pinned RSA with every private member: the JWKS carries the public half only, and the same on every fetch', async () => {
  const jwk = rsaPrivateJwk(2048, { kid: 'prod-key-1', alg: 'RS256', use: 'sig', key_ops: ['sign'], ext: true });
  await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
    const { key, text } = await fetchJwks(svc);
    assertMembers(key, RSA_MEMBERS);
    assert.deepEqual(key, { kty: 'RSA', n: jwk.n, e: jwk.e, kid: 'prod-key-1', alg: 'RS256', use: 'sig' });
    for (const name of PRIVATE_MEMBERS) assert.ok(!text.includes(jwk[name]), `the ${name} value is not in the body`);
    assert.equal((await fetchJwks(svc)).text, text);
  });
});

test('pinned EC: the JWKS carries crv x y, never d', async () => {
  const jwk = ecPrivateJwk({ kid: 'ec-prod' });
  await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
    const { key, text } = await fetchJwks(svc);
    assertMembers(key, EC_MEMBERS);
    assert.deepEqual(key, { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: 'ec-prod', alg: 'ES256', use: 'sig' });
    assert.ok(!text.includes(jwk.d));
  });
});

test('pinned RSA without kid: kid is the RFC 7638 thumbprint', async () => {
  const jwk = rsaPrivateJwk(2048);
  await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
    const { key } = await fetchJwks(svc);
    assert.equal(key.kid, thumbprint(jwk));
    assert.match(svc.stdoutLines[2], /^\[auth-service\] key source: env( alg: RS256 kid: [A-Za-z0-9_-]{43})?$/);
  });
});

test('pinned EC without kid: kid is the RFC 7638 thumbprint', async () => {
  const jwk = ecPrivateJwk();
  await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
    const { key } = await fetchJwks(svc);
    assert.equal(key.kid, thumbprint(jwk));
  });
});

test('pinned RSA without the CRT members (n e d only) loads and publishes n e', async () => {
  const { p, q, dp, dq, qi, ...jwk } = rsaPrivateJwk(2048, { kid: 'no-crt' }); // eslint-disable-line no-unused-vars
  await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
    const { key } = await fetchJwks(svc);
    assert.deepEqual(key, { kty: 'RSA', n: jwk.n, e: jwk.e, kid: 'no-crt', alg: 'RS256', use: 'sig' });
    const res = await svc.post({ sender: 'agent://a' });
    assert.equal(res.status, 200);
  });
});

test('HEAD on the JWKS answers 200 without a body', async () => {
  await withService({}, async (svc) => {
    const res = await fetch(svc.url('/.well-known/jwks.json'), { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });
});
