// Every piece of work a request can trigger is bounded, and the smaller hardening points of issue #23:
// forced refreshes redeem at most once per session per minRefreshIntervalMs, login transactions are
// capped per browser, the memory store caps sessions per account and evicts fairly, onEvent cannot
// break a route or the process, forwardedLoginParams cannot override protocol parameters, every answer
// is nosniff, index entries are keyed hashes, and renderContext() degrades instead of throwing.
// Real oidc-provider over HTTPS.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { bffOptions, cookieJar, getToken, signIn, startBffTestbed, tokenHash, xhr } from './helpers/bff-idp.mjs';

const { createBff, memorySessionStore } = bffModule;
let tb;
before(async () => {
  // The default minRefreshIntervalMs (5 s); 5 s tokens with a 1 s buffer.
  tb = await startBffTestbed(bffModule, { bff: { refreshBufferMs: 1_000 } });
});
after(async () => {
  await tb?.close();
});

async function signedIn(loginHint = 'alice') {
  const jar = cookieJar();
  const { callback } = await signIn(jar, tb.app, { loginHint });
  assert.equal(callback.status, 200);
  return jar;
}

describe('forced refreshes are bounded: one redemption per session per minRefreshIntervalMs (default 5 s)', () => {
  test('forced calls, with X-Replaces-Token naming the token just handed out or without it, redeem at most once per interval', async () => {
    const jar = await signedIn();
    const login = (await getToken(jar, tb.app)).body.accessToken;
    const redemptions = tb.idp.counts.refresh_token;
    // Within 5 s of the login's token: every forced call gets the newest token, nothing is redeemed.
    for (let i = 0; i < 10; i++) {
      const r = await getToken(jar, tb.app, i % 2 ? { 'x-force-refresh': '1' } : { 'x-force-refresh': '1', 'x-replaces-token': tokenHash(login) });
      assert.equal(r.status, 200);
      assert.equal(r.body.accessToken, login);
    }
    assert.equal(tb.idp.counts.refresh_token - redemptions, 0, 'no redemption inside the interval');
    // Past the interval: one redemption, then the bound again.
    tb.clock.advance(5_001);
    const fresh = (await getToken(jar, tb.app, { 'x-force-refresh': '1', 'x-replaces-token': tokenHash(login) })).body.accessToken;
    assert.notEqual(fresh, login);
    for (let i = 0; i < 10; i++) {
      const r = await getToken(jar, tb.app, i % 2 ? { 'x-force-refresh': '1' } : { 'x-force-refresh': '1', 'x-replaces-token': tokenHash(fresh) });
      assert.equal(r.body.accessToken, fresh);
    }
    assert.equal(tb.idp.counts.refresh_token - redemptions, 1, 'one redemption for 21 forced calls over 5 s');
  });

  test('minRefreshIntervalMs: 0 turns the bound off; a negative value is NFT401', async () => {
    const unbounded = await tb.newBff({ minRefreshIntervalMs: 0 });
    tb.mount(unbounded);
    try {
      const jar = await signedIn('bob');
      const redemptions = tb.idp.counts.refresh_token;
      await getToken(jar, tb.app, { 'x-force-refresh': '1' });
      await getToken(jar, tb.app, { 'x-force-refresh': '1' });
      assert.equal(tb.idp.counts.refresh_token - redemptions, 2);
    } finally {
      tb.mount(tb.bff);
    }
    await assert.rejects(createBff(bffOptions(tb.idp, tb.app, { minRefreshIntervalMs: -1 })), (err) => err.code === 'NFT401' && /minRefreshIntervalMs/.test(err.message));
  });
});

