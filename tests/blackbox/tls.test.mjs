// TLS and mutual TLS through the real binary (SPEC.md §10), with throwaway CAs the test makes with the openssl
// CLI: the protocol and cipher policy (openssl s_client), resumption, the handshake under the request timeout,
// certificate reload under load, and client certificates authenticating POST /tokens.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './lib/nginx.mjs';
import { runUntilExit, withService } from './lib/service.mjs';
import { TestCa, httpsRequest, sClient } from './lib/tls.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'macp-tls-'));
const ca = new TestCa(dir, 'main');
const otherCa = new TestCa(dir, 'other');
const server = ca.issue('server', { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', rsa: true });
const tlsEnv = { MACP_AUTH_TLS_CERT_FILE: server.cert, MACP_AUTH_TLS_KEY_FILE: server.key };
const probe = { ca: fs.readFileSync(ca.cert) };
const MINT = { sender: 'agent://tls' };
const JSON_HEADERS = { 'content-type': 'application/json' };

test('HTTPS only: start-up lines print https:// URLs, requests work, plain HTTP gets no answer', async () => {
  await withService(tlsEnv, async (svc) => {
    assert.match(svc.stdoutLines[3], /^\[auth-service\] JWKS: https:\/\/localhost:\d+\/\.well-known\/jwks\.json$/);
    assert.match(svc.stdoutLines[4], /^\[auth-service\] Mint: POST https:\/\/localhost:\d+\/tokens$/);
    const health = await httpsRequest(svc.port, '/healthz', { ca: ca.cert });
    assert.equal(health.status, 200);
    const minted = await httpsRequest(svc.port, '/tokens', { method: 'POST', headers: JSON_HEADERS, body: MINT, ca: ca.cert });
    assert.equal(minted.status, 200, minted.text);
    assert.equal(minted.json.sender, 'agent://tls');
    // The discovery document names the https issuer base.
    const discovery = await httpsRequest(svc.port, '/.well-known/openid-configuration', { ca: ca.cert });
    assert.equal(discovery.status, 200);
    assert.match(discovery.json.jwks_uri, /^https:\/\/localhost:\d+\/\.well-known\/jwks\.json$/);
    // Plain HTTP is not TLS: no HTTP answer comes back.
    const plain = await new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: svc.port }, () =>
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      let data = '';
      socket.on('data', (c) => (data += c.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => resolve(data));
    });
    assert.doesNotMatch(plain, /^HTTP\//);
  }, { tls: probe });
});

test('policy: TLS 1.0/1.1, static RSA and CBC suites are refused; ECDHE with AES-GCM or ChaCha20 on 1.2 and 1.3 work', async () => {
  await withService(tlsEnv, async (svc) => {
    const old = '-cipher DEFAULT@SECLEVEL=0'.split(' ');  // so that the client really offers the old protocol
    for (const args of [['-tls1', ...old], ['-tls1_1', ...old]]) {
      const r = await sClient(svc.port, args);
      assert.equal(r.handshake, false, `${args.join(' ')} was accepted:\n${r.out}`);
      assert.match(r.out, /alert protocol version|no protocols available|unsupported protocol/);
    }
    for (const cipher of ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA256', 'AES128-SHA',
      'ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA', 'DHE-RSA-AES128-GCM-SHA256']) {
      const r = await sClient(svc.port, ['-tls1_2', '-cipher', cipher]);
      assert.equal(r.handshake, false, `${cipher} was accepted:\n${r.out}`);
      assert.match(r.out, /handshake failure/, cipher);
    }
    for (const cipher of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305']) {
      const r = await sClient(svc.port, ['-tls1_2', '-cipher', cipher]);
      assert.ok(r.handshake, `${cipher} was refused:\n${r.out}`);
      assert.match(r.out, new RegExp(`Cipher is ${cipher}`));
    }
    for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
      const r = await sClient(svc.port, ['-tls1_3', '-ciphersuites', suite]);
      assert.ok(r.handshake, `${suite} was refused:\n${r.out}`);
      assert.match(r.out, new RegExp(`New, TLSv1\\.3, Cipher is ${suite}`));
    }
    // ALPN: http/1.1 is chosen; a client that speaks only h2 is told there is no protocol in common.
    const alpn = await sClient(svc.port, ['-alpn', 'h2,http/1.1']);
    assert.match(alpn.out, /ALPN protocol: http\/1\.1/);
    const h2 = await sClient(svc.port, ['-alpn', 'h2']);
    assert.equal(h2.handshake, false, h2.out);
    assert.match(h2.out, /no application protocol/);
  }, { tls: probe });
});

