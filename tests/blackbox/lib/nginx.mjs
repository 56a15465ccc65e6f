// Debian's nginx-light as a round-robin load balancer on loopback, started and stopped by a test.
// A test that needs it and cannot start it fails: scripts/bootstrap installs nginx-light.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx'];

export function nginxBinary() {
  const found = CANDIDATES.find((p) => fs.existsSync(p));
  if (!found) throw new Error('nginx is not installed (scripts/bootstrap installs Debian\'s nginx-light)');
  return found;
}

// A loopback port nobody listens on right now.
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with code ${child.exitCode}`);
    const open = await new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on port ${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Starts nginx in front of `upstreamPorts` (round robin). A connection that fails or times out is retried on the
// next upstream (POST included: nothing was sent yet). No keep-alive to the upstreams, so a replica killed with
// SIGKILL shows up as a refused connection, or as a reset of the requests it was serving at that instant:
// `retrySent` retries those too (nginx's non_idempotent), which POST /tokens allows, since a repeated mint only
// makes a second valid token.
export async function startNginx(upstreamPorts, { connectTimeout = '1s', retrySent = false } = {}) {
  const binary = nginxBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'macp-nginx-'));
  fs.chmodSync(dir, 0o755); // a root master hands temp directories to an unprivileged worker
  const port = await freePort();
  const servers = upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=1s;`).join('\n');
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream macp {
${servers}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://macp;
      proxy_http_version 1.1;
      proxy_connect_timeout ${connectTimeout};
      proxy_next_upstream error timeout${retrySent ? ' non_idempotent' : ''};
      proxy_next_upstream_tries ${upstreamPorts.length};
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn(binary, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on('close', resolve));
  process.on('exit', () => child.kill('SIGKILL'));
  try {
    await waitForPort(port, child, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    const log = fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : '';
    throw new Error(`${error.message}\n${stderr}\n${log}`);
  }
  return {
    port,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    errorLog: () => fs.readFileSync(path.join(dir, 'error.log'), 'utf8'),
    async stop() {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
