// Several BFF instances sharing their sessions in Redis (issue #19), all parts real: a redis-server of
// this file's own (so it may pause it with SIGSTOP), a real oidc-provider 9 with rotating refresh
// tokens and reuse detection (a consumed refresh token used again revokes the whole grant), and
// THREE BFF processes (tests/node/helpers/bff-instance.mjs: createBff + redisSessionStore, node-redis
// and ioredis alternating), reached as http://localhost:PORT so one cookie jar serves all three, as
// one browser behind a load balancer would. The login runs on instance 1 (the redirect URI the IdP knows).
//
// The lock's TTL is tokenRequestTimeoutMs + 2 × storeTimeoutMs + 5 s (refresh.ts); here 2 s + 1 s + 5 s
// = 8 s, and a waiter gives up after 7 s with 503 + Retry-After. Every wait is bounded; every process is
// stopped in `after`. Forced calls are not bounded here (minRefreshIntervalMs: 0): the storms test the lock.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { ensureRedis, freeLoopbackPort } from '../../scripts/ensure-redis.mjs';
import { BFF_CLIENTS, BFF_SCOPE, TEST_SECRETS, cookieJar, getToken, getUser, jwtClaims, sessionCookieLines, signIn, startBffIdp, tokenHash, within } from './helpers/bff-idp.mjs';
import { spawnBffInstance } from './helpers/bff-instance.mjs';
import { quietPeriod, waitFor } from './helpers/wait.mjs';

const PREFIX = 'nft-cluster:';
const TOKEN_REQUEST_TIMEOUT_MS = 2_000;
const STORE_TIMEOUT_MS = 500;
const LOCK_TTL_MS = TOKEN_REQUEST_TIMEOUT_MS + 2 * STORE_TIMEOUT_MS + 5_000; // refreshLockTtlMs() in refresh.ts
const WAIT_BUDGET_MS = LOCK_TTL_MS - 1_000;
const KEPT_GRANT_MS = LOCK_TTL_MS - 500;
const MARGIN_MS = 1_000; // a loaded 2-core CI machine

let redis; // { url, pid, stop() } of this file's own redis-server
let inspector; // a plain node-redis connection to look at what the instances stored
let idp;
let ports;
const instances = []; // [A, B, C]
const cookieIds = new Set(); // every raw session cookie value handed out

const origins = () => ports.map((p) => `http://localhost:${p}`);
const instanceConfig = (i) => ({
  name: `bff-${i + 1}`,
  port: ports[i],
  issuer: idp.issuer,
  clientId: BFF_CLIENTS.client_secret_basic.clientId,
  clientSecret: BFF_CLIENTS.client_secret_basic.clientSecret,
  redirectUri: `${origins()[0]}/auth/callback`,
  postLogoutRedirectUri: `${origins()[0]}/`,
  allowedOrigins: origins(),
  scope: BFF_SCOPE,
  secrets: [TEST_SECRETS[0]],
  store: 'redis',
  redisUrl: redis.url,
  client: i % 2 === 0 ? 'node-redis' : 'ioredis',
  prefix: PREFIX,
  storeTimeoutMs: STORE_TIMEOUT_MS,
  tokenRequestTimeoutMs: TOKEN_REQUEST_TIMEOUT_MS,
  refreshBufferMs: 1_000,
  minRefreshIntervalMs: 0,
  // The in-doubt marker lapses just before the lock here, so the dead- and frozen-holder tests see the
  // lock's own rules (by default the marker outlives the lock: keptGrantMs, 2 minutes).
  keptGrantMs: KEPT_GRANT_MS,
});

before(async () => {
  redis = await ensureRedis({ env: { ...process.env, REDIS_URL: '' } }); // always a server of our own: it gets paused
  assert.ok(redis.pid, 'a redis-server started by this file');
  inspector = createClient({ url: redis.url });
  inspector.on('error', () => undefined);
  await inspector.connect();
  ports = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
  // 2-minute access tokens: a cached token stays fresh through every scenario, so only forced calls redeem.
  idp = await startBffIdp({ appOrigin: origins()[0], accessTokenTtlSeconds: 120 });
  for (let i = 0; i < 3; i++) instances.push(await spawnBffInstance(instanceConfig(i)));
});