test('resumption: a session ticket from one connection resumes the next (TLS 1.2 and 1.3)', async () => {
  await withService(tlsEnv, async (svc) => {
    for (const version of ['-tls1_2', '-tls1_3']) {
      const session = path.join(dir, `session${version}.pem`);
      const first = await sClient(svc.port, [version, '-sess_out', session]);
      assert.match(first.out, /^New, TLSv1\.[23]/m, first.out);
      const second = await sClient(svc.port, [version, '-sess_in', session]);
      assert.match(second.out, /^Reused, TLSv1\.[23]/m, `${version} did not resume:\n${second.out}`);
    }
  }, { tls: probe });
});

test('a handshake that stalls is cut off by the request timeout, like a slow request', async () => {
  await withService({ ...tlsEnv, MACP_AUTH_REQUEST_TIMEOUT_SECONDS: '1' }, async (svc) => {
    // The first bytes of a ClientHello record, then nothing (a slowloris during the handshake).
    const started = Date.now();
    const closedAfter = await new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: svc.port }, () => socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])));
      socket.on('error', () => {});
      socket.on('close', () => resolve(Date.now() - started));
      setTimeout(() => socket.destroy(), 10_000);
    });
    assert.ok(closedAfter < 5000 * Number(process.env.MACP_TEST_SLOWDOWN ?? 1), `closed after ${closedAfter} ms`);
    assert.ok(closedAfter >= 900, `closed after ${closedAfter} ms, before the request timeout`);
    // The service still answers.
    assert.equal((await httpsRequest(svc.port, '/healthz', { ca: ca.cert })).status, 200);
  }, { tls: probe });
});