describe('failed redemptions are bounded too', () => {
  test('after a failed redemption, calls for that session within minRefreshIntervalMs answer 503 without asking the IdP', async () => {
    const jar = await signedIn('fay');
    tb.clock.advance(60_000); // the login token is stale
    tb.idp.inject('token', { status: 503, body: '<html><title>busy</title></html>' });
    assert.equal((await getToken(jar, tb.app)).status, 503);
    const requests = tb.idp.tokenRequests.length + tb.idp.timeline.filter((t) => t === 'idp:token:inject').length;
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push((await getToken(jar, tb.app, i % 2 ? { 'x-force-refresh': '1' } : {})).status);
    assert.deepEqual([...new Set(answers)], [503]);
    assert.equal(tb.idp.tokenRequests.length + tb.idp.timeline.filter((t) => t === 'idp:token:inject').length, requests, 'nothing reached the IdP');
    tb.clock.advance(5_001);
    assert.equal((await getToken(jar, tb.app)).status, 200, 'past the interval it redeems');
  });

  test('a 429 with Retry-After from the IdP pauses every redemption of this BFF for that long', async () => {
    const a = await signedIn('gus');
    const b = await signedIn('hal');
    tb.clock.advance(60_000);
    tb.idp.inject('token', { status: 429, headers: { 'Retry-After': '30' }, body: { error: 'slow_down' } });
    const throttled = await getToken(a, tb.app);
    assert.equal(throttled.status, 503);
    const requests = tb.idp.timeline.filter((t) => t.startsWith('idp:token')).length;
    const other = await getToken(b, tb.app);
    assert.equal(other.status, 503, 'another session waits too');
    assert.ok(Number(other.response.headers.get('retry-after')) >= 29);
    assert.equal(tb.idp.timeline.filter((t) => t.startsWith('idp:token')).length, requests, 'nothing reached the IdP');
    tb.clock.advance(30_001);
    assert.equal((await getToken(b, tb.app)).status, 200);
  });

  test('an IdP that hands out tokens already expired (expires_in: 0) is not asked again on every call', async () => {
    const jar = await signedIn('ida');
    tb.clock.advance(60_000);
    tb.idp.inject('token', { commit: true, rewrite: (body) => ({ ...body, expires_in: 0 }) });
    await getToken(jar, tb.app);
    const requests = tb.idp.timeline.filter((t) => t.startsWith('idp:token')).length;
    for (let i = 0; i < 10; i++) assert.equal((await getToken(jar, tb.app)).status, 503);
    assert.equal(tb.idp.timeline.filter((t) => t.startsWith('idp:token')).length, requests);
  });
});

describe('login transactions are capped per browser', () => {
  test('any number of /auth/login calls leave at most 3 transaction cookies, and the newest login completes', async () => {
    const jar = cookieJar();
    const longPath = `/reports/${'x'.repeat(900)}`;
    for (let i = 0; i < 12; i++) {
      const login = await jar.fetch(`${tb.app.origin}/auth/login?returnUrl=${encodeURIComponent(`${longPath}${i}`)}`, { navigation: true });
      assert.equal(login.status, 302);
    }
    const transactions = jar.names(tb.app.origin).filter((n) => n.startsWith('__Host-nft-session-tx.'));
    assert.ok(transactions.length <= 3, `${transactions.length} transaction cookies`);
    assert.ok(jar.header(`${tb.app.origin}/`).length < 3 * 2_048, `Cookie header of ${jar.header(`${tb.app.origin}/`).length} bytes`);
    const { callback, target } = await signIn(jar, tb.app, { returnUrl: '/after' });
    assert.equal(callback.status, 200);
    assert.equal(target, '/after');
  });
});

describe('the memory store bounds sessions per account and evicts fairly', () => {
  const record = (owner, i) => ({ version: 1, expiresAt: Date.now() + 3_600_000, data: `sealed-${owner}-${i}`, index: [`sub:${owner}`] });

  test('a new session past maxSessionsPerUser ends that account’s oldest session, nobody else’s', async () => {
    const store = memorySessionStore({ maxSessionsPerUser: 2 });
    await store.set('a1', record('A', 1), 60_000);
    await store.set('b1', record('B', 1), 60_000);
    await store.set('a2', record('A', 2), 60_000);
    await store.set('a3', record('A', 3), 60_000);
    assert.equal(await store.get('a1'), null, 'A’s oldest went');
    assert.ok(await store.get('a2'));
    assert.ok(await store.get('a3'));
    assert.ok(await store.get('b1'), 'B is untouched');
    assert.deepEqual(await store.findByIndex('sub:A'), ['a2', 'a3']);
  });

  test('when full, the account holding the most sessions loses its oldest: one account cannot evict the others', async () => {
    const store = memorySessionStore({ maxSessions: 6, maxSessionsPerUser: 5 });
    await store.set('b1', record('B', 1), 60_000);
    await store.set('c1', record('C', 1), 60_000);
    for (let i = 1; i <= 4; i++) await store.set(`m${i}`, record('M', i), 60_000);
    // Full: M keeps signing in.
    for (let i = 5; i <= 9; i++) await store.set(`m${i}`, record('M', i), 60_000);
    assert.ok(await store.get('b1'), 'B survived M’s logins');
    assert.ok(await store.get('c1'), 'C survived M’s logins');
    // A new user still gets in, at M's expense.
    await store.set('d1', record('D', 1), 60_000);
    assert.ok(await store.get('d1'));
    assert.ok(await store.get('b1'));
    assert.equal((await store.findByIndex('sub:M')).length, 3);
  });
});

