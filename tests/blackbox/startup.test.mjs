// Start-up log lines, the ephemeral-key warning, port handling and signals (SPEC.md §3, §5).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { BIN, Connection, HOST, READY_LINE, rawRequest, runUntilExit, serviceEnv, startService, withService } from './lib/service.mjs';
import { ecPrivateJwk, rsaPrivateJwk } from './lib/keys.mjs';

function expectedLines(port, { issuer = 'macp-auth-service', audience = 'macp-runtime', source, alg, kid }) {
  return [
    `[auth-service] listening on port ${port}`,
    `[auth-service] issuer=${issuer} audience=${audience}`,
    // The key-source line may go on with " alg: RS256 kid: dev-key-1".
    new RegExp(`^\\[auth-service\\] key source: ${source}( alg: ${alg} kid: ${kid.replace(/[^\w]/g, '\\$&')})?$`),
    `[auth-service] JWKS: http://localhost:${port}/.well-known/jwks.json`,
    `[auth-service] Mint: POST http://localhost:${port}/tokens`,
  ];
}

function assertStartupLines(service, expected) {
  const lines = service.stdoutLines.slice(0, 5);
  assert.equal(lines.length, 5, `five start-up lines, got:\n${service.stdout}`);
  expected.forEach((want, i) => {
    if (want instanceof RegExp) assert.match(lines[i], want);
    else assert.equal(lines[i], want);
  });
}

test('an ephemeral RS256 start prints the five start-up lines in order and warns on stderr', async () => {
  await withService({}, async (svc) => {
    assert.ok(svc.port > 0 && svc.port < 65536, 'PORT=0 picks a real port');
    assertStartupLines(svc, expectedLines(svc.port, { source: 'ephemeral', alg: 'RS256', kid: 'dev-key-1' }));
    assert.equal(svc.stdoutLines.length, 5, 'nothing else on stdout while idle');
    const warning = svc.stderrLines.filter((l) => /development/i.test(l));
    assert.equal(warning.length, 1, `one development-only warning on stderr, got:\n${svc.stderr}`);
    assert.match(warning[0], /ephemeral/i);
    assert.ok(!svc.stdout.includes('WARNING'), 'the warning goes to stderr, not stdout');
  });
});

test('the port in the log is the one that answers', async () => {
  await withService({}, async (svc) => {
    const res = await fetch(`http://localhost:${svc.port}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });
});

test('an ephemeral ES256 start names ES256 if it names an algorithm', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    assertStartupLines(svc, expectedLines(svc.port, { source: 'ephemeral', alg: 'ES256', kid: 'dev-key-1' }));
    assert.match(svc.stderr, /development/i);
  });
});

test('a pinned key logs "key source: env", its kid, custom issuer and audience, and no dev warning', async () => {
  const jwk = rsaPrivateJwk(2048, { kid: 'prod-key-1' });
  const env = {
    MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk),
    MACP_AUTH_ISSUER: 'auth.example.com',
    MACP_AUTH_AUDIENCE: 'macp-runtime-eu',
  };
  await withService(env, async (svc) => {
    assertStartupLines(
      svc,
      expectedLines(svc.port, {
        issuer: 'auth.example.com',
        audience: 'macp-runtime-eu',
        source: 'env',
        alg: 'RS256',
        kid: 'prod-key-1',
      }),
    );
    assert.doesNotMatch(svc.stderr, /development|ephemeral/i, 'no ephemeral-key warning with a pinned key');
  });
});

test('a pinned EC key without MACP_AUTH_SIGNING_ALG starts as ES256', async () => {
  const jwk = ecPrivateJwk({ kid: 'ec-1' });
  await withService({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify(jwk) }, async (svc) => {
    assertStartupLines(svc, expectedLines(svc.port, { source: 'env', alg: 'ES256', kid: 'ec-1' }));
    const jwks = await svc.jwks();
    assert.equal(jwks.keys[0].alg, 'ES256');
  });
});

test('a second instance on a port already taken exits 1 with one line, and the first keeps serving', async () => {
  await withService({}, async (first) => {
    const second = await runUntilExit({ PORT: first.port });
    assert.equal(second.code, 1);
    assert.equal(second.signal, null);
    assert.equal(second.stderrLines.length, 1, `one stderr line, got:\n${second.stderr}`);
    assert.ok(second.stderr.includes(String(first.port)), 'the line names the port');
    assert.ok(!second.stdout.includes('listening on port'), 'it never claims to listen');
    const res = await first.request('/healthz');
    assert.equal(res.status, 200);
  });
});

test('a port held by another program (not the service) also makes the start fail with exit 1', async () => {
  const blocker = net.createServer();
  await new Promise((resolve) => blocker.listen(0, HOST, resolve));
  try {
    const { port } = blocker.address();
    const result = await runUntilExit({ PORT: port });
    assert.equal(result.code, 1);
    assert.equal(result.stderrLines.length, 1, result.stderr);
    assert.ok(result.stderr.includes(String(port)));
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('SIGTERM: exit 0 quickly, and the port is closed afterwards', async () => {
  const svc = await startService();
  const port = svc.port;
  const { elapsedMs } = await svc.stop('SIGTERM');
  assert.ok(elapsedMs < 2000, `exited in ${elapsedMs} ms`);
  await assert.rejects(rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), { code: 'ECONNREFUSED' });
});

test('SIGINT: exit 0 quickly', async () => {
  const svc = await startService();
  const { elapsedMs } = await svc.stop('SIGINT');
  assert.ok(elapsedMs < 2000, `exited in ${elapsedMs} ms`);
});

test('SIGTERM with idle keep-alive connections open still exits 0 quickly and closes them', async () => {
  const svc = await startService();
  const conns = [new Connection(svc.port), new Connection(svc.port), new Connection(svc.port)];
  try {
    for (const c of conns) {
      await c.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal((await c.read()).status, 200);
    }
    const { elapsedMs } = await svc.stop('SIGTERM');
    assert.ok(elapsedMs < 2000, `exited in ${elapsedMs} ms`);
    for (const c of conns) assert.ok(await c.waitClosed(1000), 'idle connection closed');
  } finally {
    for (const c of conns) c.close();
    await svc.stop();
  }
});

// SPEC.md §5 "finish requests in flight": a request whose bytes have started to arrive when SIGTERM
// comes is read to its end and answered before the process exits.
test('SIGTERM finishes a request in flight (headers in, body still arriving) and answers it', async () => {
  const svc = await startService();
  const c = new Connection(svc.port);
  try {
    const body = '{"sender":"agent://in-flight"}';
    await c.send(
      `POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.slice(0, 10),
    );
    await new Promise((r) => setTimeout(r, 100));
    svc.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // While draining, nobody new gets in.
    await assert.rejects(rawRequest(svc.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), { code: 'ECONNREFUSED' });
    await c.send(body.slice(10));
    const res = await c.read();
    assert.ok(res, 'the request in flight got a response before the connection closed');
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(res.text).sender, 'agent://in-flight');
  } finally {
    c.close();
    await svc.stop();
  }
});

