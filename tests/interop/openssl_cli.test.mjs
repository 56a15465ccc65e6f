// OpenSSL's command line verifies our signatures:
//   openssl dgst -sha256 -verify pub.pem -signature sig.bin data
// RS256 as is; ES256 after turning the JOSE R || S into the DER that OpenSSL expects.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, withService } from '../blackbox/lib/service.mjs';
import { ecPrivateJwk, rsaPrivateJwk } from '../blackbox/lib/keys.mjs';

function openssl(args, cwd) {
  return new Promise((resolve) => {
    execFile('openssl', args, { cwd, timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

// A DER INTEGER from unsigned big-endian bytes: no leading zeros, one 0x00 if the top bit is set.
function derInteger(bytes) {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let body = bytes.subarray(i);
  if (body[0] & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (short lengths are enough for P-256).
function rawToDer(raw) {
  assert.equal(raw.length, 64);
  const content = Buffer.concat([derInteger(raw.subarray(0, 32)), derInteger(raw.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, content.length]), content]);
}

async function inTempDir(fn) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'macp-openssl-'));
  try {
    return await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// Writes pub.pem, data and sig.bin, then asks openssl dgst to verify.
async function opensslVerify(dir, { pem, data, signature }) {
  await fs.writeFile(path.join(dir, 'pub.pem'), pem);
  await fs.writeFile(path.join(dir, 'data'), data);
  await fs.writeFile(path.join(dir, 'sig.bin'), signature);
  return openssl(['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.bin', 'data'], dir);
}

function assertVerified(result) {
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /Verified OK/);
}

function assertNotVerified(result) {
  assert.notEqual(result.code, 0);
  assert.match(result.stdout + result.stderr, /Verification failure|Error/i);
}

const jwkPem = (jwk) => crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });

test('RS256: openssl dgst verifies the signature with the JWKS key; a changed payload fails', async () => {
  await withService({}, async (svc) => {
    const jwt = decodeJwt(await svc.mint({ sender: 'agent://openssl' }));
    assert.equal(jwt.signature.length, 256);
    const pem = jwkPem((await svc.jwks()).keys[0]);
    await inTempDir(async (dir) => {
      assertVerified(await opensslVerify(dir, { pem, data: jwt.signingInput, signature: jwt.signature }));
      assertNotVerified(await opensslVerify(dir, { pem, data: jwt.signingInput + 'x', signature: jwt.signature }));
    });
  });
});

test('ES256: openssl dgst verifies R || S once converted to DER; the raw 64 bytes and a changed payload fail', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    const pem = jwkPem((await svc.jwks()).keys[0]);
    await inTempDir(async (dir) => {
      // Several tokens, so that R or S with a high bit set (and a padded INTEGER) come up.
      for (let i = 0; i < 8; i++) {
        const jwt = decodeJwt(await svc.mint({ sender: `agent://openssl/${i}` }));
        assert.equal(jwt.signature.length, 64, 'raw R || S');
        const der = rawToDer(jwt.signature);
        assertVerified(await opensslVerify(dir, { pem, data: jwt.signingInput, signature: der }));
        if (i === 0) {
          assertNotVerified(await opensslVerify(dir, { pem, data: jwt.signingInput, signature: jwt.signature }));
          assertNotVerified(await opensslVerify(dir, { pem, data: jwt.signingInput.replace('.', '.x'), signature: der }));
        }
      }
    });
  });
});

test('pinned keys: openssl derives the public key from our own private PEM and verifies (RS256 and ES256)', async () => {
  for (const jwk of [rsaPrivateJwk(2048, { kid: 'ossl-rsa' }), ecPrivateJwk({ kid: 'ossl-ec' })]) {
    await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
      const jwt = decodeJwt(await svc.mint({ sender: 'agent://pinned' }));
      await inTempDir(async (dir) => {
        const privatePem = crypto.createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' });
        await fs.writeFile(path.join(dir, 'key.pem'), privatePem, { mode: 0o600 });
        const derived = await openssl(['pkey', '-in', 'key.pem', '-pubout', '-out', 'derived.pem'], dir);
        assert.equal(derived.code, 0, derived.stderr);
        const pem = await fs.readFile(path.join(dir, 'derived.pem'), 'utf8');
        const signature = jwk.kty === 'EC' ? rawToDer(jwt.signature) : jwt.signature;
        assertVerified(await opensslVerify(dir, { pem, data: jwt.signingInput, signature }));
      });
    });
  }
});

test('a signature from another instance does not verify against this instance key', async () => {
  await withService({}, (a) =>
    withService({}, async (b) => {
      const jwt = decodeJwt(await a.mint());
      const pem = jwkPem((await b.jwks()).keys[0]);
      await inTempDir(async (dir) => {
        assertNotVerified(await opensslVerify(dir, { pem, data: jwt.signingInput, signature: jwt.signature }));
      });
    }),
  );
});
