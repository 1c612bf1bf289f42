// ngx-fresh-token/bff sessions against a real oidc-provider 9: idle and absolute lifetime on a fake
// clock shared by the BFF and memorySessionStore (no real waiting), key rotation of the sealing
// secrets, and the CSRF rules (X-CSRF header, foreign Origin, Sec-Fetch-Site: cross-site).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { TEST_SECRETS, cookieJar, getToken, getUser, sessionCookieLines, signIn, startBffTestbed, tokenHash, xhr } from './helpers/bff-idp.mjs';

const MIN = 60_000;
let tb;
before(async () => {
  tb = await startBffTestbed(bffModule, { bff: { session: { idleMs: 10 * MIN, absoluteMs: 30 * MIN }, refreshBufferMs: 1_000 } });
});
after(async () => {
  await tb?.close();
});

async function signedIn(loginHint = 'alice') {
  tb.clock.set(Date.now()); // each test starts at the real time (the IdP's tokens carry real times)
  const jar = cookieJar();
  await signIn(jar, tb.app, { loginHint });
  return { jar, key: tb.rec.keys().at(-1), cookie: jar.header(`${tb.app.origin}/`) };
}
const withCookie = (cookie, path = '/session/user', init = {}) =>
  fetch(`${tb.app.origin}${path}`, { ...init, headers: { cookie, ...xhr(tb.app), ...(init.headers ?? {}) } });

describe('bff session lifetime (fake clock)', () => {
  test('an idle session ends after idleMs without a request; requests slide it', async () => {
    const { jar, key, cookie } = await signedIn();
    assert.equal((await getUser(jar, tb.app)).status, 200);
    tb.clock.advance(9 * MIN);
    assert.equal((await getUser(jar, tb.app)).status, 200, '9 min idle: alive, and slid');
    tb.clock.advance(9 * MIN);
    assert.equal((await getUser(jar, tb.app)).status, 200, '18 min after login, 9 min idle: alive');
    tb.clock.advance(10 * MIN + 1_000);
    const res = await getToken(jar, tb.app);
    assert.equal(res.status, 401, 'idle for longer than idleMs: signed out');
    assert.equal(sessionCookieLines(res.response).cleared.length, 1, 'the cookie is cleared');
    assert.equal(await tb.rec.inner.get(key), null, 'the store entry is gone');
    assert.equal((await withCookie(cookie)).status, 401);
  });

  test('sliding never passes the absolute limit', async () => {
    const { jar, key, cookie } = await signedIn('bob');
    const t0 = tb.clock.now();
    const first = await getUser(jar, tb.app);
    assert.equal(first.status, 200);
    assert.ok(Math.abs(first.body.expiresAt - (t0 + 30 * MIN)) <= 5_000, 'expiresAt is the absolute end');
    for (const step of [1, 2, 3]) {
      tb.clock.advance(8 * MIN);
      const r = await getUser(jar, tb.app);
      assert.equal(r.status, 200, `${8 * step} min: alive`);
      assert.equal(r.body.expiresAt, first.body.expiresAt, 'the absolute end does not slide');
    }
    const record = await tb.rec.inner.get(key);
    assert.ok(record.expiresAt <= t0 + 30 * MIN + 5_000, 'the store record ends at the absolute limit');
    tb.clock.advance(8 * MIN); // 32 min after login, 8 min idle
    const res = await getToken(jar, tb.app);
    assert.equal(res.status, 401, 'past the absolute limit: signed out although never idle');
    assert.equal(sessionCookieLines(res.response).cleared.length, 1);
    assert.equal(await tb.rec.inner.get(key), null);
    assert.equal((await withCookie(cookie)).status, 401);
    assert.equal(await tb.bff.session(new Request(`${tb.app.origin}/`, { headers: { cookie } })), null);
  });
});

