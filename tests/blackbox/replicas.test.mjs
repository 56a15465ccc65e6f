// SPEC.md §11, replicas tested: three service processes on one keys file, one clients file and one Redis,
// behind nginx (round robin, the next upstream on a failed connection). Under continuous mints, each token
// verified at once by npm jose's remote JWKS through nginx: one replica is killed with SIGKILL and started
// again, the key file rotates twice (`keys rotate`), the clients file gains a client (`clients add`). Zero failed
// mints, zero failed verifications, and a client's `rate` holds across the three: together they admit what one
// replica would. Loopback only, about 40 s.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';

import { BIN, startService, rememberToken } from './lib/service.mjs';
import { freePort, startNginx } from './lib/nginx.mjs';
import { startRedis } from './lib/redis.mjs';

const SLOWDOWN = Number(process.env.MACP_TEST_SLOWDOWN ?? 1);
const MAX_TTL = 6; // seconds: superseded keys retire within the test
const SKEW = 1;
const RELOAD = 1;
const JWKS_CACHE_MS = 2000; // jose's cacheMaxAge here
const LEAD = 5; // ≥ the verifier's JWKS cache (2 s) + the reload interval (1 s), with a margin
const RATE = { perSecond: 2, burst: 4 }; // the limited client's bucket
const RATE_WINDOW_MS = 6000;
const ISSUER = 'macp-auth-service';
const AUDIENCE = 'macp-runtime';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A CLI verb (`keys …`, `clients …`) with the settings the replicas have; returns its stdout.
function cli(args) {
  const res = spawnSync(BIN, args, {
    env: { PATH: process.env.PATH, MACP_AUTH_MAX_TTL_SECONDS: String(MAX_TTL), MACP_AUTH_CLOCK_SKEW_SECONDS: String(SKEW) },
    encoding: 'utf8',
  });
  assert.equal(res.status, 0, `${args.slice(0, 2).join(' ')} failed:\n${res.stderr}`);
  return res.stdout;
}

function mint(lb, secret, sender) {
  return fetch(lb.url('/tokens'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ sender }),
  });
}

// kill -9: no drain, no exit code; what it printed until then holds no secret and no token all the same.
async function kill9(service) {
  service.child.kill('SIGKILL');
  await service.exited;
  service.checkSecrets();
}

