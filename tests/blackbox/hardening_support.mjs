// Helpers for the hardening suites: start the real binary, speak raw bytes to it over loopback.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';

export const BIN = process.env.MACP_AUTH_BIN;
if (!BIN) throw new Error('MACP_AUTH_BIN is not set (run through ctest)');

// Sanitized builds run slower: every bound below is generous, never tight.
export const SLOW = Number(process.env.MACP_TEST_SLOWDOWN || 1);

// Starts the service on a free port; resolves once it prints its port.
// Everything it prints is kept in `out` and `err` for the secrets checks.
export async function startService(env = {}, { shell } = {}) {
  const fullEnv = { ...process.env, PORT: '0', ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const proc = shell
    ? spawn('/bin/sh', ['-c', `${shell}; exec "$0"`, BIN], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(BIN, [], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const service = { proc, out: '', err: '', port: 0 };
  service.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  proc.stderr.on('data', (d) => { service.err += d; });
  service.port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no port line within 20 s; stderr: ${service.err}`)), 20000 * SLOW);
    proc.stdout.on('data', (d) => {
      service.out += d;
      const m = /\[auth-service\] listening on port (\d+)/.exec(service.out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code} before listening: ${service.err}`)); });
  });
  service.stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    return service.exited;
  };
  return service;
}

// Runs the binary to completion (start-up failures); resolves {code, out, err}.
export function runToExit(env = {}, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, [], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('did not exit')); }, timeoutMs * SLOW);
    proc.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

export function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.removeListener('error', reject); resolve(socket); });
    socket.once('error', reject);
  });
}

// Collects what a socket receives until the peer closes it (or `timeoutMs` passes).
// Resolves {data, closed, error, ms}: closed is true when the server ended or reset the connection.
// With `responses`, it also resolves once that many complete responses have arrived.
export function collect(socket, timeoutMs = 10000, { responses } = {}) {
  const started = Date.now();
  const chunks = [];
  socket.on('data', (d) => {
    chunks.push(d);
    if (responses === undefined) return;
    const parsed = parseResponses(Buffer.concat(chunks));
    if (parsed.length >= responses && parsed.every((r) => r.body !== undefined)) finish(false);
  });
  let finish;
  return new Promise((resolve) => {
    let done = false;
    finish = (closed, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closed, error, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), timeoutMs * SLOW);
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (e) => finish(true, e.code));
  });
}

// Sends raw bytes on a fresh connection and collects the answer until the server closes.
export async function exchange(port, bytes, timeoutMs = 10000, options = {}) {
  const socket = await connect(port);
  const result = collect(socket, timeoutMs, options);
  socket.on('error', () => {});
  socket.write(bytes);
  const answer = await result;
  socket.destroy();
  return answer;
}

// Splits raw HTTP/1.x response bytes into {status, headers, body} (Content-Length bodies only).
export function parseResponses(data) {
  const responses = [];
  let rest = Buffer.from(data);
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) { responses.push({ partial: rest.toString('latin1') }); break; }
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] || 0);
    const bodyEnd = end + 4 + length;
    if (rest.length < bodyEnd) { responses.push({ status, headers, partial: rest.toString('latin1') }); break; }
    responses.push({ status, headers, body: rest.subarray(end + 4, bodyEnd).toString('utf8') });
    rest = rest.subarray(bodyEnd);
  }
  return responses;
}

export function mintRequest(body, { close = false, contentType = 'application/json' } = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return `POST /tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${text}`;
}

// One mint over a fresh connection; resolves the parsed response.
export async function mint(port, body = { sender: 'agent://hardening' }) {
  const answer = await exchange(port, mintRequest(body, { close: true }));
  const [response] = parseResponses(answer.data);
  return response ?? { status: 0, error: answer.error };
}

export function openDescriptors(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function residentKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(predicate, timeoutMs, stepMs = 50) {
  const deadline = Date.now() + timeoutMs * SLOW;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await sleep(stepMs);
  }
  return predicate();
}

export { once };