// The SIGTERM/SIGINT handlers are in place before "listening on port N" is printed: a supervisor
// that signals the service as soon as it announces itself gets a drain and exit 0, not a kill.
test('SIGTERM sent right after the listening line still exits 0 (no start-up window)', async () => {
  const rounds = 15;
  const failures = [];
  for (let i = 0; i < rounds; i++) {
    const result = await new Promise((resolve, reject) => {
      const child = spawn(BIN, [], { env: serviceEnv({ MACP_AUTH_SIGNING_ALG: 'ES256' }), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let sent = false;
      child.stdout.setEncoding('utf8').on('data', (chunk) => {
        out += chunk;
        if (!sent && READY_LINE.test(out.split('\n')[0]) && out.includes('\n')) {
          sent = true;
          child.kill('SIGTERM');
        }
      });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal }));
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    });
    if (result.code !== 0) failures.push(result);
  }
  assert.deepEqual(failures, [], `${failures.length} of ${rounds} starts died by the signal instead of exiting 0`);
});

test('the service can be started again on the port it just released', async () => {
  const first = await startService();
  const port = first.port;
  // Leave a connection in TIME_WAIT on our side of the port.
  const res = await first.request('/healthz');
  assert.equal(res.status, 200);
  await first.stop();
  const again = await startService({ PORT: port });
  try {
    assert.equal(again.port, port);
    assert.equal((await again.request('/healthz')).status, 200);
  } finally {
    await again.stop();
  }
});

async function canListenOn(host) {
  const probe = net.createServer();
  try {
    await new Promise((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, host, resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    probe.close();
  }
}

test('MACP_AUTH_BIND_ADDR=127.0.0.2: listens there only, and the log URLs name it', async (t) => {
  if (!(await canListenOn('127.0.0.2'))) return t.skip('127.0.0.2 is not available here');
  await withService({ MACP_AUTH_BIND_ADDR: '127.0.0.2' }, async (svc) => {
    assert.equal(svc.stdoutLines[3], `[auth-service] JWKS: http://127.0.0.2:${svc.port}/.well-known/jwks.json`);
    assert.equal(svc.stdoutLines[4], `[auth-service] Mint: POST http://127.0.0.2:${svc.port}/tokens`);
    assert.equal((await svc.request('/healthz')).status, 200);
    await assert.rejects(rawRequest(svc.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { host: '127.0.0.1' }), {
      code: 'ECONNREFUSED',
    });
  });
});

test('MACP_AUTH_BIND_ADDR=::1: listens on IPv6 loopback, URLs in brackets', async (t) => {
  if (!(await canListenOn('::1'))) return t.skip('no IPv6 loopback here');
  await withService({ MACP_AUTH_BIND_ADDR: '::1' }, async (svc) => {
    assert.equal(svc.stdoutLines[3], `[auth-service] JWKS: http://[::1]:${svc.port}/.well-known/jwks.json`);
    assert.equal((await svc.request('/healthz')).status, 200);
    const token = await svc.mint({ sender: 'agent://v6' });
    assert.ok(token.split('.').length === 3);
  });
});