describe('the memory store never evicts another account’s only session', () => {
  const record = (owner, i) => ({ version: 1, expiresAt: Date.now() + 3_600_000, data: `sealed-${owner}-${i}`, ...(owner ? { index: [`sub:${owner}`] } : {}) });

  test('records without an account (markers, one-time references) go first; when every account holds one session a new one is refused', async () => {
    const store = memorySessionStore({ maxSessions: 4 });
    await store.set('a1', record('A', 1), 60_000);
    await store.set('b1', record('B', 1), 60_000);
    await store.set('x1', record(null, 1), 60_000); // a short-lived record of the BFF's own
    await store.set('c1', record('C', 1), 60_000);
    await store.set('d1', record('D', 1), 60_000);
    assert.equal(await store.get('x1'), null, 'the ownerless record made room');
    for (const k of ['a1', 'b1', 'c1', 'd1']) assert.ok(await store.get(k), k);
    await assert.rejects(store.set('e1', record('E', 1), 60_000), /full/);
    for (const k of ['a1', 'b1', 'c1', 'd1']) assert.ok(await store.get(k), `${k} kept`);
  });

  test('one-time claims are bounded: past the cap the oldest claim goes', async () => {
    const store = memorySessionStore({ maxSessions: 1_000 });
    assert.equal(await store.claimOnce('first', 600_000), true);
    for (let i = 0; i < 1_000; i++) await store.claimOnce(`flood-${i}`, 600_000);
    assert.equal(await store.claimOnce('first', 600_000), true, 'the oldest claim was dropped, not kept forever');
  });
});

