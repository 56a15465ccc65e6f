// What connections cost in memory: an idle keep-alive connection holds no request's buffers, and what a burst
// of large requests took is given back once they close (docs/security.md, Limits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startService, connect, parseResponses, mintRequest, openDescriptors, residentKiB, sleep, waitFor,
} from './hardening_support.mjs';

const CONNECTIONS = 1000;
const BUDGET_KIB = 32 * 1024;  // 32 KiB per idle connection, 32 MiB for the thousand

// Sends one request on a kept-alive connection and resolves once its whole answer has arrived.
function ask(socket, bytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const onData = (d) => {
      chunks.push(d);
      const [res] = parseResponses(Buffer.concat(chunks));
      if (res?.body !== undefined) {
        socket.off('data', onData);
        resolve(res);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(bytes);
  });
}

// Under ASan or TSan the process's RSS is mostly the sanitizer's shadow memory and quarantine, not ours:
// scripts/test-sanitizers names the sanitizer, and this measurement is left to the plain build.
const SANITIZED = process.env.MACP_TEST_SANITIZED;

test('1000 idle keep-alive connections after a 100 KiB POST each hold at most 32 KiB each, and give it back', {
  skip: SANITIZED ? `RSS under ${SANITIZED} measures the sanitizer's memory, not the service's` : false,
}, async () => {
  const service = await startService({ MACP_AUTH_IDLE_TIMEOUT_SECONDS: '600', MACP_AUTH_SIGNING_ALG: 'ES256' });
  const { port, proc } = service;
  try {
    // The largest body the contract allows, minted into the largest token (and response) it can make.
    const pad = 'x'.repeat(100 * 1024 - 64);
    const request = mintRequest({ sender: 'agent://memory', scopes: { pad } });
    assert.ok(Buffer.byteLength(request) < 100 * 1024 + 200);
    // Warm up every thread's allocator and the signing path before the baseline.
    const warm = await connect(port);
    for (let i = 0; i < 8; i++) assert.equal((await ask(warm, request)).status, 200);
    warm.destroy();
    await sleep(300);
    const before = residentKiB(proc.pid);

    const sockets = [];
    for (let i = 0; i < CONNECTIONS; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => connect(port)));
      for (const s of batch) s.on('error', () => {});
      const answers = await Promise.all(batch.map((s) => ask(s, request)));
      for (const res of answers) assert.equal(res.status, 200);
      sockets.push(...batch);
    }
    await sleep(300);
    const idle = residentKiB(proc.pid);

    for (const s of sockets) s.destroy();
    assert.ok(await waitFor(() => openDescriptors(proc.pid) < 50, 10000), 'the connections did not close');
    // The sweeper gives freed memory back on its next pass.
    await sleep(1000);
    const after = residentKiB(proc.pid);

    const report = `RSS before ${before} KiB, with ${CONNECTIONS} idle connections ${idle} KiB, after they closed ${after} KiB`;
    console.log(report);
    assert.ok(idle - before <= BUDGET_KIB, `idle connections hold too much: ${report}`);
    assert.ok(after - before <= BUDGET_KIB, `memory is not given back: ${report}`);
  } finally {
    const { code } = await service.stop();
    assert.equal(code, 0, `service exited ${code}; stderr: ${service.err}`);
  }
});
