// The seed's own verification with the npm `jose` package (SPEC.md §6):
// createRemoteJWKSet + jwtVerify with issuer and audience, RS256 and ES256,
// ephemeral and pinned keys; keys made by the seed's snippet; the seed's shell commands.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import { decodeJwt, rememberToken, withService } from '../blackbox/lib/service.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULTS = { issuer: 'macp-auth-service', audience: 'macp-runtime' };

// Exactly the seed's verification step.
async function seedVerify(token, jwksUrl, { issuer = DEFAULTS.issuer, audience = DEFAULTS.audience } = {}) {
  const jwks = jose.createRemoteJWKSet(new URL(jwksUrl));
  return jose.jwtVerify(token, jwks, { issuer, audience });
}

// The seed's key generation snippet, as a function: generateKeyPair + exportJWK, kid optional.
async function seedJwk(alg, kid) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  if (kid !== undefined) jwk.kid = kid;
  return jwk;
}

const jwksUrl = (svc) => svc.url('/.well-known/jwks.json');

for (const alg of ['RS256', 'ES256']) {
  test(`${alg} ephemeral: the seed's jwtVerify accepts the token`, async () => {
    await withService({ MACP_AUTH_SIGNING_ALG: alg }, async (svc) => {
      const token = await svc.mint({ sender: 'agent://risk', scopes: { can_start_sessions: true } });
      const { payload, protectedHeader } = await seedVerify(token, jwksUrl(svc));
      assert.deepEqual(protectedHeader, { alg, kid: 'dev-key-1' });
      assert.equal(payload.sub, 'agent://risk');
      assert.deepEqual(payload.macp_scopes, { can_start_sessions: true });
      assert.equal(payload.iss, DEFAULTS.issuer);
      assert.equal(payload.aud, DEFAULTS.audience);
    });
  });

  test(`${alg} pinned key from the seed's snippet (with kid) loads, and its tokens verify`, async () => {
    const jwk = await seedJwk(alg, 'prod-key-1');
    await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
      const token = await svc.mint({ sender: 'agent://pinned' });
      const { payload, protectedHeader } = await seedVerify(token, jwksUrl(svc));
      assert.deepEqual(protectedHeader, { alg, kid: 'prod-key-1' });
      assert.equal(payload.sub, 'agent://pinned');
      // And against the key we generated ourselves, not only the published one.
      const publicKey = await jose.importJWK(
        Object.fromEntries(Object.entries(jwk).filter(([k]) => !['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(k))),
        alg,
      );
      await jose.jwtVerify(token, publicKey, DEFAULTS);
    });
  });

  test(`${alg} pinned key from the seed's snippet without kid: kid is jose.calculateJwkThumbprint`, async () => {
    const jwk = await seedJwk(alg);
    await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
      const expectedKid = await jose.calculateJwkThumbprint(jwk);
      const { keys } = await svc.jwks();
      assert.equal(keys[0].kid, expectedKid);
      const token = await svc.mint();
      const { protectedHeader } = await seedVerify(token, jwksUrl(svc));
      assert.equal(protectedHeader.kid, expectedKid);
    });
  });

  test(`${alg}: two instances sharing one pinned key verify each other's tokens`, async () => {
    const jwk = await seedJwk(alg, 'shared-1');
    const env = { MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) };
    await withService(env, (a) =>
      withService(env, async (b) => {
        const fromA = await a.mint({ sender: 'agent://a' });
        const fromB = await b.mint({ sender: 'agent://b' });
        assert.equal((await seedVerify(fromA, jwksUrl(b))).payload.sub, 'agent://a');
        assert.equal((await seedVerify(fromB, jwksUrl(a))).payload.sub, 'agent://b');
      }),
    );
  });

  test(`${alg}: a token from a different key does not verify, even under the same kid`, async () => {
    const env1 = { MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(await seedJwk(alg, 'same-kid')) };
    const env2 = { MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(await seedJwk(alg, 'same-kid')) };
    await withService(env1, (one) =>
      withService(env2, async (two) => {
        const token = await one.mint();
        await assert.rejects(seedVerify(token, jwksUrl(two)), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
        // Two ephemeral instances both say dev-key-1; their keys still differ.
      }),
    );
    await withService({ MACP_AUTH_SIGNING_ALG: alg }, (one) =>
      withService({ MACP_AUTH_SIGNING_ALG: alg }, async (two) => {
        const token = await one.mint();
        await assert.rejects(seedVerify(token, jwksUrl(two)), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
      }),
    );
  });
}

test('custom MACP_AUTH_ISSUER and MACP_AUTH_AUDIENCE are respected; a mismatch is rejected by jose', async () => {
  const env = { MACP_AUTH_ISSUER: 'auth.example.com', MACP_AUTH_AUDIENCE: 'macp-runtime-eu' };
  await withService(env, async (svc) => {
    const token = await svc.mint({ sender: 'agent://custom' });
    const url = jwksUrl(svc);
    const { payload } = await seedVerify(token, url, { issuer: 'auth.example.com', audience: 'macp-runtime-eu' });
    assert.equal(payload.sub, 'agent://custom');
    await assert.rejects(seedVerify(token, url, { audience: 'macp-runtime-eu' }), {
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'iss',
    });
    await assert.rejects(seedVerify(token, url, { issuer: 'auth.example.com' }), {
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'aud',
    });
  });
});

test('a tampered token and an expired token are rejected', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const token = await svc.mint({ sender: 'agent://honest', ttl_seconds: 60 });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(decodeJwt(token).payloadText.replace('agent://honest', 'agent://admin_')).toString('base64url');
    await assert.rejects(seedVerify(`${h}.${forged}.${s}`, jwksUrl(svc)), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    const jwks = jose.createRemoteJWKSet(new URL(jwksUrl(svc)));
    await assert.rejects(
      jose.jwtVerify(token, jwks, { ...DEFAULTS, currentDate: new Date(Date.now() + 120_000) }),
      { code: 'ERR_JWT_EXPIRED' },
    );
  });
});

