// Slow, idle and too many clients: deadlines, the connection cap, descriptors, and the settings behind them.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startService, runToExit, connect, collect, parseResponses, mint, mintRequest, openDescriptors, sleep, waitFor, SLOW,
} from './hardening_support.mjs';

async function withService(env, body, options) {
  const service = await startService(env, options);
  try {
    await body(service);
  } finally {
    const { code } = await service.stop();
    assert.equal(code, 0, `service exited ${code}; stderr: ${service.err}`);
  }
}

// Opens `count` connections in batches (a burst of thousands of SYNs overflows the backlog and retries for a second).
async function openMany(port, count) {
  const sockets = [];
  for (let i = 0; i < count; i += 200) {
    const batch = await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => connect(port)));
    for (const s of batch) { s.on('error', () => {}); sockets.push(s); }
  }
  return sockets;
}

// Trickles a request one byte per `stepMs`; resolves {closed, data, ms} when the server cuts it off.
function trickle(port, stepMs, limitMs) {
  return connect(port).then((socket) => {
    const answer = collect(socket, limitMs);
    socket.on('error', () => {});
    const bytes = Buffer.from(mintRequest({ sender: 'agent://slow', scopes: { pad: 'x'.repeat(200) } }));
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || i >= bytes.length) return clearInterval(timer);
      socket.write(bytes.subarray(i, i + 1));
      i += 1;
    }, stepMs);
    return answer.then((result) => { clearInterval(timer); socket.destroy(); return result; });
  });
}

describe('request deadline', () => {
  test('a client trickling one byte a second is cut off with 408 at the request timeout', async () => {
    await withService({ MACP_AUTH_REQUEST_TIMEOUT_SECONDS: '2' }, async ({ port }) => {
      const result = await trickle(port, 1000, 30000);
      assert.ok(result.closed, 'the server must close the connection');
      assert.ok(result.ms >= 1500 && result.ms < 15000 * SLOW, `cut off after ${result.ms} ms`);
      const [res] = parseResponses(result.data);
      assert.equal(res.status, 408);
      assert.deepEqual(JSON.parse(res.body), { error: 'request timeout' });
    });
  });

  test('300 trickling clients do not stop normal clients from minting, and all are cut off', async () => {
    await withService({ MACP_AUTH_REQUEST_TIMEOUT_SECONDS: '3' }, async ({ port }) => {
      const slow = [];
      for (let i = 0; i < 300; i++) slow.push(trickle(port, 200, 60000));
      await sleep(500);
      // Meanwhile, a normal client mints again and again; each mint must be prompt.
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const res = await mint(port, { sender: `agent://normal-${i}` });
        assert.equal(res.status, 200);
        assert.ok(Date.now() - t0 < 2000 * SLOW, `a mint took ${Date.now() - t0} ms`);
      }
      const results = await Promise.all(slow);
      for (const r of results) {
        assert.ok(r.closed, 'every slow client is cut off');
        assert.ok(r.ms < 30000 * SLOW, `a slow client lasted ${r.ms} ms`);
      }
      assert.ok(results.filter((r) => parseResponses(r.data)[0]?.status === 408).length >= 290, 'slow clients hear 408');
    });
  });
});

describe('idle timeout', () => {
  test('a connection that never sends a byte is closed at the idle timeout, without an answer', async () => {
    await withService({ MACP_AUTH_IDLE_TIMEOUT_SECONDS: '1', MACP_AUTH_REQUEST_TIMEOUT_SECONDS: '30' }, async ({ port }) => {
      const socket = await connect(port);
      const result = await collect(socket, 20000);
      socket.destroy();
      assert.ok(result.closed);
      assert.equal(result.data.length, 0);
      assert.ok(result.ms >= 700 && result.ms < 10000 * SLOW, `closed after ${result.ms} ms`);
    });
  });

  test('a keep-alive connection is closed once idle, but not while it keeps sending requests', async () => {
    await withService({ MACP_AUTH_IDLE_TIMEOUT_SECONDS: '1' }, async ({ port }) => {
      const socket = await connect(port);
      const chunks = [];
      let closedAt = 0;
      socket.on('data', (d) => chunks.push(d));
      socket.on('close', () => { closedAt = Date.now(); });
      socket.on('error', () => {});
      // Busy for three idle timeouts: a request every 300 ms.
      for (let i = 0; i < 10; i++) {
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        await sleep(300);
      }
      assert.equal(closedAt, 0, 'closed while busy');
      const lastRequest = Date.now();
      assert.ok(await waitFor(() => closedAt !== 0, 10000), 'not closed once idle');
      assert.ok(closedAt - lastRequest >= 500, 'closed too early');
      assert.deepEqual(parseResponses(Buffer.concat(chunks)).map((r) => r.status), Array(10).fill(200));
    });
  });
});

