// Environment parsing (SPEC.md §3, §4): a value that does not parse stops the start
// with exit 1 and one stderr line naming the variable, never echoing key material.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { runUntilExit, withService, decodeJwt } from './lib/service.mjs';
import { ecPrivateJwk, publicJwkOf, rsaPrivateJwk } from './lib/keys.mjs';
import { privateValuesOf } from './lib/secrets.mjs';

async function assertRefused(env, variable, { alsoAccept = [], secrets = [] } = {}) {
  const result = await runUntilExit(env, { secrets });
  assert.equal(result.signal, null, `died by ${result.signal}\nstderr:\n${result.stderr}`);
  assert.equal(result.code, 1, `exit code\nstderr:\n${result.stderr}`);
  assert.equal(result.stderrLines.length, 1, `exactly one stderr line, got:\n${result.stderr}`);
  const line = result.stderrLines[0];
  const names = [variable, ...alsoAccept];
  assert.ok(
    names.some((name) => line.includes(name)),
    `the line names ${names.join(' or ')}: ${JSON.stringify(line)}`,
  );
  assert.ok(!result.stdout.includes('listening on port'), 'it never claims to listen');
  return line;
}

const badValues = [
  ['PORT', 'abc'],
  ['PORT', '-1'],
  ['PORT', '65536'],
  ['PORT', '80x'],
  ['PORT', ''],
  ['MACP_AUTH_MAX_TTL_SECONDS', '-5'],
  ['MACP_AUTH_MAX_TTL_SECONDS', '1h'],
  ['MACP_AUTH_MAX_TTL_SECONDS', '0'],
  ['MACP_AUTH_DEFAULT_TTL_SECONDS', 'abc'],
  ['MACP_AUTH_DEFAULT_TTL_SECONDS', '-5'],
  ['MACP_AUTH_SIGNING_ALG', 'HS256'],
  ['MACP_AUTH_SIGNING_ALG', 'none'],
  ['MACP_AUTH_BIND_ADDR', 'not-an-address'],
  ['MACP_AUTH_RATE_LIMIT_REDIS_URL', 'http://127.0.0.1:6379'],
  ['MACP_AUTH_RATE_LIMIT_REDIS_URL', 'rediss://127.0.0.1:6379'],
  ['MACP_AUTH_RATE_LIMIT_REDIS_URL', 'redis://127.0.0.1'],
  ['MACP_AUTH_RATE_LIMIT_REDIS_URL', 'redis://127.0.0.1:0'],
  ['MACP_AUTH_RATE_LIMIT_REDIS_URL', 'redis://127.0.0.1:6379/16'],
  ['MACP_AUTH_RATE_LIMIT_REDIS_URL', ''],
  ['MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE', 'maybe'],
  ['MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE', 'OPEN'],
];

for (const [variable, value] of badValues) {
  test(`${variable}=${JSON.stringify(value)} -> exit 1 naming the variable`, async () => {
    await assertRefused({ [variable]: value }, variable);
  });
}

test('a Redis URL with a password -> exit 1, the password never echoed', async () => {
  const password = 'pw-' + crypto.randomBytes(12).toString('hex');
  const line = await assertRefused(
    { MACP_AUTH_RATE_LIMIT_REDIS_URL: `redis://user:${password}@127.0.0.1:6379` },
    'MACP_AUTH_RATE_LIMIT_REDIS_URL',
    { secrets: [password] },
  );
  assert.match(line, /password is not supported/);
});

// Keys: each case is (name, JWK text); none may start, none may print key material.
const rsa = rsaPrivateJwk(2048, { kid: 'k-rsa' });
const otherRsa = rsaPrivateJwk(2048);
const ec = ecPrivateJwk({ kid: 'k-ec' });
const otherEc = ecPrivateJwk();
const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' });
const rsa1024 = rsaPrivateJwk(1024);
const withoutCrt = ({ p, q, dp, dq, qi, ...rest }) => rest; // eslint-disable-line no-unused-vars