test('ES256 signature is the 64-byte raw R || S that jose verifies', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const token = await svc.mint();
    assert.equal(decodeJwt(token).signature.length, 64);
    const { keys } = await svc.jwks();
    const key = await jose.importJWK(keys[0], 'ES256');
    const { protectedHeader } = await jose.compactVerify(token, key);
    assert.equal(protectedHeader.alg, 'ES256');
  });
});

// The seed's shell commands, as printed in the guide (plain bash, no pipefail); only the port differs.
function sh(command, { cwd = REPO_ROOT, timeout = 20_000 } = {}) {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { cwd, timeout, env: process.env }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const onPort = (command, svc) => command.replaceAll('localhost:3200', `localhost:${svc.port}`);

const SEED_GENERATE_JWK = `node -e "const {generateKeyPair,exportJWK}=require('jose'); \\
(async()=>{const {privateKey}=await generateKeyPair('RS256',{extractable:true}); \\
const jwk=await exportJWK(privateKey); jwk.kid='prod-key-1'; \\
console.log(JSON.stringify(jwk))})()"`;

const SEED_MINT = `curl -sS -X POST http://localhost:3200/tokens \\
-H 'content-type: application/json' \\
-d '{
"sender": "agent://risk",
"scopes": {
"can_start_sessions": true,
"is_observer": false,
"allowed_modes": ["macp.mode.decision.v1"],
"max_open_sessions": 1,
"can_manage_mode_registry": false
},
"ttl_seconds": 600
}'`;

const SEED_DECODE = `curl -sS -X POST http://localhost:3200/tokens \\
-H 'content-type: application/json' \\
-d '{"sender":"agent://risk"}' \\
| jq -r .token \\
| cut -d. -f2 \\
| base64 -d 2>/dev/null \\
| jq`;

const SEED_JWKS = 'curl -sS http://localhost:3200/.well-known/jwks.json | jq';

const SEED_VERIFY = `node -e "
const jose = require('jose');
(async () => {
const token = process.argv[1];
const jwks = jose.createRemoteJWKSet(new URL('http://localhost:3200/.well-known/jwks.json'));
const { payload } = await jose.jwtVerify(token, jwks, {
issuer: 'macp-auth-service',
audience: 'macp-runtime',
});
console.log(payload);
})();
" "$(curl -sS -X POST http://localhost:3200/tokens \\
-H 'content-type: application/json' \\
-d '{"sender":"agent://risk"}' | jq -r .token)"`;

test("the seed's shell commands: generate a JWK, run with it, mint, look at the JWKS, verify with node -e", async () => {
  const generated = await sh(SEED_GENERATE_JWK);
  assert.equal(generated.code, 0, generated.stderr);
  const jwk = JSON.parse(generated.stdout);
  assert.equal(jwk.kid, 'prod-key-1');
  await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
    const minted = await sh(onPort(SEED_MINT, svc));
    assert.equal(minted.code, 0, minted.stderr);
    const response = JSON.parse(minted.stdout);
    rememberToken(response.token);
    assert.equal(response.sender, 'agent://risk');
    assert.equal(response.expires_in_seconds, 600);
    assert.ok(response.token.startsWith('eyJhbGciOiJSUzI1NiIsImtpZCI6InByb2Qta2V5LTEifQ.'), 'header {"alg":"RS256","kid":"prod-key-1"}');

    const jwks = await sh(onPort(SEED_JWKS, svc));
    assert.equal(jwks.code, 0, jwks.stderr);
    const published = JSON.parse(jwks.stdout).keys[0];
    assert.deepEqual(published, { kty: 'RSA', n: jwk.n, e: jwk.e, kid: 'prod-key-1', alg: 'RS256', use: 'sig' });

    const verified = await sh(onPort(SEED_VERIFY, svc));
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /sub: 'agent:\/\/risk'/);
    assert.match(verified.stdout, /iss: 'macp-auth-service'/);
    assert.match(verified.stdout, /aud: 'macp-runtime'/);
  });
});

