// The operator commands of the real binary, checked with npm jose (a library we did not write).
// Never prints key material: assertions on private JWKs compare parsed members, not text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';

import { BIN, cleanEnv } from './cli_env.mjs';

function run(args, { env = {}, input } = {}) {
  const r = spawnSync(BIN, args, { env: cleanEnv(env), input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// Starts `macp-auth-service [args]` on a free loopback port; resolves once it logs its port.
function startService(env = {}, args = ['serve', '--port', '0']) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => reject(new Error(`service exited with ${code}: ${err}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      const m = /^\[auth-service\] listening on port (\d+)$/.exec(lines[0]);
      if (m && lines.length > 5) {
        const port = Number(m[1]);
        resolve({
          port,
          lines: lines.slice(0, 5),
          base: `http://127.0.0.1:${port}`,
          stop: () => new Promise((done) => { child.removeAllListeners('exit'); child.on('exit', done); child.kill('SIGTERM'); }),
        });
      }
    });
  });
}

async function mint(base, body = { sender: 'agent://risk' }) {
  const res = await fetch(`${base}/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

function keygen(args = []) {
  const r = run(['keygen', ...args]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'macp-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('keygen', () => {
  for (const [alg, args, members] of [
    ['RS256', [], ['kty', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'kid', 'alg', 'use']],
    ['RS256', ['--bits', '3072'], ['kty', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'kid', 'alg', 'use']],
    ['ES256', ['--alg', 'ES256'], ['kty', 'crv', 'x', 'y', 'd', 'kid', 'alg', 'use']],
  ]) {
    test(`${alg} ${args.join(' ')}: one line that jose imports and the service signs with`, async () => {
      const r = run(['keygen', ...args]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.indexOf('\n'), r.out.length - 1, 'exactly one line');
      const jwk = JSON.parse(r.out);
      assert.deepEqual(Object.keys(jwk).sort(), [...members].sort());
      assert.equal(jwk.alg, alg);
      assert.equal(jwk.use, 'sig');
      assert.match(jwk.kid, /^\d{4}-\d{2}-\d{2}-[0-9a-f]{8}$/);
      if (args.includes('3072')) assert.equal(Buffer.from(jwk.n, 'base64url').length, 384);

      // jose takes it without being told the algorithm, as a private key.
      const privateKey = await jose.importJWK(jwk);
      assert.equal(privateKey.type, 'private');

      // A token jose signs with the key verifies against the JWKS the service publishes for it …
      const service = await startService({ MACP_AUTH_SIGNING_KEY_JSON: r.out.trim() });
      try {
        assert.match(service.lines[2], new RegExp(`key source: env alg: ${alg} kid: ${jwk.kid}$`));
        const jwksUrl = `${service.base}/.well-known/jwks.json`;
        const jwks = jose.createRemoteJWKSet(new URL(jwksUrl));
        const now = Math.floor(Date.now() / 1000);
        const signed = await new jose.SignJWT({ macp_scopes: {} })
          .setProtectedHeader({ alg, kid: jwk.kid })
          .setIssuedAt(now).setExpirationTime(now + 300)
          .setIssuer('macp-auth-service').setAudience('macp-runtime').setSubject('agent://jose')
          .sign(privateKey);
        await jose.jwtVerify(signed, jwks, { issuer: 'macp-auth-service', audience: 'macp-runtime' });
        // … and our verify accepts it, and the service's own tokens, from the URL.
        const ours = run(['verify', signed, '--jwks', jwksUrl]);
        assert.equal(ours.code, 0, ours.err);
        assert.equal(JSON.parse(ours.out).payload.sub, 'agent://jose');
        const minted = await mint(service.base);
        await jose.jwtVerify(minted, jwks, { issuer: 'macp-auth-service', audience: 'macp-runtime' });
        const shown = run(['verify', minted, '--jwks', jwksUrl]);
        assert.equal(shown.code, 0, shown.err);
        assert.deepEqual(JSON.parse(shown.out), {
          header: jose.decodeProtectedHeader(minted),
          payload: jose.decodeJwt(minted),
        });
      } finally {
        await service.stop();
      }
    });
  }

  test('--out writes mode 0600, prints only the kid, and never overwrites', () => {
    const file = path.join(tmp, 'prod-key.json');
    const r = run(['keygen', '--alg', 'ES256', '--out', file]);
    assert.equal(r.code, 0, r.err);
    const written = fs.readFileSync(file, 'utf8');
    const jwk = JSON.parse(written);
    assert.equal(r.out, `${jwk.kid}\n`);
    assert.ok(!r.out.includes(jwk.d) && !r.err.includes(jwk.d), 'no private member on the terminal');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);

    const again = run(['keygen', '--out', file]);
    assert.notEqual(again.code, 0);
    assert.equal(again.out, '');
    assert.match(again.err, /already exists/);
    assert.equal(fs.readFileSync(file, 'utf8'), written, 'the first key is untouched');
  });

  test('kids differ between keys and --kid is kept', () => {
    assert.notEqual(keygen(['--alg', 'ES256']).kid, keygen(['--alg', 'ES256']).kid);
    assert.equal(keygen(['--alg', 'ES256', '--kid', 'prod-key-1']).kid, 'prod-key-1');
  });

  test('an unknown algorithm or size: non-zero exit and nothing on stdout', () => {
    for (const args of [['--alg', 'HS256'], ['--alg', 'PS256'], ['--bits', '1024'], ['--bits', '8192'],
      ['--alg', 'ES256', '--bits', '2048'], ['--alg']]) {
      const r = run(['keygen', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.out, '');
      assert.match(r.err, /usage: macp-auth-service keygen/);
    }
  });
});

describe('jwks', () => {
  test('prints exactly what the service serves for the key, from a file, the variable or stdin', async () => {
    for (const alg of ['RS256', 'ES256']) {
      const key = run(['keygen', '--alg', alg]).out.trim();
      const file = path.join(tmp, `jwks-${alg}.json`);
      fs.writeFileSync(file, key, { mode: 0o600 });
      const service = await startService({ MACP_AUTH_SIGNING_KEY_JSON: key });
      try {
        const served = await (await fetch(`${service.base}/.well-known/jwks.json`)).text();
        for (const r of [run(['jwks', '--key-file', file]),
          run(['jwks'], { env: { MACP_AUTH_SIGNING_KEY_JSON: key } }),
          run(['jwks'], { input: key })]) {
          assert.equal(r.code, 0, r.err);
          assert.equal(r.out, `${served}\n`);
        }
      } finally {
        await service.stop();
      }
    }
  });

  test('a key without kid gets the RFC 7638 thumbprint jose computes', async () => {
    const jwk = keygen(['--alg', 'ES256']);
    delete jwk.kid;
    const r = run(['jwks'], { input: JSON.stringify(jwk) });
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).keys[0].kid, await jose.calculateJwkThumbprint(jwk));
  });

  test('a jose-generated key works, and a public key is refused', async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const r = run(['jwks'], { input: JSON.stringify(await jose.exportJWK(privateKey)) });
    assert.equal(r.code, 0, r.err);
    const refused = run(['jwks'], { input: JSON.stringify(await jose.exportJWK(publicKey)) });
    assert.equal(refused.code, 1);
    assert.equal(refused.out, '');
    assert.match(refused.err, /public key/);
  });
});

describe('verify names failures as jose does', () => {
  let service;
  let jwksFile;
  let jwksUrl;
  let key;
  let otherKeySameKid;
  before(async () => {
    key = keygen(['--alg', 'ES256', '--kid', 'k1']);
    otherKeySameKid = keygen(['--alg', 'ES256', '--kid', 'k1']);
    service = await startService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(key) });
    jwksUrl = `${service.base}/.well-known/jwks.json`;
    jwksFile = path.join(tmp, 'verify-jwks.json');
    fs.writeFileSync(jwksFile, await (await fetch(jwksUrl)).text());
  });
  after(() => service.stop());

  async function signed(jwk, claims, header = { alg: 'ES256', kid: 'k1' }) {
    const now = Math.floor(Date.now() / 1000);
    return new jose.SignJWT({ iss: 'macp-auth-service', aud: 'macp-runtime', sub: 'agent://x', iat: now, exp: now + 300, ...claims })
      .setProtectedHeader(header).sign(await jose.importJWK(jwk));
  }

  const cases = {
    valid: async () => mint(service.base),
    expired: async () => signed(key, { exp: Math.floor(Date.now() / 1000) - 3600 }),
    'wrong issuer': async () => signed(key, { iss: 'someone-else' }),
    'wrong audience': async () => signed(key, { aud: 'another-runtime' }),
    tampered: async () => {
      const token = await mint(service.base);
      const [h, , s] = token.split('.');
      const payload = { ...jose.decodeJwt(token), sub: 'agent://admin' };
      return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    },
    'other key, same kid': async () => signed(otherKeySameKid, {}),
    HS256: async () => new jose.SignJWT({ iss: 'macp-auth-service', aud: 'macp-runtime', exp: Math.floor(Date.now() / 1000) + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long!')),
    none: async () => new jose.UnsecuredJWT({ iss: 'macp-auth-service', aud: 'macp-runtime' }).setExpirationTime('5m').encode(),
  };

  for (const [name, make] of Object.entries(cases)) {
    test(name, async () => {
      const token = await make();
      let joseError = null;
      try {
        await jose.jwtVerify(token, jose.createLocalJWKSet(JSON.parse(fs.readFileSync(jwksFile, 'utf8'))), {
          issuer: 'macp-auth-service', audience: 'macp-runtime', algorithms: ['RS256', 'ES256'], clockTolerance: 60,
        });
      } catch (e) {
        joseError = e;
      }
      for (const source of [jwksFile, jwksUrl]) {
        const r = run(['verify', token, '--jwks', source]);
        if (joseError === null) {
          assert.equal(r.code, 0, r.err);
          assert.deepEqual(JSON.parse(r.out).payload, jose.decodeJwt(token));
        } else {
          assert.equal(r.code, 1, `jose refused with ${joseError.name}; we said ${r.out}`);
          assert.equal(r.out, '');
          assert.equal(r.err.split('\n').length, 2, 'one line');
          assert.equal(r.err.split(':')[0], joseError.name);
          if (joseError.claim) assert.ok(r.err.includes(`"${joseError.claim}"`), r.err);
        }
      }
      assert.equal(joseError === null, name === 'valid', `jose's verdict on the ${name} token`);
    });
  }

  test('from stdin with a trailing newline, and issuer and audience from the runtime variables', async () => {
    const token = await signed(key, { iss: 'auth.example.com', aud: 'runtime-b' });
    const env = { MACP_AUTH_ISSUER: 'auth.example.com', MACP_AUTH_AUDIENCE: 'runtime-b' };
    assert.equal(run(['verify', '-', '--jwks', jwksFile], { input: `${token}\n`, env }).code, 0);
    assert.equal(run(['verify', token, '--jwks', jwksFile, '--issuer', 'auth.example.com', '--audience', 'runtime-b']).code, 0);
    assert.match(run(['verify', token, '--jwks', jwksFile]).err, /^JWTClaimValidationFailed: unexpected "iss"/);
  });

  test('a JWKS URL that never answers gives up within its timeout', async () => {
    const silent = net.createServer(() => {});
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const started = Date.now();
      const r = await new Promise((resolve) => {
        const child = spawn(BIN, ['verify', 'a.b.c', '--jwks', `http://127.0.0.1:${silent.address().port}/jwks`],
          { env: cleanEnv() });
        let err = '';
        child.stderr.on('data', (d) => { err += d; });
        child.on('exit', (code) => resolve({ code, err }));
      });
      assert.equal(r.code, 1);
      assert.match(r.err, /no response within/);
      assert.ok(Date.now() - started < 8000);
    } finally {
      silent.close();
    }
  });
});

