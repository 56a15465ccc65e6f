// `keys` and `jwks --key-file` on a key set file, checked with npm jose (a library we did not write).
// Never prints key material: assertions on private JWKs compare parsed members, not text.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';

import { BIN, cleanEnv } from './cli_env.mjs';

function run(args, env = {}) {
  const r = spawnSync(BIN, args, { env: cleanEnv(env), encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok(args, env) {
  const r = run(args, env);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
  return r;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'macp-keys-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const mode = (file) => fs.statSync(file).mode & 0o777;
const members = (file) => JSON.parse(fs.readFileSync(file, 'utf8')).keys;
const now = () => Math.floor(Date.now() / 1000);
const claims = { issuer: 'macp-auth-service', audience: 'macp-runtime' };

// A token jose signs with one member of the set file, as the service would sign it.
async function signWith(member) {
  const privateKey = await jose.importJWK(member);
  const t = now();
  return new jose.SignJWT({ macp_scopes: {} })
    .setProtectedHeader({ alg: member.alg, kid: member.kid })
    .setIssuedAt(t).setExpirationTime(t + 300)
    .setIssuer(claims.issuer).setAudience(claims.audience).setSubject('agent://risk')
    .sign(privateKey);
}

// The JWKS `jwks --key-file` prints, as jose's verifier holds it.
function publishedNow(file, env) {
  const r = ok(['jwks', '--key-file', file], env);
  assert.ok(r.out.endsWith('\n'));
  const jwks = JSON.parse(r.out);
  for (const key of jwks.keys) {
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'macp_activates_at']) assert.ok(!(secret in key), secret);
  }
  return jwks;
}

describe('keys init', () => {
  for (const alg of ['RS256', 'ES256']) {
    test(`${alg}: a token signed with the new key verifies with jose against jwks --key-file`, async () => {
      const file = path.join(tmp, `init-${alg}.json`);
      const previousUmask = process.umask(0); // the file is 0600 whatever the umask
      let r;
      try {
        r = ok(['keys', 'init', '--file', file, '--alg', alg]);
      } finally {
        process.umask(previousUmask);
      }
      assert.equal(mode(file), 0o600);
      const [member] = members(file);
      assert.equal(r.out, `${member.kid} signs now (${alg})\n`);
      assert.ok(!r.out.includes(member.d) && !r.err.includes(member.d), 'no private member on the terminal');
      assert.match(member.kid, /^\d{4}-\d{2}-\d{2}-[0-9a-f]{8}$/);
      assert.equal(member.alg, alg);
      assert.equal(member.use, 'sig');
      assert.ok(!('macp_activates_at' in member));

      const jwks = publishedNow(file);
      assert.deepEqual(jwks.keys.map((k) => k.kid), [member.kid]);
      const token = await signWith(member);
      const { protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), claims);
      assert.equal(protectedHeader.kid, member.kid);
      // … and our own verify agrees, from a file holding that JWKS.
      const jwksFile = path.join(tmp, `init-${alg}-jwks.json`);
      fs.writeFileSync(jwksFile, JSON.stringify(jwks));
      ok(['verify', token, '--jwks', jwksFile]);
    });
  }
});

describe('a rotation and a revocation, as verifiers see them', () => {
  test('the next key is published before it signs; a revoked key fails at once', async () => {
    const file = path.join(tmp, 'rotation.json');
    ok(['keys', 'init', '--file', file, '--alg', 'ES256', '--kid', 'old']);
    const rotated = ok(['keys', 'rotate', '--file', file, '--kid', 'new', '--lead', '900']);
    assert.equal(mode(file), 0o600);
    const [, added] = members(file);
    assert.equal(added.kid, 'new');
    assert.ok(Math.abs(added.macp_activates_at - (now() + 900)) <= 5);
    assert.equal(rotated.out,
      `new activates at ${new Date(added.macp_activates_at * 1000).toISOString().replace('.000Z', 'Z')} (${added.macp_activates_at})\n`);
    assert.equal(rotated.err, '');

    // Published now, signer first: a verifier that fetches now already knows the key that signs next.
    const before = publishedNow(file);
    assert.deepEqual(before.keys.map((k) => k.kid), ['old', 'new']);
    const localBefore = jose.createLocalJWKSet(before);
    const [oldMember, newMember] = members(file);
    const oldToken = await signWith(oldMember);
    await jose.jwtVerify(oldToken, localBefore, claims);
    await jose.jwtVerify(await signWith(newMember), localBefore, claims);

    const listed = JSON.parse(ok(['keys', 'list', '--file', file, '--json']).out);
    assert.deepEqual(listed.keys.map(({ kid, state }) => ({ kid, state })),
      [{ kid: 'old', state: 'signing' }, { kid: 'new', state: 'next' }]);
    assert.equal(listed.keys[0].published_until, added.macp_activates_at + 3600 + 60);
    assert.equal(listed.keys[1].published_until, null);

    // A short lead is written, with a warning that names the caches it is shorter than.
    const short = ok(['keys', 'rotate', '--file', file, '--kid', 'soon', '--lead', '60'],
      { MACP_AUTH_JWKS_TTL_SECS: '120' });
    assert.match(short.err, /warning: --lead 60 is shorter than .* 605 s \(npm jose's JWKS cache 600 s/);

    // Emergency: the signer leaked. The earliest next key signs from now; old tokens fail everywhere.
    const revoked = ok(['keys', 'revoke', '--file', file, 'old']);
    assert.equal(mode(file), 0o600);
    assert.equal(revoked.out, 'soon signs now\n');
    assert.match(revoked.err, /tokens it signed now fail everywhere/);
    const afterRevoke = publishedNow(file);
    assert.deepEqual(afterRevoke.keys.map((k) => k.kid), ['soon', 'new']);
    await assert.rejects(jose.jwtVerify(oldToken, jose.createLocalJWKSet(afterRevoke), claims),
      { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    const soon = members(file).find((m) => m.kid === 'soon');
    assert.ok(Math.abs(soon.macp_activates_at - now()) <= 5);
    await jose.jwtVerify(await signWith(soon), jose.createLocalJWKSet(afterRevoke), claims);
  });
});

describe('a set written by hand', () => {
  test('jose-generated keys load; a group-readable file is refused with the fix', async () => {
    const set = { keys: [] };
    for (const [kid, alg, activates] of [['a', 'RS256', undefined], ['b', 'ES256', now() + 3600]]) {
      const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
      const jwk = { ...(await jose.exportJWK(privateKey)), kid };
      if (activates !== undefined) jwk.macp_activates_at = activates;
      set.keys.push(jwk);
    }
    const file = path.join(tmp, 'by-hand.json');
    fs.writeFileSync(file, JSON.stringify(set), { mode: 0o640 });
    fs.chmodSync(file, 0o640);

    const refused = run(['keys', 'list', '--file', file]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, new RegExp(`chmod 600 ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(refused.err, /MACP_AUTH_ALLOW_SHARED_KEY_FILE=1/);

    const table = ok(['keys', 'list', '--file', file], { MACP_AUTH_ALLOW_SHARED_KEY_FILE: '1' }).out.split('\n');
    assert.match(table[0], /^KID +ALG +STATE +ACTIVATES +PUBLISHED UNTIL$/);
    assert.match(table[1], /^a +RS256 +signing +since forever +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 2h( 1m)?\) *$/);
    assert.match(table[2], /^b +ES256 +next +\S+ \(in [^)]+\) +- \(no later key\)$/);

    // `jwks` does not check permissions; it shows the signer first.
    assert.deepEqual(publishedNow(file).keys.map((k) => k.kid), ['a', 'b']);
    // A duplicated kid refuses the file, naming the member.
    set.keys[1].kid = 'a';
    fs.writeFileSync(file, JSON.stringify(set));
    const duplicate = run(['jwks', '--key-file', file]);
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.err, /keys\[1\] \(kid "a"\): the same kid as keys\[0\]/);
    assert.ok(!duplicate.err.includes(set.keys[0].d));
  });
});