test('the connection cap holds under TLS: the connection over it is answered 503 over TLS', async () => {
  // The open connections are read from a metrics listener of their own, which the cap does not count: the
  // start-up probe's connection must be gone before `busy` takes the slot, and `busy` accepted before the
  // request that must be refused (a sanitized build takes its time over both).
  const metricsPort = await freePort();
  const openConnections = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return Number(/^macp_auth_open_connections (\S+)$/m.exec(text)[1]);
  };
  const until = async (want) => {
    const deadline = Date.now() + 5000 * Number(process.env.MACP_TEST_SLOWDOWN ?? 1);
    while ((await openConnections()) !== want) {
      assert.ok(Date.now() < deadline, `never ${want} open connections`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await withService({ ...tlsEnv, MACP_AUTH_MAX_CONNECTIONS: '1', MACP_AUTH_METRICS_ADDR: `127.0.0.1:${metricsPort}` }, async (svc) => {
    await until(0);
    // A connection in its handshake holds the only slot (it cannot be evicted as idle).
    const busy = net.connect({ host: '127.0.0.1', port: svc.port });
    busy.on('error', () => {});
    try {
      await new Promise((r) => busy.once('connect', r));
      await until(1);
      const refused = await httpsRequest(svc.port, '/healthz', { ca: ca.cert });
      assert.equal(refused.status, 503);
      assert.equal(refused.json.error, 'too many open connections');
    } finally {
      busy.destroy();
    }
  }, { tls: probe });
});

// The server's certificate and key copied to `<name>.crt` and `<name>.key` (0600), for a test to replace.
function copyOfServerPair(name) {
  const live = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  fs.copyFileSync(server.cert, live.cert);
  fs.copyFileSync(server.key, live.key);
  fs.chmodSync(live.key, 0o600);
  return live;
}

test('reload: a new certificate on SIGHUP reaches new connections with no failed request; a bad pair keeps the old one', async () => {
  const live = copyOfServerPair('live');
  const next = otherCa.issue('server-next', { cn: 'localhost-next', san: 'DNS:localhost,IP:127.0.0.1', rsa: true });
  const bothCas = Buffer.concat([fs.readFileSync(ca.cert), fs.readFileSync(otherCa.cert)]);
  const bundle = path.join(dir, 'both-cas.pem');
  fs.writeFileSync(bundle, bothCas);
  const env = { MACP_AUTH_TLS_CERT_FILE: live.cert, MACP_AUTH_TLS_KEY_FILE: live.key, MACP_AUTH_KEYS_RELOAD_SECONDS: '3600' };
  await withService(env, async (svc) => {
    // An open connection made before the reload.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: bothCas });
    const before = await httpsRequest(svc.port, '/healthz', { agent });
    assert.equal(before.peerCertificate.subject.CN, 'localhost');

    // Load: new connections back to back while the files are swapped and SIGHUP is sent.
    let stop = false;
    const failures = [];
    const subjects = new Set();
    const loop = async () => {
      let n = 0;
      while (!stop) {
        try {
          const r = await httpsRequest(svc.port, '/tokens', { method: 'POST', headers: JSON_HEADERS, body: MINT, ca: bundle });
          if (r.status !== 200) failures.push(r.status);
          subjects.add(r.peerCertificate.subject.CN);
        } catch (error) {
          failures.push(error.message);
        }
        n += 1;
      }
      return n;
    };
    const load = Promise.all([loop(), loop(), loop(), loop()]).then((counts) => counts.reduce((a, b) => a + b));
    await new Promise((r) => setTimeout(r, 300));
    // Written one after the other, as an operator would: the reload reads them as a pair after SIGHUP.
    fs.copyFileSync(next.key, live.key + '.tmp');
    fs.chmodSync(live.key + '.tmp', 0o600);
    fs.copyFileSync(next.cert, live.cert + '.tmp');
    fs.renameSync(live.key + '.tmp', live.key);
    fs.renameSync(live.cert + '.tmp', live.cert);
    svc.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!svc.stdout.includes('tls reloaded') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    const requests = await load;
    assert.deepEqual(failures, [], `failed requests during the reload (of ${requests})`);
    assert.ok(subjects.has('localhost') && subjects.has('localhost-next'), [...subjects].join(','));
    assert.match(svc.stdout, /\[auth-service\] tls reloaded: certificate subject CN=localhost-next, expires /);

    // The connection opened before the reload keeps its certificate; a new one gets the new certificate.
    const same = await httpsRequest(svc.port, '/healthz', { agent });
    assert.equal(same.status, 200);
    assert.equal(same.peerCertificate.subject.CN, 'localhost');
    agent.destroy();
    const fresh = await httpsRequest(svc.port, '/healthz', { ca: bundle });
    assert.equal(fresh.peerCertificate.subject.CN, 'localhost-next');

    // A mismatched pair (the old key with the new certificate) is refused in one line; the running one stays.
    fs.copyFileSync(server.key, live.key);
    svc.child.kill('SIGHUP');
    const failDeadline = Date.now() + 5000;
    while (!svc.stderr.includes('tls reload failed') && Date.now() < failDeadline) await new Promise((r) => setTimeout(r, 20));
    const failed = svc.stderrLines.filter((l) => l.includes('tls reload failed'));
    assert.equal(failed.length, 1, svc.stderr);
    assert.match(failed[0], /^\[auth-service\] tls reload failed: .*live\.key: the key does not match the certificate/);
    const still = await httpsRequest(svc.port, '/healthz', { ca: bundle });
    assert.equal(still.peerCertificate.subject.CN, 'localhost-next');
  }, { tls: { ca: bothCas } });
});

test('reload: a changed certificate is seen without SIGHUP, every MACP_AUTH_KEYS_RELOAD_SECONDS', async () => {
  const live = copyOfServerPair('watched');
  const next = ca.issue('server-watched', { cn: 'localhost-watched', san: 'DNS:localhost,IP:127.0.0.1', rsa: true });
  const env = { MACP_AUTH_TLS_CERT_FILE: live.cert, MACP_AUTH_TLS_KEY_FILE: live.key, MACP_AUTH_KEYS_RELOAD_SECONDS: '1' };
  await withService(env, async (svc) => {
    fs.writeFileSync(live.key + '.tmp', fs.readFileSync(next.key), { mode: 0o600 });
    fs.renameSync(live.key + '.tmp', live.key);
    fs.copyFileSync(next.cert, live.cert);
    const deadline = Date.now() + 10_000 * Number(process.env.MACP_TEST_SLOWDOWN ?? 1);
    let subject;
    while (Date.now() < deadline) {
      subject = (await httpsRequest(svc.port, '/healthz', { ca: ca.cert })).peerCertificate.subject.CN;
      if (subject === 'localhost-watched') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(subject, 'localhost-watched', svc.stdout + svc.stderr);
  }, { tls: probe });
});

// ---- Mutual TLS ----

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const secret = 'macp_' + randomBytes(32).toString('base64url');
const spiffe = ca.issue('client-spiffe', { cn: 'ignored-cn', san: 'URI:spiffe://example.org/ns/prod/sa/planner', clientAuth: true });
const byCn = ca.issue('client-cn', { cn: 'orchestrator.internal', clientAuth: true });
const stranger = ca.issue('client-stranger', { cn: 'nobody', san: 'URI:spiffe://example.org/ns/prod/sa/nobody', clientAuth: true });
const foreign = otherCa.issue('client-foreign', { cn: 'orchestrator.internal', san: 'URI:spiffe://example.org/ns/prod/sa/planner', clientAuth: true });
const expired = ca.issue('client-expired', { cn: 'orchestrator.internal', san: 'URI:spiffe://example.org/ns/prod/sa/planner', clientAuth: true, start: '20200101000000Z', end: '20200102000000Z' });
const clientsFile = path.join(dir, 'clients.json');
fs.writeFileSync(clientsFile, JSON.stringify({
  clients: [
    { id: 'planner', mtls_identities: ['spiffe://example.org/ns/prod/sa/planner'], senders: ['agent://*'] },
    { id: 'orchestrator', mtls_identities: ['orchestrator.internal'], senders: ['agent://*'] },
    { id: 'ci', secrets_sha256: [sha256(secret)], senders: ['agent://*'] },
  ],
}), { mode: 0o600 });
fs.chmodSync(clientsFile, 0o600);

function mtlsEnv(mode) {
  const env = { ...tlsEnv, MACP_AUTH_TLS_CLIENT_CA_FILE: ca.cert, MACP_AUTH_CLIENTS_FILE: clientsFile, MACP_AUTH_AUDIT_LOG: path.join(dir, `audit-${mode}.log`) };
  if (mode) env.MACP_AUTH_TLS_CLIENT_AUTH = mode;
  return env;
}

async function auditClients(file, count) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    if (lines.length >= count || Date.now() > deadline) return lines.map((l) => [l.status, l.client ?? null]);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const mint = (port, options) => httpsRequest(port, '/tokens', { method: 'POST', headers: JSON_HEADERS, body: MINT, ca: ca.cert, ...options });

test('mTLS required: a certificate authenticates by URI SAN (SPIFFE) or CN; none, another CA\'s or an expired one is refused', async () => {
  const env = mtlsEnv(undefined);  // required is the default once a CA is set
  await withService(env, async (svc) => {
    assert.equal((await mint(svc.port, spiffe)).status, 200);
    assert.equal((await mint(svc.port, byCn)).status, 200);
    // Verified, but no client holds its identity: 401, unless a bearer secret authenticates.
    const unknown = await mint(svc.port, stranger);
    assert.equal(unknown.status, 401);
    assert.equal(unknown.headers['www-authenticate'], 'Bearer realm="macp-auth-service"');
    assert.equal((await mint(svc.port, { ...stranger, headers: { ...JSON_HEADERS, authorization: `Bearer ${secret}` } })).status, 200);
    assert.deepEqual(await auditClients(env.MACP_AUTH_AUDIT_LOG, 4), [[200, 'planner'], [200, 'orchestrator'], [401, null], [200, 'ci']]);
    // Refused at the handshake: no certificate, another CA's, an expired one.
    for (const [what, creds] of [['none', {}], ['another CA', foreign], ['expired', expired]]) {
      await assert.rejects(mint(svc.port, creds), (error) => /alert|socket hang up|ECONNRESET|certificate/i.test(error.message), what);
    }
    // The alerts say why (openssl s_client, on TLS 1.2 and 1.3).
    for (const version of ['-tls1_2', '-tls1_3']) {
      const good = await sClient(svc.port, [version, '-cert', spiffe.cert, '-key', spiffe.key]);
      assert.ok(good.answered, good.out);
      const expiredOut = await sClient(svc.port, [version, '-cert', expired.cert, '-key', expired.key]);
      assert.equal(expiredOut.answered, false);
      assert.match(expiredOut.out, /alert certificate expired/, expiredOut.out);
      const foreignOut = await sClient(svc.port, [version, '-cert', foreign.cert, '-key', foreign.key]);
      assert.equal(foreignOut.answered, false);
      assert.match(foreignOut.out, /alert unknown ca/, foreignOut.out);
      const none = await sClient(svc.port, [version]);
      assert.equal(none.answered, false);
      assert.match(none.out, /alert (handshake failure|certificate required)/, none.out);
    }
  }, { tls: { ca: fs.readFileSync(ca.cert), cert: fs.readFileSync(spiffe.cert), key: fs.readFileSync(spiffe.key) } });
});

test('mTLS optional: without a certificate the bearer secret decides; with one, the certificate', async () => {
  const env = mtlsEnv('optional');
  await withService(env, async (svc) => {
    assert.equal((await mint(svc.port, {})).status, 401);
    assert.equal((await mint(svc.port, { headers: { ...JSON_HEADERS, authorization: `Bearer ${secret}` } })).status, 200);
    assert.equal((await mint(svc.port, spiffe)).status, 200);
    assert.deepEqual(await auditClients(env.MACP_AUTH_AUDIT_LOG, 3), [[401, null], [200, 'ci'], [200, 'planner']]);
    // A certificate presented must still verify in optional mode.
    await assert.rejects(mint(svc.port, foreign));
    await assert.rejects(mint(svc.port, expired));
  }, { tls: probe });
});

test('start-up: bad TLS settings and files exit 1 with one line naming what is wrong', async () => {
  const cases = [
    [{ MACP_AUTH_TLS_CERT_FILE: server.cert }, /MACP_AUTH_TLS_CERT_FILE and MACP_AUTH_TLS_KEY_FILE go together/],
    [{ ...tlsEnv, MACP_AUTH_TLS_CLIENT_AUTH: 'optional' }, /MACP_AUTH_TLS_CLIENT_AUTH needs MACP_AUTH_TLS_CLIENT_CA_FILE/],
    [{ ...tlsEnv, MACP_AUTH_TLS_CLIENT_CA_FILE: ca.cert, MACP_AUTH_TLS_CLIENT_AUTH: 'sometimes' }, /MACP_AUTH_TLS_CLIENT_AUTH="sometimes" is invalid/],
    [{ ...tlsEnv, MACP_AUTH_TLS_KEY_FILE: spiffe.key }, /the key does not match the certificate/],
    [{ ...tlsEnv, MACP_AUTH_TLS_CERT_FILE: expired.cert, MACP_AUTH_TLS_KEY_FILE: expired.key }, /the certificate expired at 2020-01-02T00:00:00Z/],
    [{ ...tlsEnv, MACP_AUTH_TLS_CERT_FILE: path.join(dir, 'missing.crt') }, /missing\.crt/],
    [{ ...tlsEnv, MACP_AUTH_TLS_CERT_FILE: clientsFile }, /no PEM certificate/],
  ];
  for (const [env, expected] of cases) {
    const r = await runUntilExit(env);
    assert.equal(r.code, 1, `${JSON.stringify(env)}\n${r.stderr}`);
    assert.equal(r.stderrLines.length, 1, r.stderr);
    assert.match(r.stderrLines[0], expected);
    assert.doesNotMatch(r.stderr, /BEGIN|PRIVATE/);
  }
});

test("the seed's npm jose verification works over https (NODE_EXTRA_CA_CERTS)", async () => {
  await withService(tlsEnv, async (svc) => {
    const minted = await mint(svc.port, {});
    assert.equal(minted.status, 200);
    const script = `
      import * as jose from 'jose';
      const jwks = jose.createRemoteJWKSet(new URL(process.argv[1]));
      const { payload } = await jose.jwtVerify(process.argv[2], jwks, { issuer: 'macp-auth-service', audience: 'macp-runtime' });
      console.log(payload.sub);`;
    const url = `https://localhost:${svc.port}/.well-known/jwks.json`;
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script, url, minted.json.token], {
        env: { PATH: process.env.PATH, NODE_PATH: process.env.NODE_PATH, NODE_EXTRA_CA_CERTS: ca.cert },
        cwd: process.cwd(),
      }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
    });
    assert.equal(out.trim(), 'agent://tls');
  }, { tls: probe });
});