describe('healthcheck', () => {
  test('0 against a live service on the default URL built from PORT', async () => {
    const service = await startService();
    try {
      const r = run(['healthcheck'], { env: { PORT: String(service.port) } });
      assert.equal(r.code, 0, r.err);
      assert.equal(run(['healthcheck', '--url', `${service.base}/healthz`]).code, 0);
      assert.notEqual(run(['healthcheck', '--url', `${service.base}/nothing-here`]).code, 0, '404 is unhealthy');
    } finally {
      await service.stop();
    }
  });

  test('non-zero when nothing listens', () => {
    const r = run(['healthcheck', '--url', 'http://127.0.0.1:1/healthz']);
    assert.equal(r.code, 1);
    assert.match(r.err, /unhealthy/);
  });

  test('non-zero after about 2 s when the service accepts but never answers', async () => {
    const silent = net.createServer(() => {});
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const started = Date.now();
      const code = await new Promise((resolve) => {
        spawn(BIN, ['healthcheck', '--url', `http://127.0.0.1:${silent.address().port}/healthz`], { env: cleanEnv() })
          .on('exit', resolve);
      });
      const elapsed = Date.now() - started;
      assert.equal(code, 1);
      assert.ok(elapsed >= 1900 && elapsed < 4000, `gave up after ${elapsed} ms`);
    } finally {
      silent.close();
    }
  });
});

