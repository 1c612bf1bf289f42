// A rolling rotation of `secrets` with real processes sharing one real Redis (issue #23): BFF instances
// that hold different secrets at the same time, as during a deploy, behind one browser (cookies are per
// host, so one jar reaches every instance). A record sealed under a key newer than an instance knows
// answers 503 + Retry-After there and is never deleted; a record sealed under a removed key signs out;
// a record tampered with under a known key signs out; a store writer cannot extend a session or roll its
// version back; index entries are keyed (HMAC) under every secret held.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { ensureRedis, freeLoopbackPort } from '../../scripts/ensure-redis.mjs';
import { BFF_CLIENTS, BFF_SCOPE, TEST_SECRETS, cookieJar, getToken, getUser, sessionCookieLines, signIn, startBffIdp, tokenHash } from './helpers/bff-idp.mjs';
import { spawnBffInstance } from './helpers/bff-instance.mjs';

const PREFIX = 'nft-rotation:';
const [OLD, NEW] = [TEST_SECRETS[1], TEST_SECRETS[0]];
let redis;
let inspector;
let idp;
const instances = {};

before(async () => {
  redis = await ensureRedis();
  inspector = createClient({ url: redis.url });
  inspector.on('error', () => undefined);
  await inspector.connect();
  const names = ['newOld', 'old', 'oldNew', 'new'];
  const ports = {};
  for (const name of names) ports[name] = await freeLoopbackPort();
  const loginOrigin = `http://localhost:${ports.newOld}`;
  // Long-lived access tokens: only forced calls redeem (and re-seal).
  idp = await startBffIdp({ appOrigin: loginOrigin, accessTokenTtlSeconds: 120 });
  const secrets = { newOld: [NEW, OLD], old: [OLD], oldNew: [OLD, NEW], new: [NEW] };
  for (const name of names) {
    instances[name] = await spawnBffInstance({
      name,
      port: ports[name],
      issuer: idp.issuer,
      clientId: BFF_CLIENTS.client_secret_basic.clientId,
      clientSecret: BFF_CLIENTS.client_secret_basic.clientSecret,
      redirectUri: `${loginOrigin}/auth/callback`,
      allowedOrigins: Object.values(ports).map((p) => `http://localhost:${p}`),
      scope: BFF_SCOPE,
      secrets: secrets[name],
      store: 'redis',
      redisUrl: redis.url,
      client: name.length % 2 ? 'ioredis' : 'node-redis',
      prefix: PREFIX,
      minRefreshIntervalMs: 0,
      reportRequests: false,
    });
  }
});

after(async () => {
  await Promise.all(Object.values(instances).map((b) => b.stop()));
  await inspector?.destroy();
  await idp?.close();
  await redis?.stop();
});

const at = (name) => ({ origin: instances[name].origin });
const recordKey = (cookieId) => `${PREFIX}s:${createHash('sha256').update(`nft-session:${cookieId}`).digest('base64url')}`;
const stored = (cookieId) => inspector.hGetAll(recordKey(cookieId));

/** Signs in on the [new, old] instance (the redirect URI's): the session is sealed under the new secret. */
async function signedIn(loginHint = 'alice') {
  const jar = cookieJar();
  const { callback } = await signIn(jar, at('newOld'), { loginHint });
  const [cookie] = sessionCookieLines(callback).set;
  assert.ok(cookie, `signed in (${callback.status})`);
  return { jar, cookieId: cookie.value };
}
/** A forced refresh on `name`: the session is written (re-sealed) by that instance. */
async function resealOn(jar, name) {
  const held = (await getToken(jar, at(name))).body.accessToken;
  const r = await getToken(jar, at(name), { 'x-force-refresh': '1', 'x-replaces-token': tokenHash(held) });
  assert.equal(r.status, 200, `re-sealed on ${name}`);
}

