// SPEC.md §7 through the real binary: a key file at start, its reload at runtime, its schedule on the clock,
// discovery and the JWKS cache validators. Rotation under load behind nginx is rotation.test.mjs.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';

import { decodeJwt, parseResponses, rawRequest, runUntilExit, startService, withService } from './lib/service.mjs';
import { ecPrivateJwk, publicJwkOf, rsaPrivateJwk } from './lib/keys.mjs';
import { privateValuesOf } from './lib/secrets.mjs';

// Sanitized builds run several times slower (scripts/test-sanitizers): time bounds widen by this factor.
const SLOW = Number(process.env.MACP_TEST_SLOWDOWN || 1);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);
const RELOADED = /^\[auth-service\] keys reloaded: signer (\S+), published (\S+)$/;
const RELOAD_FAILED = /^\[auth-service\] key reload failed: .+$/;
// Without a clients file the service warns, once at start, that minting is open (SPEC §8): not a key matter.
const OPEN_MINTING = /^\[auth-service\] WARNING: MACP_AUTH_CLIENTS_FILE is unset/;
const keyLines = (lines) => lines.filter((l) => !OPEN_MINTING.test(l));

// A fresh directory per test, so that tests run side by side.
function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'macp-keyfile-'));
}

function keySetText(keys) {
  return JSON.stringify({ keys });
}

// Writes a key file the way an operator's tool would leave it (mode 0600 unless told).
function writeKeyFile(file, content, mode = 0o600) {
  fs.writeFileSync(file, typeof content === 'string' ? content : keySetText(content), { mode });
  fs.chmodSync(file, mode);
}

// Replaces the file by a rename, as `keys rotate` and most editors do.
function renameOver(file, content, mode = 0o600) {
  const temp = `${file}.tmp-${crypto.randomUUID()}`;
  writeKeyFile(temp, content, mode);
  fs.renameSync(temp, file);
}

function secretsOf(...jwks) {
  return jwks.flatMap((jwk) => privateValuesOf(jwk));
}

