// Drives the real macp-auth-service binary: start it on PORT=0, read the port
// from its first log line, talk to it over loopback, stop it with a signal.
// Every stop also checks that the process printed no key material and no token.

import { spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import assert from 'node:assert/strict';
import { assertNoSecrets, secretsInEnv } from './secrets.mjs';

export const BIN = process.env.MACP_AUTH_BIN;
if (!BIN) {
  throw new Error('MACP_AUTH_BIN must name the macp-auth-service binary (for example build/macp-auth-service)');
}

export const HOST = '127.0.0.1';

// Where to reach an instance: its MACP_AUTH_BIND_ADDR when that is a loopback address, else 127.0.0.1.
export function hostFor(env = {}) {
  const bind = env.MACP_AUTH_BIND_ADDR;
  if (typeof bind === 'string' && (/^127\./.test(bind) || bind === '::1')) return bind;
  return HOST;
}
export const READY_LINE = /^\[auth-service\] listening on port (\d+)$/;
const STARTUP_LINES = 5;
const START_TIMEOUT_MS = 10_000;

// Every token any instance handed out in this process; no instance may ever print one.
const mintedTokens = new Set();
export function rememberToken(token) {
  if (typeof token === 'string' && token.length > 0) mintedTokens.add(token);
}
export function rememberedTokens() {
  return [...mintedTokens];
}

// Children still running when the test process exits are killed, so a failed test leaves nothing behind.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

// The service's environment: nothing inherited but PATH, PORT=0 unless given;
// a value of undefined removes the variable.
export function serviceEnv(extra = {}) {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: '0' };
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = String(value);
  }
  return env;
}

function splitLines(text) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

