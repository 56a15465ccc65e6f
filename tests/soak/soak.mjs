// The soak behind scripts/soak: two instances (RS256 and ES256, pinned keys) under wrk at 256 connections each
// with a valid mix, while a hostile client throws every kind of bad input at both. Fails on any 5xx, any socket
// error on the valid traffic, descriptors that do not come back, resident memory that keeps growing, or a sampled
// token that does not verify with npm jose. Usage: node tests/soak/soak.mjs SECONDS
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import {
  startService, connect, collect, parseResponses, mintRequest, openDescriptors, residentKiB, sleep,
} from '../blackbox/hardening_support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.argv[2] || 60);
const connections = Number(process.env.SOAK_CONNECTIONS || 256);
const warmup = Math.min(10, Math.floor(seconds / 4));
const failures = [];
const check = (ok, message) => { if (!ok) failures.push(message); };

function jwk(type) {
  const { privateKey } = type === 'RSA'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: `soak-${type.toLowerCase()}` });
}

function runWrk(port) {
  return new Promise((resolve, reject) => {
    const proc = spawn('wrk', ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '30s',
      '-s', join(here, 'mix.lua'), `http://127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('SOAK-RESULT '));
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}: ${out}`));
      resolve(JSON.parse(line.slice('SOAK-RESULT '.length)));
    });
  });
}

// Every kind of bad input, over fresh connections, until `until`. Counts statuses; 5xx is a failure.
async function hostile(ports, until) {
  const stats = { sent: 0, statuses: {}, closedWithoutAnswer: 0 };
  const junk = [
    `POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n${'x'.repeat(4096)}`,
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(9000)}\r\n\r\n`,
    'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n',
    'POST /tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n19000\r\n',
    'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'GET /healthz HTTP/7.1\r\n\r\n',
    'GET /healthz\r\n\r\n\r\n\r\n',
    '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03',
    `POST /tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;${'e'.repeat(40000)}`,
    mintRequest('{"sender":"a"}').replace('Content-Length', 'Content-Length: 1\r\nX'),
  ];
  let n = 0;
  const worker = async () => {
    while (Date.now() < until) {
      n += 1;
      const port = ports[n % ports.length];
      const kind = n % (junk.length + 3);
      try {
        const socket = await connect(port);
        socket.on('error', () => {});
        const answer = collect(socket, 15000, { responses: 1 });
        if (kind < junk.length) {
          socket.write(junk[kind]);
        } else if (kind === junk.length) {
          const bytes = Buffer.alloc(512);
          for (let i = 0; i < bytes.length; i++) bytes[i] = (n * 31 + i * 17) & 0xff;
          socket.write(bytes);
        } else if (kind === junk.length + 1) {
          // A slow client: a byte every 500 ms until the request deadline cuts it off.
          const bytes = mintRequest('{"sender":"slow"}');
          for (let i = 0; i < bytes.length && !socket.destroyed && Date.now() < until; i++) {
            socket.write(bytes[i]);
            await sleep(500);
          }
        } // else: an idle socket that says nothing, closed by the idle timeout
        const { data, closed } = await answer;
        socket.destroy();
        stats.sent += 1;
        const responses = parseResponses(data);
        if (responses.length === 0 && closed) stats.closedWithoutAnswer += 1;
        for (const r of responses) stats.statuses[r.status] = (stats.statuses[r.status] || 0) + 1;
      } catch {
        stats.sent += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  return stats;
}

async function verifyTokens(port, tokens, alg) {
  const jwks = jose.createRemoteJWKSet(new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`));
  let verified = 0;
  for (const token of tokens) {
    try {
      const { protectedHeader } = await jose.jwtVerify(token, jwks, { issuer: 'macp-auth-service', audience: 'macp-runtime' });
      if (protectedHeader.alg === alg) verified += 1;
    } catch (e) {
      failures.push(`${alg} token did not verify: ${e.message}`);
    }
  }
  return verified;
}

