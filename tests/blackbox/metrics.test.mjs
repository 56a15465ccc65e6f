// GET /metrics (SPEC.md §9): the exposition passes promtool, its counters equal what the test did, a real
// Prometheus scrapes it, and MACP_AUTH_METRICS_ADDR moves it to a listener of its own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withService } from './lib/service.mjs';
import { freePort } from './lib/nginx.mjs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

// The value of one sample line, `name{labels} value`; undefined when absent.
function sample(text, series) {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

function promtoolCheck(text) {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(run.error, undefined, 'promtool must be installed (Debian prometheus)');
  assert.equal(run.status, 0, `promtool check metrics:\n${run.stdout}${run.stderr}`);
}

test('/metrics passes promtool and counts what was done', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'macp-metrics-'));
  const secret = 'macp_' + randomBytes(32).toString('base64url');
  const file = join(dir, 'clients.json');
  writeFileSync(file, JSON.stringify({ clients: [{ id: 'ci', secrets_sha256: [sha256(secret)], senders: ['agent://ok'] }] }), {
    mode: 0o600,
  });
  await withService({ MACP_AUTH_CLIENTS_FILE: file, MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    svc.addSecret(secret);
    const auth = { authorization: `Bearer ${secret}` };
    for (let i = 0; i < 3; i++) assert.equal((await svc.post({ sender: 'agent://ok' }, { headers: auth })).status, 200);
    assert.equal((await svc.post({ sender: 'agent://ok' })).status, 401);
    assert.equal((await svc.post({ sender: 'agent://no' }, { headers: auth })).status, 403);
    assert.equal((await svc.post({ sender: '' }, { headers: auth })).status, 400);
    assert.equal((await svc.request('/nope')).status, 404);
    const res = await svc.request('/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    promtoolCheck(res.text);
    const m = res.text;
    assert.equal(sample(m, 'macp_auth_http_requests_total{route="/tokens",method="POST",code="200"}'), 3);
    assert.equal(sample(m, 'macp_auth_http_requests_total{route="/tokens",method="POST",code="401"}'), 1);
    assert.equal(sample(m, 'macp_auth_http_requests_total{route="/tokens",method="POST",code="403"}'), 1);
    assert.equal(sample(m, 'macp_auth_http_requests_total{route="/tokens",method="POST",code="400"}'), 1);
    assert.equal(sample(m, 'macp_auth_http_requests_total{route="unmatched",method="GET",code="404"}'), 1);
    assert.equal(sample(m, 'macp_auth_http_request_duration_seconds_count{route="/tokens"}'), 6);
    assert.equal(sample(m, 'macp_auth_tokens_issued_total{alg="ES256",kid="dev-key-1",client="ci"}'), 3);
    assert.equal(sample(m, 'macp_auth_mint_denied_total{reason="unauthorized"}'), 1);
    assert.equal(sample(m, 'macp_auth_mint_denied_total{reason="forbidden"}'), 1);
    assert.equal(sample(m, 'macp_auth_mint_denied_total{reason="invalid"}'), 1);
    assert.equal(sample(m, 'macp_auth_signing_key_info{kid="dev-key-1",alg="ES256",state="signing"}'), 1);
    assert.ok(sample(m, 'macp_auth_open_connections') >= 1);
    assert.ok(sample(m, 'process_start_time_seconds') > 0);
  });
  rmSync(dir, { recursive: true, force: true });
});

test('open mode counts tokens with client=""', async () => {
  await withService({ MACP_AUTH_SIGNING_ALG: 'ES256' }, async (svc) => {
    await svc.mint();
    const m = (await svc.request('/metrics')).text;
    assert.equal(sample(m, 'macp_auth_tokens_issued_total{alg="ES256",kid="dev-key-1",client=""}'), 1);
  });
});

test('MACP_AUTH_METRICS_ADDR moves /metrics to its own listener; the main port answers it 404', async () => {
  const port = await freePort();
  await withService({ MACP_AUTH_METRICS_ADDR: `127.0.0.1:${port}` }, async (svc) => {
    assert.equal((await svc.request('/metrics')).status, 404);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    promtoolCheck(await res.text());
    assert.equal((await fetch(`http://127.0.0.1:${port}/tokens`, { method: 'POST' })).status, 404);
    assert.match(svc.stdout, new RegExp(`Metrics: http://127\\.0\\.0\\.1:${port}/metrics`));
  });
});

test('a real Prometheus scrapes the service', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'macp-prometheus-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await withService({}, async (svc) => {
    await svc.mint();
    const promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: macp\n    static_configs:\n      - targets: ['127.0.0.1:${svc.port}']\n`,
    );
    const prom = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    prom.stderr.setEncoding('utf8').on('data', (c) => (log += c));
    const exited = new Promise((r) => prom.on('close', r));
    try {
      const query = async (q) => {
        const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = await res.json();
        return body.data.result;
      };
      const deadline = Date.now() + 30000;
      let up;
      let issued;
      for (;;) {
        assert.equal(prom.exitCode, null, `prometheus exited:\n${log}`);
        try {
          up = await query('up{job="macp"}');
          issued = await query('macp_auth_tokens_issued_total{job="macp"}');
          if (up.length === 1 && up[0].value[1] === '1' && issued.length === 1) break;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) assert.fail(`prometheus never scraped the service:\n${log}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(issued[0].value[1], '1');
      assert.equal(issued[0].metric.client, undefined, 'Prometheus stores client="" as no label');
      assert.equal(issued[0].metric.kid, 'dev-key-1');
    } finally {
      prom.kill('SIGTERM');
      await exited;
    }
  });
});
