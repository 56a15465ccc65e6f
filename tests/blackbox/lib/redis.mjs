// Debian's redis-server on a free loopback port, for the node suites: no persistence, killed at the end. The
// GoogleTest suites in tests/limits start it the same way (tests/limits/redis_server.h). A test that needs it
// and cannot start it fails: scripts/bootstrap installs redis-server.

import { spawn } from 'node:child_process';
import net from 'node:net';

import { freePort } from './nginx.mjs';

// One inline command on a fresh connection; resolves with the first reply line, or rejects.
export function redisCommand(port, command, { timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on port ${port} did not answer ${command} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.setEncoding('utf8').on('data', (chunk) => {
      reply += chunk;
      const end = reply.indexOf('\r\n');
      if (end >= 0) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply.slice(0, end));
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function startRedis({ timeoutMs = 10_000 } = {}) {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--daemonize', 'no', '--loglevel', 'warning', '--logfile', '/dev/null'];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('close', resolve));
  let spawnError;
  child.on('error', (error) => (spawnError = error));
  process.on('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) {
      throw new Error(`cannot run redis-server (Debian's redis-server; scripts/bootstrap installs it): ${spawnError.message}`);
    }
    if (child.exitCode !== null) throw new Error(`redis-server exited at start on port ${port}`);
    if ((await redisCommand(port, 'PING').catch(() => '')) === '+PONG') break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    command: (text) => redisCommand(port, text),
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