// Runs the binary as a command (healthcheck, verify) and resolves {code, stdout, stderr}.
function runCommand(args, env = {}) {
  return new Promise((resolve) => {
    execFile(process.env.MACP_AUTH_BIN, args, { env: { PATH: process.env.PATH, ...env }, timeout: 15_000 },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
}

test('healthcheck and verify --jwks https:// speak TLS, trusting --cacert and checking the name', async () => {
  await withService(tlsEnv, async (svc) => {
    const url = `https://localhost:${svc.port}`;
    const ok = await runCommand(['healthcheck', '--url', `${url}/healthz`, '--cacert', ca.cert]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /healthcheck: ok: https:\/\/localhost:\d+\/healthz answered HTTP 200/);
    // The default URL follows the service's own environment: https on 127.0.0.1 (in the certificate's SANs).
    const byEnv = await runCommand(['healthcheck', '--cacert', ca.cert], { ...tlsEnv, PORT: String(svc.port) });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.match(byEnv.stdout, /https:\/\/127\.0\.0\.1:/);
    // Not trusted (the system's CAs do not know the test CA), or another CA: unhealthy, saying why.
    const untrusted = await runCommand(['healthcheck', '--url', `${url}/healthz`]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /could not complete the TLS handshake: .*certificate verify failed/);
    const wrongCa = await runCommand(['healthcheck', '--url', `${url}/healthz`, '--cacert', otherCa.cert]);
    assert.equal(wrongCa.code, 1);
    assert.match(wrongCa.stderr, /certificate verify failed/);

    const minted = await mint(svc.port, {});
    const verified = await runCommand(['verify', minted.json.token, '--jwks', `${url}/.well-known/jwks.json`, '--cacert', ca.cert]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(JSON.parse(verified.stdout).payload.sub, 'agent://tls');
    const refused = await runCommand(['verify', minted.json.token, '--jwks', `${url}/.well-known/jwks.json`, '--cacert', otherCa.cert]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /could not load the JWKS: https:\/\/localhost:\d+\/\.well-known\/jwks\.json: could not complete the TLS handshake/);
  }, { tls: probe });
});

test('healthcheck refuses a certificate from the right CA that does not name the host it asked', async () => {
  const elsewhere = ca.issue('server-elsewhere', { cn: 'elsewhere.example', san: 'DNS:elsewhere.example', rsa: true });
  const env = { MACP_AUTH_TLS_CERT_FILE: elsewhere.cert, MACP_AUTH_TLS_KEY_FILE: elsewhere.key };
  await withService(env, async (svc) => {
    for (const host of ['localhost', '127.0.0.1']) {
      const r = await runCommand(['healthcheck', '--url', `https://${host}:${svc.port}/healthz`, '--cacert', ca.cert]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /could not complete the TLS handshake: .*certificate verify failed/);
    }
  }, { tls: { ...probe, checkServerIdentity: () => undefined } });
});
