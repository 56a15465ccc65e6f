// Test keys made with node:crypto (OpenSSL underneath, not the service's code).

import crypto from 'node:crypto';

// A private JWK as node exports it: RSA with n e d p q dp dq qi, EC with crv x y d.
export function rsaPrivateJwk(bits = 2048, extra = {}) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  return { ...privateKey.export({ format: 'jwk' }), ...extra };
}

export function ecPrivateJwk(extra = {}) {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), ...extra };
}

export function publicJwkOf(jwk) {
  if (jwk.kty === 'RSA') return { kty: 'RSA', n: jwk.n, e: jwk.e };
  return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

// RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
export function thumbprint(jwk) {
  const canonical =
    jwk.kty === 'RSA'
      ? JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })
      : JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

// SubjectPublicKeyInfo PEM of a (public or private) JWK.
export function publicPem(jwk) {
  return crypto.createPublicKey({ key: publicJwkOf(jwk), format: 'jwk' }).export({ type: 'spki', format: 'pem' });
}
