// What the operator-command suites share: the binary under test, and an environment that holds only what
// a test sets.

import assert from 'node:assert/strict';

export const BIN = process.env.MACP_AUTH_BIN;
assert.ok(BIN, 'MACP_AUTH_BIN must point at the built macp-auth-service');

// The environment without anything that configures the service, so only what a test sets applies.
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name === 'PORT' || name.startsWith('MACP_AUTH_')) delete env[name];
  }
  return { ...env, ...extra };
}