const badKeys = [
  ['a public-only RSA JWK', JSON.stringify({ ...publicJwkOf(rsa), kid: 'pub' })],
  ['a public-only EC JWK', JSON.stringify({ ...publicJwkOf(ec), kid: 'pub' })],
  ['JSON that does not parse', JSON.stringify(rsa).slice(0, -20)],
  ['a JSON array', '[]'],
  ['a JSON string', '"a key"'],
  ['kty "oct" (a symmetric key)', JSON.stringify({ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' })],
  ['a 1024-bit RSA key', JSON.stringify(rsa1024)],
  ['an EC key on P-384', JSON.stringify(p384)],
  ['d that is not base64url', JSON.stringify({ ...rsa, d: 'not*base64url!' })],
  ['an RSA d from another key (no CRT members)', JSON.stringify({ ...withoutCrt(rsa), d: otherRsa.d })],
  ['RSA CRT members from another key', JSON.stringify({ ...otherRsa, n: rsa.n, e: rsa.e })],
  ['an EC d from another key', JSON.stringify({ ...ec, d: otherEc.d })],
];

for (const [name, text] of badKeys) {
  test(`MACP_AUTH_SIGNING_KEY_JSON with ${name} -> exit 1, no key material printed`, async () => {
    const secrets = [...privateValuesOf(rsa), ...privateValuesOf(otherRsa), ...privateValuesOf(ec), ...privateValuesOf(otherEc)];
    await assertRefused({ MACP_AUTH_SIGNING_KEY_JSON: text }, 'MACP_AUTH_SIGNING_KEY_JSON', { secrets });
  });
}

test('MACP_AUTH_SIGNING_ALG=ES256 with an RSA key -> exit 1', async () => {
  await assertRefused(
    { MACP_AUTH_SIGNING_ALG: 'ES256', MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(rsa) },
    'MACP_AUTH_SIGNING_ALG',
    { alsoAccept: ['MACP_AUTH_SIGNING_KEY_JSON'] },
  );
});

test('MACP_AUTH_SIGNING_ALG=RS256 with an EC key -> exit 1', async () => {
  await assertRefused(
    { MACP_AUTH_SIGNING_ALG: 'RS256', MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(ec) },
    'MACP_AUTH_SIGNING_ALG',
    { alsoAccept: ['MACP_AUTH_SIGNING_KEY_JSON'] },
  );
});

test('valid values for every variable are honoured', async () => {
  const env = {
    PORT: '0',
    MACP_AUTH_BIND_ADDR: '127.0.0.1',
    MACP_AUTH_ISSUER: 'https://auth.example.com',
    MACP_AUTH_AUDIENCE: 'macp-runtime-staging',
    MACP_AUTH_MAX_TTL_SECONDS: '7200',
    MACP_AUTH_DEFAULT_TTL_SECONDS: '60',
    MACP_AUTH_SIGNING_ALG: 'ES256',
    MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(ec),
  };
  await withService(env, async (svc) => {
    const byDefault = await svc.post({ sender: 'agent://a' });
    assert.equal(byDefault.json.expires_in_seconds, 60);
    const long = await svc.post({ sender: 'agent://a', ttl_seconds: 5000 });
    assert.equal(long.json.expires_in_seconds, 5000, 'a max of 7200 lets 5000 through');
    const clamped = await svc.post({ sender: 'agent://a', ttl_seconds: 99999 });
    assert.equal(clamped.json.expires_in_seconds, 7200);
    const { header, payload } = decodeJwt(long.json.token);
    assert.deepEqual(header, { alg: 'ES256', kid: 'k-ec' });
    assert.equal(payload.iss, 'https://auth.example.com');
    assert.equal(payload.aud, 'macp-runtime-staging');
  });
});

test('a default TTL above the max is clamped to the max', async () => {
  await withService({ MACP_AUTH_MAX_TTL_SECONDS: '60', MACP_AUTH_DEFAULT_TTL_SECONDS: '300' }, async (svc) => {
    const res = await svc.post({ sender: 'agent://a' });
    assert.equal(res.status, 200);
    assert.equal(res.json.expires_in_seconds, 60);
  });
});
