// Rate limits through the real binary (SPEC.md §9): a client's token bucket in process and in a real
// redis-server, one limit across two replicas, Redis killed and restarted in both failure modes, and a
// stopped (SIGSTOP) Redis that must never hold up an I/O thread.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService, withService } from './lib/service.mjs';
import { RedisServer, startRedis } from './lib/redis.mjs';
import { freePort } from './lib/nginx.mjs';

// Sanitized builds run slower: every time bound below is widened by it.
const SLOW = Number(process.env.MACP_TEST_SLOWDOWN || 1);
const RECOVERY_MS = 5000 * SLOW; // SPEC §9: back to normal within 5 s of Redis returning
const LIMITED = '{"error":"rate limit exceeded"}';
const UNAVAILABLE = '{"error":"rate limiter unavailable"}';
const NOT_READY = '{"ready":false,"reason":"rate limiter unavailable"}';
const ERRORS_SERIES = 'macp_auth_rate_limiter_redis_errors_total';

// ES256: the cheapest signature, so the machine's own load stays out of the timings.
const BASE_ENV = { MACP_AUTH_SIGNING_ALG: 'ES256' };

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A clients file (mode 0600) of clients given as id -> rate (or null for none); each gets its own secret.
function clientsFile(rates) {
  const dir = mkdtempSync(join(tmpdir(), 'macp-ratelimit-'));
  const file = join(dir, 'clients.json');
  const secrets = {};
  const clients = Object.entries(rates).map(([id, rate]) => {
    secrets[id] = 'macp_' + randomBytes(32).toString('base64url');
    const client = { id, secrets_sha256: [sha256(secrets[id])], senders: ['agent://*'] };
    return rate ? { ...client, rate } : client;
  });
  writeFileSync(`${file}.next`, JSON.stringify({ clients }) + '\n', { mode: 0o600 });
  chmodSync(`${file}.next`, 0o600);
  renameSync(`${file}.next`, file);
  return { dir, file, secrets, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// POST /tokens as `id`; resolves the response and how long it took.
async function mintAs(svc, clients, id) {
  const started = performance.now();
  const res = await svc.post({ sender: 'agent://a' }, { headers: { authorization: `Bearer ${clients.secrets[id]}` } });
  return { ...res, ms: performance.now() - started };
}

async function timed(fn) {
  const started = performance.now();
  const res = await fn();
  return { status: res.status, ms: performance.now() - started };
}

function sample(metricsText, series) {
  for (const line of metricsText.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function redisErrors(svc) {
  const value = sample((await svc.request('/metrics')).text, ERRORS_SERIES);
  assert.ok(Number.isFinite(value), `/metrics has no ${ERRORS_SERIES} sample`);
  return value;
}

// Polls fn until it returns a truthy value; returns { value, ms } or fails after timeoutMs.
async function waitFor(fn, timeoutMs, what) {
  const started = performance.now();
  for (;;) {
    const value = await fn();
    if (value) return { value, ms: performance.now() - started };
    if (performance.now() - started > timeoutMs) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

// How many token-bucket scripts Redis has run (EVALSHA, or EVAL after a flushed script cache).
async function scriptCalls(redis) {
  const stats = await redis.command('INFO', 'commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

// A service on a clients file of `rates` with its buckets in `redis` (started here unless given), and
// fn(svc, clients, redis); everything is stopped and removed afterwards.
async function withRedisLimiter(rates, { redis, db = 0, env = {} }, fn) {
  const clients = clientsFile(rates);
  const server = redis ?? (await startRedis());
  try {
    const limiter = { MACP_AUTH_CLIENTS_FILE: clients.file, MACP_AUTH_RATE_LIMIT_REDIS_URL: server.url(db) };
    await withService({ ...BASE_ENV, ...limiter, ...env }, (svc) => fn(svc, clients, server));
  } finally {
    await server.kill();
    clients.cleanup();
  }
}

const unavailableLines = (svc) => svc.stderrLines.filter((l) => /rate limiter: redis unavailable/.test(l));

// Bucket boundaries, the same through either limiter: the burst admitted, one more refused with
// Retry-After, still refused before 1/rate s, admitted once after it; Retry-After rounds the wait up.
async function checkBoundaries(svc, clients) {
  // "steady": 2 a second, burst 3.
  for (let i = 1; i <= 3; i += 1) {
    assert.equal((await mintAs(svc, clients, 'steady')).status, 200, `burst mint ${i}`);
  }
  const emptied = performance.now();
  const over = await mintAs(svc, clients, 'steady');
  assert.equal(over.status, 429);
  assert.equal(over.text, LIMITED);
  assert.equal(over.headers.get('retry-after'), '1', 'a wait of under 0.5 s is announced as 1 s');
  await sleep(250);
  const early = await mintAs(svc, clients, 'steady');
  // Only meaningful while under 1/rate s after the burst was taken (a slow machine may be past it).
  if (performance.now() - emptied < 450) assert.equal(early.status, 429, 'half a refill is not a token');
  await sleep(Math.max(0, 550 - (performance.now() - emptied)));
  assert.equal((await mintAs(svc, clients, 'steady')).status, 200, 'one token after 1/rate s');
  assert.equal((await mintAs(svc, clients, 'steady')).status, 429, 'and only one');

  // "slow": one every 4 s, burst 1: right after its one mint the wait is just under 4 s, announced as 4.
  const first = await mintAs(svc, clients, 'slow');
  assert.equal(first.status, 200);
  const refused = await mintAs(svc, clients, 'slow');
  assert.equal(refused.status, 429);
  const retryAfter = Number(refused.headers.get('retry-after'));
  const elapsedSeconds = Math.ceil((first.ms + refused.ms) / 1000);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter <= 4 && retryAfter >= 4 - elapsedSeconds,
    `Retry-After ${retryAfter} for a 4 s refill`,
  );

  // A client without a rate is never limited.
  for (let i = 0; i < 20; i += 1) assert.equal((await mintAs(svc, clients, 'free')).status, 200);
}

const BOUNDARY_RATES = { steady: { per_second: 2, burst: 3 }, slow: { per_second: 0.25, burst: 1 }, free: null };

test('bucket boundaries in process: burst, one over 429 with Retry-After, refill after 1/rate s', async () => {
  const clients = clientsFile(BOUNDARY_RATES);
  try {
    await withService({ ...BASE_ENV, MACP_AUTH_CLIENTS_FILE: clients.file }, (svc) => checkBoundaries(svc, clients));
  } finally {
    clients.cleanup();
  }
});

test('bucket boundaries in Redis: the same answers, the bucket under macp:auth:rate:<id>, no Redis call without a rate', async () => {
  await withRedisLimiter(BOUNDARY_RATES, { db: 3 }, async (svc, clients, redis) => {
    await checkBoundaries(svc, clients);
    // The buckets are in database 3 under the documented keys, and expire on their own (steady's within
    // 2.5 s of its last call: one more call keeps it there for the check).
    await mintAs(svc, clients, 'steady');
    for (const id of ['steady', 'slow']) {
      assert.equal(await redis.commandIn(3, 'EXISTS', `macp:auth:rate:${id}`), 1, `${id}'s bucket`);
      assert.ok((await redis.commandIn(3, 'PTTL', `macp:auth:rate:${id}`)) > 0, `${id}'s bucket expires`);
    }
    assert.equal(await redis.commandIn(3, 'EXISTS', 'macp:auth:rate:free'), 0);
    assert.equal(await redis.commandIn(0, 'DBSIZE'), 0, 'nothing in database 0');
    const before = await scriptCalls(redis);
    for (let i = 0; i < 10; i += 1) assert.equal((await mintAs(svc, clients, 'free')).status, 200);
    assert.equal(await scriptCalls(redis), before, 'a client without a rate never touches Redis');
    assert.equal(await redisErrors(svc), 0);
  });
});

// Mints as `id` from `workers` concurrent loops against each service for `ms`; counts the 200s.
async function steadyLoad(services, clients, id, { workers, ms }) {
  const counts = { 200: 0, 429: 0, other: [] };
  const started = performance.now();
  const loop = async (svc) => {
    while (performance.now() - started < ms) {
      const res = await mintAs(svc, clients, id);
      if (res.status === 200 || res.status === 429) counts[res.status] += 1;
      else counts.other.push(`${res.status} ${res.text}`);
    }
  };
  await Promise.all(services.flatMap((svc) => Array.from({ length: workers }, () => loop(svc))));
  return { ...counts, seconds: (performance.now() - started) / 1000 };
}

test('two replicas on one Redis admit together what one would (±20 %); without Redis each admits its own', async (t) => {
  const rate = { per_second: 10, burst: 10 };
  const clients = clientsFile({ shared: rate });
  const redis = await startRedis();
  const start = (extra) => startService({ ...BASE_ENV, MACP_AUTH_CLIENTS_FILE: clients.file, ...extra });
  const replicas = await Promise.all([
    start({ MACP_AUTH_RATE_LIMIT_REDIS_URL: redis.url() }),
    start({ MACP_AUTH_RATE_LIMIT_REDIS_URL: redis.url() }),
    start({}),
    start({}),
  ]);
  try {
    const shared = await steadyLoad(replicas.slice(0, 2), clients, 'shared', { workers: 3, ms: 3000 });
    assert.deepEqual(shared.other, []);
    const one = rate.burst + rate.per_second * shared.seconds;
    t.diagnostic(`on Redis: ${shared[200]} admitted, ${shared[429]} refused in ${shared.seconds.toFixed(2)} s`);
    assert.ok(shared[429] > shared[200], `the load was above the rate: ${JSON.stringify(shared)}`);
    assert.ok(
      Math.abs(shared[200] - one) <= 0.2 * one,
      `two replicas on Redis admitted ${shared[200]} in ${shared.seconds.toFixed(2)} s; ` +
        `one limit admits ${one.toFixed(1)}`,
    );
    // The same load on two replicas with buckets in process: each has its own, so the pair admits about twice.
    const apart = await steadyLoad(replicas.slice(2), clients, 'shared', { workers: 3, ms: 3000 });
    const alone = rate.burst + rate.per_second * apart.seconds;
    t.diagnostic(`in process: ${apart[200]} admitted, ${apart[429]} refused in ${apart.seconds.toFixed(2)} s`);
    const without = `without Redis two replicas admitted ${apart[200]}, one limit ${alone.toFixed(1)}`;
    assert.ok(apart[200] > 1.5 * alone, without);
  } finally {
    await Promise.all(replicas.map((svc) => svc.stop()));
    await redis.kill();
    clients.cleanup();
  }
});

test('on-failure open (the default): Redis killed, mints admitted and counted, /readyz 200; the limit back within 5 s', async (t) => {
  const rates = { limited: { per_second: 1, burst: 2 }, free: null };
  await withRedisLimiter(rates, {}, async (svc, clients, redis) => {
    assert.equal((await mintAs(svc, clients, 'limited')).status, 200);
    assert.equal((await mintAs(svc, clients, 'limited')).status, 200);
    assert.equal((await mintAs(svc, clients, 'limited')).status, 429, 'Redis enforces the burst');
    assert.equal(await redisErrors(svc), 0);

    await redis.kill();
    // Open: no limit while Redis is away, far past the burst, and every failed call counted.
    for (let i = 0; i < 10; i += 1) {
      const res = await mintAs(svc, clients, 'limited');
      assert.equal(res.status, 200, `mint ${i} with Redis down: ${res.status} ${res.text}`);
    }
    assert.equal((await mintAs(svc, clients, 'free')).status, 200);
    const errors = await redisErrors(svc);
    assert.ok(errors >= 1, `${ERRORS_SERIES} is ${errors}`);
    const ready = await svc.request('/readyz');
    assert.equal(ready.status, 200, `/readyz in open mode: ${ready.text}`);
    assert.equal(unavailableLines(svc).length, 1, `logged once, not per call:\n${svc.stderr}`);

    await redis.start(); // same port, empty: the bucket is full again
    const back = await waitFor(
      async () => (await mintAs(svc, clients, 'limited')).status === 429,
      RECOVERY_MS,
      'a 429 from Redis again',
    );
    t.diagnostic(`the limit was back ${back.ms.toFixed(0)} ms after Redis restarted`);
    assert.match(svc.stderr, /rate limiter: redis available again/);
    const settled = await redisErrors(svc);
    for (let i = 0; i < 3; i += 1) assert.equal((await mintAs(svc, clients, 'limited')).status, 429);
    assert.equal(await redisErrors(svc), settled, 'no more errors once Redis is back');
    assert.equal(unavailableLines(svc).length, 1, 'one outage, one line (at most one a minute)');
  });
});

async function readyz(svc) {
  const res = await svc.request('/readyz');
  return { status: res.status, text: res.text };
}

test('on-failure closed: 503 and /readyz 503 while Redis is away (at start, killed, stopped), normal within 5 s of its return', async (t) => {
  const rates = { limited: { per_second: 100, burst: 100 }, free: null };
  const notStarted = new RedisServer(await freePort());
  const env = { MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE: 'closed' };
  await withRedisLimiter(rates, { redis: notStarted, env }, async (svc, clients, redis) => {
    const expectUnavailable = async (when) => {
      await waitFor(async () => (await readyz(svc)).status === 503, 3000 * SLOW, `/readyz 503 ${when}`);
      assert.deepEqual(await readyz(svc), { status: 503, text: NOT_READY }, when);
      const res = await mintAs(svc, clients, 'limited');
      assert.equal(res.status, 503, `${when}: ${res.text}`);
      assert.equal(res.text, UNAVAILABLE, when);
      // A client without a rate does not depend on Redis.
      assert.equal((await mintAs(svc, clients, 'free')).status, 200, when);
    };
    const expectRecovery = async (when) => {
      const back = await waitFor(
        async () => (await readyz(svc)).status === 200 && (await mintAs(svc, clients, 'limited')).status === 200,
        RECOVERY_MS,
        `/readyz 200 and a mint ${when}`,
      );
      assert.deepEqual(await readyz(svc), { status: 200, text: '{"ready":true}' }, when);
      t.diagnostic(`back ${back.ms.toFixed(0)} ms ${when}`);
    };

    await expectUnavailable('before Redis ever started');
    await redis.start();
    await expectRecovery('once Redis started');

    await redis.kill();
    await expectUnavailable('with Redis killed');
    assert.ok((await redisErrors(svc)) >= 1);
    await redis.start();
    await expectRecovery('after Redis restarted');

    redis.pause(); // a Redis that hangs: every call times out after 250 ms
    await expectUnavailable('with Redis stopped (SIGSTOP)');
    redis.resume();
    await expectRecovery('after SIGCONT');
  });
});

test('a stopped (SIGSTOP) Redis never holds up an I/O thread: /healthz, JWKS and mints without a rate answer fast', async (t) => {
  const rates = { limited: { per_second: 1000, burst: 1000 }, free: null };
  await withRedisLimiter(rates, {}, async (svc, clients, redis) => {
    assert.equal((await mintAs(svc, clients, 'limited')).status, 200);
    const callsBefore = await scriptCalls(redis);
    redis.pause();
    let slowestLimited = 0;
    const probes = [];
    // Rounds of: 8 limited mints that wait on the stopped Redis, and while they wait, one of each probe.
    for (let round = 0; round < 6; round += 1) {
      const limited = Array.from({ length: 8 }, () => mintAs(svc, clients, 'limited'));
      await sleep(10);
      probes.push({ what: 'healthz', ...(await timed(() => svc.request('/healthz'))) });
      probes.push({ what: 'jwks', ...(await timed(() => svc.request('/.well-known/jwks.json'))) });
      probes.push({ what: 'mint without a rate', ...(await timed(() => mintAs(svc, clients, 'free'))) });
      for (const res of await Promise.all(limited)) {
        assert.equal(res.status, 200, `open mode admits while Redis is stopped: ${res.text}`);
        slowestLimited = Math.max(slowestLimited, res.ms);
      }
    }
    // The stall was real: some limited mint waited on Redis (its 250 ms call timeout) ...
    assert.ok(slowestLimited >= 200, `the slowest limited mint took ${slowestLimited.toFixed(0)} ms`);
    // ... and nothing else did. A blocked I/O thread would hold up most probes for its 250 ms; a busy
    // machine may hold up one now and then, so the bound is on the median and on how many are slow.
    for (const probe of probes) assert.equal(probe.status, 200, probe.what);
    const times = probes.map((p) => p.ms).sort((a, b) => a - b);
    const shown = probes.map((p) => `${p.what} ${p.ms.toFixed(0)} ms`).join(', ');
    t.diagnostic(`slowest limited mint ${slowestLimited.toFixed(0)} ms; probes: ${shown}`);
    assert.ok(times[Math.floor(times.length / 2)] < 100 * SLOW, `median over 100 ms: ${shown}`);
    assert.ok(times.filter((ms) => ms >= 200 * SLOW).length <= probes.length / 6, `too many over 200 ms: ${shown}`);
    assert.ok((await redisErrors(svc)) >= 1);

    redis.resume();
    await waitFor(
      async () => (await mintAs(svc, clients, 'limited')).status === 200 && (await scriptCalls(redis)) > callsBefore,
      RECOVERY_MS,
      'the limited client counted in Redis again',
    );
  });
});
