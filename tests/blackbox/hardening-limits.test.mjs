// Hostile bytes at the HTTP layer: size limits, smuggling, malformed requests, pipelining.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService, exchange, connect, collect, parseResponses, mintRequest, mint, sleep, SLOW } from './hardening_support.mjs';

let service;
before(async () => { service = await startService(); });
after(async () => {
  const { code } = await service.stop();
  assert.equal(code, 0, `service exited ${code}; stderr: ${service.err}`);
});

// A single answer, then the server closes the connection.
async function answerThenClose(bytes) {
  const answer = await exchange(service.port, bytes);
  assert.ok(answer.closed, 'the server must close the connection');
  const responses = parseResponses(answer.data);
  assert.equal(responses.length, 1, `one response expected, got: ${answer.data.toString('latin1')}`);
  return responses[0];
}

function headerBlock(totalBytes) {
  // GET /healthz with filler headers so the request line plus headers (final CRLF included) is exactly totalBytes.
  const start = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n';
  const fixed = start.length + 'X-Fill: '.length + 2 + 2;
  return `${start}X-Fill: ${'a'.repeat(totalBytes - fixed)}\r\n\r\n`;
}

describe('header size', () => {
  test('request line plus headers over 8 KiB is answered 431 and closed', async () => {
    const res = await answerThenClose(headerBlock(8 * 1024 + 1));
    assert.equal(res.status, 431);
    assert.deepEqual(JSON.parse(res.body), { error: 'request headers too large' });
  });

  test('exactly 8 KiB is served', async () => {
    const answer = await exchange(service.port, headerBlock(8 * 1024));
    assert.equal(parseResponses(answer.data)[0].status, 200);
  });

  test('a long request line and long headers count together', async () => {
    const target = `/healthz?${'q'.repeat(5000)}`;
    const res = await answerThenClose(`GET ${target} HTTP/1.1\r\nHost: x\r\nX-Fill: ${'b'.repeat(5000)}\r\n\r\n`);
    assert.equal(res.status, 431);
  });

  test('many small headers over 8 KiB are answered 431', async () => {
    const res = await answerThenClose(`GET /healthz HTTP/1.1\r\n${'X-A: b\r\n'.repeat(1400)}\r\n`);
    assert.equal(res.status, 431);
  });

  test('an endless request line is answered 431 without waiting for its end', async () => {
    const socket = await connect(service.port);
    const answer = collect(socket);
    socket.on('error', () => {});
    socket.write(`GET /${'x'.repeat(20000)}`);
    const { data, closed } = await answer;
    socket.destroy();
    assert.ok(closed);
    assert.equal(parseResponses(data)[0].status, 431);
  });
});

