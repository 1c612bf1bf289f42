// Only the IdP's explicit verdict ends a session (issue #23): the real oidc-provider 9 over HTTPS behind
// the harness's fault-injecting front answers refreshes and callbacks the way a bad day does — HTML
// 403/404/408/503 pages from a WAF, CDN or ingress, a captive-portal 200, JSON without `error`,
// `temporarily_unavailable`, a hang past the timeout — and the BFF answers 503 + Retry-After with the
// session kept (the next call after the IdP heals redeems the same refresh token, no `invalid_grant`).
// `invalid_client` with the WWW-Authenticate header RFC 6749 requires for Basic auth is a configuration
// error (NFT410, 5xx, session kept, one warning per BFF); only `invalid_grant` ends the session.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { cookieJar, getToken, signIn, startBffTestbed } from './helpers/bff-idp.mjs';

const TOKEN_REQUEST_TIMEOUT_MS = 1_500;
const warnings = [];
let tb;
before(async () => {
  tb = await startBffTestbed(bffModule, {
    bff: { tokenRequestTimeoutMs: TOKEN_REQUEST_TIMEOUT_MS, minRefreshIntervalMs: 0, logger: { warn: (m) => warnings.push(m) } },
  });
  assert.match(tb.idp.issuer, /^https:\/\/127\.0\.0\.1:\d+$/, 'the IdP speaks HTTPS');
});
after(async () => {
  await tb?.close();
});

async function signedIn() {
  const jar = cookieJar();
  await signIn(jar, tb.app);
  return jar;
}
/** Makes the BFF's cached token stale (fake clock), so the next /session/token redeems the refresh token. */
const stale = () => tb.clock.advance(60_000);
const html = (title) => `<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>Request ID 7f3a</p></body></html>`;

const UNAVAILABLE = [
  ['an HTML 403 page from a WAF', { status: 403, body: html('403 Forbidden') }],
  ['an HTML 404 page from a CDN', { status: 404, body: html('404 Not Found') }],
  ['an HTML 408 page from an ingress', { status: 408, body: html('408 Request Timeout') }],
  ['an HTML 503 maintenance page', { status: 503, body: html('Down for maintenance') }],
  ['an HTML 200 page (a captive portal, an SPA fallback)', { status: 200, body: html('Welcome') }],
  ['JSON 400 without `error`', { status: 400, body: { message: 'bad request' } }],
  ['JSON 401 without `error`', { status: 401, body: { message: 'who are you' } }],
  ['400 temporarily_unavailable', { status: 400, body: { error: 'temporarily_unavailable' } }],
  ['400 server_error', { status: 400, body: { error: 'server_error' } }],
  ['a 200 JSON that is no token response', { status: 200, body: { ok: true } }],
];

