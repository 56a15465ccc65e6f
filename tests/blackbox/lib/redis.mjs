// Debian's redis-server for a test, as tests/limits/redis_server.h starts it for the C++ tests: a free
// loopback port, no persistence, killed when the test process exits. It can be killed and started again on
// the same port, and stopped (SIGSTOP) and continued. A test that needs it and cannot start it fails:
// scripts/bootstrap installs redis-server.

import { spawn } from 'node:child_process';
import net from 'node:net';
import { freePort } from './nginx.mjs';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;

// Every redis-server still running when the test process exits is killed (continued first if stopped).
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
});

// One RESP command on a fresh connection (in database `db`), the test's own view of Redis; resolves the
// reply (a string, an integer, an array, null) or rejects on an error reply, a refused connection or after
// timeoutMs.
export function redisCommand(port, args, { db = 0, timeoutMs = 1000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${args[0]} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (fn, value) => {
      clearTimeout(timer);
      socket.destroy();
      fn(value);
    };
    socket.on('error', (error) => finish(reject, error));
    const commands = db === 0 ? [args] : [['SELECT', db], args];
    socket.on('connect', () => {
      for (const command of commands) {
        const parts = command.map(String);
        socket.write(`*${parts.length}\r\n` + parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join(''));
      }
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      let parsed = { end: 0 };
      try {
        for (let i = 0; i < commands.length && parsed; i += 1) parsed = parseReply(buffer, parsed.end);
      } catch (error) {
        finish(reject, error);
        return;
      }
      if (parsed) finish(resolve, parsed.value);
    });
  });
}

// One RESP2 reply from buf at offset: { value, end }, or null when it is not complete yet.
function parseReply(buf, offset) {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, eol);
  const next = eol + 2;
  if (type === '+') return { value: line, end: next };
  if (type === '-') throw new Error(`redis error: ${line}`);
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return { value: null, end: next };
    if (buf.length < next + length + 2) return null;
    return { value: buf.toString('utf8', next, next + length), end: next + length + 2 };
  }
  if (type === '*') {
    const count = Number(line);
    if (count < 0) return { value: null, end: next };
    const values = [];
    let at = next;
    for (let i = 0; i < count; i += 1) {
      const item = parseReply(buf, at);
      if (!item) return null;
      values.push(item.value);
      at = item.end;
    }
    return { value: values, end: at };
  }
  throw new Error(`not a RESP reply: ${JSON.stringify(line)}`);
}

export class RedisServer {
  constructor(port) {
    this.port = port;
    this.child = undefined;
    this.exited = undefined;
    this.stderr = '';
  }

  // redis://127.0.0.1:<port>[/db], as MACP_AUTH_RATE_LIMIT_REDIS_URL takes it.
  url(db = 0) {
    return `redis://${HOST}:${this.port}${db === 0 ? '' : `/${db}`}`;
  }

  get pid() {
    return this.child?.pid;
  }

  command(...args) {
    return redisCommand(this.port, args);
  }

  commandIn(db, ...args) {
    return redisCommand(this.port, args, { db });
  }

  // Starts redis-server on this.port and waits until it answers PING.
  async start() {
    const args = ['--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--loglevel', 'warning', '--logfile', ''];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c) => (this.stderr += c));
    running.add(child);
    let exitCode;
    this.exited = new Promise((resolve) => {
      child.on('error', (error) => {
        exitCode = error.code === 'ENOENT' ? 'not installed' : error.message;
        running.delete(child);
        resolve();
      });
      child.on('close', (code, signal) => {
        exitCode ??= signal ?? code;
        running.delete(child);
        resolve();
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exitCode !== undefined) {
        throw new Error(
          exitCode === 'not installed'
            ? "cannot run redis-server (Debian's redis-server package; scripts/bootstrap installs it)"
            : `redis-server exited at start on port ${this.port} (${exitCode}): ${this.stderr}`,
        );
      }
      try {
        if ((await this.command('PING')) === 'PONG') return this;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`redis-server did not answer PING on port ${this.port}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // SIGKILL (continued first, so a stopped server dies too); resolves once it is gone.
  async kill() {
    if (!this.child || !running.has(this.child)) return;
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    await this.exited;
  }

  // Killed and started again on the same port, empty (no persistence).
  async restart() {
    await this.kill();
    return this.start();
  }

  // SIGSTOP: it keeps its port and accepts connections, but answers nothing until resume().
  pause() {
    this.child.kill('SIGSTOP');
  }

  resume() {
    this.child.kill('SIGCONT');
  }
}

// A running redis-server on a free loopback port. A first start may find its port taken meanwhile by
// another test: it moves to another free one, as the C++ helper does.
export async function startRedis() {
  let lastError;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const server = new RedisServer(await freePort(HOST));
    try {
      return await server.start();
    } catch (error) {
      if (/cannot run redis-server/.test(error.message)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}
