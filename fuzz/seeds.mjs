// Writes the seed corpora under fuzz/corpus/ (run once; the files are committed): node fuzz/seeds.mjs
// The private keys here are generated on the spot and used for nothing but fuzzing.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), 'corpus');
function write(target, name, bytes) {
  mkdirSync(join(root, target), { recursive: true });
  writeFileSync(join(root, target, name), bytes);
}

const bodies = {
  spec: { sender: 'agent://risk', scopes: { can_start_sessions: true, is_observer: false, allowed_modes: ['macp.mode.decision.v1'], max_open_sessions: 1, can_manage_mode_registry: false }, ttl_seconds: 600 },
  minimal: { sender: 'agent://a' },
  nulls: { sender: 'a', scopes: { can_start_sessions: null, is_observer: null, allowed_modes: null, max_open_sessions: null, can_manage_mode_registry: null }, ttl_seconds: null },
  unknown_scopes: { sender: 'a', scopes: { z: 1, a: [1, { b: null }], m: 'x' } },
  fraction_ttl: { sender: 'a', ttl_seconds: 0.5 },
  huge_ttl: { sender: 'a', ttl_seconds: 999999 },
  bad_ttl: { sender: 'a', ttl_seconds: '300' },
  negative_ttl: { sender: 'a', ttl_seconds: -1 },
  bad_scopes: { sender: 'a', scopes: [] },
  bad_modes: { sender: 'a', scopes: { allowed_modes: ['', 1] } },
  max_sessions_float: { sender: 'a', scopes: { max_open_sessions: 3.0 } },
  unicode: { sender: 'agent://ü\u0000"\\\u2028😀', scopes: { 'k\n': 'v\t' } },
  whitespace_sender: { sender: ' \t ' },
};
for (const [name, body] of Object.entries(bodies)) write('mint_request', name, JSON.stringify(body));
const raw = {
  infinite_ttl: '{"sender":"a","ttl_seconds":1e400}',
  max_sessions_exp: '{"sender":"a","scopes":{"max_open_sessions":9007199254740991e0}}',
  duplicate_key: '{"sender":"a","sender":"b"}',
  deep: `{"sender":"a","scopes":{"x":${'['.repeat(40)}${']'.repeat(40)}}}`,
  invalid_utf8: Buffer.concat([Buffer.from('{"sender":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
  lone_surrogate: '{"sender":"\\ud800"}',
  trailing: '{"sender":"a"} x',
  empty: '',
  not_object: '[1,2]',
};
for (const [name, body] of Object.entries(raw)) write('mint_request', name, body);

const jwk = (type, options) => generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
const rsa = jwk('rsa', { modulusLength: 2048 });
const ec = jwk('ec', { namedCurve: 'P-256' });
const keys = {
  rsa_crt: { ...rsa, kid: 'fuzz-rsa', alg: 'RS256', use: 'sig' },
  rsa_no_crt: { kty: 'RSA', n: rsa.n, e: rsa.e, d: rsa.d },
  rsa_public: { kty: 'RSA', n: rsa.n, e: rsa.e },
  rsa_partial_crt: { ...rsa, dq: undefined },
  rsa_oth: { ...rsa, oth: [] },
  ec: { ...ec, kid: 'fuzz-ec' },
  ec_public: { kty: 'EC', crv: 'P-256', x: ec.x, y: ec.y },
  ec_wrong_curve: { ...ec, crv: 'P-384' },
  ec_wrong_alg: { ...ec, alg: 'RS256' },
  ec_short_d: { ...ec, d: ec.d.slice(0, 20) },
  okp: { kty: 'OKP', crv: 'Ed25519', x: 'x', d: 'd' },
};
for (const [name, key] of Object.entries(keys)) write('private_jwk', name, JSON.stringify(key));
write('private_jwk', 'not_json', '{"kty":"EC",');

const post = (body, extra = '') => `POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const requests = {
  healthz: 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
  jwks_head: 'HEAD /.well-known/jwks.json HTTP/1.0\r\n\r\n',
  mint: post('{"sender":"agent://a","ttl_seconds":60}'),
  mint_close: post('{"sender":"a"}', 'Connection: close\r\n'),
  chunked: 'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\n{"sen\r\n9\r\nder":"a"}\r\n0\r\nTrailer: 1\r\n\r\n',
  pipelined: `${'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'}${post('{"sender":"a"}')}GET /nope HTTP/1.1\r\nHost: x\r\n\r\nDELETE /tokens HTTP/1.1\r\nHost: x\r\n\r\n`,
  cl_te: 'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  te_gzip: 'POST /tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  expect: post('{"sender":"a"}', 'Expect: 100-continue\r\n'),
  big_length: 'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 102401\r\n\r\n',
  bad_length: 'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
  wrong_type: post('{"sender":"a"}').replace('application/json', 'text/plain'),
  charset: post('{"sender":"a"}').replace('application/json', 'application/json; charset="UTF-8"'),
  version: 'GET /healthz HTTP/2.0\r\n\r\n',
  no_host: 'GET /healthz HTTP/1.1\r\n\r\n',
  two_hosts: 'GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n',
  request_id: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: trace-1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: \xe9\r\n\r\n',
  expect_http10: 'POST /tokens HTTP/1.0\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 14\r\n\r\n{"sender":"a"}',
};
for (const [name, bytes] of Object.entries(requests)) {
  // The first byte is the delivery piece size - 1: whole (255) and byte by byte (0).
  write('http_request', name, Buffer.concat([Buffer.from([255]), Buffer.from(bytes, 'latin1')]));
}
write('http_request', 'pipelined_bytewise', Buffer.concat([Buffer.from([0]), Buffer.from(requests.pipelined)]));
write('http_request', 'chunked_bytewise', Buffer.concat([Buffer.from([2]), Buffer.from(requests.chunked)]));