const env = { MACP_AUTH_REQUEST_TIMEOUT_SECONDS: '5', MACP_AUTH_IDLE_TIMEOUT_SECONDS: '5' };
const instances = [
  { alg: 'RS256', service: await startService({ ...env, MACP_AUTH_SIGNING_KEY_JSON: jwk('RSA') }) },
  { alg: 'ES256', service: await startService({ ...env, MACP_AUTH_SIGNING_KEY_JSON: jwk('EC') }) },
];
for (const i of instances) {
  i.pid = i.service.proc.pid;
  i.fdsBefore = openDescriptors(i.pid);
}
console.log(`soak: ${seconds}s, wrk at ${connections} connections on each of RS256 :${instances[0].service.port} and ES256 :${instances[1].service.port}, plus hostile traffic`);

const started = Date.now();
const wrkRuns = instances.map((i) => runWrk(i.service.port));
const hostileRun = hostile(instances.map((i) => i.service.port), started + seconds * 1000);
await sleep(warmup * 1000);
for (const i of instances) { i.rssStart = residentKiB(i.pid); i.fdsLoaded = openDescriptors(i.pid); }
const samples = instances.map(() => []);
const sampler = setInterval(() => instances.forEach((i, k) => samples[k].push(residentKiB(i.pid))), 5000);
const results = await Promise.all(wrkRuns);
clearInterval(sampler);
for (const i of instances) i.rssEnd = residentKiB(i.pid);
const hostileStats = await hostileRun;
// Every connection the load opened must be gone once the idle timeout has passed.
await sleep(7000);
for (const i of instances) i.fdsAfter = openDescriptors(i.pid);

for (const [k, i] of instances.entries()) {
  const r = results[k];
  const fivexx = Object.entries(r.statuses).filter(([s]) => Number(s) >= 500).reduce((a, [, n]) => a + n, 0);
  const socketErrors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
  const verified = await verifyTokens(i.service.port, r.tokens, i.alg);
  const growthKiB = i.rssEnd - i.rssStart;
  console.log(`soak: ${i.alg}: ${r.requests} requests (${Math.round(r.requests / seconds)}/s), statuses ${JSON.stringify(r.statuses)}, ` +
    `socket errors ${socketErrors}, p99 ${(r.latency_p99_us / 1000).toFixed(1)} ms; ` +
    `fds ${i.fdsBefore} before, ${i.fdsLoaded} under load, ${i.fdsAfter} after; ` +
    `RSS ${i.rssStart} KiB after ${warmup}s warm-up, ${i.rssEnd} KiB at the end (samples ${samples[k].join(' ')}); ` +
    `${verified}/${r.tokens.length} sampled tokens verified with npm jose`);
  check(fivexx === 0, `${i.alg}: ${fivexx} 5xx responses`);
  check(socketErrors === 0, `${i.alg}: ${socketErrors} socket errors on valid traffic`);
  check((r.statuses['200'] || 0) > 0, `${i.alg}: no successful mint`);
  check(i.fdsAfter <= i.fdsBefore, `${i.alg}: ${i.fdsAfter} descriptors after the load, ${i.fdsBefore} before`);
  check(growthKiB < Math.max(16 * 1024, i.rssStart / 4), `${i.alg}: RSS grew by ${growthKiB} KiB after warm-up`);
  check(r.tokens.length >= 5 && verified === r.tokens.length, `${i.alg}: ${verified}/${r.tokens.length} tokens verified`);
}
const hostile5xx = Object.entries(hostileStats.statuses).filter(([s]) => Number(s) >= 500).reduce((a, [, n]) => a + n, 0);
console.log(`soak: hostile: ${hostileStats.sent} connections, statuses ${JSON.stringify(hostileStats.statuses)}, ` +
  `${hostileStats.closedWithoutAnswer} closed without an answer (idle or junk)`);
check(hostile5xx === 0, `hostile traffic got ${hostile5xx} 5xx`);

for (const i of instances) {
  const { code } = await i.service.stop();
  check(code === 0, `${i.alg} exited ${code}: ${i.service.err}`);
}
if (failures.length) {
  console.log(`soak: FAILED\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('soak: passed');
