// Throwaway certificate authorities made with the openssl CLI, and HTTPS requests that trust them.
// A test that needs openssl and cannot run it fails (scripts/bootstrap installs it).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

export function openssl(args, { input } = {}) {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
}

// A CA (EC P-256, fast to make) in `dir`, with `issue` to sign leaf certificates.
export class TestCa {
  constructor(dir, name) {
    this.dir = dir;
    this.name = name;
    this.key = path.join(dir, `${name}-ca.key`);
    this.cert = path.join(dir, `${name}-ca.crt`);
    this.serial = 1;
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.key,
      '-out', this.cert, '-days', '2', '-subj', `/CN=${name} test CA`]);
    // `openssl ca` (rather than x509 -req) sets any validity period, so an expired certificate can be made.
    fs.writeFileSync(path.join(dir, `${name}-index.txt`), '');
    this.config = path.join(dir, `${name}-ca.cnf`);
    fs.writeFileSync(this.config, [
      '[ca]', 'default_ca = d', '[d]', `database = ${path.join(dir, `${name}-index.txt`)}`, `new_certs_dir = ${dir}`,
      `serial = ${path.join(dir, `${name}-serial`)}`, 'default_md = sha256', 'policy = p', 'unique_subject = no',
      '[p]', 'commonName = supplied', ''].join('\n'));
    fs.writeFileSync(path.join(dir, `${name}-serial`), '01\n');
  }

  // A leaf: {cert, key} paths. `rsa` (default true) for a server, EC for clients; `san` the subjectAltName value;
  // `start`/`end` (YYYYMMDDHHMMSSZ) for a validity period other than from now for a day.
  issue(file, { cn, san, rsa = false, start, end, clientAuth = false } = {}) {
    const key = path.join(this.dir, `${file}.key`);
    const csr = path.join(this.dir, `${file}.csr`);
    const cert = path.join(this.dir, `${file}.crt`);
    const ext = path.join(this.dir, `${file}.ext`);
    const newKey = rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    openssl(['req', ...newKey, '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    fs.chmodSync(key, 0o600);
    const lines = [`extendedKeyUsage = ${clientAuth ? 'clientAuth' : 'serverAuth'}`];
    if (san) lines.push(`subjectAltName = ${san}`);
    fs.writeFileSync(ext, lines.join('\n') + '\n');
    const validity = start ? ['-startdate', start, '-enddate', end] : ['-days', '1'];
    openssl(['ca', '-batch', '-notext', '-config', this.config, '-cert', this.cert, '-keyfile', this.key, '-in', csr,
      '-out', cert, '-extfile', ext, ...validity]);
    return { cert, key };
  }
}

// One HTTPS request (a new connection unless `agent` keeps one); resolves {status, text, json, socket facts}.
export function httpsRequest(port, urlPath, { method = 'GET', headers = {}, body, ca, cert, key, agent, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1', port, path: urlPath, method, headers, servername: 'localhost', agent: agent ?? false,
        ca: ca && fs.readFileSync(ca), cert: cert && fs.readFileSync(cert), key: key && fs.readFileSync(key),
        timeout: timeoutMs,
      },
      (res) => {
        const peerCertificate = res.socket.getPeerCertificate?.();
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json, peerCertificate });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

// Runs `openssl s_client` against 127.0.0.1:port with `args`; it sends one GET /healthz with Connection: close
// and reads until the server closes (so TLS 1.3 tickets and a late certificate refusal are seen). Resolves its
// output (both streams), whether a handshake completed, and whether the request was answered.
export function sClient(port, args, { timeoutMs = 10_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-ign_eof', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (c) => {
      out += c;
      stdout += c;
    });
    child.stderr.on('data', (c) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        out,
        handshake: /^(New|Reused), TLSv1\.[23], Cipher is (?!\(NONE\))/m.test(out),
        answered: /HTTP\/1\.1 200 OK\r\n/.test(stdout),
      });
    });
    child.stdin.end('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  });
}