describe('body size', () => {
  test('Content-Length over 100 KiB is answered 413 before any body byte is sent', async () => {
    const socket = await connect(service.port);
    const answer = collect(socket);
    socket.on('error', () => {});
    socket.write('POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 102401\r\n\r\n');
    const { data, closed } = await answer;
    socket.destroy();
    assert.ok(closed);
    const [res] = parseResponses(data);
    assert.equal(res.status, 413);
    assert.deepEqual(JSON.parse(res.body), { error: 'request body too large' });
  });

  test('a body of exactly 100 KiB is read and minted', async () => {
    const base = JSON.stringify({ sender: 'agent://big', scopes: { pad: '' } });
    const pad = 100 * 1024 - Buffer.byteLength(base);
    const res = await mint(service.port, { sender: 'agent://big', scopes: { pad: 'p'.repeat(pad) } });
    assert.equal(res.status, 200);
  });

  test('a huge Content-Length (2^64 - 1) is 413, an overflowing one 400', async () => {
    const head = 'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ';
    assert.equal((await answerThenClose(`${head}18446744073709551615\r\n\r\n`)).status, 413);
    assert.equal((await answerThenClose(`${head}18446744073709551616\r\n\r\n`)).status, 400);
  });

  test('a chunked body is cut off with 413 as soon as it passes 100 KiB', async () => {
    const socket = await connect(service.port);
    const answer = collect(socket);
    socket.on('error', () => {});
    socket.write('POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = 'a'.repeat(10 * 1024);
    for (let i = 0; i < 11; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    // No last chunk: the answer must come from the running total, not from the end of the body.
    const { data, closed } = await answer;
    socket.destroy();
    assert.ok(closed);
    assert.equal(parseResponses(data)[0].status, 413);
  });

  test('a single chunk declared over 100 KiB is 413 before its data', async () => {
    const res = await answerThenClose(
      'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n19001\r\n');
    assert.equal(res.status, 413);
  });

  test('an endless chunk extension is cut off instead of buffered', async () => {
    const socket = await connect(service.port);
    const answer = collect(socket);
    socket.on('error', () => {});
    socket.write('POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=');
    for (let i = 0; i < 20 && !socket.destroyed; i++) { socket.write('e'.repeat(8192)); await sleep(5); }
    const { data, closed } = await answer;
    socket.destroy();
    assert.ok(closed);
    assert.equal(parseResponses(data)[0].status, 413);
  });

  test('a small chunked body is minted', async () => {
    const body = JSON.stringify({ sender: 'agent://chunked' });
    const answer = await exchange(service.port,
      'POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      `${(5).toString(16)}\r\n${body.slice(0, 5)}\r\n${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\n\r\n`);
    const [res] = parseResponses(answer.data);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).sender, 'agent://chunked');
  });
});

describe('request smuggling', () => {
  const body = '{"sender":"agent://x"}';
  const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  const cases = {
    'Content-Length then Transfer-Encoding': `Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`,
    'Transfer-Encoding then Content-Length': `Transfer-Encoding: chunked\r\nContent-Length: ${body.length}\r\n`,
    'Transfer-Encoding not ending in chunked': `Transfer-Encoding: chunked, gzip\r\nContent-Length: ${body.length}\r\n`,
    'Transfer-Encoding gzip alone': 'Transfer-Encoding: gzip\r\n',
    'Transfer-Encoding gzip, chunked': 'Transfer-Encoding: gzip, chunked\r\n',
    'two Transfer-Encoding fields': 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n',
    'Transfer-Encoding identity': `Transfer-Encoding: identity\r\nContent-Length: ${body.length}\r\n`,
    'obfuscated chunked': 'Transfer-Encoding: xchunked\r\n',
    'two different Content-Lengths': `Content-Length: ${body.length}\r\nContent-Length: 5\r\n`,
    'a Content-Length list that disagrees': `Content-Length: ${body.length}, 5\r\n`,
  };
  for (const [name, framing] of Object.entries(cases)) {
    test(`${name}: 400, connection closed, nothing after it answered`, async () => {
      const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      const res = await answerThenClose(
        `POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${framing}\r\n${chunked}${smuggled}`);
      assert.equal(res.status, 400);
      assert.deepEqual(JSON.parse(res.body), { error: 'malformed HTTP request' });
      assert.equal(res.headers.connection, 'close');
    });
  }

  test('Transfer-Encoding in an HTTP/1.0 request is refused', async () => {
    const res = await answerThenClose(
      `POST /tokens HTTP/1.0\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    assert.equal(res.status, 400);
  });
});

describe('malformed requests never crash the service', () => {
  // Each must get a 4xx or a closed connection; never a 5xx, never a hang.
  const junk = {
    'HTTP/2.0 version': 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n',
    'HTTP/1.2 version': 'GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n',
    'HTTP/9.9 version': 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
    'HTTP/0.9 request': 'GET /healthz\r\n\r\n',
    'no version': 'GET /healthz \r\n\r\n\r\n\r\n',
    'lower-case version': 'GET /healthz http/1.1\r\n\r\n',
    'negative Content-Length': 'POST /tokens HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}',
    'non-numeric Content-Length': 'POST /tokens HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
    'hex Content-Length': 'POST /tokens HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 0x10\r\n\r\n{}',
    'Content-Length with a plus': 'POST /tokens HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: +2\r\n\r\n{}',
    'empty Content-Length': 'POST /tokens HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: \r\n\r\n{}',
    'bad chunk size': 'POST /tokens HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    'chunk size overflow': 'POST /tokens HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n',
    'chunk without CRLF': 'POST /tokens HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n',
    'header without colon': 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n',
    'space before colon': 'GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n',
    'NUL in a header value': 'GET /healthz HTTP/1.1\r\nHost: a\0b\r\n\r\n',
    'bare LF line endings': 'GET /healthz HTTP/1.1\nHost: x\n\n',
    'bare CR': 'GET /healthz HTTP/1.1\rHost: x\r\r',
    'obsolete line folding': 'GET /healthz HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n',
    'control character in the method': 'G\x01T /healthz HTTP/1.1\r\n\r\n',
    'space in the target': 'GET /heal thz HTTP/1.1\r\n\r\n',
    'empty request line': '\r\n\r\n\r\n\r\n',
    'TLS client hello': Buffer.from('16030100a5010000a10303' + '00'.repeat(60), 'hex'),
    'HTTP/2 preface': 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    'unknown method': 'BREW /tokens HTTP/1.1\r\nHost: x\r\n\r\n',
    'absolute-form target': 'GET http://evil.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n',
    'CONNECT': 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n',
    'Upgrade to websocket': 'GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    'non-UTF-8 bytes in the target': Buffer.concat([Buffer.from('GET /\xff\xfe HTTP/1.1\r\n\r\n', 'latin1')]),
    'header name with 8-bit bytes': Buffer.from('GET /healthz HTTP/1.1\r\nX-\xe9: 1\r\n\r\n', 'latin1'),
  };
  for (const [name, bytes] of Object.entries(junk)) {
    test(name, async () => {
      const answer = await exchange(service.port, bytes, 10000, { responses: 1 });
      const responses = parseResponses(answer.data);
      for (const res of responses) {
        if (res.partial !== undefined && res.status === undefined) assert.fail(`garbled answer: ${res.partial}`);
        assert.ok(res.status >= 200 && res.status < 500, `status ${res.status} for ${name}`);
      }
      assert.ok(answer.closed || responses.length > 0, 'either an answer or a close');
    });
  }

  test('random binary junk gets at most a 4xx, and the service lives on', async () => {
    let seed = 12345;
    const random = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    for (let i = 0; i < 60; i++) {
      const bytes = Buffer.alloc(1 + (random() % 3000));
      for (let j = 0; j < bytes.length; j++) bytes[j] = random() & 0xff;
      if (i % 3 === 0) bytes.write('POST /tokens HTTP/1.1\r\n', 0, 'latin1');
      const answer = await exchange(service.port, bytes, 10000);
      for (const res of parseResponses(answer.data)) {
        assert.ok(res.status === undefined || res.status < 500, `status ${res.status}`);
      }
    }
    assert.equal((await mint(service.port)).status, 200);
  });
});

describe('pipelining', () => {
  test('pipelined requests are answered in order on one connection', async () => {
    const requests = [
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      mintRequest({ sender: 'agent://one' }),
      'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n',
      mintRequest('{not json'),
      'DELETE /tokens HTTP/1.1\r\nHost: x\r\n\r\n',
      mintRequest({ sender: 'agent://two' }),
      'GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n',
      mintRequest({ sender: 'agent://three' }, { close: true }),
    ];
    const answer = await exchange(service.port, requests.join(''));
    const responses = parseResponses(answer.data);
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 404, 400, 405, 200, 200, 200]);
    assert.deepEqual([1, 5, 7].map((i) => JSON.parse(responses[i].body).sender), ['agent://one', 'agent://two', 'agent://three']);
    assert.ok(answer.closed, 'Connection: close on the last request closes the connection');
  });

  test('a socket full of tiny pipelined requests is answered in full, while another client is served', async () => {
    // 1000 requests in one 32 KiB read: answered one after another without deep recursion or starving others.
    const one = 'GET /healthz HTTP/1.1\r\nHost:x\r\n\r\n';
    const count = 1000;
    const pipelined = exchange(service.port, one.repeat(count - 1) + 'GET /healthz HTTP/1.1\r\nHost:x\r\nConnection: close\r\n\r\n');
    const t0 = Date.now();
    assert.equal((await mint(service.port)).status, 200);
    assert.ok(Date.now() - t0 < 5000 * SLOW, `a mint beside the pipeline took ${Date.now() - t0} ms`);
    const answer = await pipelined;
    const statuses = parseResponses(answer.data).map((r) => r.status);
    assert.equal(statuses.length, count);
    assert.ok(statuses.every((s) => s === 200));
    assert.ok(answer.closed);
  });

  test('requests split at every byte boundary still parse', async () => {
    const socket = await connect(service.port);
    const answer = collect(socket);
    const bytes = Buffer.from(mintRequest({ sender: 'agent://dribble' }) + 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    for (let i = 0; i < bytes.length; i += 7) { socket.write(bytes.subarray(i, i + 7)); await sleep(1); }
    const responses = parseResponses((await answer).data);
    socket.destroy();
    assert.deepEqual(responses.map((r) => r.status), [200, 200]);
  });

  test('a request answered 400 by the router keeps the connection; a parser error closes it', async () => {
    const answer = await exchange(service.port,
      mintRequest('{bad') + 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n' + 'GET /healthz HTTP/1.1\r\n\r\n');
    assert.deepEqual(parseResponses(answer.data).map((r) => r.status), [400, 400]);
    assert.ok(answer.closed);
  });
});

describe('Host (RFC 9112 §3.2)', () => {
  test('an HTTP/1.1 request without Host is 400 malformed and closed', async () => {
    const res = await answerThenClose('GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { error: 'malformed HTTP request' });
  });

  test('two Host fields are 400, whatever the version', async () => {
    for (const version of ['1.0', '1.1']) {
      const res = await answerThenClose(`GET /healthz HTTP/${version}\r\nHost: a\r\nHost: b\r\n\r\n`);
      assert.equal(res.status, 400, `HTTP/${version}`);
    }
  });

  test('an HTTP/1.0 request may leave Host out; an empty Host is a Host', async () => {
    assert.equal((await answerThenClose('GET /healthz HTTP/1.0\r\n\r\n')).status, 200);
    assert.equal((await answerThenClose('GET /healthz HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n')).status, 200);
  });
});

describe('X-Request-Id (SPEC.md §8)', () => {
  const idOf = (res) => res.headers['x-request-id'];

  test('every answer carries one: routed, refused by the parser, over a limit', async () => {
    for (const bytes of [
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'DELETE /tokens HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      mintRequest({ sender: 'agent://id' }, { close: true }),
      mintRequest('{bad', { close: true }),
      'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n',
      headerBlock(8 * 1024 + 1),
      'GET /healthz HTTP/1.0\r\n\r\n',
    ]) {
      const res = await answerThenClose(bytes);
      assert.match(idOf(res) ?? '', /^[0-9a-f]{32}$/, `${res.status} for ${bytes.slice(0, 30)}`);
    }
  });

  test("the request's own is echoed when it is 1-128 printable ASCII characters", async () => {
    for (const id of ['a', 'trace-42 / span=7', '~'.repeat(128), ' x ']) {
      const res = await answerThenClose(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`);
      // Leading and trailing blanks are not part of a field value (RFC 9110 §5.5).
      assert.equal(idOf(res), id.trim());
    }
  });

  test('an empty, long or non-ASCII one is replaced by a fresh one', async () => {
    for (const id of ['', 'a'.repeat(129), 'caf\u00e9', 'tab\there']) {
      const bytes = Buffer.concat([
        Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: '), Buffer.from(id, 'utf8'),
        Buffer.from('\r\nConnection: close\r\n\r\n')]);
      const res = await answerThenClose(bytes);
      assert.equal(res.status, 200, JSON.stringify(id));
      assert.match(idOf(res) ?? '', /^[0-9a-f]{32}$/, JSON.stringify(id));
    }
  });

  test('fresh ones are unique, across connections and on one connection', async () => {
    const seen = new Set();
    const pipelined = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50) + 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    for (let i = 0; i < 20; i++) {
      const answer = await exchange(service.port, pipelined);
      for (const res of parseResponses(answer.data)) seen.add(idOf(res));
    }
    assert.equal(seen.size, 20 * 51);
  });
});

describe('Expect: 100-continue', () => {
  test('is not answered to an HTTP/1.0 client (RFC 9110 §10.1.1), whose request is still served', async () => {
    const socket = await connect(service.port);
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    const body = JSON.stringify({ sender: 'agent://expect' });
    const answer = collect(socket);
    socket.write(`POST /tokens HTTP/1.0\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    await sleep(300);
    assert.equal(Buffer.concat(chunks).length, 0, `answered: ${Buffer.concat(chunks).toString()}`);
    socket.write(body);
    const { data } = await answer;
    socket.destroy();
    assert.match(data.toString('latin1'), /^HTTP\/1\.0 200 /);
  });


  test('the server says 100 Continue before the body, then answers', async () => {
    const socket = await connect(service.port);
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    const body = JSON.stringify({ sender: 'agent://expect' });
    socket.write(`POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`);
    const deadline = Date.now() + 10000;
    while (!Buffer.concat(chunks).toString().includes('100 Continue') && Date.now() < deadline) await sleep(10);
    assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    chunks.length = 0;
    const answer = collect(socket);
    socket.write(body);
    const responses = parseResponses((await answer).data);
    socket.destroy();
    assert.equal(responses[0].status, 200);
  });
});