describe('a rolling rotation of secrets across instances sharing one Redis', () => {
  test('an instance that does not hold the new secret yet answers 503 + Retry-After for its sessions and deletes nothing', async () => {
    const { jar, cookieId } = await signedIn();
    const record = await stored(cookieId);
    for (const answer of [await getToken(jar, at('old')), await getUser(jar, at('old'))]) {
      assert.equal(answer.status, 503);
      assert.equal(answer.body.code, 'NFT412');
      assert.ok(Number(answer.response.headers.get('retry-after')) > 0);
      assert.equal(sessionCookieLines(answer.response).cleared.length, 0, 'the cookie is kept');
    }
    assert.deepEqual({ ...(await stored(cookieId)) }, { ...record }, 'the record is untouched');
    assert.equal((await getToken(jar, at('newOld'))).status, 200, 'an upgraded instance serves it');
  });

  test('two-phase rotation: instances with [old, new] and [new, old] side by side serve every session, whoever sealed it', async () => {
    const { jar } = await signedIn('bob');
    for (const step of ['oldNew', 'newOld', 'oldNew']) {
      await resealOn(jar, step);
      for (const name of ['oldNew', 'newOld']) assert.equal((await getToken(jar, at(name))).status, 200, `${name} after a write on ${step}`);
    }
    // Sealed by a phase-1 instance (under the old key): even an instance not yet given the new key reads it.
    assert.equal((await getToken(jar, at('old'))).status, 200);
  });

  test('a record sealed under a key this instance holds is signed out when that key was removed: 401, cookie cleared, deleted', async () => {
    const { jar, cookieId } = await signedIn('carol');
    await resealOn(jar, 'oldNew'); // sealed under old (by an instance that also held new)
    await resealOn(jar, 'old'); // sealed under old by an instance that held only old
    const gone = await getToken(jar, at('new'));
    assert.equal(gone.status, 401, 'sealed under a secret the [new] instance never held, by one that held none of its own');
    assert.equal(sessionCookieLines(gone.response).cleared.length, 1);
    assert.equal(Object.keys(await stored(cookieId)).length, 0, 'deleted');
  });

  test('a store writer cannot tamper with, extend or roll back a session: it reads as signed out', async () => {
    for (const [what, tamper] of [
      ['a flipped ciphertext byte', (r) => ({ data: r.data.slice(0, -3) + (r.data.at(-3) === 'A' ? 'B' : 'A') + r.data.slice(-2) })],
      ['expiresAt pushed a day later', (r) => ({ expiresAt: String(Number(r.expiresAt) + 86_400_000) })],
      ['the version rolled back', (r) => ({ version: String(Number(r.version) - 1) })],
    ]) {
      const { jar, cookieId } = await signedIn('dave');
      await resealOn(jar, 'newOld'); // version 2, so it can go back
      const record = await stored(cookieId);
      await inspector.hSet(recordKey(cookieId), tamper(record));
      const answer = await getToken(jar, at('newOld'));
      assert.equal(answer.status, 401, what);
      assert.equal(Object.keys(await stored(cookieId)).length, 0, `${what}: deleted`);
    }
  });

  test('index entries in Redis are keyed hashes under every secret held, never the plain SHA-256 of a sub', async () => {
    await signedIn('erin');
    const keys = await inspector.keys(`${PREFIX}i:sub:*`);
    const unkeyed = createHash('sha256').update(`${new URL(idp.issuer).href}\nsub\nerin`).digest('base64url');
    assert.ok(keys.length >= 2);
    assert.ok(!keys.some((k) => k.endsWith(unkeyed)), 'not derivable from the sub alone');
    // The newest record of erin lists one sub entry per secret its writer held.
    const [latest] = await Promise.all((await inspector.keys(`${PREFIX}s:*`)).map((k) => inspector.hGetAll(k))).then((rs) => rs.filter((r) => r.index).slice(-1));
    assert.ok(JSON.parse(latest.index).filter((e) => e.startsWith('sub:')).length >= 1);
  });
});