async function waitFor(check, { timeoutMs = 3000, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const kidsOf = (jwks) => jwks.keys.map((k) => k.kid);

async function jwksText(svc) {
  const res = await svc.request('/.well-known/jwks.json');
  assert.equal(res.status, 200);
  return res.text;
}

async function mintedKid(svc) {
  return decodeJwt(await svc.mint()).header.kid;
}

// A service on a key file whose keys' private values are checked at every stop.
async function startOnFile(file, keysInFile, env = {}) {
  const svc = await startService({ MACP_AUTH_SIGNING_KEYS_FILE: file, ...env });
  for (const secret of secretsOf(...keysInFile)) svc.addSecret(secret);
  return svc;
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Start-up with a key file

describe('start-up with a key file', { concurrency: true }, () => {
  test('line 3 names the file and the signer; the JWKS lists the signer first, then file order', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'keys.json');
    const now = nowSeconds();
    const next = ecPrivateJwk({ kid: 'k-next', macp_activates_at: now + 3600 });
    const previous = ecPrivateJwk({ kid: 'k-previous', macp_activates_at: now - 100 });
    const signer = ecPrivateJwk({ kid: 'k-signer', macp_activates_at: now - 10 });
    writeKeyFile(file, [next, previous, signer]);
    const svc = await startOnFile(file, [next, previous, signer]);
    try {
      assert.equal(svc.stdoutLines[2], '[auth-service] key source: file alg: ES256 kid: k-signer');
      assert.deepEqual(keyLines(svc.stderrLines), [], 'no warning about the key file');
      const jwks = await svc.jwks();
      assert.deepEqual(kidsOf(jwks), ['k-signer', 'k-next', 'k-previous']);
      for (const key of jwks.keys) {
        for (const member of ['d', 'macp_activates_at']) assert.ok(!(member in key), `no ${member} in the JWKS`);
      }
      const jwksUrl = new URL(svc.url('/.well-known/jwks.json'));
      const remote = jose.createRemoteJWKSet(jwksUrl);
      for (let i = 0; i < 3; i++) {
        const token = await svc.mint();
        assert.equal(decodeJwt(token).header.kid, 'k-signer', 'the next key is published, never signing');
        const { protectedHeader } = await jose.jwtVerify(token, remote, {
          issuer: 'macp-auth-service',
          audience: 'macp-runtime',
        });
        assert.equal(protectedHeader.alg, 'ES256');
      }
    } finally {
      await svc.stop();
    }
  });

  test('an RSA key file starts as RS256 and its tokens verify against the published key', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'keys.json');
    const signer = rsaPrivateJwk(2048, { kid: 'rsa-1' });
    writeKeyFile(file, [signer]);
    const svc = await startOnFile(file, [signer]);
    try {
      assert.equal(svc.stdoutLines[2], '[auth-service] key source: file alg: RS256 kid: rsa-1');
      const jwks = await svc.jwks();
      assert.equal(jwks.keys.length, 1);
      assert.equal(jwks.keys[0].n, publicJwkOf(signer).n);
      const token = await svc.mint();
      await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), { audience: 'macp-runtime' });
    } finally {
      await svc.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 2 and 3. Malformed files: at start exit 1 with one line; at reload the old set keeps serving.

// Each shape: what the file holds (made from a fresh good key so that every value is new), the private values
// that must not be printed, and any variable it needs.
const BAD_SHAPES = [
  { name: 'bad JSON', make: (k) => ({ text: `{"keys":[${JSON.stringify(k)}`, secrets: secretsOf(k) }) },
  {
    name: 'a duplicate kid',
    make: (k) => {
      const other = ecPrivateJwk({ kid: k.kid });
      return { text: keySetText([k, other]), secrets: secretsOf(k, other) };
    },
  },
  {
    name: 'a missing kid',
    make: (k) => {
      const { kid, ...rest } = k; // eslint-disable-line no-unused-vars
      return { text: keySetText([rest]), secrets: secretsOf(k) };
    },
  },
  {
    name: 'bad base64url in a member',
    make: (k) => {
      const d = `${k.d.slice(0, 20)}+/${k.d.slice(22)}=`;
      return { text: keySetText([{ ...k, d }]), secrets: [...secretsOf(k), d] };
    },
  },
  {
    name: 'a public-only key',
    make: (k) => ({ text: keySetText([{ ...publicJwkOf(k), kid: k.kid }]), secrets: secretsOf(k) }),
  },
  {
    name: 'the wrong curve (P-384)',
    make: (k) => {
      const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const p384 = { ...privateKey.export({ format: 'jwk' }), kid: k.kid };
      return { text: keySetText([p384]), secrets: secretsOf(p384) };
    },
  },
  {
    name: 'no key that can sign now',
    make: (k) => {
      const later = ecPrivateJwk({ kid: 'later', macp_activates_at: nowSeconds() + 3600 });
      const muchLater = { ...k, macp_activates_at: nowSeconds() + 7200 };
      return { text: keySetText([later, muchLater]), secrets: secretsOf(later, k) };
    },
  },
  ...[['a string', '1700000000'], ['a fraction', 1.5], ['null', null]].map(([what, value]) => ({
    name: `macp_activates_at as ${what}`,
    make: (k) => ({ text: keySetText([{ ...k, macp_activates_at: value }]), secrets: secretsOf(k) }),
  })),
  { name: 'a world-readable file (0644)', mode: 0o644, make: (k) => ({ text: keySetText([k]), secrets: secretsOf(k) }) },
  { name: 'a group-readable file (0640)', mode: 0o640, make: (k) => ({ text: keySetText([k]), secrets: secretsOf(k) }) },
  {
    name: 'an RSA key while MACP_AUTH_SIGNING_ALG=ES256',
    env: { MACP_AUTH_SIGNING_ALG: 'ES256' },
    make: () => {
      const rsa = rsaPrivateJwk(2048, { kid: 'rsa' });
      return { text: keySetText([rsa]), secrets: secretsOf(rsa) };
    },
  },
  {
    name: 'a kid with a control character',
    make: (k) => ({ text: keySetText([{ ...k, kid: 'bad\u0001kid' }]), secrets: secretsOf(k) }),
  },
];

function assertOneLineNamingTheFile(result, secrets) {
  assert.equal(result.code, 1, `exit 1, got ${result.code} (signal ${result.signal})\nstderr:\n${result.stderr}`);
  assert.equal(result.stderrLines.length, 1, `one stderr line, got:\n${result.stderr}`);
  assert.match(result.stderrLines[0], /MACP_AUTH_SIGNING_KEYS_FILE/);
  assert.ok(!result.stdout.includes('listening on port'), 'it never claims to listen');
  for (const secret of secrets) assert.ok(!result.stderr.includes(secret), 'no key material');
}

describe('a malformed key file at start: exit 1, one line naming the variable', { concurrency: true }, () => {
  for (const shape of BAD_SHAPES) {
    test(shape.name, async () => {
      const file = path.join(tempDir(), 'keys.json');
      const { text, secrets } = shape.make(ecPrivateJwk({ kid: 'k1' }));
      writeKeyFile(file, text, shape.mode ?? 0o600);
      const env = { MACP_AUTH_SIGNING_KEYS_FILE: file, ...(shape.env ?? {}) };
      assertOneLineNamingTheFile(await runUntilExit(env, { secrets }), secrets);
    });
  }

  test('RS256 asked for, an EC key in the file', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const key = ecPrivateJwk({ kid: 'ec' });
    writeKeyFile(file, [key]);
    const env = { MACP_AUTH_SIGNING_KEYS_FILE: file, MACP_AUTH_SIGNING_ALG: 'RS256' };
    assertOneLineNamingTheFile(await runUntilExit(env, { secrets: secretsOf(key) }), secretsOf(key));
  });

  test('both MACP_AUTH_SIGNING_KEYS_FILE and MACP_AUTH_SIGNING_KEY_JSON', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const key = ecPrivateJwk({ kid: 'ec' });
    writeKeyFile(file, [key]);
    const env = {
      MACP_AUTH_SIGNING_KEYS_FILE: file,
      MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(ecPrivateJwk({ kid: 'env' })),
    };
    assertOneLineNamingTheFile(await runUntilExit(env, { secrets: secretsOf(key) }), secretsOf(key));
  });

  test('a file that does not exist', async () => {
    const file = path.join(tempDir(), 'missing.json');
    assertOneLineNamingTheFile(await runUntilExit({ MACP_AUTH_SIGNING_KEYS_FILE: file }), []);
  });

  test('MACP_AUTH_ALLOW_SHARED_KEY_FILE=1 accepts a world-readable file', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const key = ecPrivateJwk({ kid: 'shared' });
    writeKeyFile(file, [key], 0o644);
    const svc = await startOnFile(file, [key], { MACP_AUTH_ALLOW_SHARED_KEY_FILE: '1' });
    try {
      assert.equal(svc.stdoutLines[2], '[auth-service] key source: file alg: ES256 kid: shared');
      assert.equal(await mintedKid(svc), 'shared');
    } finally {
      await svc.stop();
    }
  });
});