after(async () => {
  try {
    process.kill(redis?.pid ?? 0, 'SIGCONT');
  } catch {
    // not paused, or gone
  }
  await Promise.all(instances.map((b) => b.stop()));
  await inspector?.destroy();
  await idp?.close();
  await redis?.stop();
});

// ─── helpers ─────────────────────────────────────────────────────────────────────────────────

const app = (b) => ({ origin: b.origin });
const storeKey = (cookieId) => createHash('sha256').update(`nft-session:${cookieId}`).digest('base64url');
const sessionVersion = async (cookieId) => {
  const v = await inspector.hGet(`${PREFIX}s:${storeKey(cookieId)}`, 'version');
  return v === null || v === undefined ? null : Number(v);
};
const lockHeld = async (cookieId) => (await inspector.exists(`${PREFIX}l:${storeKey(cookieId)}`)) === 1;
const forced = (held) => ({ 'x-force-refresh': '1', 'x-replaces-token': tokenHash(held) });

/** Signs in on instance 1; returns the jar (valid for all three: cookies are per host) and the cookie id. */
async function signedIn(loginHint = 'alice') {
  const jar = cookieJar();
  const { callback } = await signIn(jar, app(instances[0]), { loginHint });
  const set = sessionCookieLines(callback).set;
  assert.equal(set.length, 1, `the callback set the session cookie (${callback.status})`);
  cookieIds.add(set[0].value);
  return { jar, cookieId: set[0].value };
}

/** GET /session/token on instance `b`, with the time it took. */
async function timedToken(jar, b, headers = {}) {
  const started = Date.now();
  const r = await getToken(jar, app(b), headers);
  return { ...r, ms: Date.now() - started, instance: r.response.headers.get('x-bff-instance') };
}

/** Resolves once `n` requests to `path` have reached the instances (counted from `marks`). */
const requestsSeen = (marks) => instances.reduce((n, b, i) => n + b.messages.slice(marks[i]).filter((m) => 'request' in m).length, 0);

/** Samples a session's stored version until `stop()`; fails the test if it ever goes down. */
function watchVersion(cookieId) {
  const seen = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      seen.push(await sessionVersion(cookieId).catch(() => 'error'));
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
      // One last sample: a write just before stop() may have fallen between two samples.
      seen.push(await sessionVersion(cookieId).catch(() => 'error'));
      const numbers = seen.filter((v) => typeof v === 'number');
      for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i] >= numbers[i - 1], `the stored version went from ${numbers[i - 1]} back to ${numbers[i]}`);
      // Once gone, a session never comes back (a late holder cannot resurrect it).
      const firstGone = seen.indexOf(null);
      if (firstGone >= 0) assert.ok(seen.slice(firstGone).every((v) => v === null || v === 'error'), 'an ended session was written again');
      return numbers;
    },
  };
}