describe('the rest', () => {
  test('an onEvent that throws or rejects changes nothing: login works, logout revokes and clears the cookie, no unhandled rejection, one warning', async () => {
    const warnings = [];
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const onEvent of [
        () => {
          throw new Error('metrics down');
        },
        async () => {
          throw new Error('metrics down (async)');
        },
      ]) {
        const bff = await tb.newBff({ onEvent, logger: { warn: (m) => warnings.push(m) } });
        tb.mount(bff);
        const before = warnings.length;
        const jar = await signedIn('olga');
        const revocations = tb.idp.revocations.length;
        const out = await jar.fetch(`${tb.app.origin}/auth/logout`, { method: 'POST', headers: xhr(tb.app) });
        assert.equal(out.status, 200);
        assert.ok(out.headers.getSetCookie().some((c) => c.startsWith('__Host-nft-session=;')), 'the cookie is cleared');
        assert.equal(tb.idp.revocations.length - revocations, 1, 'the refresh token was revoked');
        await new Promise((r) => setImmediate(r));
        assert.equal(warnings.slice(before).filter((w) => /onEvent/.test(w)).length, 1, 'one warning for this BFF');
        assert.ok(!warnings.some((w) => /metrics down/.test(w)), 'the warning holds no detail of the error');
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(unhandled, [], 'no unhandled rejection');
    } finally {
      process.off('unhandledRejection', onUnhandled);
      tb.mount(tb.bff);
    }
  });

  test('forwardedLoginParams refuses protocol parameters with NFT401 naming them', async () => {
    for (const bad of ['state', 'redirect_uri', 'code_challenge', 'client_id', 'scope', 'nonce', 'Response_Type']) {
      await assert.rejects(
        createBff(bffOptions(tb.idp, tb.app, { forwardedLoginParams: ['login_hint', bad] })),
        (err) => err.code === 'NFT401' && err.message.includes('forwardedLoginParams') && err.message.includes(bad),
        bad,
      );
    }
  });

  test('every answer of the BFF is nosniff', async () => {
    const jar = await signedIn('nina');
    const answers = {
      'token 200': await jar.fetch(`${tb.app.origin}/session/token`, { headers: xhr(tb.app) }),
      'token 403': await jar.fetch(`${tb.app.origin}/session/token`),
      'user 200': await jar.fetch(`${tb.app.origin}/session/user`, { headers: xhr(tb.app) }),
      'user 401': await fetch(`${tb.app.origin}/session/user`, { headers: xhr(tb.app) }),
      'login 302': await jar.fetch(`${tb.app.origin}/auth/login`, { navigation: true }),
      'callback 400': await jar.fetch(`${tb.app.origin}/auth/callback?state=x&code=y`, { navigation: true }),
      '405': await jar.fetch(`${tb.app.origin}/auth/logout`),
      'back-channel 400': await fetch(`${tb.app.origin}/auth/backchannel-logout`, { method: 'POST' }),
      'end-session 302': await fetch(`${tb.app.origin}/auth/end-session?ref=x`, { redirect: 'manual' }),
      'logout 200': await jar.fetch(`${tb.app.origin}/auth/logout`, { method: 'POST', headers: xhr(tb.app) }),
    };
    for (const [what, res] of Object.entries(answers)) assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
  });

  test('index entries are keyed hashes (HMAC): a store dump does not tell whether a known user has a session', async () => {
    await signedIn('quinn');
    const written = tb.rec.calls.filter((c) => c.method === 'set').flatMap((c) => c.args[1].index ?? []);
    const unkeyed = `sub:${createHash('sha256').update(`${new URL(tb.idp.issuer).href}\nsub\nquinn`).digest('base64url')}`;
    assert.ok(written.length > 0);
    assert.ok(!written.includes(unkeyed), 'not the plain SHA-256 of the sub');
    // Another secret gives other entries for the same user.
    const rec = tb.rec.calls.length;
    const other = await tb.newBff({ secrets: ['another-session-key-0123456789abcdef-DDDD'] });
    tb.mount(other);
    try {
      await signedIn('quinn');
    } finally {
      tb.mount(tb.bff);
    }
    const otherEntries = tb.rec.calls.slice(rec).filter((c) => c.method === 'set').flatMap((c) => c.args[1].index ?? []);
    assert.ok(otherEntries.length > 0 && otherEntries.every((e) => !written.includes(e)), 'entries depend on the secret');
  });

  test('a made-up end-session reference stores nothing', async () => {
    const claims = tb.rec.calls.filter((c) => c.method === 'claimOnce' || c.method === 'set').length;
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${tb.app.origin}/auth/end-session?ref=${'A'.repeat(42)}${String.fromCharCode(65 + (i % 26))}`, { redirect: 'manual' });
      assert.equal(res.status, 302);
    }
    assert.equal(tb.rec.calls.filter((c) => c.method === 'claimOnce' || c.method === 'set').length, claims);
  });

  test('a session caches at most 16 token slots (resources/scopes): the oldest goes', async () => {
    const jar = await signedIn('sam');
    const request = () => new Request(`${tb.app.origin}/x`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } });
    // 17 scope strings the IdP grants (each a slot of its own: the order of the words counts).
    const words = ['openid', 'profile', 'email'];
    const variants = ['api'];
    for (const w of words) variants.push(`api ${w}`, `${w} api`);
    for (const w of words) for (const v of words) if (w !== v) variants.push(`api ${w} ${v}`);
    variants.push('openid profile email api', 'email profile openid api', 'profile openid email api', 'api openid profile email');
    assert.equal(variants.length, 17);
    for (const scope of variants) assert.ok(await tb.bff.accessToken(request(), { scope }), scope);
    // 1 default slot + 17: the two oldest are gone, so asking for the first scope again redeems again.
    const redemptions = tb.idp.counts.refresh_token;
    await tb.bff.accessToken(request(), { scope: variants[0] });
    assert.equal(tb.idp.counts.refresh_token - redemptions, 1, 'the oldest slot was dropped');
    const newest = tb.idp.counts.refresh_token;
    await tb.bff.accessToken(request(), { scope: variants.at(-1) });
    assert.equal(tb.idp.counts.refresh_token, newest, 'a recent slot is still cached');
  });

  test('renderContext() never rejects: with the store down it answers no context', async () => {
    const jar = await signedIn('rita');
    const down = {};
    for (const name of Object.keys(tb.rec.store)) down[name] = async () => Promise.reject(new Error('store down'));
    const bff = await tb.newBff({ store: down, storeTimeoutMs: 200 });
    const context = await bff.renderContext(new Request(`${tb.app.origin}/dashboard`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } }));
    assert.deepEqual(context, {});
  });
});