// Runs fn(stops) and then every stop pushed onto `stops`, newest first, whether fn succeeded or not: a failed
// run leaves no replica, nginx or Redis behind (node would wait for them forever).
async function withCleanup(fn) {
  const stops = [];
  try {
    return await fn(stops);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

test('three replicas behind nginx: kill -9 and restart, two rotations, a clients reload, one shared rate limit',
  { timeout: 120_000 * SLOWDOWN }, () => withCleanup(async (stops) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'macp-replicas-'));
    stops.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const keys = path.join(dir, 'keys.json');
    const clients = path.join(dir, 'clients.json');
    cli(['keys', 'init', '--file', keys, '--alg', 'ES256', '--kid', 'k0']);
    const minterSecret = cli(['clients', 'add', '--file', clients, '--id', 'minter', '--sender', 'agent://replicas-*']).trim();
    const limitedSecret = cli(['clients', 'add', '--file', clients, '--id', 'limited', '--sender', 'agent://limited',
      '--rate', String(RATE.perSecond), '--burst', String(RATE.burst)]).trim();
    const secrets = [minterSecret, limitedSecret];

    const redis = await startRedis();
    stops.push(() => redis.kill());
    const ports = [await freePort(), await freePort(), await freePort()];
    const replicas = [];
    stops.push(async () => {
      for (const r of replicas) await kill9(r);
    });
    const start = async (i) => {
      replicas[i] = await startService({
        PORT: ports[i],
        MACP_AUTH_SIGNING_KEYS_FILE: keys,
        MACP_AUTH_CLIENTS_FILE: clients,
        MACP_AUTH_KEYS_RELOAD_SECONDS: RELOAD,
        MACP_AUTH_MAX_TTL_SECONDS: MAX_TTL,
        MACP_AUTH_DEFAULT_TTL_SECONDS: MAX_TTL,
        MACP_AUTH_CLOCK_SKEW_SECONDS: SKEW,
        MACP_AUTH_JWKS_MAX_AGE_SECONDS: 1,
        MACP_AUTH_RATE_LIMIT_REDIS_URL: redis.url(),
        MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE: 'closed',
      });
      for (const secret of secrets) replicas[i].addSecret(secret);
    };
    for (const i of [0, 1, 2]) await start(i);
    const lb = await startNginx(ports, { retrySent: true });
    stops.push(() => lb.stop());
    const remote = jose.createRemoteJWKSet(new URL(lb.url('/.well-known/jwks.json')), {
      cacheMaxAge: JWKS_CACHE_MS,
      cooldownDuration: 200,
    });
    const verify = (token) => jose.jwtVerify(token, remote, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] });

    const minted = []; // { token, kid, expiresAt }
    const mintFailures = [];
    const verifyFailures = [];
    let running = true;
    const minter = async (n) => {
      while (running) {
        const res = await mint(lb, minterSecret, `agent://replicas-${n}`).catch((error) => ({ status: 0, error }));
        const body = res.status === 200 ? await res.json() : undefined;
        if (typeof body?.token !== 'string') {
          mintFailures.push({ at: Date.now(), status: res.status, error: res.error?.message ?? (await res.text?.()) });
          await sleep(20);
          continue;
        }
        rememberToken(body.token);
        const entry = { token: body.token, kid: jose.decodeProtectedHeader(body.token).kid,
          expiresAt: jose.decodeJwt(body.token).exp * 1000 };
        minted.push(entry);
        await verify(entry.token).catch((error) => verifyFailures.push({ kid: entry.kid, when: 'at mint', error: error.message }));
        await sleep(10);
      }
    };
    const load = [minter(0), minter(1), minter(2)];
    stops.push(async () => {
      running = false;
      await Promise.all(load);
    });

    // The limited client, steadily through nginx: the three replicas share its one bucket.
    const rateLimited = (async () => {
      const counts = { admitted: 0, refused: 0, other: [] };
      const started = Date.now();
      while (running && Date.now() - started < RATE_WINDOW_MS) {
        const res = await mint(lb, limitedSecret, 'agent://limited').catch((error) => ({ status: 0, error }));
        await res.arrayBuffer?.();
        if (res.status === 200) counts.admitted += 1;
        else if (res.status === 429) counts.refused += 1;
        else counts.other.push(res.status);
        await sleep(25);
      }
      counts.seconds = (Date.now() - started) / 1000;
      return counts;
    })();
    stops.push(() => rateLimited);

    await sleep(2000);
    // kill -9 one replica; nginx sends its share to the others, then it comes back on the same port.
    await kill9(replicas[1]);
    await sleep(2000);
    await start(1);

    cli(['keys', 'rotate', '--file', keys, '--lead', String(LEAD), '--kid', 'k1']);
    await sleep((LEAD + 2) * 1000);
    cli(['keys', 'rotate', '--file', keys, '--lead', String(LEAD), '--kid', 'k2']);

    // The clients file gains a client; every replica accepts it once it reloaded (round robin reaches all three).
    const lateSecret = cli(['clients', 'add', '--file', clients, '--id', 'late', '--sender', 'agent://late']).trim();
    secrets.push(lateSecret);
    for (const r of replicas) r.addSecret(lateSecret);
    await sleep((RELOAD + 1) * 1000 * SLOWDOWN);
    const lateStatuses = [];
    for (let i = 0; i < 6; i += 1) {
      const res = await mint(lb, lateSecret, 'agent://late');
      const body = await res.json().catch(() => undefined);
      if (typeof body?.token === 'string') rememberToken(body.token);
      lateStatuses.push(res.status);
    }
    await sleep((LEAD + 2) * 1000);
    const signer = JSON.parse(cli(['keys', 'list', '--file', keys, '--json'])).keys.find((k) => k.state === 'signing');
    assert.equal(signer.kid, 'k2', 'the second rotation signs by now');
    await sleep(1000);
    running = false;
    await Promise.all(load);
    const rate = await rateLimited;

    // Tokens still valid verify again now: the keys that signed them are still published by every replica.
    for (const entry of minted.filter((m) => m.expiresAt - Date.now() > 2000)) {
      await verify(entry.token).catch((error) => verifyFailures.push({ kid: entry.kid, when: 'at the end', error: error.message }));
    }
    for (const r of replicas) await r.stop(); // exit 0 after SIGTERM, and no secret or token in any output

    const kids = new Set(minted.map((m) => m.kid));
    console.log(`mints ${minted.length}, kids ${[...kids].join(',')}; limited client: ${rate.admitted} admitted, ` +
      `${rate.refused} refused in ${rate.seconds.toFixed(1)} s`);
    assert.deepEqual(mintFailures, [], 'no mint failed');
    assert.deepEqual(verifyFailures, [], 'no token failed to verify');
    assert.ok(minted.length > 300, `continuous load (${minted.length} mints)`);
    assert.deepEqual([...kids].sort(), ['k0', 'k1', 'k2'], 'three keys signed in turn');
    assert.deepEqual(lateStatuses, [200, 200, 200, 200, 200, 200], 'the added client mints on every replica');

    // One bucket: burst + rate × window, with one second of slack for timing. Three separate buckets would
    // admit about three times the burst and three times the rate.
    assert.deepEqual(rate.other, [], 'the limited client gets 200 or 429, nothing else');
    const oneReplica = RATE.burst + RATE.perSecond * rate.seconds;
    assert.ok(rate.admitted >= RATE.burst, `the burst is admitted (${rate.admitted})`);
    assert.ok(rate.admitted <= oneReplica + RATE.perSecond + 1,
      `the three replicas together admitted ${rate.admitted}, one replica's limit is ${oneReplica.toFixed(1)}`);
  }));