describe('bff: only the IdP’s explicit verdict ends a session (real oidc-provider over HTTPS, fault front)', () => {
  for (const [what, fault] of UNAVAILABLE) {
    test(`a refresh answered with ${what} → 503 + Retry-After, the session kept, the next call redeems without invalid_grant`, async () => {
      const jar = await signedIn();
      const invalid = tb.idp.counts.invalid_grant;
      stale();
      tb.idp.inject('token', fault);
      const failed = await getToken(jar, tb.app);
      assert.equal(failed.status, 503, JSON.stringify(failed.body));
      assert.equal(failed.body.code, 'NFT403');
      assert.ok(Number(failed.response.headers.get('retry-after')) > 0, 'Retry-After');
      assert.equal(failed.response.headers.getSetCookie().length, 0, 'the cookie is not cleared');
      const healed = await getToken(jar, tb.app);
      assert.equal(healed.status, 200, 'the session survived');
      assert.ok(tb.idp.issued.accessTokens.includes(healed.body.accessToken));
      assert.equal(tb.idp.counts.invalid_grant, invalid, 'the kept refresh token was still good');
    });
  }

  test('a refresh that hangs past tokenRequestTimeoutMs (openid-client’s OAUTH_TIMEOUT) → 503 within the bound, the session kept', async () => {
    const jar = await signedIn();
    stale();
    tb.idp.inject('token', { hangMs: TOKEN_REQUEST_TIMEOUT_MS + 1_500, status: 503, body: html('late') });
    const started = Date.now();
    const failed = await getToken(jar, tb.app);
    const took = Date.now() - started;
    assert.equal(failed.status, 503);
    assert.equal(failed.body.code, 'NFT403');
    assert.ok(took < TOKEN_REQUEST_TIMEOUT_MS + 1_000, `answered within the timeout (${took} ms)`);
    assert.equal((await getToken(jar, tb.app)).status, 200, 'the session survived');
  });

  test('invalid_client with WWW-Authenticate (RFC 6749 §5.2, Basic auth) → NFT410, 5xx, the session kept, one warning per BFF', async () => {
    const jar = await signedIn();
    stale();
    const before = warnings.length;
    const heal = tb.idp.inject(
      'token',
      { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="idp"' }, body: { error: 'invalid_client', error_description: 'client authentication failed' } },
      3,
    );
    const answers = [await getToken(jar, tb.app), await getToken(jar, tb.app), await getToken(jar, tb.app)];
    heal();
    for (const a of answers) {
      assert.ok(a.status >= 500 && a.status !== 503, `a 5xx that is not “try again” (${a.status})`);
      assert.equal(a.body.code, 'NFT410');
      assert.equal(a.response.headers.getSetCookie().length, 0);
    }
    const clientWarnings = warnings.slice(before).filter((w) => /NFT410|invalid_client/.test(w));
    assert.equal(clientWarnings.length, 1, `one warning, not one per request: ${JSON.stringify(warnings.slice(before))}`);
    assert.equal((await getToken(jar, tb.app)).status, 200, 'the session survived');
  });

  test('a 5xx page that carries a WWW-Authenticate challenge with error="invalid_grant" is no verdict: 503, the session kept', async () => {
    const jar = await signedIn();
    stale();
    tb.idp.inject('token', { status: 502, headers: { 'WWW-Authenticate': 'Bearer error="invalid_grant"' }, body: html('502 Bad Gateway') });
    const failed = await getToken(jar, tb.app);
    assert.equal(failed.status, 503);
    assert.equal((await getToken(jar, tb.app)).status, 200);
  });

  test('unauthorized_client (JSON 400) → NFT410 and the session kept', async () => {
    const jar = await signedIn();
    stale();
    tb.idp.inject('token', { status: 400, body: { error: 'unauthorized_client' } });
    const failed = await getToken(jar, tb.app);
    assert.equal(failed.body.code, 'NFT410');
    assert.equal((await getToken(jar, tb.app)).status, 200);
  });

  test('invalid_grant, the IdP’s verdict, ends the session: 401, cookie cleared, later calls 401 without asking the IdP', async () => {
    const jar = await signedIn();
    stale();
    tb.idp.inject('token', { status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
    const ended = await getToken(jar, tb.app);
    assert.equal(ended.status, 401);
    assert.ok(ended.response.headers.getSetCookie().some((c) => /Max-Age=0/.test(c)), 'the cookie is cleared');
    const requests = tb.idp.tokenRequests.length;
    assert.equal((await getToken(jar, tb.app)).status, 401);
    assert.equal(tb.idp.tokenRequests.length, requests, 'nothing more reached the IdP');
  });
});

describe('bff callback: an IdP that times out or sends garbage gives 503, not 400', () => {
  async function callbackWith(fault) {
    const jar = cookieJar();
    tb.idp.inject('token', fault);
    return signIn(jar, tb.app);
  }

  test('a code exchange that hangs past the timeout → 503 and no session (no Retry-After: the callback is spent, the way on is a new login)', async () => {
    const { callback, html: body } = await callbackWith({ hangMs: TOKEN_REQUEST_TIMEOUT_MS + 1_500, status: 503, body: html('late') });
    assert.equal(callback.status, 503);
    assert.equal(callback.headers.get('retry-after'), null);
    assert.equal(JSON.parse(body).code, 'NFT403');
    assert.ok(!callback.headers.getSetCookie().some((c) => c.startsWith('__Host-nft-session=') && !/Max-Age=0/.test(c)), 'no session cookie');
  });

  for (const [what, fault] of [
    ['an HTML 403 page', { status: 403, body: html('403 Forbidden') }],
    ['an HTML 200 page', { status: 200, body: html('Welcome') }],
    ['JSON 400 without error', { status: 400, body: { message: 'x' } }],
  ]) {
    test(`a code exchange answered with ${what} → 503, no session`, async () => {
      const { callback, html: body } = await callbackWith(fault);
      assert.equal(callback.status, 503);
      assert.equal(JSON.parse(body).code, 'NFT403');
    });
  }

  test('invalid_grant at the code exchange (a bad or replayed code) is still a 400', async () => {
    const { callback, html: body } = await callbackWith({ status: 400, body: { error: 'invalid_grant' } });
    assert.equal(callback.status, 400);
    assert.equal(JSON.parse(body).code, 'NFT405');
  });
});
