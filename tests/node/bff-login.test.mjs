// ngx-fresh-token/bff sign-in against a real oidc-provider 9: the whole login as a 302 chain walked
// by a browser-like cookie jar, the callback's checks (state, transaction cookie, replayed code, IdP
// error), open-redirect forms of returnUrl, cookie attributes, the same-site hop after the callback,
// /session/user's claim filter and handle() leaving other paths alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import {
  accountClaims,
  cookieJar,
  getUser,
  jwtClaims,
  parseSetCookie,
  clearsCookie,
  sessionCookieLines,
  signIn,
  startBffTestbed,
  walkIdp,
  xhr,
} from './helpers/bff-idp.mjs';

let tb;
before(async () => {
  tb = await startBffTestbed(bffModule);
});
after(async () => {
  await tb?.close();
});

const sessionWrites = () => tb.rec.calls.filter((c) => c.method === 'set' || c.method === 'compareAndSet').length;
const TX_PREFIX = '__Host-nft-session-tx.';

/** Starts a login and walks the IdP up to (not into) the callback. */
async function toCallback(jar, returnUrl = '/', loginHint = 'alice') {
  const login = await jar.fetch(`${tb.app.origin}/auth/login?returnUrl=${encodeURIComponent(returnUrl)}&login_hint=${loginHint}`, { navigation: true });
  assert.equal(login.status, 302, 'login redirects to the IdP');
  const { callbackUrl } = await walkIdp(jar, login.headers.get('location'), `${tb.app.origin}/auth/callback`);
  return { login, callbackUrl };
}

