// Callers, policy and the audit log through the real binary (SPEC.md §8): who may mint, what a client may
// mint, and one audit line per POST /tokens attempt. Also /readyz (§9).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { decodeJwt, parseResponses, startService, withService, runUntilExit } from './lib/service.mjs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const newSecret = () => 'macp_' + randomBytes(32).toString('base64url');
const UNAUTHORIZED = '{"error":"unauthorized"}';
const CHALLENGE = 'Bearer realm="macp-auth-service"';

function tempDir() {
  return mkdtempSync(join(tmpdir(), 'macp-callers-'));
}

// Writes a clients file (mode 0600) all at once, as an operator's tool would.
function writeClients(path, clients) {
  const next = `${path}.next`;
  writeFileSync(next, JSON.stringify({ clients }, null, 2) + '\n', { mode: 0o600 });
  chmodSync(next, 0o600);
  renameSync(next, path);
}

function setup(clients) {
  const dir = tempDir();
  const file = join(dir, 'clients.json');
  writeClients(file, clients);
  return { dir, file, audit: join(dir, 'audit.log') };
}

function auditLines(path) {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
}

// The audit writer batches every 10 ms: wait until `count` lines are there.
async function waitForAudit(path, count) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = auditLines(path);
    if (lines.length >= count) return lines;
    if (Date.now() > deadline) assert.fail(`expected ${count} audit lines, found ${lines.length}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const bearer = (secret) => ({ authorization: `Bearer ${secret}` });

test('401: missing, malformed, unknown and doubled credentials, each with the challenge, whatever the body', async () => {
  const secret = newSecret();
  const { file } = setup([{ id: 'ci', secrets_sha256: [sha256(secret)], senders: ['agent://*'] }]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file }, async (svc) => {
    svc.addSecret(secret);
    const cases = [
      { name: 'missing', headers: {} },
      { name: 'malformed', headers: { authorization: 'Basic abc' } },
      { name: 'no secret', headers: { authorization: 'Bearer' } },
      { name: 'unknown secret', headers: bearer(newSecret()) },
    ];
    for (const { name, headers } of cases) {
      // Not JSON and the wrong content type: authentication comes first (SPEC §8's order).
      const res = await svc.post('not json', { contentType: 'text/plain', headers });
      assert.equal(res.status, 401, name);
      assert.equal(res.text, UNAUTHORIZED, name);
      assert.equal(res.headers.get('www-authenticate'), CHALLENGE, name);
      assert.equal(res.headers.get('cache-control'), 'no-store', name);
    }
    // The good secret twice is malformed: neither copy is picked.
    const doubled = await rawPost(
      svc.port,
      `Authorization: Bearer ${secret}\r\nAuthorization: Bearer ${secret}\r\n`,
      '{"sender":"agent://a"}',
    );
    assert.equal(doubled.status, 401);
    assert.equal(doubled.headers['www-authenticate'], CHALLENGE);
    // The same secret once mints.
    const ok = await svc.post({ sender: 'agent://a' }, { headers: bearer(secret) });
    assert.equal(ok.status, 200, ok.text);
    assert.doesNotMatch(svc.stderr, /MACP_AUTH_CLIENTS_FILE is unset/);
  });
});

test('401 before the body is read: the headers alone decide it, and a client waiting for 100 Continue hears 401', async () => {
  const secret = newSecret();
  const { file, audit } = setup([{ id: 'ci', secrets_sha256: [sha256(secret)], senders: ['agent://*'] }]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_AUDIT_LOG: audit }, async (svc) => {
    svc.addSecret(secret);
    for (const expect of ['', 'Expect: 100-continue\r\n']) {
      // A header that announces 50 KiB of body, none of which is ever sent: the answer must still come.
      const answer = await new Promise((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: svc.port });
        const chunks = [];
        socket.setTimeout(5000, () => reject(new Error('no answer while the body was withheld')));
        socket.on('data', (c) => chunks.push(c));
        socket.on('error', reject);
        socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
        socket.write(
          `POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${expect}` +
            `Authorization: Bearer ${newSecret()}\r\nContent-Length: 51200\r\n\r\n`,
        );
      });
      assert.match(answer, /^HTTP\/1\.1 401 /, expect || 'without Expect');
      assert.doesNotMatch(answer, /100 Continue/);
      const [res] = parseResponses(Buffer.from(answer, 'latin1'));
      assert.equal(res.headers['www-authenticate'], CHALLENGE);
      assert.equal(res.headers.connection, 'close');  // the unread body leaves the stream unusable
      assert.equal(res.body.toString(), UNAUTHORIZED);
    }
    // Each is one audited attempt; and a good secret with the same shape of request still mints.
    const lines = await waitForAudit(audit, 2);
    assert.deepEqual(lines.map((l) => [l.status, l.error]), [[401, 'unauthorized'], [401, 'unauthorized']]);
    const ok = await svc.post({ sender: 'agent://a' }, { headers: bearer(secret) });
    assert.equal(ok.status, 200, ok.text);
  });
});

// A POST with extra header lines, over a raw socket (fetch merges repeated headers).
async function rawPost(port, extraHeaders, body) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => resolve(parseResponses(Buffer.concat(chunks))[0]));
    socket.write(
      `POST /tokens HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n${extraHeaders}` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
}

test('open minting without a clients file warns once on stderr and keeps the five stdout lines', async () => {
  await withService({}, async (svc) => {
    assert.equal(svc.stdoutLines.length, 5);
    assert.match(svc.stderr, /WARNING: MACP_AUTH_CLIENTS_FILE is unset: open minting/);
    assert.equal((await svc.post({ sender: 'agent://a' })).status, 200);
  });
});

test('a request without Authorization from a client network authenticates as that client', async () => {
  const { file, audit } = setup([
    { id: 'loopback', networks: ['127.0.0.1/32'], senders: ['agent://control-plane'] },
    { id: 'wide', networks: ['127.0.0.0/8'], senders: ['agent://other'] },
  ]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_AUDIT_LOG: audit }, async (svc) => {
    const ok = await svc.post({ sender: 'agent://control-plane', ttl_seconds: 60 });
    assert.equal(ok.status, 200, ok.text);
    // The most specific network wins: 'wide' may not mint this sender, and 'loopback' may not mint 'other'.
    const other = await svc.post({ sender: 'agent://other' });
    assert.equal(other.status, 403);
    assert.equal(other.text, '{"error":"forbidden: sender not allowed for this client"}');
    const lines = await waitForAudit(audit, 2);
    assert.equal(lines[0].client, 'loopback');
    assert.equal(lines[1].client, 'loopback');
  });
});

test('policy boundaries through the binary: the ceiling admitted, one over 403, omitted fields written', async () => {
  const secret = newSecret();
  const { file } = setup([
    {
      id: 'runner',
      secrets_sha256: [sha256(secret)],
      senders: ['agent://risk'],
      scopes: { allowed_modes: ['macp.mode.decision.v1', 'macp.mode.x.*'], max_open_sessions: 3 },
      max_ttl_seconds: 120,
    },
  ]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file }, async (svc) => {
    svc.addSecret(secret);
    const post = (body) => svc.post(body, { headers: bearer(secret) });
    const atCeiling = await post({
      sender: 'agent://risk',
      scopes: { max_open_sessions: 3, allowed_modes: ['macp.mode.x.y'] },
      ttl_seconds: 999,
    });
    assert.equal(atCeiling.status, 200, atCeiling.text);
    assert.equal(atCeiling.json.expires_in_seconds, 120, "the client's max_ttl_seconds clamps");
    const forbidden = [
      [{ sender: 'agent://risk', scopes: { max_open_sessions: 4 } }, 'scopes.max_open_sessions'],
      [{ sender: 'agent://risk', scopes: { allowed_modes: ['macp.mode.other'] } }, 'scopes.allowed_modes'],
      [{ sender: 'agent://risk', scopes: { can_start_sessions: true } }, 'scopes.can_start_sessions'],
      [{ sender: 'agent://risk', scopes: { extra: 1 } }, 'scopes.extra'],
      [{ sender: 'agent://riskier' }, 'sender'],
    ];
    for (const [body, field] of forbidden) {
      const res = await post(body);
      assert.equal(res.status, 403, JSON.stringify(body));
      assert.equal(res.text, `{"error":"forbidden: ${field} not allowed for this client"}`);
    }
    // Omitted fields are stated in the token, after the caller's, in the contract's order.
    const omitted = await post({ sender: 'agent://risk', scopes: { is_observer: false } });
    assert.equal(omitted.status, 200, omitted.text);
    assert.deepEqual(decodeJwt(omitted.json.token).payload.macp_scopes, {
      is_observer: false,
      can_start_sessions: false,
      allowed_modes: ['macp.mode.decision.v1'],
      max_open_sessions: 3,
    });
    // The §2 checks come after authentication and before policy.
    const invalid = await post({ sender: 'agent://riskier', ttl_seconds: -1 });
    assert.equal(invalid.status, 400);
  });
});

test('the clients file reloads on change; a bad file keeps the old one and logs one line', async () => {
  const first = newSecret();
  const second = newSecret();
  const { file } = setup([{ id: 'a', secrets_sha256: [sha256(first)], senders: ['*'] }]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_KEYS_RELOAD_SECONDS: 1 }, async (svc) => {
    svc.addSecret(first);
    svc.addSecret(second);
    const status = async (secret) => (await svc.post({ sender: 'x' }, { headers: bearer(secret) })).status;
    assert.equal(await status(first), 200);
    assert.equal(await status(second), 401);
    writeClients(file, [{ id: 'a', secrets_sha256: [sha256(first), sha256(second)], senders: ['*'] }]);
    await waitFor(async () => (await status(second)) === 200, 'the new secret to be accepted');
    assert.match(svc.stdout, /\[auth-service\] clients reloaded: 1 clients/);
    writeFileSync(file, '{"clients":[{"id":"a"', { mode: 0o600 });
    await waitFor(async () => /clients reload failed: /.test(svc.stderr), 'the reload failure line');
    const failures = svc.stderrLines.filter((l) => l.startsWith('[auth-service] clients reload failed: '));
    assert.equal(failures.length, 1, svc.stderr);
    assert.equal(await status(second), 200, 'the old file stays');
    const metrics = (await svc.request('/metrics')).text;
    assert.match(metrics, /^macp_auth_reloads_total\{file="clients",result="success"\} 1$/m);
    assert.match(metrics, /^macp_auth_reloads_total\{file="clients",result="failure"\} 1$/m);
  });
});

async function waitFor(check, what, ms = 8000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a bad or missing clients file at start is exit 1 with one line', async () => {
  const dir = tempDir();
  const missing = await runUntilExit({ MACP_AUTH_CLIENTS_FILE: join(dir, 'none.json') });
  assert.equal(missing.code, 1);
  assert.equal(missing.stderrLines.length, 1, missing.stderr);
  assert.match(missing.stderr, /MACP_AUTH_CLIENTS_FILE/);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"clients":[{}]}', { mode: 0o600 });
  const refused = await runUntilExit({ MACP_AUTH_CLIENTS_FILE: bad });
  assert.equal(refused.code, 1);
  assert.equal(refused.stderrLines.length, 1, refused.stderr);
});

test('audit: one line per attempt, field by field, for 200, 400, 401, 403 and 415; never a secret or token', async () => {
  const secret = newSecret();
  const { file, audit } = setup([
    { id: 'ci', secrets_sha256: [sha256(secret)], senders: ['agent://ok'], scopes: { max_open_sessions: 2 } },
  ]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_AUDIT_LOG: audit }, async (svc) => {
    svc.addSecret(secret);
    const h = bearer(secret);
    const ok = await svc.post({ sender: 'agent://ok', scopes: { max_open_sessions: 1 } }, { headers: { ...h, 'x-request-id': 'req-ok' } });
    assert.equal(ok.status, 200);
    await svc.post({ sender: 'agent://ok', ttl_seconds: 'x' }, { headers: { ...h, 'x-request-id': 'req-400' } });
    await svc.post({ sender: 'agent://ok' }, { headers: { 'x-request-id': 'req-401' } });
    await svc.post({ sender: 'agent://no' }, { headers: { ...h, 'x-request-id': 'req-403' } });
    await svc.post('{}', { contentType: 'text/plain', headers: { ...h, 'x-request-id': 'req-415' } });
    const lines = await waitForAudit(audit, 5);
    assert.equal(lines.length, 5);
    const jwt = decodeJwt(ok.json.token);
    const ts = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    const peer = /^127\.0\.0\.1:\d+$/;
    const [l200, l400, l401, l403, l415] = lines;
    assert.deepEqual(Object.keys(l200), [
      'ts', 'request_id', 'client', 'peer', 'sender', 'status', 'error', 'kid', 'alg', 'iat', 'exp', 'scopes', 'token_sha256',
    ]);
    assert.match(l200.ts, ts);
    assert.match(l200.peer, peer);
    assert.equal(l200.request_id, 'req-ok');
    assert.equal(l200.client, 'ci');
    assert.equal(l200.sender, 'agent://ok');
    assert.equal(l200.status, 200);
    assert.equal(l200.error, null);
    assert.equal(l200.kid, jwt.header.kid);
    assert.equal(l200.alg, jwt.header.alg);
    assert.equal(l200.iat, jwt.payload.iat);
    assert.equal(l200.exp, jwt.payload.exp);
    assert.deepEqual(l200.scopes, jwt.payload.macp_scopes);
    assert.deepEqual(l200.scopes, { max_open_sessions: 1, can_start_sessions: false });
    assert.equal(l200.token_sha256, sha256(ok.json.token));
    const failure = (line, id, client, sender, status, error) => {
      assert.deepEqual(Object.keys(line), ['ts', 'request_id', 'client', 'peer', 'sender', 'status', 'error'], id);
      assert.match(line.ts, ts);
      assert.match(line.peer, peer);
      assert.deepEqual(
        { request_id: line.request_id, client: line.client, sender: line.sender, status: line.status, error: line.error },
        { request_id: id, client, sender, status, error },
      );
    };
    failure(l400, 'req-400', 'ci', 'agent://ok', 400, 'ttl_seconds must be a positive number');
    failure(l401, 'req-401', null, null, 401, 'unauthorized');
    failure(l403, 'req-403', 'ci', 'agent://no', 403, 'forbidden: sender not allowed for this client');
    failure(l415, 'req-415', 'ci', null, 415, 'content-type must be application/json');
    const text = readFileSync(audit, 'utf8');
    assert.ok(!text.includes(secret) && !text.includes(ok.json.token) && !text.includes('Bearer'));
    // Only POST /tokens is audited.
    await svc.request('/healthz');
    await svc.request('/.well-known/jwks.json');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(auditLines(audit).length, 5);
  });
});

test('/readyz: 200 when it can mint, 503 once shutdown begins (a request in flight hears it)', async () => {
  const svc = await startService({});
  try {
    const ready = await svc.request('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.text, '{"ready":true}');
    // A request whose head is half sent when SIGTERM arrives is still answered, during the drain.
    const socket = net.connect({ host: '127.0.0.1', port: svc.port });
    await new Promise((r) => socket.once('connect', r));
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    const ended = new Promise((r) => socket.on('close', r));
    socket.write('GET /readyz HTTP/1.1\r\nHost: x\r\n');
    await new Promise((r) => setTimeout(r, 100));
    svc.child.kill('SIGTERM');
    await waitFor(async () => /shutting down/.test(svc.stdout), 'the drain to begin');
    socket.write('\r\n');
    await ended;
    const res = parseResponses(Buffer.concat(chunks))[0];
    assert.equal(res.status, 503);
    assert.equal(res.body.toString(), '{"ready":false,"reason":"shutting down"}');
  } finally {
    await svc.stop();
  }
});

test('MACP_AUTH_SHUTDOWN_DELAY_SECONDS: after SIGTERM new connections still mint while /readyz says 503, then it exits', async () => {
  const svc = await startService({ MACP_AUTH_SHUTDOWN_DELAY_SECONDS: '2' });
  try {
    const started = Date.now();
    svc.child.kill('SIGTERM');
    await waitFor(async () => /shutting down in 2 s/.test(svc.stdout), 'the delay to begin');
    // A load balancer probing a fresh connection hears 503 and stops sending; what it still sends is served.
    const probe = await svc.request('/readyz');
    assert.equal(probe.status, 503);
    assert.equal(probe.text, '{"ready":false,"reason":"shutting down"}');
    const minted = await svc.post({ sender: 'agent://late' });
    assert.equal(minted.status, 200, minted.text);
    // No second signal: it exits by itself once the delay is over.
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no exit 10 s after SIGTERM')), 10_000));
    const { code } = await Promise.race([svc.exited, timeout]);
    assert.equal(code, 0);
    assert.ok(Date.now() - started >= 1900, `exited ${Date.now() - started} ms after SIGTERM, before the delay`);
  } finally {
    await svc.stop().catch(() => {});
  }
  // A second signal cuts a long delay short (Ctrl-C twice).
  const patient = await startService({ MACP_AUTH_SHUTDOWN_DELAY_SECONDS: '300' });
  patient.child.kill('SIGTERM');
  await waitFor(async () => /shutting down in 300 s/.test(patient.stdout), 'the delay to begin');
  const { code } = await patient.stop('SIGINT', { timeoutMs: 5000 });
  assert.equal(code, 0);
});

test('a client with a rate gets its burst, then 429 with Retry-After, and a token again once refilled', async () => {
  const secret = newSecret();
  const { file, audit } = setup([
    { id: 'bursty', secrets_sha256: [sha256(secret)], senders: ['agent://*'], rate: { per_second: 1, burst: 2 } },
    { id: 'free', secrets_sha256: [sha256(secret + 'x')], senders: ['agent://*'] },
  ]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_AUDIT_LOG: audit }, async (svc) => {
    const mint = (s) => svc.post({ sender: 'agent://a' }, { headers: bearer(s) });
    assert.equal((await mint(secret)).status, 200);
    assert.equal((await mint(secret)).status, 200);
    const limited = await mint(secret);
    assert.equal(limited.status, 429);
    assert.equal(limited.text, '{"error":"rate limit exceeded"}');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 1, `Retry-After ${retryAfter}`);
    // Its audit line: the client is known, the body was never read, no grant.
    const third = (await waitForAudit(audit, 3))[2];
    assert.deepEqual(Object.keys(third), ['ts', 'request_id', 'client', 'peer', 'sender', 'status', 'error']);
    assert.equal(third.request_id, limited.headers.get('x-request-id'));
    assert.equal(third.client, 'bursty');
    assert.match(third.peer, /^127\.0\.0\.1:\d+$/);
    assert.equal(third.sender, null);
    assert.equal(third.status, 429);
    assert.equal(third.error, 'rate limit exceeded');
    // Whatever its body: the limit comes before the request checks.
    assert.equal((await svc.post('not json', { contentType: 'text/plain', headers: bearer(secret) })).status, 429);
    // Another client is not limited by this one's bucket.
    for (let i = 0; i < 4; i += 1) assert.equal((await mint(secret + 'x')).status, 200);
    await new Promise((r) => setTimeout(r, 1100 * retryAfter));
    assert.equal((await mint(secret)).status, 200);
  });
});

test('a clients file rewritten under load: every request sees one whole file, old or new', async () => {
  const secret = newSecret();
  const client = (sender) => ({ id: 'minter', secrets_sha256: [sha256(secret)], senders: [sender] });
  // Both versions know the secret; they differ in the sender they allow, so a response tells which one served it.
  const versions = [[client('agent://a*')], [client('agent://b*')]];
  const { file } = setup(versions[0]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_KEYS_RELOAD_SECONDS: 1 }, async (svc) => {
    let running = true;
    const seen = { a: 0, b: 0 };
    const unexpected = [];
    const minter = async () => {
      while (running) {
        for (const sender of ['agent://a1', 'agent://b1']) {
          const res = await svc.post({ sender }, { headers: bearer(secret) });
          if (res.status === 200) seen[sender[8]] += 1;
          else if (res.status !== 403) unexpected.push(`${res.status} ${res.text}`);
        }
      }
    };
    const load = [minter(), minter(), minter()];
    // Each version in turn, until it serves a request (the reload runs on its own thread: on a busy machine
    // it takes a moment), eight times.
    for (let i = 1; i <= 8; i += 1) {
      const version = i % 2 === 1 ? 'b' : 'a';
      const before = seen[version];
      writeClients(file, versions[i % 2]);
      svc.child.kill('SIGHUP');
      const deadline = Date.now() + 10_000;
      while (seen[version] === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(seen[version] > before, `version ${version} never served a request after its reload`);
    }
    running = false;
    await Promise.all(load);
    assert.deepEqual(unexpected, [], 'never a 401 or a 500: no request saw a half-loaded file');
  });
});

test('a fuzzed mix of requests: the audit log, stdout and stderr never hold a token, a secret or an Authorization value', async () => {
  const { assertNoSecrets } = await import('./lib/secrets.mjs');
  const secret = newSecret();
  const { file, audit } = setup([
    { id: 'minter', secrets_sha256: [sha256(secret)], senders: ['agent://*'], scopes: { is_observer: true } },
    { id: 'net', networks: ['127.0.0.1/32'], senders: ['agent://net-*'] },
  ]);
  // A seeded generator: the same mix every run, so a failure replays.
  let state = 0x2545f491;
  const next = (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  const sentAuthorizations = new Set([secret]);
  const tokens = [];
  const svc = await startService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_AUDIT_LOG: audit });
  try {
    for (let i = 0; i < 300; i += 1) {
      const headers = {};
      const auth = next(5);
      if (auth === 0) headers.authorization = `Bearer ${secret}`;
      if (auth === 1) {
        const wrong = newSecret();
        sentAuthorizations.add(wrong);
        headers.authorization = `Bearer ${wrong}`;
      }
      if (auth === 2) {
        const junk = randomBytes(12 + next(40)).toString('base64url');
        sentAuthorizations.add(junk);
        headers.authorization = next(2) ? `Basic ${junk}` : junk;
      }
      // auth 3, 4: no Authorization (the network client)
      if (next(4) === 0) headers['x-request-id'] = randomBytes(8).toString('hex');
      const bodies = [
        { sender: 'agent://net-1' },
        { sender: 'agent://x', scopes: { is_observer: true, allowed_modes: ['m'] } },
        { sender: 'agent://x', scopes: { can_start_sessions: true } },
        { sender: '', scopes: 'no' },
        'not json',
        `{"sender":"agent://${'x'.repeat(next(2000))}"}`,
      ];
      const body = bodies[next(bodies.length)];
      const res = await svc.post(body, { contentType: next(8) ? 'application/json' : 'text/plain', headers });
      assert.ok([200, 400, 401, 403, 415].includes(res.status), `status ${res.status}: ${res.text}`);
      if (res.status === 200) tokens.push(res.json.token);
    }
    assert.ok(tokens.length > 20, `some mints succeeded (${tokens.length})`);
    const lines = await waitForAudit(audit, 300);
    assert.equal(lines.length, 300, 'one audit line per attempt');
  } finally {
    await svc.stop();
  }
  const everything = readFileSync(audit, 'utf8') + '\n' + svc.stdout + '\n' + svc.stderr;
  assertNoSecrets(everything, { tokens });
  for (const value of sentAuthorizations) {
    assert.ok(!everything.includes(value), 'an Authorization value reached the audit log or the output');
  }
});

test('a POST /tokens refused before routing (413) is audited too, as one attempt', async () => {
  const secret = newSecret();
  const { file, audit } = setup([{ id: 'ci', secrets_sha256: [sha256(secret)], senders: ['agent://*'] }]);
  await withService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_AUDIT_LOG: audit }, async (svc) => {
    const big = JSON.stringify({ sender: 'agent://big', pad: 'x'.repeat(200 * 1024) });
    const res = await svc.post(big, { headers: bearer(secret) });
    assert.equal(res.status, 413);
    const [line] = await waitForAudit(audit, 1);
    assert.deepEqual(Object.keys(line), ['ts', 'request_id', 'client', 'peer', 'sender', 'status', 'error']);
    assert.equal(line.request_id, res.headers.get('x-request-id'));
    // Refused from its Content-Length, before authentication and before the body: neither is known.
    assert.equal(line.client, null);
    assert.equal(line.sender, null);
    assert.equal(line.status, 413);
    assert.equal(line.error, 'request body too large');
    // Other paths and methods refused the same way are not mint attempts.
    await svc.request('/healthz', { method: 'POST', body: big });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(auditLines(audit).length, 1);
  });
});