describe('a malformed key file at reload: the old set keeps serving, one line', { concurrency: true }, () => {
  for (const shape of BAD_SHAPES) {
    test(shape.name, async () => {
      const file = path.join(tempDir(), 'keys.json');
      const good = ecPrivateJwk({ kid: 'good' });
      writeKeyFile(file, [good]);
      const env = { MACP_AUTH_KEYS_RELOAD_SECONDS: 1, ...(shape.env ?? {}) };
      const svc = await startOnFile(file, [good], env);
      try {
        const before = await jwksText(svc);
        const { text, secrets } = shape.make(ecPrivateJwk({ kid: 'k1' }));
        for (const secret of secrets) svc.addSecret(secret);
        renameOver(file, text, shape.mode ?? 0o600);
        const failures = () => svc.stderrLines.filter((l) => RELOAD_FAILED.test(l));
        await waitFor(() => failures().length > 0, { timeoutMs: 2500 * SLOW, what: 'the reload failure line' });
        assert.equal(await jwksText(svc), before, 'the JWKS bytes are unchanged');
        assert.equal(await mintedKid(svc), 'good', 'mints still work with the old key');
        await sleep(1300); // another look at the unchanged bad file: no second line
        assert.equal(failures().length, 1, `one failure line, got:\n${svc.stderr}`);
        assert.equal(keyLines(svc.stderrLines).length, 1, `nothing else on stderr:\n${svc.stderr}`);
        assert.ok(!svc.stdoutLines.some((l) => RELOADED.test(l)), 'no reload reported');
        assert.equal(await jwksText(svc), before);
      } finally {
        await svc.stop();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// 3. Good reloads at runtime

async function expectReloadTo(svc, { signer, published }) {
  const line = `[auth-service] keys reloaded: signer ${signer}, published ${published.join(',')}`;
  await waitFor(() => svc.stdoutLines.includes(line), { timeoutMs: 2500 * SLOW, what: JSON.stringify(line) });
  assert.deepEqual(kidsOf(await svc.jwks()), published);
  assert.equal(await mintedKid(svc), signer);
}

describe('a good key file change is served at runtime', { concurrency: true }, () => {
  test('rewritten in place', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const a = ecPrivateJwk({ kid: 'a' });
    const b = ecPrivateJwk({ kid: 'b' });
    writeKeyFile(file, [a]);
    const svc = await startOnFile(file, [a, b], { MACP_AUTH_KEYS_RELOAD_SECONDS: 1 });
    try {
      const started = Date.now();
      fs.writeFileSync(file, keySetText([a, { ...b, macp_activates_at: nowSeconds() - 1 }]));
      await expectReloadTo(svc, { signer: 'b', published: ['b', 'a'] });
      assert.ok(Date.now() - started < 2500 * SLOW, 'seen within about 2 s');
    } finally {
      await svc.stop();
    }
  });

  test('renamed over the file', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const a = ecPrivateJwk({ kid: 'a' });
    const b = rsaPrivateJwk(2048, { kid: 'b' });
    writeKeyFile(file, [a]);
    const svc = await startOnFile(file, [a, b], { MACP_AUTH_KEYS_RELOAD_SECONDS: 1 });
    try {
      renameOver(file, [b]);
      await expectReloadTo(svc, { signer: 'b', published: ['b'] });
    } finally {
      await svc.stop();
    }
  });

  test('a Kubernetes Secret volume: the ..data symlink swapped atomically', async () => {
    const dir = tempDir();
    const a = ecPrivateJwk({ kid: 'a' });
    const b = ecPrivateJwk({ kid: 'b' });
    fs.mkdirSync(path.join(dir, '..2026_a'));
    writeKeyFile(path.join(dir, '..2026_a', 'keys.json'), [a]);
    fs.symlinkSync('..2026_a', path.join(dir, '..data'));
    fs.symlinkSync('..data/keys.json', path.join(dir, 'keys.json'));
    const svc = await startOnFile(path.join(dir, 'keys.json'), [a, b], { MACP_AUTH_KEYS_RELOAD_SECONDS: 1 });
    try {
      assert.equal(svc.stdoutLines[2], '[auth-service] key source: file alg: ES256 kid: a');
      fs.mkdirSync(path.join(dir, '..2026_b'));
      writeKeyFile(path.join(dir, '..2026_b', 'keys.json'), [{ ...b, macp_activates_at: nowSeconds() - 1 }, a]);
      fs.symlinkSync('..2026_b', path.join(dir, '..data_tmp'));
      fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      fs.rmSync(path.join(dir, '..2026_a'), { recursive: true });
      await expectReloadTo(svc, { signer: 'b', published: ['b', 'a'] });
    } finally {
      await svc.stop();
    }
  });

  test('SIGHUP reloads at once with a long interval', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const a = ecPrivateJwk({ kid: 'a' });
    const b = ecPrivateJwk({ kid: 'b' });
    writeKeyFile(file, [a]);
    const svc = await startOnFile(file, [a, b], { MACP_AUTH_KEYS_RELOAD_SECONDS: 3600 });
    try {
      const before = await jwksText(svc);
      renameOver(file, [b]);
      await sleep(1200);
      assert.equal(await jwksText(svc), before, 'no look at the file before the interval');
      const signalled = Date.now();
      svc.child.kill('SIGHUP');
      await expectReloadTo(svc, { signer: 'b', published: ['b'] });
      assert.ok(Date.now() - signalled < 1000 * SLOW, 'at once after SIGHUP');
      svc.child.kill('SIGHUP'); // a SIGHUP with nothing changed reloads again and does not end the process
      await waitFor(() => svc.stdoutLines.filter((l) => RELOADED.test(l)).length === 2, { what: 'a second reload' });
    } finally {
      await svc.stop();
    }
  });

  test('a permission change alone is seen: chmod 644 fails, chmod 600 reloads', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const a = ecPrivateJwk({ kid: 'a' });
    writeKeyFile(file, [a]);
    const svc = await startOnFile(file, [a], { MACP_AUTH_KEYS_RELOAD_SECONDS: 1 });
    try {
      const before = await jwksText(svc);
      fs.chmodSync(file, 0o644);
      await waitFor(() => svc.stderrLines.some((l) => RELOAD_FAILED.test(l)), { what: 'the reload failure line' });
      assert.match(keyLines(svc.stderrLines)[0], /MACP_AUTH_ALLOW_SHARED_KEY_FILE/, 'the line says how to fix it');
      assert.equal(await jwksText(svc), before);
      fs.chmodSync(file, 0o600);
      await expectReloadTo(svc, { signer: 'a', published: ['a'] });
      assert.equal(keyLines(svc.stderrLines).length, 1, svc.stderr);
    } finally {
      await svc.stop();
    }
  });

  test('a deleted file keeps the running set; the file put back is served', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const a = ecPrivateJwk({ kid: 'a' });
    const b = ecPrivateJwk({ kid: 'b' });
    writeKeyFile(file, [a]);
    const svc = await startOnFile(file, [a, b], { MACP_AUTH_KEYS_RELOAD_SECONDS: 1 });
    try {
      const before = await svc.request('/.well-known/jwks.json');
      fs.unlinkSync(file);
      await waitFor(() => svc.stderrLines.some((l) => RELOAD_FAILED.test(l)), { what: 'the reload failure line' });
      assert.equal(await jwksText(svc), before.text);
      assert.equal(await mintedKid(svc), 'a');
      writeKeyFile(file, [b]);
      await expectReloadTo(svc, { signer: 'b', published: ['b'] });
      const after = await svc.request('/.well-known/jwks.json', {
        headers: { 'if-none-match': before.headers.get('etag') },
      });
      assert.equal(after.status, 200, 'the old ETag no longer matches');
      assert.notEqual(after.headers.get('etag'), before.headers.get('etag'));
      assert.equal(keyLines(svc.stderrLines).length, 1, svc.stderr);
    } finally {
      await svc.stop();
    }
  });

  test('emergency: a key deleted from the file leaves the JWKS and the signer role at the next reload', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const now = nowSeconds();
    const old = ecPrivateJwk({ kid: 'old', macp_activates_at: now - 100 });
    const compromised = ecPrivateJwk({ kid: 'compromised', macp_activates_at: now - 10 });
    writeKeyFile(file, [old, compromised]);
    const svc = await startOnFile(file, [old, compromised], { MACP_AUTH_KEYS_RELOAD_SECONDS: 1 });
    try {
      assert.deepEqual(kidsOf(await svc.jwks()), ['compromised', 'old']);
      const revoked = await svc.mint();
      assert.equal(decodeJwt(revoked).header.kid, 'compromised');
      renameOver(file, [old]);
      await expectReloadTo(svc, { signer: 'old', published: ['old'] });
      const jwks = jose.createLocalJWKSet(await svc.jwks());
      await assert.rejects(jose.jwtVerify(revoked, jwks), 'the deleted key no longer verifies anything');
      await jose.jwtVerify(await svc.mint(), jwks, { audience: 'macp-runtime' });
    } finally {
      await svc.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 4. The schedule follows the clock without a reload

test('a next key starts signing within 1 s of its activation, and its predecessor retires after max TTL + skew', async () => {
  const file = path.join(tempDir(), 'keys.json');
  const activation = nowSeconds() + 2;
  const first = ecPrivateJwk({ kid: 'first' });
  const second = ecPrivateJwk({ kid: 'second', macp_activates_at: activation });
  writeKeyFile(file, [first, second]);
  const mtime = fs.statSync(file).mtimeMs;
  const svc = await startOnFile(file, [first, second], {
    MACP_AUTH_KEYS_RELOAD_SECONDS: 1,
    MACP_AUTH_MAX_TTL_SECONDS: 2,
    MACP_AUTH_DEFAULT_TTL_SECONDS: 2,
    MACP_AUTH_CLOCK_SKEW_SECONDS: 0,
  });
  try {
    assert.deepEqual(kidsOf(await svc.jwks()), ['first', 'second'], 'the next key is published before it signs');
    const firstTag = (await svc.request('/.well-known/jwks.json')).headers.get('etag');
    // Mint until the kid changes; no token of the second key before its activation second.
    const switchedAt = await waitFor(
      async () => {
        const asked = Date.now();
        const kid = await mintedKid(svc);
        if (kid === 'first') return false;
        assert.equal(kid, 'second');
        assert.ok(asked >= activation * 1000 - 50, `signed by the next key ${activation * 1000 - asked} ms early`);
        return Date.now();
      },
      { timeoutMs: 5000, what: 'the next key to sign' },
    );
    assert.ok(switchedAt - activation * 1000 <= 1100, `signing ${switchedAt - activation * 1000} ms after activation`);
    assert.deepEqual(kidsOf(await svc.jwks()), ['second', 'first'], 'the previous key stays published');
    const switchedTag = (await svc.request('/.well-known/jwks.json')).headers.get('etag');
    assert.notEqual(switchedTag, firstTag, 'a new order, a new ETag');

    const retirement = (activation + 2 + 0) * 1000;
    const goneAt = await waitFor(
      async () => {
        const asked = Date.now();
        const kids = kidsOf(await svc.jwks());
        if (kids.includes('first')) return false;
        assert.ok(asked >= retirement - 50, `the previous key left ${retirement - asked} ms early`);
        return Date.now();
      },
      { timeoutMs: 5000, what: 'the previous key to retire' },
    );
    assert.ok(goneAt - retirement <= 1100, `retired ${goneAt - retirement} ms late`);
    assert.deepEqual(kidsOf(await svc.jwks()), ['second']);
    const stale = await svc.request('/.well-known/jwks.json', { headers: { 'if-none-match': switchedTag } });
    assert.equal(stale.status, 200, 'a cache holding the retired key refetches');
    assert.equal(fs.statSync(file).mtimeMs, mtime, 'the file was never touched');
    assert.ok(!svc.stdoutLines.some((l) => RELOADED.test(l)), 'no reload happened');
  } finally {
    await svc.stop();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// 5. Discovery

function expectedDiscovery(base, algs, issuer = 'macp-auth-service') {
  return {
    issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
  };
}

describe('GET /.well-known/openid-configuration', { concurrency: true }, () => {
  test('with a key file: default base http://localhost:<port>, the algs of the published keys', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const now = nowSeconds();
    const rsa = rsaPrivateJwk(2048, { kid: 'rsa', macp_activates_at: now - 100 });
    const ec = ecPrivateJwk({ kid: 'ec', macp_activates_at: now - 10 });
    const ec2 = ecPrivateJwk({ kid: 'ec2', macp_activates_at: now + 3600 });
    writeKeyFile(file, [rsa, ec, ec2]);
    const svc = await startOnFile(file, [rsa, ec, ec2]);
    try {
      const res = await svc.request('/.well-known/openid-configuration');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^application\/json/);
      assert.deepEqual(res.json, expectedDiscovery(`http://localhost:${svc.port}`, ['ES256', 'RS256']));
      assert.deepEqual(Object.keys(res.json), Object.keys(expectedDiscovery('', [])));
    } finally {
      await svc.stop();
    }
  });

  test('MACP_AUTH_PUBLIC_URL with a trailing slash, and a custom issuer', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const key = ecPrivateJwk({ kid: 'k' });
    writeKeyFile(file, [key]);
    const env = { MACP_AUTH_PUBLIC_URL: 'https://auth.example.com/', MACP_AUTH_ISSUER: 'https://auth.example.com' };
    const svc = await startOnFile(file, [key], env);
    try {
      const res = await svc.request('/.well-known/openid-configuration');
      assert.deepEqual(res.json, expectedDiscovery('https://auth.example.com', ['ES256'], 'https://auth.example.com'));
    } finally {
      await svc.stop();
    }
  });

  test('served with an env key and with an ephemeral key', async () => {
    const pinned = { MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(ecPrivateJwk({ kid: 'env' })) };
    await withService(pinned, async (svc) => {
      const res = await svc.request('/.well-known/openid-configuration');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, expectedDiscovery(`http://localhost:${svc.port}`, ['ES256']));
    });
    await withService({ MACP_AUTH_PUBLIC_URL: 'http://127.0.0.1:8080' }, async (svc) => {
      const res = await svc.request('/.well-known/openid-configuration');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, expectedDiscovery('http://127.0.0.1:8080', ['RS256']));
    });
  });

  for (const bad of ['https://auth.example.com/auth', 'ftp://auth.example.com', '']) {
    test(`MACP_AUTH_PUBLIC_URL=${JSON.stringify(bad)} is exit 1 naming the variable`, async () => {
      const result = await runUntilExit({ MACP_AUTH_PUBLIC_URL: bad });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderrLines.length, 1, result.stderr);
      assert.match(result.stderr, /MACP_AUTH_PUBLIC_URL/);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// 6. Caching: Cache-Control, a strong ETag, 304

const CACHED_PATHS = ['/.well-known/jwks.json', '/.well-known/openid-configuration'];

describe('JWKS and discovery cache validators', { concurrency: true }, () => {
  test('Cache-Control: public, max-age=60 by default; a strong ETag; If-None-Match forms; HEAD', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const key = ecPrivateJwk({ kid: 'k' });
    writeKeyFile(file, [key]);
    const svc = await startOnFile(file, [key]);
    try {
      for (const where of CACHED_PATHS) {
        const res = await svc.request(where);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('cache-control'), 'public, max-age=60', where);
        const etag = res.headers.get('etag');
        assert.match(etag, /^"[!#-~]+"$/, `a strong ETag on ${where}: ${etag}`);
        assert.equal((await svc.request(where)).headers.get('etag'), etag, 'the same body, the same tag');

        for (const header of [etag, `W/${etag}`, `"x", ${etag}`, '*']) {
          const cached = await svc.request(where, { headers: { 'if-none-match': header } });
          assert.equal(cached.status, 304, `If-None-Match: ${header} on ${where}`);
          assert.equal(cached.text, '', 'no body');
          assert.equal(cached.headers.get('etag'), etag);
          assert.equal(cached.headers.get('cache-control'), 'public, max-age=60');
        }
        const other = await svc.request(where, { headers: { 'if-none-match': '"another-tag"' } });
        assert.equal(other.status, 200);
        assert.equal(other.text, res.text);

        // RFC 9110 §5.3: two If-None-Match field lines are one list.
        const twoLines = await rawRequest(
          svc.port,
          `GET ${where} HTTP/1.1\r\nHost: x\r\nIf-None-Match: "x"\r\nIf-None-Match: ${etag}\r\nConnection: close\r\n\r\n`,
        );
        const [answer] = parseResponses(twoLines.data);
        assert.equal(answer.status, 304, `two If-None-Match lines on ${where}`);
        assert.equal(answer.text, '');

        const head = await svc.request(where, { method: 'HEAD' });
        assert.equal(head.status, 200, `HEAD ${where}`);
        assert.equal(head.text, '');
        assert.equal(head.headers.get('etag'), etag);
        assert.equal(head.headers.get('cache-control'), 'public, max-age=60');
        assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(res.text)));
      }
    } finally {
      await svc.stop();
    }
  });

  for (const maxAge of [0, 86400]) {
    test(`MACP_AUTH_JWKS_MAX_AGE_SECONDS=${maxAge} is served as max-age=${maxAge}`, async () => {
      await withService({ MACP_AUTH_JWKS_MAX_AGE_SECONDS: maxAge }, async (svc) => {
        for (const where of CACHED_PATHS) {
          const res = await svc.request(where);
          assert.equal(res.headers.get('cache-control'), `public, max-age=${maxAge}`);
        }
      });
    });
  }

  for (const bad of ['86401', '-1']) {
    test(`MACP_AUTH_JWKS_MAX_AGE_SECONDS=${bad} is exit 1 naming the variable`, async () => {
      const result = await runUntilExit({ MACP_AUTH_JWKS_MAX_AGE_SECONDS: bad });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderrLines.length, 1, result.stderr);
      assert.match(result.stderr, /MACP_AUTH_JWKS_MAX_AGE_SECONDS/);
    });
  }

  test('two replicas on one file publish byte-identical JWKS and discovery with the same ETags', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const now = nowSeconds();
    const keys = [
      rsaPrivateJwk(2048, { kid: 'r', macp_activates_at: now - 50 }),
      ecPrivateJwk({ kid: 'e', macp_activates_at: now - 5 }),
      ecPrivateJwk({ kid: 'n', macp_activates_at: now + 3600 }),
    ];
    writeKeyFile(file, keys);
    const env = { MACP_AUTH_PUBLIC_URL: 'https://auth.example.com' };
    const replicas = [await startOnFile(file, keys, env), await startOnFile(file, keys, env)];
    try {
      for (const where of CACHED_PATHS) {
        const [one, two] = await Promise.all(replicas.map((r) => r.request(where)));
        assert.equal(one.text, two.text, `${where}: the same bytes`);
        assert.equal(one.headers.get('etag'), two.headers.get('etag'), `${where}: the same ETag`);
        const crossed = await replicas[1].request(where, { headers: { 'if-none-match': one.headers.get('etag') } });
        assert.equal(crossed.status, 304, "one replica's tag is valid at the other");
      }
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });
});