describe('bff sign-in (real oidc-provider)', () => {
  test('signs in through the whole 302 chain, and the hop page’s same-site request carries the session', async () => {
    const jar = cookieJar();
    const codesBefore = tb.idp.counts.authorization_code;
    const { login, authUrl, hops, callback, html, target } = await signIn(jar, tb.app, { returnUrl: '/dashboard?tab=1', loginHint: 'alice' });

    // The authorization request: code + PKCE S256, state, nonce, the forwarded login_hint.
    assert.equal(authUrl.origin + authUrl.pathname, `${tb.idp.issuer}/auth`);
    const q = authUrl.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), 'bff-basic');
    assert.equal(q.get('redirect_uri'), `${tb.app.origin}/auth/callback`);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok((q.get('state') ?? '').length >= 16, 'state is present and unguessable');
    assert.ok((q.get('nonce') ?? '').length >= 16, 'nonce is present and unguessable');
    assert.equal(q.get('login_hint'), 'alice');
    assert.ok(q.get('scope').split(' ').includes('openid'));
    assert.ok(!authUrl.href.includes('dashboard'), 'the returnUrl stays on the BFF side');

    // The login-transaction cookie: __Host-, HttpOnly, Secure, Path=/, SameSite=Lax, short, no Domain.
    const tx = login.headers.getSetCookie().map(parseSetCookie).filter((c) => c.name.startsWith(TX_PREFIX));
    assert.equal(tx.length, 1, 'one transaction cookie');
    assert.equal(tx[0].attrs.httponly, true);
    assert.equal(tx[0].attrs.secure, true);
    assert.equal(tx[0].attrs.path, '/');
    assert.equal(String(tx[0].attrs.samesite).toLowerCase(), 'lax');
    assert.equal(tx[0].attrs.domain, undefined);
    const txMaxAge = Number(tx[0].attrs['max-age']);
    assert.ok(txMaxAge > 0 && txMaxAge <= 3600, `short-lived transaction cookie (Max-Age ${tx[0].attrs['max-age']})`);

    assert.ok(hops.every((h) => h.url.startsWith(tb.idp.issuer)), 'every hop before the callback is at the IdP');

    // The callback: a 200 HTML hop page (not a 302), the session cookie, the transaction cookie cleared.
    assert.equal(callback.status, 200);
    assert.match(callback.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(callback.headers.get('location'), null);
    const { set } = sessionCookieLines(callback);
    assert.equal(set.length, 1, 'the callback sets the session cookie');
    const cookie = set[0];
    assert.equal(cookie.attrs.path, '/');
    assert.equal(cookie.attrs.secure, true);
    assert.equal(cookie.attrs.httponly, true);
    assert.equal(String(cookie.attrs.samesite).toLowerCase(), 'strict');
    assert.equal(cookie.attrs.domain, undefined);
    assert.match(cookie.value, /^[A-Za-z0-9_-]+$/, 'an opaque URL-safe id');
    assert.ok(cookie.value.length * 6 >= 128, `≥ 128 bits of id (${cookie.value.length} chars)`);
    const txCleared = callback.headers.getSetCookie().map(parseSetCookie).filter((c) => c.name === tx[0].name);
    assert.ok(txCleared.length === 1 && clearsCookie(txCleared[0]), 'the transaction cookie is cleared');
    assert.equal(tb.idp.counts.authorization_code - codesBefore, 1, 'one code redemption');

    // The hop: the page navigates same-site to the returnUrl, and that request carries the session.
    assert.equal(target, '/dashboard?tab=1');
    const page = await jar.fetch(new URL(target, tb.app.origin), { site: 'same-origin', navigation: true });
    assert.match(jar.sentLog.at(-1).cookie, /__Host-nft-session=/);
    const rendered = await page.json();
    assert.equal(rendered.page, '/dashboard?tab=1');
    assert.equal(rendered.session?.sub, 'alice', 'the first request after the callback is signed in');
    // What a plain 302 from the callback would have been: still the cross-site chain, without the Strict cookie.
    const crossSite = await (await jar.fetch(new URL(target, tb.app.origin), { site: 'cross-site', navigation: true })).json();
    assert.equal(crossSite.session, null);
  });

  test('/session/user shows only the allowed ID-token claims, never a token', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app, { loginHint: 'bob' });
    const { status, body } = await getUser(jar, tb.app);
    assert.equal(status, 200);
    const expected = accountClaims('bob');
    assert.deepEqual(body.user, { sub: 'bob', name: expected.name, preferred_username: 'bob', email: expected.email });
    assert.equal(typeof body.expiresAt, 'number');
    // For withBffSession() (#26): the absolute end relative to now, and the idle window this read restarted.
    assert.ok(Number.isInteger(body.expiresIn) && body.expiresIn > 0 && body.expiresIn <= 8 * 3600, `expiresIn ${body.expiresIn}`);
    assert.equal(body.idleMs, 30 * 60_000);
    const text = JSON.stringify(body);
    for (const token of tb.idp.allIssuedTokens()) assert.ok(!text.includes(token), 'no token in /session/user');
    assert.ok(!text.includes('payroll-admin') && !text.includes('"sid"'), 'no claim outside the allowed list');

    // An app's own list narrows it further.
    const narrow = await tb.newBff({ userClaims: ['sub', 'email'] });
    tb.mount(narrow);
    try {
      const narrowed = await getUser(jar, tb.app);
      assert.deepEqual(narrowed.body.user, { sub: 'bob', email: expected.email });
    } finally {
      tb.mount(tb.bff);
    }
    assert.equal((await getUser(cookieJar(), tb.app)).status, 401, 'signed out without a cookie');
  });

  test('with the default 30 s buffer, a token that lives 5 s is handed out again for the first half of its life: the login token is no refresh', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app, { loginHint: 'dave' });
    const request = () => new Request(`${tb.app.origin}/`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } });
    const redemptions = tb.idp.counts.refresh_token;
    const first = await tb.bff.accessToken(request());
    const second = await tb.bff.accessToken(request());
    assert.equal(second.accessToken, first.accessToken);
    assert.equal(tb.idp.counts.refresh_token, redemptions, 'the login token, cached: no redemption');
  });

  test('bff.session() and bff.accessToken() read the same session from a Request', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app, { loginHint: 'carol' });
    const request = new Request(`${tb.app.origin}/some/page`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } });
    const session = await tb.bff.session(request);
    assert.equal(session.sub, 'carol');
    assert.equal(session.user.sub, 'carol');
    assert.equal(typeof session.expiresAt, 'number');
    const grant = await tb.bff.accessToken(request);
    assert.ok(tb.idp.issued.accessTokens.includes(grant.accessToken), 'an access token the IdP issued');
    assert.equal(jwtClaims(grant.accessToken).sub, 'carol');
    assert.ok(grant.expiresAt > Date.now());
    const anonymous = new Request(`${tb.app.origin}/some/page`);
    assert.equal(await tb.bff.session(anonymous), null);
    assert.equal(await tb.bff.accessToken(anonymous), null);
  });

  test('a tampered state answers 400 and creates no session', async () => {
    const jar = cookieJar();
    const { callbackUrl } = await toCallback(jar);
    const tampered = new URL(callbackUrl);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    const writes = sessionWrites();
    const res = await jar.fetch(tampered, { site: 'cross-site', navigation: true });
    assert.equal(res.status, 400);
    assert.equal(sessionCookieLines(res).set.length, 0, 'no session cookie');
    assert.equal(sessionWrites(), writes, 'no session stored');
    assert.equal((await getUser(jar, tb.app)).status, 401);
  });

  test('a callback without its transaction cookie answers 400 and creates no session', async () => {
    const jar = cookieJar();
    const { callbackUrl } = await toCallback(jar);
    const writes = sessionWrites();
    const res = await jar.fetch(callbackUrl, { site: 'cross-site', navigation: true, cookies: false });
    assert.equal(res.status, 400);
    assert.equal(sessionCookieLines(res).set.length, 0);
    assert.equal(sessionWrites(), writes);
  });

  test('a replayed code (the same callback URL twice, with the transaction cookie kept) answers 400 and creates no session', async () => {
    const jar = cookieJar();
    const { callbackUrl } = await toCallback(jar);
    const keptCookie = jar.header(callbackUrl);
    assert.match(keptCookie, /__Host-nft-session-tx\./);
    const first = await jar.fetch(callbackUrl, { site: 'cross-site', navigation: true });
    assert.equal(first.status, 200);
    const writes = sessionWrites();
    const replay = await fetch(callbackUrl, { headers: { cookie: keptCookie, 'sec-fetch-site': 'cross-site' }, redirect: 'manual' });
    assert.equal(replay.status, 400);
    assert.equal(sessionCookieLines(replay).set.length, 0);
    assert.equal(sessionWrites(), writes, 'no second session');
  });

  test('an IdP whose token endpoint is down at the callback answers 503, not 400, and creates no session (no Retry-After: the way on is a new login)', async () => {
    const jar = cookieJar();
    const { callbackUrl } = await toCallback(jar);
    const writes = sessionWrites();
    const heal = tb.idp.fail('token', 503);
    try {
      const res = await jar.fetch(callbackUrl, { site: 'cross-site', navigation: true });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), null);
      assert.equal((await res.json()).code, 'NFT403');
      assert.equal(sessionCookieLines(res).set.length, 0);
      assert.equal(sessionWrites(), writes);
    } finally {
      heal();
    }
  });

  // Callbacks openid-client refuses before any request to the IdP are tampered ones (400 NFT405), not an outage (503):
  // an issuer mix-up (RFC 9207), a parameter sent twice, a JARM `response` the BFF never asked for.
  for (const [label, edit] of [
    ['an iss of another issuer (mix-up)', (u) => u.searchParams.set('iss', 'https://evil.example')],
    ['state sent twice', (u) => u.searchParams.append('state', u.searchParams.get('state'))],
    ['code sent twice', (u) => u.searchParams.append('code', 'second')],
    ['a JARM response parameter', (u) => u.searchParams.set('response', 'a.b.c')],
  ]) {
    test(`a tampered callback — ${label} — answers 400 NFT405, not an IdP outage, and creates no session`, async () => {
      const jar = cookieJar();
      const { callbackUrl } = await toCallback(jar);
      const tampered = new URL(callbackUrl);
      edit(tampered);
      const writes = sessionWrites();
      const res = await jar.fetch(tampered, { site: 'cross-site', navigation: true });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).code, 'NFT405');
      assert.equal(sessionCookieLines(res).set.length, 0);
      assert.equal(sessionWrites(), writes);
    });
  }

  test('an error from the IdP on the callback answers 400 and creates no session', async () => {
    const jar = cookieJar();
    const login = await jar.fetch(`${tb.app.origin}/auth/login?returnUrl=/`, { navigation: true });
    const state = new URL(login.headers.get('location')).searchParams.get('state');
    const writes = sessionWrites();
    const res = await jar.fetch(`${tb.app.origin}/auth/callback?error=access_denied&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(tb.idp.issuer)}`, {
      site: 'cross-site',
      navigation: true,
    });
    assert.equal(res.status, 400);
    assert.equal(sessionCookieLines(res).set.length, 0);
    assert.equal(sessionWrites(), writes);
  });

  describe('returnUrl must be a same-origin relative path', () => {
    const hostile = [
      '//evil.example/x',
      'https://evil.example/x',
      'http:evil.example',
      '/\\evil.example',
      '\\\\evil.example',
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      '%2F%2Fevil.example',
      '/%2F/evil.example',
      '/%5Cevil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      ' //evil.example',
    ];
    for (const returnUrl of hostile) {
      test(`${JSON.stringify(returnUrl)} falls back to /`, async () => {
        const { callback, target } = await signIn(cookieJar(), tb.app, { returnUrl });
        assert.equal(callback.status, 200);
        assert.equal(target, '/');
      });
    }

    test('a same-origin path with its query is kept, escaped in the hop page', async () => {
      const { html, target } = await signIn(cookieJar(), tb.app, { returnUrl: '/reports/2025?year=2025&view=full' });
      assert.equal(target, '/reports/2025?year=2025&view=full');
      assert.ok(!html.includes('year=2025&view'), 'the & is HTML-escaped');
    });

    test('markup in a same-origin path never reaches the hop page unescaped', async () => {
      const returnUrl = '/x"><script>alert(1)</script>';
      const { html, target } = await signIn(cookieJar(), tb.app, { returnUrl });
      assert.ok(!html.includes('<script>alert(1)'), 'no injected script');
      assert.ok(!/<script/i.test(html) && !html.includes('"><script'), 'no attribute break-out: the page has no script element at all');
      assert.ok(target === '/' || target === returnUrl || target === encodeURI(returnUrl), `hop target ${JSON.stringify(target)}`);
    });
  });

  test('handle() answers null for paths that are not its routes', async () => {
    for (const path of ['/', '/api/orders', '/auth/loginx', '/auth', '/session/tokens', '/session', '/auth/callback/extra', '/favicon.ico']) {
      assert.equal(await tb.bff.handle(new Request(`${tb.app.origin}${path}`, { headers: xhr(tb.app) })), null, path);
    }
    assert.deepEqual(tb.bff.routes, {
      login: '/auth/login',
      callback: '/auth/callback',
      logout: '/auth/logout',
      token: '/session/token',
      user: '/session/user',
      backchannelLogout: '/auth/backchannel-logout',
      endSession: '/auth/end-session',
    });
  });
});
