// ngx-fresh-token/bff's /session/token against a real oidc-provider 9 with rotating refresh tokens
// and reuse detection (a consumed refresh token used again revokes the grant): the cached token,
// a storm of forced calls for one held token before, during and after the IdP answers (its answer
// held by a gate) costing exactly one redemption, forced calls without X-Replaces-Token,
// invalid_grant ending the session, an unavailable IdP answering 503, and nothing plaintext in the store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { cookieJar, getToken, getUser, jwtClaims, sessionCookieLines, signIn, startBffTestbed, tokenHash, within } from './helpers/bff-idp.mjs';
import { waitFor } from './helpers/wait.mjs';

// 5 s access tokens; a 1 s buffer, so a token just issued is handed out again for about 4 s.
let tb;
const cookieIds = new Set();
before(async () => {
  tb = await startBffTestbed(bffModule, { bff: { refreshBufferMs: 1_000, minRefreshIntervalMs: 0 } });
});
after(async () => {
  await tb?.close();
});

async function signedIn(loginHint = 'alice') {
  const jar = cookieJar();
  const { callback } = await signIn(jar, tb.app, { loginHint });
  for (const c of sessionCookieLines(callback).set) cookieIds.add(c.value);
  return jar;
}
const forced = (replaces) => ({ 'x-force-refresh': '1', ...(replaces ? { 'x-replaces-token': tokenHash(replaces) } : {}) });
const getsSeen = () => tb.rec.calls.filter((c) => c.method === 'get').length;