describe('bff sealing keys', () => {
  test('secrets: [new, old] opens sessions sealed under old, and the next write seals under new (an old-key-only instance then answers 503)', async () => {
    // Both sessions sealed under TEST_SECRETS[0] by the testbed's BFF.
    const s1 = await signedIn('carol');
    const s2 = await signedIn('carol');
    const rotated = await tb.newBff({ secrets: [TEST_SECRETS[1], TEST_SECRETS[0]] });
    const onlyNew = await tb.newBff({ secrets: [TEST_SECRETS[1]] });
    const onlyOld = await tb.newBff({ secrets: [TEST_SECRETS[0]] });
    const token = async (bff, cookie, headers = {}) => bff.handle(new Request(`${tb.app.origin}/session/token`, { headers: { cookie, ...xhr(tb.app), ...headers } }));

    // [new, old] opens the old seal.
    const opened = await token(rotated, s1.cookie);
    assert.equal(opened.status, 200);
    const held = (await opened.json()).accessToken;
    assert.equal((await rotated.session(new Request(tb.app.origin, { headers: { cookie: s1.cookie } })))?.sub, 'carol');
    // A write (a forced refresh, past minRefreshIntervalMs) seals it under the new key: the new key alone
    // now opens it; an instance that holds only the old key answers 503 NFT412 (a newer key, mid rolling
    // deploy) and deletes nothing.
    tb.clock.advance(6_000);
    const refreshed = await token(rotated, s1.cookie, { 'x-force-refresh': '1', 'x-replaces-token': tokenHash(held) });
    assert.equal(refreshed.status, 200);
    assert.equal((await onlyNew.session(new Request(tb.app.origin, { headers: { cookie: s1.cookie } })))?.sub, 'carol', 'resealed under the new key');
    await assert.rejects(onlyOld.session(new Request(tb.app.origin, { headers: { cookie: s1.cookie } })), (err) => err.code === 'NFT412' && err.status === 503);
    assert.equal((await onlyNew.session(new Request(tb.app.origin, { headers: { cookie: s1.cookie } })))?.sub, 'carol', 'the old-key instance deleted nothing');

    // A session sealed under a removed key reads as signed out.
    const removed = await token(onlyNew, s2.cookie);
    assert.equal(removed.status, 401);
    const other = await tb.newBff({ secrets: [TEST_SECRETS[2]] });
    assert.equal(await other.session(new Request(tb.app.origin, { headers: { cookie: s1.cookie } })), null);
  });
});

describe('bff CSRF rules', () => {
  test('/session/token without X-CSRF answers 403 NFT407 (GET and POST)', async () => {
    const { cookie } = await signedIn('dave');
    for (const method of ['GET', 'POST']) {
      const res = await fetch(`${tb.app.origin}/session/token`, { method, headers: { cookie, origin: tb.app.origin } });
      assert.equal(res.status, 403, method);
      const body = await res.json();
      assert.equal(body.code, 'NFT407');
      assert.ok(!JSON.stringify(body).includes('eyJ'), 'no token in a refusal');
    }
    assert.equal((await withCookie(cookie, '/session/token')).status, 200, 'with X-CSRF: 1 it answers');
  });

  test('POST /auth/logout without X-CSRF answers 403 and keeps the session', async () => {
    const { cookie } = await signedIn('dave');
    const revocations = tb.idp.counts.revocation;
    const res = await fetch(`${tb.app.origin}/auth/logout`, { method: 'POST', headers: { cookie, origin: tb.app.origin } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, 'NFT407');
    assert.equal(sessionCookieLines(res).cleared.length, 0);
    assert.equal(tb.idp.counts.revocation, revocations, 'nothing revoked');
    assert.equal((await withCookie(cookie)).status, 200);
  });

  test('a foreign Origin or Sec-Fetch-Site: cross-site answers 403, even with X-CSRF', async () => {
    const { cookie } = await signedIn('dave');
    for (const path of ['/session/token', '/auth/logout']) {
      const foreign = await fetch(`${tb.app.origin}${path}`, { method: 'POST', headers: { cookie, 'x-csrf': '1', origin: 'https://evil.example' } });
      assert.equal(foreign.status, 403, `${path}: foreign Origin`);
      assert.equal((await foreign.json()).code, 'NFT407');
      const crossSite = await fetch(`${tb.app.origin}${path}`, { method: 'POST', headers: { cookie, 'x-csrf': '1', 'sec-fetch-site': 'cross-site' } });
      assert.equal(crossSite.status, 403, `${path}: Sec-Fetch-Site cross-site`);
    }
    const nullOrigin = await fetch(`${tb.app.origin}/session/token`, { headers: { cookie, 'x-csrf': '1', origin: 'null' } });
    assert.equal(nullOrigin.status, 403, 'Origin: null is foreign');
    assert.equal((await withCookie(cookie)).status, 200, 'the session survives');
    assert.equal((await withCookie(cookie, '/session/token', { method: 'POST' })).status, 200, 'same origin with X-CSRF: 1 passes');
  });

  test('the back-channel logout route needs no CSRF header (server to server)', async () => {
    const res = await fetch(`${tb.app.origin}/auth/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'logout_token=not-a-jwt',
    });
    assert.equal(res.status, 400, 'refused for its token, not for CSRF');
  });
});