describe('several BFF instances sharing sessions in Redis (3 processes, real oidc-provider with reuse detection)', () => {
  test('the instances run node-redis and ioredis alternately, on one Redis', () => {
    assert.equal(instances.length, 3);
    assert.deepEqual(instances.map((b) => instanceConfig(instances.indexOf(b)).client), ['node-redis', 'ioredis', 'node-redis']);
  });

  test('a session started on instance 1 works on all three: one cached token, no redemption', async () => {
    const { jar } = await signedIn();
    const before = idp.counts.refresh_token;
    const answers = [];
    for (const b of instances) answers.push(await timedToken(jar, b));
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(answers.map((r) => r.instance), ['bff-1', 'bff-2', 'bff-3']);
    assert.equal(new Set(answers.map((r) => r.body.accessToken)).size, 1);
    for (const b of instances) assert.equal((await getUser(jar, app(b))).body.user.sub, 'alice');
    assert.equal(idp.counts.refresh_token, before);
  });

  test('a storm of forced calls for one held token, round-robin over 3 instances, before, during and after the IdP answers: exactly 1 redemption', async () => {
    const N = 9;
    const { jar } = await signedIn('storm');
    const old = (await getToken(jar, app(instances[1]))).body.accessToken;
    const redemptions = idp.counts.refresh_token;
    const invalid = idp.counts.invalid_grant;
    let next = 0;
    const call = () => timedToken(jar, instances[next++ % 3], forced(old));

    const gate = idp.holdRefreshes();
    let first;
    try {
      const held = gate.held();
      const beforeCalls = Array.from({ length: N }, call);
      await within(held, 10_000, 'the refresh request to reach the IdP');
      // During: N more while the IdP's answer is held; each instance reports the requests it got.
      const marks = instances.map((b) => b.messages.length);
      const duringCalls = Array.from({ length: N }, call);
      await waitFor(() => requestsSeen(marks) >= N, 10_000, 'the calls made during the hold to reach the instances');
      await quietPeriod(300); // they go on to the lock or the in-process flight; a second redemption would show now
      assert.equal(idp.counts.refresh_token - redemptions, 1, 'one redemption while held');
      gate.release();
      first = await within(Promise.all([...beforeCalls, ...duringCalls]), 15_000, 'the held calls to answer');
    } finally {
      gate.release();
    }
    // After: N more for the same old token, on every instance.
    const later = await within(Promise.all(Array.from({ length: N }, call)), 10_000, 'the later calls');

    const all = [...first, ...later];
    assert.deepEqual(all.map((r) => r.status), Array(3 * N).fill(200));
    assert.deepEqual(new Set(all.map((r) => r.instance)), new Set(['bff-1', 'bff-2', 'bff-3']));
    const tokens = new Set(all.map((r) => r.body.accessToken));
    assert.equal(tokens.size, 1, 'every answer carries the same new access token');
    assert.notEqual([...tokens][0], old);
    assert.equal([...tokens][0], idp.issued.accessTokens.at(-1), 'the token the one redemption issued');
    assert.equal(idp.counts.refresh_token - redemptions, 1, 'exactly one redemption at the IdP');
    assert.equal(idp.counts.invalid_grant - invalid, 0, 'no invalid_grant');
  });

  test('20 sessions × 10 concurrent forced calls spread over the instances: exactly 20 redemptions', async () => {
    const sessions = [];
    for (let i = 0; i < 20; i++) {
      const s = await signedIn(`user${i}`);
      s.old = (await getToken(s.jar, app(instances[i % 3]))).body.accessToken;
      sessions.push(s);
    }
    const redemptions = idp.counts.refresh_token;
    const invalid = idp.counts.invalid_grant;
    const calls = sessions.flatMap((s, i) => Array.from({ length: 10 }, (_, j) => timedToken(s.jar, instances[(i + j) % 3], forced(s.old)).then((r) => ({ ...r, i }))));
    const answers = await within(Promise.all(calls), 30_000, '200 forced calls');
    assert.deepEqual(answers.map((r) => r.status), Array(200).fill(200));
    assert.equal(idp.counts.refresh_token - redemptions, 20, 'one redemption per session');
    assert.equal(idp.counts.invalid_grant - invalid, 0);
    for (let i = 0; i < 20; i++) {
      const mine = new Set(answers.filter((r) => r.i === i).map((r) => r.body.accessToken));
      assert.equal(mine.size, 1, `session ${i}: one new token for its 10 calls`);
      assert.notEqual([...mine][0], sessions[i].old);
    }
    assert.equal(new Set(answers.map((r) => r.body.accessToken)).size, 20, 'sessions never share a token');
  });

  test('the lock holder is SIGKILLed while its redemption is held at the IdP: nothing hangs, the next holder proceeds after the TTL, the session ends with one clean 401', async () => {
    // With oidc-provider's rotation + reuse detection the killed holder's redemption WAS processed (the
    // gate holds the answer, not the request): the refresh token still in the store is consumed. The
    // next holder redeems it → invalid_grant (reuse: the grant is revoked) → the session ends: 401 and
    // the cookie cleared, once, and nothing redeems again. An IdP with a reuse interval (or without
    // rotation) would instead answer the second redemption and the session would keep working.
    const { jar, cookieId } = await signedIn('killed');
    const old = (await getToken(jar, app(instances[0]))).body.accessToken;
    const redemptions = idp.counts.refresh_token;
    const invalid = idp.counts.invalid_grant;
    const victim = instances[2];
    const gate = idp.holdRefreshes();
    let killedAt;
    try {
      const held = gate.held();
      const doomed = getToken(jar, app(victim), forced(old)).then(
        (r) => ({ status: r.status }),
        (err) => ({ error: err }),
      );
      await within(held, 10_000, 'the holder’s redemption to reach the IdP');
      assert.ok(await lockHeld(cookieId), 'the holder has the lock');
      victim.kill('SIGKILL');
      killedAt = Date.now();
      await within(victim.exited, 5_000, 'the holder to die');
      const lost = await within(doomed, 5_000, 'the killed holder’s request to fail');
      assert.ok(lost.error, 'the killed holder never answered');
    } finally {
      gate.release();
    }

    // While the dead holder's lock lives: the other instances wait for its write, bounded, then 503.
    const waiting = await within(Promise.all([timedToken(jar, instances[0], forced(old)), timedToken(jar, instances[1], forced(old))]), WAIT_BUDGET_MS + 5_000, 'the waiters');
    for (const r of waiting) {
      assert.equal(r.status, 503, `waiter on ${r.instance}`);
      assert.equal(r.body.code, 'NFT409');
      assert.ok(Number(r.response.headers.get('retry-after')) > 0, 'Retry-After');
      assert.ok(r.ms <= WAIT_BUDGET_MS + MARGIN_MS, `answered in ${r.ms} ms`);
    }
    assert.equal(idp.counts.refresh_token - redemptions, 1, 'waiters never redeem');
    assert.notEqual(await sessionVersion(cookieId), null, 'a waiter that timed out signs no one out');

    // The lock lapses at its TTL: the next request proceeds.
    await waitFor(async () => !(await lockHeld(cookieId)), LOCK_TTL_MS + 2_000, 'the dead holder’s lock to lapse');
    assert.ok(Date.now() - killedAt <= LOCK_TTL_MS + MARGIN_MS);
    const next = await within(timedToken(jar, instances[1], forced(old)), TOKEN_REQUEST_TIMEOUT_MS + 3_000, 'the next request');
    assert.equal(next.status, 401, 'the consumed refresh token ends the session');
    assert.equal(sessionCookieLines(next.response).cleared.length, 1, 'the cookie is cleared');
    assert.equal(idp.counts.refresh_token - redemptions, 2, 'the dead holder’s redemption and the next holder’s');
    assert.equal(idp.counts.invalid_grant - invalid, 1, 'one invalid_grant (reuse detected)');
    assert.equal(await sessionVersion(cookieId), null, 'the session is deleted');

    // Nothing loops: the same browser (even re-sending the old cookie) gets 401 at once, and the IdP hears nothing more.
    const oldCookie = { cookie: `__Host-nft-session=${cookieId}` };
    for (const b of instances.slice(0, 2)) {
      const r = await within(getToken(cookieJar(), app(b), { ...forced(old), ...oldCookie }), 3_000, '401');
      assert.equal(r.status, 401);
    }
    await quietPeriod(500); // a retrying instance would redeem again within this
    assert.equal(idp.counts.refresh_token - redemptions, 2);
    assert.ok(instances[0].alive() && instances[1].alive());

    // Back to three instances, on the same port (the origins the others accept).
    instances[2] = await spawnBffInstance(instanceConfig(2));
  });

  test('a holder frozen past its TTL after the IdP answered: its compare-and-set is rejected and the ended session is not written again', async () => {
    // Holder B redeems (the IdP rotates the token) and freezes (SIGSTOP) before its write; its lock
    // lapses; C redeems the stored — consumed — token: reuse, invalid_grant, the session ends. B
    // thaws: its fence write finds no record of its version and is refused; it answers 401 too.
    const { jar, cookieId } = await signedIn('frozen-after');
    const [A, B, C] = instances;
    const old = (await getToken(jar, app(A))).body.accessToken;
    const redemptions = idp.counts.refresh_token;
    const watch = watchVersion(cookieId);
    const mark = B.messages.length;
    try {
      B.send({ hook: 'pause-after-token-response' });
      await quietPeriod(50); // the hook arrives before the request (one IPC message, no answer to wait on)
      const late = timedToken(jar, B, forced(old));
      await B.nextMessage((m) => m.paused === 'after-token-response', 10_000, 'B to freeze after the IdP answered', mark);
      assert.equal(idp.counts.refresh_token - redemptions, 1);
      await waitFor(async () => !(await lockHeld(cookieId)), LOCK_TTL_MS + 2_000, 'the frozen holder’s lock to lapse');
      const other = await within(timedToken(jar, C, forced(old)), TOKEN_REQUEST_TIMEOUT_MS + 3_000, 'C');
      assert.equal(other.status, 401, 'C redeemed the consumed token: reuse detected, the session ended');
      assert.equal(await sessionVersion(cookieId), null);
      process.kill(B.pid, 'SIGCONT');
      const lateAnswer = await within(late, 5_000, 'the thawed holder to answer');
      assert.equal(lateAnswer.status, 401);
      const cas = await B.nextMessage((m) => 'cas' in m, 3_000, 'B’s compare-and-set', mark);
      assert.deepEqual(cas, { cas: false, expectedVersion: 1 }, 'the fence refused the stale holder');
      await quietPeriod(200);
      assert.equal(await sessionVersion(cookieId), null, 'not resurrected');
    } finally {
      try {
        process.kill(B.pid, 'SIGCONT');
      } catch {}
      await watch.stop();
    }
    assert.equal(idp.counts.refresh_token - redemptions, 2);
    assert.ok(B.alive());
  });

  test('a holder frozen past its TTL before it reached the IdP: the newer holder’s write stands, the version never goes back, and the late redemption revokes the grant at the IdP', async () => {
    // B takes the lock and freezes before sending its refresh grant; its lock lapses; C redeems and
    // writes version 2. B thaws and redeems the same (now consumed) token: oidc-provider sees reuse,
    // answers invalid_grant and revokes the grant. B's re-read finds version 2 with a fresh token and
    // hands that out: B writes nothing and ends nothing. The revoked grant ends the session at its
    // next refresh, with one clean 401.
    const { jar, cookieId } = await signedIn('frozen-before');
    const [A, B, C] = instances;
    const old = (await getToken(jar, app(A))).body.accessToken;
    const redemptions = idp.counts.refresh_token;
    const invalid = idp.counts.invalid_grant;
    const watch = watchVersion(cookieId);
    const mark = B.messages.length;
    let newer;
    try {
      // Frozen just before openid-client is called (with its own timeout armed before the freeze,
      // the thawed request would be aborted instead: the next test).
      B.send({ hook: 'pause-before-token-request', freshTimeout: true });
      await quietPeriod(50);
      const late = timedToken(jar, B, forced(old));
      await B.nextMessage((m) => m.paused === 'before-token-request', 10_000, 'B to freeze with the lock', mark);
      assert.ok(await lockHeld(cookieId));
      await waitFor(async () => !(await lockHeld(cookieId)), LOCK_TTL_MS + 2_000, 'the frozen holder’s lock to lapse');
      newer = await within(timedToken(jar, C, forced(old)), TOKEN_REQUEST_TIMEOUT_MS + 3_000, 'C');
      assert.equal(newer.status, 200);
      assert.equal(await sessionVersion(cookieId), 2);
      process.kill(B.pid, 'SIGCONT');
      const lateAnswer = await within(late, TOKEN_REQUEST_TIMEOUT_MS + 5_000, 'the thawed holder to answer');
      assert.equal(lateAnswer.status, 200);
      assert.equal(lateAnswer.body.accessToken, newer.body.accessToken, 'the late holder hands out the newer holder’s token');
      assert.equal(B.messages.slice(mark).filter((m) => 'cas' in m).length, 0, 'the late holder wrote nothing');
      assert.equal(await sessionVersion(cookieId), 2, 'version 2 stands');
      assert.equal(idp.counts.invalid_grant - invalid, 1, 'the late redemption was refused as reuse');
    } finally {
      try {
        process.kill(B.pid, 'SIGCONT');
      } catch {}
      const versions = await watch.stop();
      assert.ok(versions.includes(1) && versions.includes(2));
    }
    // The grant is revoked at the IdP: the next refresh ends the session, once.
    const ended = await within(timedToken(jar, A, forced(newer.body.accessToken)), TOKEN_REQUEST_TIMEOUT_MS + 3_000, 'the next refresh');
    assert.equal(ended.status, 401);
    assert.equal(await sessionVersion(cookieId), null);
    assert.equal(idp.counts.refresh_token - redemptions, 3);
  });

  test('a holder frozen past its TTL inside its token request: on thaw its own timeout aborts it, it answers 503 and redeems nothing', async () => {
    const { jar, cookieId } = await signedIn('frozen-in-request');
    const [A, B, C] = instances;
    const old = (await getToken(jar, app(A))).body.accessToken;
    const redemptions = idp.counts.refresh_token;
    const mark = B.messages.length;
    let newer;
    try {
      B.send({ hook: 'pause-before-token-request' });
      await quietPeriod(50);
      const late = timedToken(jar, B, forced(old));
      await B.nextMessage((m) => m.paused === 'before-token-request', 10_000, 'B to freeze with the lock', mark);
      await waitFor(async () => !(await lockHeld(cookieId)), LOCK_TTL_MS + 2_000, 'the frozen holder’s lock to lapse');
      newer = await within(timedToken(jar, C, forced(old)), TOKEN_REQUEST_TIMEOUT_MS + 3_000, 'C');
      assert.equal(newer.status, 200);
      process.kill(B.pid, 'SIGCONT');
      const lateAnswer = await within(late, TOKEN_REQUEST_TIMEOUT_MS + 5_000, 'the thawed holder to answer');
      assert.equal(lateAnswer.status, 503);
      assert.equal(lateAnswer.body.code, 'NFT403', 'its token request timed out');
      assert.ok(Number(lateAnswer.response.headers.get('retry-after')) > 0);
    } finally {
      try {
        process.kill(B.pid, 'SIGCONT');
      } catch {}
    }
    assert.equal(idp.counts.refresh_token - redemptions, 1, 'only C redeemed');
    assert.equal(await sessionVersion(cookieId), 2);
    // The browser retries (Retry-After) and gets C's token, on any instance.
    const retried = await getToken(jar, app(B), forced(old));
    assert.equal(retried.body.accessToken, newer.body.accessToken);
  });

  test('Redis paused (SIGSTOP) longer than the store timeout: every instance answers 503 + Retry-After within it, none dies; after SIGCONT the session works everywhere', async () => {
    const { jar, cookieId } = await signedIn('paused');
    const token = (await getToken(jar, app(instances[0]))).body.accessToken;
    const version = await sessionVersion(cookieId);
    const redemptions = idp.counts.refresh_token;
    const rounds = [];
    process.kill(redis.pid, 'SIGSTOP');
    const pausedAt = Date.now();
    try {
      for (let round = 0; round < 2; round++) {
        // Each round: cached and forced /session/token, and /session/user, on every instance, at once.
        const answers = await within(
          Promise.all(
            instances.flatMap((b) => [
              timedToken(jar, b),
              timedToken(jar, b, forced(token)),
              (async () => {
                const started = Date.now();
                const r = await getUser(jar, app(b));
                return { ...r, ms: Date.now() - started, instance: b.name };
              })(),
            ]),
          ),
          STORE_TIMEOUT_MS * 4 + 5_000,
          'answers while Redis is paused',
        );
        rounds.push(answers);
        if (round === 0) await quietPeriod(STORE_TIMEOUT_MS * 2); // stay paused well past the store timeout
      }
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
    const pausedMs = Date.now() - pausedAt;
    assert.ok(pausedMs > STORE_TIMEOUT_MS * 3, `paused for ${pausedMs} ms`);
    for (const r of rounds.flat()) {
      assert.equal(r.status, 503, `${r.instance}`);
      assert.equal(r.body.code, 'NFT404');
      assert.ok(Number(r.response.headers.get('retry-after')) > 0);
      // One store call each before the answer (a forced call's first load times out before its lock).
      assert.ok(r.ms <= STORE_TIMEOUT_MS + MARGIN_MS, `${r.instance} answered in ${r.ms} ms`);
      assert.equal(sessionCookieLines(r.response).cleared.length, 0, 'no one is signed out');
    }
    const slowest = Math.max(...rounds.flat().map((r) => r.ms));
    console.log(`# Redis paused ${pausedMs} ms: ${rounds.flat().length} requests, all 503 + Retry-After, slowest ${slowest} ms (store timeout ${STORE_TIMEOUT_MS} ms)`);
    assert.ok(instances.every((b) => b.alive()), 'no instance died');

    // Resumed: the same session, the same token, on every instance; nothing lost, nothing redeemed.
    const back = [];
    for (const b of instances) back.push(await within(waitForOk(jar, b), 5_000, `${b.name} to recover`));
    assert.deepEqual(back.map((r) => r.body.accessToken), [token, token, token]);
    assert.equal(await sessionVersion(cookieId), version);
    assert.equal(idp.counts.refresh_token, redemptions);
    const refreshed = await timedToken(jar, instances[1], forced(token));
    assert.equal(refreshed.status, 200, 'a refresh works again (locks and pub/sub)');
  });

  test('Redis fails every compare-and-set of the holder after the IdP answered: 503, the holder keeps the grant and the lock, the others wait instead of redeeming the spent token, and once Redis takes writes the session carries on everywhere with no invalid_grant', async () => {
    const { jar, cookieId } = await signedIn('cas-fails');
    const [A, B, C] = instances;
    const old = (await getToken(jar, app(A))).body.accessToken;
    const invalid = idp.counts.invalid_grant;
    const redemptions = idp.counts.refresh_token;
    const mark = B.messages.length;
    B.send({ hook: 'fail-compare-and-set', times: 1_000 });
    await quietPeriod(50);
    let failed;
    try {
      failed = await within(timedToken(jar, B, forced(old)), LOCK_TTL_MS + 3_000, 'B');
      assert.equal(failed.status, 503, JSON.stringify(failed.body));
      assert.ok(B.messages.slice(mark).filter((m) => m.cas === 'failed').length >= 2, 'the write was retried within the lock');
      assert.equal(await sessionVersion(cookieId), 1, 'nothing reached Redis');
      assert.ok(await lockHeld(cookieId), 'the holder keeps the lock while its grant is not stored');
    } finally {
      B.send({ hook: 'fail-compare-and-set', times: 0 });
    }
    // B stores the kept grant by itself (background), lets go of the lock; C then hands out that token.
    await waitFor(async () => (await sessionVersion(cookieId)) === 2, 5_000, 'B to store the kept grant');
    const after = await within(timedToken(jar, C, forced(old)), 5_000, 'C');
    assert.equal(after.status, 200);
    assert.equal(after.body.accessToken, idp.issued.accessTokens.at(-1), 'the token of the one redemption');
    assert.equal(idp.counts.refresh_token - redemptions, 1);
    // And the stored refresh token is the rotated one.
    const next = await within(timedToken(jar, A, forced(after.body.accessToken)), 5_000, 'A');
    assert.equal(next.status, 200);
    assert.equal(idp.counts.invalid_grant, invalid, 'no invalid_grant anywhere');
  });

  test('a back-channel logout received by instance 1 ends the session on instances 2 and 3', async () => {
    const { jar } = await signedIn('bcl');
    for (const b of instances) assert.equal((await getToken(jar, app(b))).status, 200);
    const claims = jwtClaims(idp.issued.idTokens.at(-1));
    assert.equal(claims.sub, 'bcl');
    const post = await idp.backchannelLogout({ sub: claims.sub, sid: claims.sid });
    assert.equal(new URL(post.url).port, String(ports[0]), 'the IdP posted to instance 1');
    assert.equal(post.status, 200);
    for (const b of instances.slice(1)) assert.equal((await getToken(jar, app(b))).status, 401, b.name);
    assert.equal((await getUser(jar, app(instances[0]))).status, 401);
  });

  test('a scan of every key in Redis finds no plaintext access, refresh or ID token and no raw cookie value', async () => {
    const secrets = [...idp.allIssuedTokens(), ...cookieIds];
    assert.ok(idp.issued.refreshTokens.length > 20 && cookieIds.size > 20);
    // Pieces too: a JWT's payload or signature alone would still leak it.
    const needles = new Set(secrets.flatMap((s) => [s, ...s.split('.').filter((p) => p.length >= 20)]));
    let keys = 0;
    let sessions = 0;
    for await (const batch of inspector.scanIterator({ MATCH: '*', COUNT: 500 })) {
      for (const key of batch) {
        keys++;
        if (key.startsWith(`${PREFIX}s:`)) sessions++;
        const type = await inspector.type(key);
        const value =
          type === 'hash' ? JSON.stringify(await inspector.hGetAll(key)) : type === 'set' ? JSON.stringify(await inspector.sMembers(key)) : type === 'string' ? String(await inspector.get(key)) : '';
        for (const n of needles) {
          assert.ok(!key.includes(n), `a key holds a secret (${type})`);
          assert.ok(!value.includes(n), `the value of a ${type} key holds a secret`);
        }
      }
    }
    assert.ok(sessions >= 20, `${sessions} sessions among ${keys} keys`);
  });
});

/** /session/token on `b` until it answers 200 (Redis just resumed; the first call may still see the backlog). */
async function waitForOk(jar, b) {
  for (;;) {
    const r = await timedToken(jar, b);
    if (r.status === 200) return r;
    assert.equal(r.status, 503, `${b.name} while recovering`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
