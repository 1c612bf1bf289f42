// ngx-fresh-token/bff sign-out against a real oidc-provider 9: POST /auth/logout deletes the session
// first, then revokes the refresh token once (RFC 7009) so it is dead at the IdP, even when the
// revocation fails; OpenID Connect Back-Channel Logout from the IdP itself (by sid, after the user
// signed out at the IdP), by sub, a replayed logout token and forged ones refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { cookieJar, jwtClaims, sessionCookieLines, signIn, startBffTestbed, xhr } from './helpers/bff-idp.mjs';

let tb;
before(async () => {
  tb = await startBffTestbed(bffModule);
});
after(async () => {
  await tb?.close();
});

/** Signs in with a new jar (a new browser, so a new IdP session); returns the jar, the Cookie header and the session's tokens. */
async function signedIn(loginHint = 'alice') {
  const jar = cookieJar();
  await signIn(jar, tb.app, { loginHint });
  return {
    jar,
    cookie: jar.header(`${tb.app.origin}/`),
    refreshToken: tb.idp.issued.refreshTokens.at(-1),
    idToken: tb.idp.issued.idTokens.at(-1),
    key: tb.rec.keys().at(-1),
  };
}
const userStatus = async (cookie) => (await fetch(`${tb.app.origin}/session/user`, { headers: { cookie, ...xhr(tb.app) } })).status;
const logout = (cookie) => fetch(`${tb.app.origin}/auth/logout`, { method: 'POST', headers: { cookie, ...xhr(tb.app) } });
const postLogoutToken = (logoutToken) =>
  fetch(`${tb.app.origin}/auth/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: logoutToken }),
  });

describe('bff sign-out (real oidc-provider)', () => {
  test('logout deletes the session, then revokes the refresh token once, and it is dead at the IdP', async () => {
    const s = await signedIn();
    const revocations = tb.idp.revocations.length;
    const mark = tb.idp.timeline.length;
    const res = await logout(s.cookie);
    assert.equal(res.status, 200);
    const answer = await res.text();
    assert.ok(!answer.includes(s.idToken) && !answer.includes(s.idToken.split('.')[1]), 'the ID token never reaches JavaScript');
    const { endSessionUrl } = JSON.parse(answer);
    // The BFF's own one-time hop, which adds the hint server-side.
    const hop = new URL(endSessionUrl);
    assert.equal(hop.origin + hop.pathname, `${tb.app.origin}/auth/end-session`);
    assert.match(hop.searchParams.get('ref') ?? '', /^[A-Za-z0-9_-]{43}$/);
    const redirect = await fetch(endSessionUrl, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('referrer-policy'), 'no-referrer');
    assert.match(redirect.headers.get('cache-control') ?? '', /no-store/);
    const end = new URL(redirect.headers.get('location'));
    assert.equal(end.origin + end.pathname, `${tb.idp.issuer}/session/end`);
    assert.equal(end.searchParams.get('id_token_hint'), s.idToken);
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${tb.app.origin}/`);
    // One time only: the same link again still signs out at the IdP (which then asks), but without the hint.
    const again = new URL((await fetch(endSessionUrl, { redirect: 'manual' })).headers.get('location'));
    assert.equal(again.origin + again.pathname, `${tb.idp.issuer}/session/end`);
    assert.equal(again.searchParams.get('id_token_hint'), null);
    assert.equal(sessionCookieLines(res).cleared.length, 1, 'the cookie is cleared');

    const made = tb.idp.revocations.slice(revocations);
    assert.equal(made.length, 1, 'exactly one revocation');
    assert.equal(made[0].tokenTypeHint, 'refresh_token');
    assert.equal(made[0].token, s.refreshToken, 'the session’s refresh token');
    assert.equal(made[0].status, 200);
    const steps = tb.idp.timeline.slice(mark);
    const deleted = steps.indexOf('store:delete');
    assert.ok(deleted >= 0 && deleted < steps.indexOf('idp:revocation:200'), `the session is deleted before the revocation (${steps.join(', ')})`);
    assert.equal(await tb.rec.inner.get(s.key), null);

    assert.equal(await userStatus(s.cookie), 401, 'the old cookie opens nothing');
    const dead = await tb.idp.tryRefresh(s.refreshToken);
    assert.equal(dead.error, 'invalid_grant', 'the refresh token is dead at the IdP');
  });

  test('a failed revocation (IdP down) still ends the session', async () => {
    const s = await signedIn();
    const heal = tb.idp.fail('revocation', 503);
    let res;
    try {
      res = await logout(s.cookie);
    } finally {
      heal();
    }
    assert.equal(res.status, 200);
    assert.ok(typeof (await res.json()).endSessionUrl === 'string');
    assert.equal(sessionCookieLines(res).cleared.length, 1);
    assert.equal(await userStatus(s.cookie), 401);
    assert.equal(await tb.rec.inner.get(s.key), null);
  });

  test('a store that fails the end-session reference after the session was deleted still signs out: 200, cookie cleared, the IdP’s end-session URL without the hint', async () => {
    const s = await signedIn();
    // The same store, whose writes fail from now on (the session's delete still works).
    const bff = await tb.newBff({ store: { ...tb.rec.store, set: async () => Promise.reject(new Error('store down')) } });
    tb.mount(bff);
    try {
      const res = await logout(s.cookie);
      assert.equal(res.status, 200);
      assert.equal(sessionCookieLines(res).cleared.length, 1);
      const end = new URL((await res.json()).endSessionUrl);
      assert.equal(end.origin + end.pathname, `${tb.idp.issuer}/session/end`);
      assert.equal(end.searchParams.get('id_token_hint'), null, 'no ID token in what JavaScript sees');
    } finally {
      tb.mount(tb.bff);
    }
  });

  test('logout without a session answers 200 and clears the cookie, revoking nothing', async () => {
    const revocations = tb.idp.revocations.length;
    const res = await fetch(`${tb.app.origin}/auth/logout`, { method: 'POST', headers: xhr(tb.app) });
    assert.ok(res.status === 200 || res.status === 401, `status ${res.status}`);
    assert.equal(tb.idp.revocations.length, revocations);
  });
});