describe('bff /session/token (real oidc-provider, rotating refresh tokens)', () => {
  test('hands out the cached token while it has more than the buffer left, redeeming nothing', async () => {
    const jar = await signedIn();
    const before = tb.idp.counts.refresh_token;
    const a = await getToken(jar, tb.app);
    const b = await getToken(jar, tb.app, {}, 'POST');
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.body.accessToken, b.body.accessToken);
    assert.equal(tb.idp.counts.refresh_token, before, 'no redemption');
    assert.match(a.response.headers.get('cache-control') ?? '', /no-store/);
    assert.equal(typeof a.body.expiresAt, 'number');
    assert.equal(typeof a.body.expiresIn, 'number');
    assert.ok(Math.abs(a.body.expiresAt - jwtClaims(a.body.accessToken).exp * 1000) <= 1_000, 'expiresAt is the token’s expiry');
    assert.ok(a.body.expiresIn > 0 && a.body.expiresIn <= 5, `expiresIn in seconds (${a.body.expiresIn})`);
    if (a.body.idToken !== undefined) assert.ok(tb.idp.issued.idTokens.includes(a.body.idToken));
    assert.equal(a.body.refreshToken, undefined, 'never the refresh token');
    assert.ok(!JSON.stringify(a.body).includes(tb.idp.issued.refreshTokens.at(-1)));
  });

  test('a storm of forced calls for one held token, before, during and after the IdP answers, costs exactly one redemption', async () => {
    const N = 6;
    const jar = await signedIn();
    const old = (await getToken(jar, tb.app)).body.accessToken;
    const redemptions = tb.idp.counts.refresh_token;
    const invalid = tb.idp.counts.invalid_grant;

    let arrived = 0;
    const onRequest = ({ path }) => path === '/session/token' && arrived++;
    tb.app.events.on('request', onRequest);
    try {
      const gate = tb.idp.holdRefreshes();
      const held = gate.held();
      const call = () => getToken(jar, tb.app, forced(old));
      // Before: N calls; one of them reaches the IdP, whose answer is held.
      const gets0 = getsSeen();
      const beforeCalls = Array.from({ length: N }, call);
      await within(held, 10_000, 'the refresh request to reach the IdP');
      // During: N more, while the IdP's answer is held; wait until they have reached the BFF's store.
      const duringCalls = Array.from({ length: N }, call);
      await waitFor(() => arrived >= 2 * N && getsSeen() - gets0 >= 2 * N, 10_000, 'the calls made during the hold to reach the BFF');
      assert.equal(tb.idp.counts.refresh_token - redemptions, 1, 'one redemption while held');
      gate.release();
      const first = await within(Promise.all([...beforeCalls, ...duringCalls]), 10_000, 'the held calls to answer');
      // After: N more for the same old token.
      const afterCalls = await within(Promise.all(Array.from({ length: N }, call)), 10_000, 'the later calls');

      const all = [...first, ...afterCalls];
      assert.deepEqual(all.map((r) => r.status), Array(3 * N).fill(200));
      const tokens = new Set(all.map((r) => r.body.accessToken));
      assert.equal(tokens.size, 1, 'one new token for all');
      const [fresh] = tokens;
      assert.notEqual(fresh, old);
      assert.equal(fresh, tb.idp.issued.accessTokens.at(-1), 'the token the one redemption issued');
      assert.equal(tb.idp.counts.refresh_token - redemptions, 1, 'exactly one refresh-grant redemption');
      assert.equal(tb.idp.counts.invalid_grant - invalid, 0, 'no invalid_grant');

      // The rotated refresh token was stored: a further forced redemption succeeds (the old one would
      // now be reuse, which makes oidc-provider revoke the whole grant).
      const next = await getToken(jar, tb.app, forced(fresh));
      assert.equal(next.status, 200);
      assert.notEqual(next.body.accessToken, fresh);
      assert.equal(tb.idp.counts.refresh_token - redemptions, 2);
      assert.equal(tb.idp.counts.invalid_grant - invalid, 0);
      assert.equal((await getUser(jar, tb.app)).status, 200);
    } finally {
      tb.app.events.off('request', onRequest);
    }
  });

  test('forced calls without X-Replaces-Token redeem, joining the one in flight', async () => {
    const jar = await signedIn();
    const held0 = (await getToken(jar, tb.app)).body.accessToken;
    const redemptions = tb.idp.counts.refresh_token;
    const gate = tb.idp.holdRefreshes();
    const held = gate.held();
    const gets0 = getsSeen();
    const calls = Array.from({ length: 4 }, () => getToken(jar, tb.app, forced()));
    await within(held, 10_000, 'the refresh request to reach the IdP');
    await waitFor(() => getsSeen() - gets0 >= 4, 10_000, 'the four calls to reach the BFF');
    gate.release();
    const answers = await within(Promise.all(calls), 10_000, 'the joined calls');
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(new Set(answers.map((r) => r.body.accessToken)).size, 1, 'all joined one redemption');
    assert.notEqual(answers[0].body.accessToken, held0);
    assert.equal(tb.idp.counts.refresh_token - redemptions, 1);
    // A later forced call without the header redeems again, although the token is fresh.
    const again = await getToken(jar, tb.app, forced());
    assert.equal(again.status, 200);
    assert.notEqual(again.body.accessToken, answers[0].body.accessToken);
    assert.equal(tb.idp.counts.refresh_token - redemptions, 2);
  });

  test('an unavailable IdP answers 503 with Retry-After and keeps the session', async () => {
    const jar = await signedIn();
    const old = (await getToken(jar, tb.app)).body.accessToken;
    const heal = tb.idp.fail('token', 503);
    let down;
    try {
      down = await getToken(jar, tb.app, forced(old));
    } finally {
      heal();
    }
    assert.equal(down.status, 503);
    assert.match(down.response.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(sessionCookieLines(down.response).cleared.length, 0, 'the cookie is kept');
    assert.equal(typeof down.body.error, 'string');
    assert.equal((await getUser(jar, tb.app)).status, 200, 'the session is kept');
    const back = await getToken(jar, tb.app, forced(old));
    assert.equal(back.status, 200);
    assert.notEqual(back.body.accessToken, old);
  });

  test('invalid_grant ends the session: deleted, cookie cleared, 401', async () => {
    const jar = await signedIn('dave');
    const old = (await getToken(jar, tb.app)).body.accessToken;
    const cookie = jar.header(`${tb.app.origin}/`);
    const key = tb.rec.keys().at(-1);
    // Someone else consumes the session's refresh token at the IdP: the BFF's copy is now reuse.
    const stolen = tb.idp.issued.refreshTokens.at(-1);
    assert.equal((await tb.idp.tryRefresh(stolen)).status, 200);
    const deletes = tb.rec.calls.filter((c) => (c.method === 'delete' || c.method === 'compareAndDelete') && c.args[0] === key).length;
    const res = await getToken(jar, tb.app, forced(old));
    assert.equal(res.status, 401);
    assert.equal(typeof res.body.error, 'string');
    assert.equal(sessionCookieLines(res.response).cleared.length, 1, 'the cookie is cleared');
    assert.ok(tb.rec.calls.filter((c) => (c.method === 'delete' || c.method === 'compareAndDelete') && c.args[0] === key).length > deletes, 'the store entry is deleted');
    assert.equal(await tb.rec.inner.get(key), null);
    const withOldCookie = await fetch(`${tb.app.origin}/session/user`, { headers: { cookie, 'x-csrf': '1' } });
    assert.equal(withOldCookie.status, 401, 'the old cookie no longer opens a session');
  });

  test('nothing the store receives holds a plaintext token or the raw cookie id', async () => {
    // Every call of this file's store (logins, cached and forced refreshes, 503s, invalid_grant).
    const jar = await signedIn('erin');
    await getToken(jar, tb.app, forced());
    const seen = JSON.stringify(tb.rec.calls);
    const tokens = tb.idp.allIssuedTokens();
    assert.ok(tokens.length > 10 && cookieIds.size >= 5, 'the file produced tokens and sessions to look for');
    for (const token of tokens) {
      assert.ok(!seen.includes(token), 'no token in the store');
      for (const part of token.split('.').filter((p) => p.length > 40)) assert.ok(!seen.includes(part), 'no part of a token in the store');
    }
    for (const id of cookieIds) assert.ok(!seen.includes(id), 'no raw cookie id in the store');
    for (const call of tb.rec.calls) {
      const records = call.method === 'set' ? [call.args[1]] : call.method === 'compareAndSet' ? [call.args[2]] : call.method === 'get' && call.result ? [call.result] : [];
      for (const record of records) {
        for (const field of Object.keys(record)) assert.ok(['version', 'expiresAt', 'data', 'index'].includes(field), `record field ${field}`);
        assert.equal(typeof record.data, 'string');
        for (const entry of record.index ?? []) assert.ok(!/alice|dave|erin/.test(entry), 'index entries are hashes, not the sub');
      }
    }
    const sids = tb.idp.issued.idTokens.map((t) => jwtClaims(t).sid).filter(Boolean);
    for (const sid of sids) assert.ok(!seen.includes(sid), 'no raw sid in the store');
  });

  test('tokens for another scope are cached and redeemed apart, never merged into one answer, one redemption at a time', async () => {
    const jar = await signedIn();
    const request = () => new Request(`${tb.app.origin}/orders`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } });
    const redemptions = tb.idp.counts.refresh_token;
    const invalid = tb.idp.counts.invalid_grant;
    // Concurrent forced calls for the default token and for a narrower scope: two slots, two redemptions,
    // serialized (they share one rotating refresh token), so reuse detection never fires.
    const [a1, narrow1, a2, narrow2] = await Promise.all([
      tb.bff.accessToken(request(), { forceRefresh: true }),
      tb.bff.accessToken(request(), { forceRefresh: true, scope: 'api' }),
      tb.bff.accessToken(request(), { forceRefresh: true }),
      tb.bff.accessToken(request(), { forceRefresh: true, scope: 'api' }),
    ]);
    assert.equal(tb.idp.counts.refresh_token - redemptions, 2, 'one redemption per slot');
    assert.equal(tb.idp.counts.invalid_grant, invalid, 'no invalid_grant');
    assert.equal(a1.accessToken, a2.accessToken, 'callers of one slot share its redemption');
    assert.equal(narrow1.accessToken, narrow2.accessToken);
    assert.notEqual(a1.accessToken, narrow1.accessToken, 'the other scope got its own token');
    assert.equal(jwtClaims(narrow1.accessToken).scope, 'api');
    // Each slot is cached: unforced calls redeem nothing more.
    assert.equal((await tb.bff.accessToken(request(), { scope: 'api' })).accessToken, narrow1.accessToken);
    assert.equal((await tb.bff.accessToken(request())).accessToken, a1.accessToken);
    assert.equal(tb.idp.counts.refresh_token - redemptions, 2);
  });

  test('a scope the IdP refuses answers NFT411 and keeps the session', async () => {
    const jar = await signedIn();
    const request = () => new Request(`${tb.app.origin}/orders`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } });
    await assert.rejects(tb.bff.accessToken(request(), { forceRefresh: true, scope: 'api admin-not-granted' }), (err) => err.code === 'NFT411' && err.status === 400);
    assert.equal((await getToken(jar, tb.app)).status, 200, 'still signed in');
  });
});
