// Secrets stay secret: no private JWK parameter and no minted token in anything the process prints,
// in any response, or in its environment once loaded; a bad key's error names the problem, not the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startService, runToExit, exchange, parseResponses, mint, mintRequest } from './hardening_support.mjs';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

function privateJwk(type, bits = 2048) {
  const { privateKey } = type === 'RSA'
    ? generateKeyPairSync('rsa', { modulusLength: bits })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'jwk' });
}

const rsa = privateJwk('RSA');
const ec = privateJwk('EC');
const otherRsa = privateJwk('RSA');
const smallRsa = privateJwk('RSA', 1024);
const otherEc = privateJwk('EC');
const secrets = [];  // every private parameter value any run was given
const tokens = [];   // every token any run minted
const outputs = [];  // {what, text}: all stdout and stderr of every run, every response body

for (const jwk of [rsa, ec, otherRsa, smallRsa, otherEc]) for (const m of PRIVATE_MEMBERS) if (jwk[m]) secrets.push(jwk[m]);

// Any 16 characters in a row of a secret count as a leak: a truncated or partial echo is still one.
function leaks(text, secret) {
  for (let i = 0; i + 16 <= secret.length; i += 4) if (text.includes(secret.slice(i, i + 16))) return true;
  return false;
}

function assertClean(what, text) {
  for (const s of secrets) assert.ok(!leaks(text, s), `${what} contains private key material`);
  for (const t of tokens) {
    assert.ok(!text.includes(t), `${what} contains a minted token`);
    assert.ok(!text.includes(t.split('.')[2]), `${what} contains a token signature`);
  }
}

async function runWithKey(jwk, label, env = {}) {
  const keyJson = JSON.stringify(jwk);
  const service = await startService({ MACP_AUTH_SIGNING_KEY_JSON: keyJson, ...env });
  const { port, proc } = service;
  // Once loaded, the key is gone from the process environment (readable in /proc while it runs).
  const environ = readFileSync(`/proc/${proc.pid}/environ`, 'latin1');
  outputs.push({ what: `${label} /proc/PID/environ`, text: environ });
  assert.ok(!environ.includes(keyJson.slice(0, 40)), 'the key JSON is still in /proc/PID/environ');

  for (let i = 0; i < 5; i++) {
    const res = await mint(port, { sender: `agent://secret-${i}`, scopes: { i } });
    assert.equal(res.status, 200);
    tokens.push(JSON.parse(res.body).token);
  }
  // Error paths and every read-only endpoint: their bodies are checked too.
  const requests = [
    mintRequest('{"sender":', { close: true }),
    mintRequest({ sender: '' }, { close: true }),
    mintRequest({ sender: 'a', ttl_seconds: -1 }, { close: true }),
    mintRequest({ sender: 'a' }, { close: true, contentType: 'text/plain' }),
    'GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n',
  ];
  for (const request of requests) {
    const answer = await exchange(port, request);
    outputs.push({ what: `${label} response to ${request.split('\r\n')[0]}`, text: answer.data.toString('latin1') });
  }
  const jwks = JSON.parse(parseResponses((await exchange(port, requests[4])).data)[0].body);
  for (const key of jwks.keys) for (const m of PRIVATE_MEMBERS) assert.equal(key[m], undefined, `JWKS has "${m}"`);

  const { code } = await service.stop();
  assert.equal(code, 0);
  outputs.push({ what: `${label} stdout`, text: service.out }, { what: `${label} stderr`, text: service.err });
}

test('pinned RSA key: runs, mints, serves errors and exits without printing a secret', async () => {
  await runWithKey({ ...rsa, kid: 'rsa-secret-test' }, 'RSA');
});

test('pinned EC key (no kid: thumbprint) likewise', async () => {
  await runWithKey(ec, 'EC', { MACP_AUTH_SIGNING_ALG: 'ES256' });
});

test('an ephemeral key likewise', async () => {
  const service = await startService();
  for (let i = 0; i < 3; i++) tokens.push(JSON.parse((await mint(service.port)).body).token);
  await service.stop();
  outputs.push({ what: 'ephemeral stdout', text: service.out }, { what: 'ephemeral stderr', text: service.err });
});

