// The MACP runtime verifies with the Rust `jsonwebtoken` crate; @node-rs/jsonwebtoken
// binds that crate. Verify our tokens the way the runtime does: header alg in the
// allowlist, key by kid from the live JWKS (as PEM), then iss, aud and exp.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { decodeHeader, verify } from '@node-rs/jsonwebtoken';
import { decodeJwt, withService } from '../blackbox/lib/service.mjs';
import { ecPrivateJwk, rsaPrivateJwk } from '../blackbox/lib/keys.mjs';

const ALLOWLIST = ['RS256', 'ES256'];
const FAMILY = { RS256: 'RSA', ES256: 'EC' };

function pemOf(jwk) {
  return crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
}

// The runtime's steps, with the crate doing the signature and claim checks.
async function runtimeVerify(token, svc, { issuer = 'macp-auth-service', audience = 'macp-runtime', leeway } = {}) {
  const header = decodeHeader(token);
  assert.ok(ALLOWLIST.includes(header.algorithm), `alg ${header.algorithm} in the allowlist`);
  const { keys } = await svc.jwks();
  const byKid = keys.filter((k) => k.kid === header.keyId);
  const candidates = byKid.length > 0 ? byKid : keys.filter((k) => k.kty === FAMILY[header.algorithm]);
  assert.ok(candidates.length > 0, 'a key for the token');
  const validation = { algorithms: [header.algorithm], iss: [issuer], aud: [audience] };
  if (leeway !== undefined) validation.leeway = leeway;
  let lastError;
  for (const jwk of candidates) {
    try {
      return await verify(token, pemOf(jwk), validation);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

const cases = [
  ['RS256 ephemeral', () => ({ MACP_AUTH_SIGNING_ALG: 'RS256' }), 'RS256', 'dev-key-1'],
  ['ES256 ephemeral', () => ({ MACP_AUTH_SIGNING_ALG: 'ES256' }), 'ES256', 'dev-key-1'],
  ['RS256 pinned', () => ({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(rsaPrivateJwk(2048, { kid: 'rs-pinned' })) }), 'RS256', 'rs-pinned'],
  ['ES256 pinned', () => ({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(ecPrivateJwk({ kid: 'es-pinned' })) }), 'ES256', 'es-pinned'],
];

for (const [name, env, alg, kid] of cases) {
  test(`${name}: the Rust jsonwebtoken crate verifies the token and reads sub and macp_scopes`, async () => {
    await withService(env(), async (svc) => {
      const body =
        '{"sender":"agent://risk","scopes":{"can_start_sessions":true,"is_observer":false,' +
        '"allowed_modes":["macp.mode.decision.v1",""],"max_open_sessions":3.0,"can_manage_mode_registry":null}}';
      const res = await svc.post(body);
      assert.equal(res.status, 200, res.text);
      const token = res.json.token;
      assert.deepEqual(decodeHeader(token), { algorithm: alg, keyId: kid });
      const claims = await runtimeVerify(token, svc);
      assert.equal(claims.sub, 'agent://risk');
      assert.deepEqual(claims.macp_scopes, {
        can_start_sessions: true,
        is_observer: false,
        allowed_modes: ['macp.mode.decision.v1', ''],
        max_open_sessions: 3,
        can_manage_mode_registry: null,
      });
      assert.ok(Number.isInteger(claims.macp_scopes.max_open_sessions));
    });
  });
}

test('the crate rejects a wrong issuer, a wrong audience and a wrong algorithm', async () => {
  await withService({}, async (svc) => {
    const token = await svc.mint();
    await assert.rejects(runtimeVerify(token, svc, { issuer: 'someone-else' }), /InvalidIssuer/);
    await assert.rejects(runtimeVerify(token, svc, { audience: 'another-runtime' }), /InvalidAudience/);
    const { keys } = await svc.jwks();
    await assert.rejects(verify(token, pemOf(keys[0]), { algorithms: ['RS384'] }), /InvalidAlgorithm/);
  });
});

test('custom issuer and audience verify when the runtime is configured the same way', async () => {
  await withService({ MACP_AUTH_ISSUER: 'auth.example.com', MACP_AUTH_AUDIENCE: 'rt-eu', MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const token = await svc.mint({ sender: 'agent://eu' });
    const claims = await runtimeVerify(token, svc, { issuer: 'auth.example.com', audience: 'rt-eu' });
    assert.equal(claims.sub, 'agent://eu');
    await assert.rejects(runtimeVerify(token, svc), /InvalidIssuer|InvalidAudience/);
  });
});

test('the crate rejects a token from another instance (same kid, other key) and a tampered one', async () => {
  for (const alg of ['RS256', 'ES256']) {
    await withService({ MACP_AUTH_SIGNING_ALG: alg }, (signer) =>
      withService({ MACP_AUTH_SIGNING_ALG: alg }, async (other) => {
        const token = await signer.mint({ sender: 'agent://a' });
        await assert.rejects(runtimeVerify(token, other), /InvalidSignature/);
        const [h, , s] = token.split('.');
        const forged = Buffer.from(decodeJwt(token).payloadText.replace('agent://a', 'agent://b')).toString('base64url');
        await assert.rejects(runtimeVerify(`${h}.${forged}.${s}`, signer), /InvalidSignature/);
      }),
    );
  }
});

test('the crate sees exp: a 1 s token is expired 2 s later (no leeway)', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const token = await svc.mint({ sender: 'agent://short', ttl_seconds: 1 });
    assert.equal((await runtimeVerify(token, svc, { leeway: 0 })).sub, 'agent://short');
    await new Promise((r) => setTimeout(r, 2100));
    await assert.rejects(runtimeVerify(token, svc, { leeway: 0 }), /ExpiredSignature/);
  });
});