describe('serve options', () => {
  test('no command still serves, with the five start-up lines', async () => {
    const service = await startService({ PORT: '0' }, []);
    try {
      const p = service.port;
      assert.deepEqual(service.lines, [
        `[auth-service] listening on port ${p}`,
        '[auth-service] issuer=macp-auth-service audience=macp-runtime',
        '[auth-service] key source: ephemeral alg: RS256 kid: dev-key-1',
        `[auth-service] JWKS: http://localhost:${p}/.well-known/jwks.json`,
        `[auth-service] Mint: POST http://localhost:${p}/tokens`,
      ]);
    } finally {
      await service.stop();
    }
  });

  test('an option wins over its variable and shapes the tokens', async () => {
    const service = await startService(
      { PORT: 'not-a-port', MACP_AUTH_ISSUER: 'from-env', MACP_AUTH_SIGNING_ALG: 'RS256' },
      ['--port', '0', '--issuer', 'auth.example.com', '--audience=runtime-b', '--default-ttl', '120', '--max-ttl', '600',
        '--alg', 'ES256'],
    );
    try {
      assert.equal(service.lines[1], '[auth-service] issuer=auth.example.com audience=runtime-b');
      const token = await mint(service.base, { sender: 'agent://risk' });
      const jwks = jose.createRemoteJWKSet(new URL(`${service.base}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, { issuer: 'auth.example.com', audience: 'runtime-b' });
      assert.equal(protectedHeader.alg, 'ES256');
      assert.equal(payload.exp - payload.iat, 120);
      const capped = jose.decodeJwt(await mint(service.base, { sender: 'a', ttl_seconds: 999999 }));
      assert.equal(capped.exp - capped.iat, 600);
    } finally {
      await service.stop();
    }
  });

  test('a bad option value is exit 2 naming the option; a bad variable is exit 1 naming it', () => {
    for (const [args, pattern] of [[['--port', 'abc'], /--port="abc" is invalid/], [['serve', '--max-ttl', '1h'], /--max-ttl="1h"/],
      [['serve', '--alg', 'HS256'], /--alg="HS256"/], [['serve', '--bind', 'localhost'], /--bind="localhost"/],
      [['serve', '--frobnicate'], /unknown option --frobnicate/]]) {
      const r = run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, pattern);
      assert.match(r.err, /usage: macp-auth-service \[serve\]/);
      assert.equal(r.out, '');
    }
    const env = run(['serve'], { env: { MACP_AUTH_DEFAULT_TTL_SECONDS: '-5' } });
    assert.equal(env.code, 1);
    assert.match(env.err, /MACP_AUTH_DEFAULT_TTL_SECONDS="-5" is invalid/);
  });

  test('--version everywhere is the CMake project version', () => {
    const cmake = fs.readFileSync(new URL('../../CMakeLists.txt', import.meta.url), 'utf8');
    const version = /project\(macp-auth-service VERSION (\S+)/.exec(cmake)[1];
    for (const args of [['--version'], ['serve', '--version'], ['keygen', '--version'], ['jwks', '--version'],
      ['verify', '--version'], ['healthcheck', '--version']]) {
      const r = run(args);
      assert.equal(r.code, 0);
      assert.equal(r.out, `macp-auth-service ${version}\n`);
    }
  });
});