test('bad keys: exit 1 with one line that names the problem and never the key', async () => {
  const publicOnly = { kty: 'RSA', n: rsa.n, e: rsa.e };
  const cases = [
    ['a public-only JWK', publicOnly, /public key/],
    ['a private half from another key', { ...rsa, d: otherRsa.d }, /do not belong together/],
    ['CRT parameters from another key', { ...rsa, p: otherRsa.p, q: otherRsa.q }, /do not belong together/],
    ['an EC private scalar from another key', { ...ec, d: otherEc.d }, /do not belong together/],
    ['bad base64url in d', { ...rsa, d: `${rsa.d.slice(0, 40)}!!${rsa.d.slice(42)}` }, /"d".*base64url/],
    ['an RSA key of 1024 bits', smallRsa, /1024 bits/],
    ['a JWK cut short', JSON.stringify(rsa).slice(0, 300), /not valid JSON/],
    ['a key for the other algorithm', rsa, /RS256.*ES256/, { MACP_AUTH_SIGNING_ALG: 'ES256' }],
    ['an unknown kty', { ...ec, kty: 'OKP' }, /kty/],
  ];
  for (const [name, key, problem, env = {}] of cases) {
    const text = typeof key === 'string' ? key : JSON.stringify(key);
    const { code, out, err } = await runToExit({ MACP_AUTH_SIGNING_KEY_JSON: text, ...env });
    outputs.push({ what: `bad key (${name}) stdout`, text: out }, { what: `bad key (${name}) stderr`, text: err });
    assert.equal(code, 1, name);
    assert.equal(err.trim().split('\n').length, 1, `${name}: ${err}`);
    assert.match(err, problem, name);
    assert.match(err, /MACP_AUTH_SIGNING_KEY_JSON/, name);
  }
});

// The kid goes onto the start-up log: a line break or an escape in it could forge lines (issue 9, hole 3).
test('a kid with control characters: exit 1 with one line, nothing forged on stdout, no key printed', async () => {
  const forged = '[auth-service] listening on port 1';
  const kids = [
    ['a line break and a forged start-up line', `prod\n${forged}`],
    ['a carriage return', `prod\r${forged}`],
    ['an ANSI escape', 'prod\u001b[2K\u001b[1Gforged'],
    ['DEL', 'prod\u007f'],
    ['a C1 control (NEL)', 'prod\u0085next'],
    ['a C1 control (CSI)', 'prod\u009b31m'],
  ];
  for (const [name, kid] of kids) {
    for (const [type, jwk] of [['RSA', rsa], ['EC', ec]]) {
      const { code, out, err } = await runToExit({ MACP_AUTH_SIGNING_KEY_JSON: JSON.stringify({ ...jwk, kid }) }, 5000);
      const label = `kid with ${name} (${type})`;
      outputs.push({ what: `${label} stdout`, text: out }, { what: `${label} stderr`, text: err });
      assert.equal(code, 1, label);
      assert.equal(out, '', `${label}: nothing on stdout, got:\n${out}`);
      assert.equal(err.trim().split('\n').length, 1, `${label}: ${err}`);
      assert.match(err, /^\[auth-service\] error: MACP_AUTH_SIGNING_KEY_JSON: .*"kid".*control characters/, label);
      assert.ok(!err.includes(kid) && !err.includes('forged') && !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(err),
        `${label}: the error does not echo the kid: ${JSON.stringify(err)}`);
    }
  }
});

test('the leak check itself catches a leak', () => {
  assert.throws(() => assertClean('probe', `error: bad key ${rsa.d.slice(20, 60)}`), /private key material/);
  tokens.push('aaaa.bbbb.cccccccccccccccc');
  assert.throws(() => assertClean('probe', 'minted aaaa.bbbb.cccccccccccccccc'), /minted token/);
  tokens.pop();
});

test('no output of any run above holds a secret or a token', () => {
  // Runs last: every output of every run above, against every secret and token of every run.
  assert.ok(tokens.length >= 13 && outputs.length >= 60);
  for (const { what, text } of outputs) assertClean(what, text);
});