test("the seed's node -e verification fails when the token comes from another key", async () => {
  await withService({}, (signer) =>
    withService({}, async (other) => {
      // Mint on `signer`, verify against `other`'s JWKS: swap the port in the verifier URL only.
      const command = SEED_VERIFY.replace(
        "new URL('http://localhost:3200/.well-known/jwks.json')",
        `new URL('http://localhost:${other.port}/.well-known/jwks.json')`,
      ).replaceAll('localhost:3200', `localhost:${signer.port}`);
      const result = await sh(command);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /JWSSignatureVerificationFailed|signature verification failed/);
    }),
  );
});

test("the seed's decode pipeline (curl | jq | cut | base64 -d | jq) shows the claims", async () => {
  // base64 -d gets base64url without padding; the seed hides its complaint with 2>/dev/null.
  // Try senders of three lengths so that every padding case of the payload occurs once.
  for (const sender of ['agent://risk', 'agent://risk1', 'agent://risk12']) {
    await withService({}, async (svc) => {
      const command = onPort(SEED_DECODE, svc).replace('agent://risk', sender);
      const result = await sh(command.replace(/\| jq$/, '| jq -c .'));
      assert.equal(result.code, 0, `${sender}: ${result.stderr}\n${result.stdout}`);
      const claims = JSON.parse(result.stdout);
      assert.deepEqual(Object.keys(claims), ['macp_scopes', 'iat', 'exp', 'iss', 'aud', 'sub']);
      assert.equal(claims.sub, sender);
      assert.equal(claims.exp - claims.iat, 300);
    });
  }
});