describe('connection cap', () => {
  test('connections over the cap get 503 and a close while the admitted ones are busy', async () => {
    await withService({ MACP_AUTH_MAX_CONNECTIONS: '20' }, async ({ port }) => {
      // 20 admitted connections, each in the middle of a request: none can be evicted.
      const busy = await openMany(port, 20);
      for (const s of busy) s.write('POST /tokens HTTP/1.1\r\nHost: x\r\n');
      await sleep(200);
      const extra = await connect(port);
      const result = await collect(extra, 10000);
      extra.destroy();
      assert.ok(result.closed);
      const [res] = parseResponses(result.data);
      assert.equal(res.status, 503);
      assert.deepEqual(JSON.parse(res.body), { error: 'too many open connections' });
      // The busy ones are untouched: each can finish its request.
      const answers = busy.map((s) => collect(s, 10000, { responses: 1 }));
      const body = JSON.stringify({ sender: 'agent://busy' });
      for (const s of busy) s.write(`Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      for (const a of await Promise.all(answers)) assert.equal(parseResponses(a.data)[0].status, 200);
      for (const s of busy) s.destroy();
      // Once they are gone, new clients are admitted again.
      assert.ok(await waitFor(async () => (await mint(port)).status === 200, 10000));
    });
  });

  test('at the cap, the longest-idle connection makes room for a new client', async () => {
    await withService({ MACP_AUTH_MAX_CONNECTIONS: '20' }, async ({ port }) => {
      // One at a time, so that their order is the order in which they went idle.
      const idle = [];
      for (let i = 0; i < 20; i++) {
        idle.push(await connect(port));
        await sleep(10);
      }
      const closed = idle.map(() => false);
      idle.forEach((s, i) => s.on('close', () => { closed[i] = true; }));
      await sleep(200);
      // Five newcomers that stay connected: each takes the place of the oldest idle one.
      const newcomers = [];
      for (let i = 0; i < 5; i++) {
        newcomers.push(await connect(port));
        await sleep(50);
      }
      assert.ok(await waitFor(() => closed.slice(0, 5).every(Boolean), 5000), `closed: ${closed}`);
      assert.ok(closed.slice(5).every((c) => !c), 'the others were left alone');
      // A mint still gets in, in place of the next oldest.
      assert.equal((await mint(port)).status, 200);
      assert.ok(await waitFor(() => closed[5], 5000));
      assert.ok(closed.slice(6).every((c) => !c));
      for (const s of newcomers) s.destroy();
      for (const s of idle) s.destroy();
    });
  });

  test('2000 idle sockets do not stop a normal mint, with the default cap or a small one', async () => {
    for (const env of [{}, { MACP_AUTH_MAX_CONNECTIONS: '100' }]) {
      await withService(env, async ({ port, proc }) => {
        const idle = await openMany(port, 2000);
        await sleep(200);
        const res = await mint(port);
        assert.equal(res.status, 200, `with ${JSON.stringify(env)}`);
        if (env.MACP_AUTH_MAX_CONNECTIONS) {
          // The excess is answered 503 and closed as its clients read that: on a busy machine that takes a
          // moment, so wait for it (without the cap, ~2000 stay open whatever the wait).
          let fds = openDescriptors(proc.pid);
          await waitFor(() => (fds = openDescriptors(proc.pid)) < 400, 5000 * SLOW);
          assert.ok(fds < 400, `${fds} descriptors open with a cap of 100`);
        }
        for (const s of idle) s.destroy();
      });
    }
  });

  test('with few descriptors the cap shrinks to fit, and the excess never exhausts them', async () => {
    // A hard limit of 300 descriptors: the default cap of 10000 cannot be honoured.
    await withService({}, async ({ port, proc }) => {
      const idle = await openMany(port, 600);
      await sleep(200);
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        assert.equal((await mint(port)).status, 200);
        assert.ok(Date.now() - t0 < 3000 * SLOW, `a mint took ${Date.now() - t0} ms`);
      }
      assert.ok(openDescriptors(proc.pid) < 300);
      for (const s of idle) s.destroy();
    }, { shell: 'ulimit -n 300' });
  });

  test('the warning names the setting when the cap is lowered to fit the descriptors', async () => {
    const service = await startService({}, { shell: 'ulimit -n 300' });
    await service.stop();
    assert.match(service.err, /MACP_AUTH_MAX_CONNECTIONS lowered to \d+ to fit/);
  });

  test('the soft open-file limit is raised to the hard one at start', async () => {
    await withService({}, async ({ proc }) => {
      const limits = readFileSync(`/proc/${proc.pid}/limits`, 'utf8');
      const [, soft, hard] = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(limits);
      assert.equal(soft, hard);
    }, { shell: 'ulimit -S -n 256' });
  });
});

describe('limit settings are parsed strictly', () => {
  const bad = {
    MACP_AUTH_MAX_CONNECTIONS: ['0', '-1', 'abc', '10k', '1e3', '1048577', ''],
    MACP_AUTH_REQUEST_TIMEOUT_SECONDS: ['0', '-5', '1h', '3601', '2.5'],
    MACP_AUTH_IDLE_TIMEOUT_SECONDS: ['0', ' 5', '5s', '99999'],
  };
  for (const [name, values] of Object.entries(bad)) {
    test(`${name}: bad values stop the start with one line naming it`, async () => {
      for (const value of values) {
        const { code, err } = await runToExit({ [name]: value });
        assert.equal(code, 1, `${name}=${JSON.stringify(value)}`);
        assert.equal(err.trim().split('\n').length, 1);
        assert.match(err, new RegExp(name));
      }
    });
  }

  test('good values start the service', async () => {
    await withService({ MACP_AUTH_MAX_CONNECTIONS: '1', MACP_AUTH_REQUEST_TIMEOUT_SECONDS: '3600', MACP_AUTH_IDLE_TIMEOUT_SECONDS: '1' },
      async ({ port }) => { assert.equal((await mint(port)).status, 200); });
  });
});
