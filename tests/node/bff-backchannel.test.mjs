// Back-channel logout holds when a delivery half fails, and does no more than the IdP asked (issue #23):
// the sessions are deleted before the logout token's `jti` is claimed, so the IdP's retry of a delivery
// whose delete failed ends them; `exp` is required and `iat` may be at most 5 minutes old; a token ends
// only sessions that existed when it was issued (a late or replayed delivery ends nothing created since);
// the body is capped before it is read. Real oidc-provider over HTTPS signs the tokens.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { BFF_CLIENTS, cookieJar, signIn, startBffTestbed, within, xhr } from './helpers/bff-idp.mjs';

let tb;
const faults = { deleteFailures: 0 };
before(async () => {
  tb = await startBffTestbed(bffModule);
  const store = {};
  for (const [name, fn] of Object.entries(tb.rec.store)) store[name] = fn;
  store.delete = async (...args) => {
    if (faults.deleteFailures > 0) {
      faults.deleteFailures--;
      throw new Error('store unavailable (injected)');
    }
    return tb.rec.store.delete(...args);
  };
  tb.mount(await tb.newBff({ store }));
});
after(async () => {
  await tb?.close();
});

async function signedIn(loginHint) {
  const jar = cookieJar();
  await signIn(jar, tb.app, { loginHint });
  return jar.header(`${tb.app.origin}/`);
}
const userStatus = async (cookie) => (await fetch(`${tb.app.origin}/session/user`, { headers: { cookie, ...xhr(tb.app) } })).status;
const post = (logoutToken) =>
  fetch(`${tb.app.origin}/auth/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: logoutToken }),
  });
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('bff back-channel logout: deletes first, claims after, bounded', () => {
  test('a delivery whose delete fails answers 503; the IdP’s retry of the same token ends the sessions', async () => {
    const a = await signedIn('hana');
    const b = await signedIn('hana');
    const token = await tb.idp.makeLogoutToken({ sub: 'hana' });
    faults.deleteFailures = 1;
    const first = await post(token);
    assert.equal(first.status, 503, 'the failed delete is not reported as done');
    const retry = await post(token);
    assert.equal(retry.status, 200, 'the retry is not refused as a replay');
    assert.equal(await userStatus(a), 401);
    assert.equal(await userStatus(b), 401);
    assert.equal((await post(token)).status, 400, 'once done, a replay is refused');
  });

  test('a logout token without exp is refused; so is one whose iat is older than 5 minutes (plus 60 s tolerance)', async () => {
    // Signed in six minutes ago by the BFF's clock, so each token below is about a session that existed.
    tb.clock.set(Date.now() - 6 * 60_000);
    const c = await signedIn('ivan');
    tb.clock.set(Date.now());
    assert.equal((await post(await tb.idp.makeLogoutToken({ sub: 'ivan', omit: ['exp'] }))).status, 400, 'no exp');
    const old = await tb.idp.makeLogoutToken({ sub: 'ivan', claims: { iat: nowSeconds() - 6 * 60 - 60, exp: nowSeconds() + 600 } });
    assert.equal((await post(old)).status, 400, 'iat 7 minutes old');
    assert.equal(await userStatus(c), 200, 'nothing ended');
    const recent = await tb.idp.makeLogoutToken({ sub: 'ivan', claims: { iat: nowSeconds() - 4 * 60, exp: nowSeconds() + 600 } });
    assert.equal((await post(recent)).status, 200, 'iat 4 minutes old is accepted');
    assert.equal(await userStatus(c), 401);
  });

  test('a token ends only the sessions that existed when it was issued: a late delivery ends nothing created since', async () => {
    // The BFF's clock says when each session began: one three minutes ago, one now.
    tb.clock.set(Date.now() - 180_000);
    const before = await signedIn('jana');
    tb.clock.set(Date.now());
    const since = await signedIn('jana');
    // Issued two minutes ago (delivered late, or replayed with a fresh jti): the user signed in again since.
    const issuedEarlier = await tb.idp.makeLogoutToken({ sub: 'jana', claims: { iat: nowSeconds() - 120, exp: nowSeconds() + 600 } });
    const res = await post(issuedEarlier);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ended: 1 });
    assert.equal(await userStatus(before), 401, 'the session that existed when the token was issued ended');
    assert.equal(await userStatus(since), 200, 'the session created after the token was issued stays');
  });

  // Found by the attacker review (from the code): a logout token with sid and sub found sessions by the sid only, so
  // a session whose login named no sid (an IdP that puts sid in logout tokens but not in ID tokens) survived it.
  test('a token with sid and sub also ends the subject\'s sessions that recorded no sid — and no session that recorded another sid', async () => {
    const bff = tb.bff;
    tb.mount(await tb.newBff({ clientId: BFF_CLIENTS.noSid.clientId, clientSecret: BFF_CLIENTS.noSid.clientSecret }));
    try {
      const noSid = await signedIn('lena');
      const record = await tb.rec.inner.get(tb.rec.keys().at(-1));
      assert.ok(record.index.every((e) => !e.startsWith('sid:')), `the login named no sid: ${record.index}`);
      tb.mount(bff);
      const withSid = await signedIn('lena'); // a login of the sid-asking client: its sid is another one
      const res = await post(await tb.idp.makeLogoutToken({ sub: 'lena', claims: { sid: 'a-sid-of-another-login' } }));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ended: 1 });
      tb.mount(await tb.newBff({ clientId: BFF_CLIENTS.noSid.clientId, clientSecret: BFF_CLIENTS.noSid.clientSecret }));
      assert.equal(await userStatus(noSid), 401, 'the session without a sid ended');
      tb.mount(bff);
      assert.equal(await userStatus(withSid), 200, 'the session with another sid stays');
    } finally {
      tb.mount(bff);
    }
  });

  test('a replayed logout token is refused before anything is deleted: a session started since stays', async () => {
    const first = await signedIn('kira');
    const token = await tb.idp.makeLogoutToken({ sub: 'kira' });
    assert.equal((await post(token)).status, 200);
    assert.equal(await userStatus(first), 401);
    const again = await signedIn('kira'); // within the token's clock tolerance
    assert.equal((await post(token)).status, 400, 'the replay is refused');
    assert.equal(await userStatus(again), 200, 'and ended nothing');
  });

  test('when the issuer’s keys cannot be loaded (JWKS down), a valid logout token gets 503, not 400, and its retry ends the session', async () => {
    const fresh = await tb.newBff(); // its own JWKS cache: it must fetch the keys
    tb.mount(fresh);
    try {
      const s = await signedIn('lena');
      const token = await tb.idp.makeLogoutToken({ sub: 'lena' });
      tb.idp.inject('jwks', { status: 502, body: '<html><title>Bad gateway</title></html>' });
      const down = await post(token);
      assert.equal(down.status, 503);
      assert.ok(Number(down.headers.get('retry-after')) > 0);
      assert.equal(await userStatus(s), 200, 'nothing ended yet');
      assert.equal((await post(token)).status, 200, 'the IdP’s retry');
      assert.equal(await userStatus(s), 401);
    } finally {
      tb.mount(tb.bff);
    }
  });

  test('a Content-Length over 16 KB is refused with 413 before the body is read', async () => {
    const url = new URL(`${tb.app.origin}/auth/backchannel-logout`);
    const status = await within(new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: url.port, path: url.pathname, method: 'POST', headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(50 * 1024 * 1024) } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
          req.destroy();
        },
      );
      req.on('error', (err) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
      // A few bytes of a 50 MB body, and then nothing: an answer can only come from the header alone.
      req.write('logout_token=');
    }), 5_000, 'an answer before the body');
    assert.equal(status, 413);
  });

  test('a streamed body past 16 KB without a Content-Length is cut off with 413', async () => {
    const chunk = new TextEncoder().encode(`logout_token=${'a'.repeat(4_096)}`);
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (sent >= 64) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${tb.app.origin}/auth/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      duplex: 'half',
    });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).code, 'NFT408');
  });
});
