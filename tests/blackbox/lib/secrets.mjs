// What must never leave the process: private JWK members and minted tokens.

import assert from 'node:assert/strict';

export const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

// The private values of a JWK (object or JSON text). Text that is not a JWK
// object counts as key material as a whole: each long base64url-looking run in it.
export function privateValuesOf(jwk) {
  let object = jwk;
  if (typeof jwk === 'string') {
    try {
      object = JSON.parse(jwk);
    } catch {
      return jwk.match(/[A-Za-z0-9_-]{16,}/g) ?? [];
    }
  }
  if (object === null || typeof object !== 'object') return [];
  return PRIVATE_MEMBERS.map((name) => object[name]).filter((v) => typeof v === 'string' && v.length > 0);
}

// The secrets an environment hands to the service.
export function secretsInEnv(env = {}) {
  const text = env.MACP_AUTH_SIGNING_KEY_JSON;
  if (typeof text !== 'string' || text.length === 0) return [];
  return privateValuesOf(text);
}

// Fails if `output` contains a secret, a long prefix of one, a token or a token's signature.
export function assertNoSecrets(output, { secrets = [], tokens = [] } = {}) {
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < 8) continue;
    assert.ok(!output.includes(secret), 'the output contains private key material');
    const prefix = secret.slice(0, 16);
    if (prefix.length === 16) assert.ok(!output.includes(prefix), 'the output contains the start of private key material');
  }
  for (const token of tokens) {
    assert.ok(!output.includes(token), 'the output contains a minted token');
    const signature = token.split('.')[2];
    if (signature && signature.length >= 16) {
      assert.ok(!output.includes(signature), "the output contains a minted token's signature");
    }
  }
}