// Spawns the binary and collects its output; `exited` settles when it ends.
function launch(env, args = []) {
  const child = spawn(BIN, args, { env: serviceEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk) => (out.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (out.stderr += chunk));
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close' (not 'exit'): every byte of stdout and stderr has been read by then.
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, out, exited };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class Service {
  constructor(env, launched) {
    this.env = { ...env };
    this.child = launched.child;
    this.pid = launched.child.pid;
    this.out = launched.out;
    this.exited = launched.exited;
    this.port = undefined;
    this.host = hostFor(env);
    this.stopping = undefined;
    this.extraSecrets = [];
  }

  get stdout() {
    return this.out.stdout;
  }
  get stderr() {
    return this.out.stderr;
  }
  get stdoutLines() {
    return splitLines(this.out.stdout);
  }
  get stderrLines() {
    return splitLines(this.out.stderr);
  }
  get baseUrl() {
    const scheme = this.env.MACP_AUTH_TLS_CERT_FILE ? 'https' : 'http';
    return `${scheme}://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }
  url(path) {
    return this.baseUrl + path;
  }

  // Values that must never show up in this instance's output, beyond the key and the tokens.
  addSecret(value) {
    this.extraSecrets.push(value);
  }

  // A fetch against this instance; the body text is kept and parsed when it is JSON.
  async request(path, { method = 'GET', headers = {}, body } = {}) {
    const res = await fetch(this.url(path), { method, headers, body });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (json && typeof json.token === 'string') rememberToken(json.token);
    return { status: res.status, headers: res.headers, text, json };
  }

  // POST /tokens with a JSON content type; `body` is sent as is when it is a string or bytes.
  async post(body, { contentType = 'application/json', headers = {} } = {}) {
    const payload = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    const all = { ...headers };
    if (contentType !== null) all['content-type'] = contentType;
    return this.request('/tokens', { method: 'POST', headers: all, body: payload });
  }

  // Mints and returns the token, asserting the mint succeeded.
  async mint(body = { sender: 'agent://test' }) {
    const res = await this.post(body);
    assert.equal(res.status, 200, `mint failed: ${res.status} ${res.text}`);
    return res.json.token;
  }

  async jwks() {
    const res = await this.request('/.well-known/jwks.json');
    assert.equal(res.status, 200);
    return res.json;
  }

  // Asserts that nothing this process printed carries key material or a token.
  checkSecrets() {
    assertNoSecrets(this.out.stdout + '\n' + this.out.stderr, {
      secrets: [...secretsInEnv(this.env), ...this.extraSecrets],
      tokens: rememberedTokens(),
    });
  }

  // Sends `signal` and waits for the exit; by default asserts a clean exit 0 within 10 s.
  // Calling it again returns the first result.
  stop(signal = 'SIGTERM', { expectCode = 0, timeoutMs = 10_000 } = {}) {
    if (!this.stopping) {
      this.stopping = (async () => {
        const started = Date.now();
        if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
        const { code, signal: bySignal } = await withTimeout(this.exited, timeoutMs, `exit after ${signal}`).catch(
          (error) => {
            this.child.kill('SIGKILL');
            throw error;
          },
        );
        const result = { code, signal: bySignal, elapsedMs: Date.now() - started, stdout: this.stdout, stderr: this.stderr };
        this.checkSecrets();
        if (expectCode !== undefined) {
          assert.equal(
            bySignal,
            null,
            `the service died by ${bySignal} instead of exiting after ${signal}\nstderr:\n${this.stderr}`,
          );
          assert.equal(code, expectCode, `exit code after ${signal}\nstderr:\n${this.stderr}`);
        }
        return result;
      })();
    }
    return this.stopping;
  }
}

// Starts an instance and resolves once it printed its five start-up lines and
// answered GET /healthz (so its signal handlers are in place). Fails if it exits first.
// `tls` ({ca, cert, key}, node:tls options) is how the probe connects to an instance that speaks HTTPS.
export async function startService(env = {}, { args = [], timeoutMs = START_TIMEOUT_MS, tls: tlsOptions } = {}) {
  const launched = launch(env, args);
  const service = new Service(env, launched);
  const ready = new Promise((resolve, reject) => {
    const onData = () => {
      const lines = service.stdoutLines;
      if (lines.length === 0) return;
      const first = READY_LINE.exec(lines[0]);
      if (!first) {
        reject(new Error(`unexpected first stdout line: ${JSON.stringify(lines[0])}`));
        return;
      }
      service.port = Number(first[1]);
      if (lines.length >= STARTUP_LINES) {
        launched.child.stdout.off('data', onData);
        resolve();
      }
    };
    launched.child.stdout.on('data', onData);
    launched.exited.then(({ code, signal }) =>
      reject(new Error(`the service exited (code ${code}, signal ${signal}) before it was ready:\n${service.stderr}`)),
    );
  });
  try {
    await withTimeout(ready, timeoutMs, 'service start-up');
    await waitUntilServing(service, timeoutMs, tlsOptions);
  } catch (error) {
    launched.child.kill('SIGKILL');
    throw error;
  }
  return service;
}

async function waitUntilServing(service, timeoutMs, tlsOptions) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await rawRequest(service.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', {
        timeoutMs: 2000,
        host: service.host,
        tls: tlsOptions,
      });
      if (parseResponses(res.data)[0]?.status === 200) return;
    } catch {
      // not accepting yet
    }
    if (Date.now() > deadline) throw new Error('the service never answered GET /healthz');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Runs fn(service) against a fresh instance and always stops it (exit 0, no secrets printed).
export async function withService(env, fn, options = {}) {
  const service = await startService(env, options);
  let failure;
  try {
    return await fn(service);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    try {
      await service.stop();
    } catch (stopError) {
      if (!failure) throw stopError; // eslint-disable-line no-unsafe-finally
    }
  }
}

// Runs the binary until it exits on its own (a start-up failure); kills it after timeoutMs.
// Asserts that its output holds no key material from env.
export async function runUntilExit(env = {}, { args = [], timeoutMs = START_TIMEOUT_MS, secrets = [] } = {}) {
  const launched = launch(env, args);
  let result;
  try {
    result = await withTimeout(launched.exited, timeoutMs, 'the service to exit by itself');
  } catch (error) {
    launched.child.kill('SIGKILL');
    await launched.exited;
    throw new Error(`${error.message}\nstdout:\n${launched.out.stdout}\nstderr:\n${launched.out.stderr}`);
  }
  assertNoSecrets(launched.out.stdout + '\n' + launched.out.stderr, {
    secrets: [...secretsInEnv(env), ...secrets],
    tokens: rememberedTokens(),
  });
  return {
    ...result,
    stdout: launched.out.stdout,
    stderr: launched.out.stderr,
    stdoutLines: splitLines(launched.out.stdout),
    stderrLines: splitLines(launched.out.stderr),
  };
}

// Sends raw bytes on a fresh loopback connection and reads until the server closes
// (or timeoutMs passes). `halfClose` ends our side after writing. With `tls` (node:tls options), over TLS.
export function rawRequest(port, data, { timeoutMs = 5000, halfClose = false, host = HOST, tls: tlsOptions } = {}) {
  return new Promise((resolve, reject) => {
    const socket = tlsOptions
      ? tls.connect({ host, port, servername: 'localhost', ...tlsOptions })
      : net.connect({ host, port });
    const chunks = [];
    let timedOut = false;
    let reset = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on(tlsOptions ? 'secureConnect' : 'connect', () => {
      socket.write(data);
      if (halfClose) socket.end();
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      if (chunks.length === 0 && error.code === 'ECONNREFUSED') {
        clearTimeout(timer);
        reject(error);
      } else {
        reset = true;
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), timedOut, reset });
    });
  });
}

// A connection that sends requests one after the other and reads each response
// (Content-Length framed), for keep-alive checks.
export class Connection {
  constructor(port, host = HOST) {
    this.socket = net.connect({ host, port });
    this.buffer = Buffer.alloc(0);
    this.closed = false;
    this.waiters = [];
    this.socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => {});
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  async send(data) {
    await this.connected;
    this.socket.write(data);
  }

  // The next complete response, or null if the server closed the connection first.
  async read(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = takeResponse(this.buffer);
      if (parsed) {
        this.buffer = this.buffer.subarray(parsed.length);
        return parsed.response;
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a response');
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  // Resolves true when the server closes the connection within timeoutMs.
  async waitClosed(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close() {
    this.socket.destroy();
  }
}

// Parses one HTTP/1.x response with a Content-Length body from the start of buf.
function takeResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const statusLine = /^HTTP\/(\d\.\d) (\d{3}) ?(.*)$/.exec(head[0]);
  if (!statusLine) throw new Error(`not an HTTP response: ${JSON.stringify(head[0])}`);
  const headers = {};
  const rawHeaders = [];
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    rawHeaders.push([name, value]);
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < end + 4 + length) return null;
  const body = buf.subarray(end + 4, end + 4 + length);
  try {
    rememberToken(JSON.parse(body.toString('utf8')).token);
  } catch {
    // not a token response
  }
  return {
    length: end + 4 + length,
    response: {
      version: statusLine[1],
      status: Number(statusLine[2]),
      headers,
      rawHeaders,
      body,
      text: body.toString('utf8'),
    },
  };
}

// Every complete response in buf, in order (pipelined or keep-alive answers).
export function parseResponses(buf) {
  const responses = [];
  let rest = buf;
  for (;;) {
    const parsed = takeResponse(rest);
    if (!parsed) return responses;
    responses.push(parsed.response);
    rest = rest.subarray(parsed.length);
  }
}

// The decoded parts of a compact JWS, with the raw JSON text of header and payload kept.
export function decodeJwt(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, 'a compact JWS has three parts');
  for (const part of parts) assert.match(part, /^[A-Za-z0-9_-]*$/, 'base64url without padding');
  const headerText = Buffer.from(parts[0], 'base64url').toString('utf8');
  const payloadText = Buffer.from(parts[1], 'base64url').toString('utf8');
  return {
    parts,
    headerText,
    payloadText,
    header: JSON.parse(headerText),
    payload: JSON.parse(payloadText),
    signature: Buffer.from(parts[2], 'base64url'),
    signingInput: `${parts[0]}.${parts[1]}`,
  };
}