describe('bff back-channel logout (OpenID Connect Back-Channel Logout 1.0)', () => {
  test('the IdP’s own logout token ends the sessions of that sid only; a replay is refused', async () => {
    const a1 = await signedIn('alice');
    const a2 = await signedIn('alice'); // another browser: another IdP session, another sid
    const b = await signedIn('bob');
    const sid1 = jwtClaims(a1.idToken).sid;
    assert.ok(sid1 && sid1 !== jwtClaims(a2.idToken).sid, 'two IdP sessions, two sids');

    // alice signs out at the IdP in browser 1: oidc-provider posts a logout token to the BFF.
    const posts = await tb.idp.endIdpSession(a1.jar);
    assert.equal(posts.length, 1);
    assert.equal(jwtClaims(posts[0].logoutToken).sid, sid1);
    assert.equal(posts[0].status, 200, 'the BFF accepted the IdP’s logout token');
    assert.equal(await userStatus(a1.cookie), 401, 'that sid’s session ended');
    assert.equal(await tb.rec.inner.get(a1.key), null);
    assert.equal(await userStatus(a2.cookie), 200, 'another session of the same user stays');
    assert.equal(await userStatus(b.cookie), 200, 'another user stays');

    const replay = await postLogoutToken(posts[0].logoutToken);
    assert.equal(replay.status, 400, 'a replayed jti is refused');
  });

  test('a logout token with sid straight from the IdP (Client#backchannelLogout) ends that session', async () => {
    const c = await signedIn('carol');
    const other = await signedIn('carol');
    const posted = await tb.idp.backchannelLogout({ sub: 'carol', sid: jwtClaims(c.idToken).sid });
    assert.equal(posted.status, 200);
    assert.equal(await userStatus(c.cookie), 401);
    assert.equal(await userStatus(other.cookie), 200);
  });

  test('a logout token with only sub ends all sessions of that user', async () => {
    const a = await signedIn('dana');
    const a2 = await signedIn('dana');
    const b = await signedIn('bob');
    const res = await postLogoutToken(await tb.idp.makeLogoutToken({ sub: 'dana' }));
    assert.equal(res.status, 200);
    assert.equal(await userStatus(a.cookie), 401);
    assert.equal(await userStatus(a2.cookie), 401);
    assert.equal(await tb.rec.inner.get(a.key), null);
    assert.equal(await tb.rec.inner.get(a2.key), null);
    assert.equal(await userStatus(b.cookie), 200);
  });

  test('a forged or malformed logout token is refused with 400 and ends nothing', async () => {
    const v = await signedIn('victor');
    const sid = jwtClaims(v.idToken).sid;
    const cases = {
      'a foreign signing key': { sub: 'victor', sid, foreignKey: true },
      'another audience': { sub: 'victor', sid, claims: { aud: 'someone-else' } },
      'another issuer': { sub: 'victor', sid, claims: { iss: 'http://127.0.0.1:1' } },
      'a nonce claim': { sub: 'victor', sid, claims: { nonce: 'n-0S6_WzA2Mj' } },
      'no events claim': { sub: 'victor', sid, omit: ['events'] },
      'the wrong event': { sub: 'victor', sid, claims: { events: { 'http://schemas.openid.net/event/other': {} } } },
      'neither sub nor sid': { omit: ['sub', 'sid'] },
      'no jti': { sub: 'victor', sid, omit: ['jti'] },
    };
    for (const [what, spec] of Object.entries(cases)) {
      const res = await postLogoutToken(await tb.idp.makeLogoutToken(spec));
      assert.equal(res.status, 400, what);
    }
    const notJwt = await postLogoutToken('x.y.z');
    assert.equal(notJwt.status, 400);
    const missing = await fetch(`${tb.app.origin}/auth/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(missing.status, 400);
    assert.equal(await userStatus(v.cookie), 200, 'the session survives every refused token');
  });
});
