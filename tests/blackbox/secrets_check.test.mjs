// The secrets check every suite relies on must itself be able to fail, and a
// pinned-key instance that is used in every way must pass it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, withService } from './lib/service.mjs';
import { rsaPrivateJwk } from './lib/keys.mjs';
import { assertNoSecrets, privateValuesOf, secretsInEnv } from './lib/secrets.mjs';

const jwk = rsaPrivateJwk(2048, { kid: 'secret-check' });
const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVzLWxvbmctZW5vdWdo';

test('the check finds a private member, the start of one, a token and a token signature', () => {
  assert.deepEqual(privateValuesOf(jwk), [jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi]);
  assert.deepEqual(secretsInEnv({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }), privateValuesOf(jwk));
  const secrets = privateValuesOf(jwk);
  for (const leak of [jwk.d, `key=${jwk.qi.slice(0, 20)}…`, `dp ${jwk.dp}`]) {
    assert.throws(() => assertNoSecrets(`log line ${leak}\n`, { secrets }), /key material/);
  }
  assert.throws(() => assertNoSecrets(`minted ${token}`, { tokens: [token] }), /token/);
  assert.throws(() => assertNoSecrets(`sig ${token.split('.')[2]}`, { tokens: [token] }), /signature/);
  assert.doesNotThrow(() => assertNoSecrets(`n=${jwk.n} e=${jwk.e}`, { secrets, tokens: [token] }));
  // Unparseable key text counts as key material as a whole.
  const broken = JSON.stringify(jwk).slice(0, -10);
  assert.throws(() => assertNoSecrets(`error: ${broken.slice(0, 80)}`, { secrets: privateValuesOf(broken) }), /key material/);
});

test('a pinned-key instance used in every way prints no key material and no token', async () => {
  await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
    for (let i = 0; i < 5; i++) await svc.mint({ sender: `agent://${i}`, scopes: { note: 'x'.repeat(i * 100) } });
    await svc.request('/.well-known/jwks.json');
    await svc.request('/nope');
    await svc.request('/tokens');
    await svc.post('{"sender":');
    await svc.post('{"sender":"a"}', { contentType: 'text/plain' });
    await svc.post(JSON.stringify({ sender: 'a', pad: 'x'.repeat(110 * 1024) }));
    await rawRequest(svc.port, 'BROKEN\r\n\r\n');
    // withService stops it and runs the check with every token minted above.
  });
});
