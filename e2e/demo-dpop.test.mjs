// The /dpop page end to end (issue #27, the browser half): Chromium is the OAuth client (code + PKCE at
// the demo's real oidc-provider, DPoP on, nonces required, a client with dpop_bound_access_tokens), its
// tokens bound to a non-extractable key in IndexedDB by withDpop(), and the demo's DPoP API verifying
// every proof with jose (cnf.jkt, ath, htm/htu, iat, jti replay, nonce). What a thief copies off the
// wire is refused; the key survives a reload and is gone after sign-out.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createHash } from 'node:crypto';
import { startDemo, until } from './helpers/demo.mjs';

let env;
before(async () => {
  env = await startDemo(60);
});
after(async () => env && (await env.close()));

/** A new context that records the token endpoint and DPoP API traffic: { method, url, status, authorization, dpop, nonce, body }. */
async function dpopContext() {
  const context = await env.browser.newContext();
  context.setDefaultTimeout(15_000);
  const traffic = [];
  // The test relays these requests itself (route.fetch: the browser's own method, headers and body, sent once) and
  // records the answer before the browser gets it. Reading bodies from 'response' events lost some under load
  // ("No data found for resource with given identifier").
  const recorded = (url) => url.pathname === '/oidc/token' || url.pathname.startsWith('/dpop-api/');
  await context.route(recorded, async (route) => {
    const req = route.request();
    const headers = await req.allHeaders();
    const res = await route.fetch();
    const text = await res.text();
    let body = null; // null: not JSON
    try {
      body = JSON.parse(text);
    } catch {}
    traffic.push({ method: req.method(), url: req.url(), path: new URL(req.url()).pathname, status: res.status(), authorization: headers['authorization'], dpop: headers['dpop'], nonce: res.headers()['dpop-nonce'], body });
    await route.fulfill({ response: res, body: text });
  });
  return { context, traffic };
}

const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

/** /dpop in a new tab, signed in through the IdP as `username`, status `fresh`. */
async function logIn(context, username = 'dora') {
  const page = await context.newPage();
  await page.goto(`${env.demo.url}/dpop`);
  await page.locator('form[data-ready=true]').waitFor();
  await page.getByTestId('dpop-username').fill(username);
  await page.getByTestId('dpop-login').click();
  await page.getByTestId('dpop-status').filter({ hasText: /^fresh$/ }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/dpop');
  return page;
}

/** Clicks dpop-call and returns the API's answer shown in dpop-result. */
async function call(page) {
  const before = await page.getByTestId('dpop-result').innerText();
  await page.getByTestId('dpop-call').click();
  await until(async () => (await page.getByTestId('dpop-result').innerText()) !== before, 10_000, 'an API answer');
  return JSON.parse(await page.getByTestId('dpop-result').innerText());
}

/** How many keys the page's origin holds in withDpop()'s IndexedDB database. */
const storedKeys = (page) =>
  page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('ngx-fresh-token.dpop');
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('keys')) return resolve(0);
          const count = db.transaction('keys').objectStore('keys').count();
          count.onsuccess = () => (db.close(), resolve(count.result));
        };
        open.onerror = () => reject(open.error);
      }),
  );

describe('demo /dpop: the browser as a DPoP client', () => {
  test('login: code exchange and API calls carry proofs of one key, with the nonce dance at the IdP and at the API; the proof is shown; the token as bearer is refused', async () => {
    const { context, traffic } = await dpopContext();
    try {
      const page = await logIn(context);
      // The IdP asked for its nonce first (400 use_dpop_nonce), then issued a DPoP token for the same key.
      const exchange = await until(() => { const e = traffic.filter((t) => t.path === '/oidc/token'); return e.length >= 2 && e; }, 5_000, 'the code exchange');
      assert.deepEqual(exchange.map((t) => t.status), [400, 200]);
      assert.equal(exchange[0].body.error, 'use_dpop_nonce');
      assert.equal(payloadOf(exchange[0].dpop).nonce, undefined);
      assert.equal(payloadOf(exchange[1].dpop).nonce, exchange[0].nonce);
      assert.equal(exchange[1].body.token_type, 'DPoP');
      const jkt = payloadOf(exchange[1].body.access_token).cnf.jkt;
      assert.match(jkt, /^[\w-]{43}$/);

      const answer = await call(page);
      assert.equal(answer.ok, true);
      assert.equal(answer.jkt, jkt);
      assert.equal(answer.sub, 'dora');
      // The API's nonce: the first call was answered use_dpop_nonce and retried once with it.
      const api = await until(() => { const a = traffic.filter((t) => t.path === '/dpop-api/hello'); return a.length >= 2 && a; }, 5_000, 'the API calls');
      assert.deepEqual(api.map((t) => t.status), [401, 200]);
      assert.equal(api[0].body.error, 'use_dpop_nonce');
      assert.equal(payloadOf(api[1].dpop).nonce, api[0].nonce);
      assert.match(api[1].authorization, /^DPoP /);
      // A second call reuses the nonce the API handed out: no 401.
      await call(page);
      await until(() => traffic.filter((t) => t.path === '/dpop-api/hello').length >= 3, 5_000, 'the third call');
      assert.deepEqual(traffic.filter((t) => t.path === '/dpop-api/hello').map((t) => t.status), [401, 200, 200]);
      // The API changes its nonce: the next call is answered use_dpop_nonce once and retried with the new one — no refresh.
      const tokenRequests = traffic.filter((t) => t.path === '/oidc/token').length;
      await fetch(`${env.demo.url}/dpop-api/rotate-nonce`, { method: 'POST' });
      assert.equal((await call(page)).ok, true);
      const rotated = await until(() => { const a = traffic.filter((t) => t.path === '/dpop-api/hello'); return a.length >= 5 && a.slice(3); }, 5_000, 'the calls after the rotation');
      assert.deepEqual(rotated.map((t) => t.status), [401, 200]);
      assert.equal(payloadOf(rotated[1].dpop).nonce, rotated[0].nonce);
      assert.notEqual(rotated[0].nonce, api[0].nonce);
      assert.equal(rotated[1].authorization, rotated[0].authorization, 'the same token: a nonce is no reason to refresh');
      assert.equal(traffic.filter((t) => t.path === '/oidc/token').length, tokenRequests);
      // The page shows the last proof, decoded.
      const shown = JSON.parse(await page.getByTestId('dpop-proof').innerText());
      assert.equal(shown.header.typ, 'dpop+jwt');
      assert.equal(shown.header.alg, 'ES256');
      assert.equal(await calculateJwkThumbprint(shown.header.jwk), jkt);
      assert.equal(shown.payload.htm, 'GET');
      assert.equal(shown.payload.htu, `${env.demo.url}/dpop-api/hello`);
      const token = api[1].authorization.slice(5);
      assert.equal(shown.payload.ath, createHash('sha256').update(token).digest('base64url'));
      // The same token without the key: refused.
      await page.getByTestId('dpop-replay').click();
      await page.getByTestId('dpop-replay-result').filter({ hasText: /401/ }).waitFor();
      assert.match(await page.getByTestId('dpop-replay-result').innerText(), /^401 .*bound token sent as Bearer/);
    } finally {
      await context.close();
    }
  });

  test('what a thief copies is refused: the proof replayed, sent to another URL or with another method, the token with a key of its own, the refresh token without the key', async () => {
    const { context, traffic } = await dpopContext();
    try {
      const page = await logIn(context, 'erin');
      await call(page);
      const sent = await until(() => traffic.filter((t) => t.path === '/dpop-api/hello' && t.status === 200).at(-1), 5_000, 'the call');
      const url = `${env.demo.url}/dpop-api/hello`;
      const send = async (target, init) => {
        const res = await fetch(target, init);
        return { status: res.status, ...(await res.json()) };
      };
      const stolen = { Authorization: sent.authorization, DPoP: sent.dpop };
      assert.deepEqual(await send(url, { headers: stolen }), { status: 401, error: 'invalid_dpop_proof', reason: 'proof replayed (jti seen before)' });
      assert.equal((await send(`${env.demo.url}/dpop-api/other`, { headers: stolen })).reason, 'htu is not this URL');
      assert.equal((await send(url, { method: 'POST', headers: stolen })).reason, 'htm is not this method');
      // The token with a proof of the thief's own key, right in every other respect (nonce included).
      const token = sent.authorization.slice(5);
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const { kty, crv, x, y } = await exportJWK(publicKey);
      const proof = await new SignJWT({ htm: 'GET', htu: url, jti: crypto.randomUUID(), ath: createHash('sha256').update(token).digest('base64url'), nonce: sent.nonce })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty, crv, x, y } })
        .setIssuedAt()
        .sign(privateKey);
      assert.deepEqual(await send(url, { headers: { Authorization: `DPoP ${token}`, DPoP: proof } }), { status: 401, error: 'invalid_token', reason: 'proof key is not the token’s key (cnf.jkt)' });
      // The page's own next call still works (a fresh proof each time).
      assert.equal((await call(page)).ok, true);

      // The refresh token, copied out of sessionStorage, is bound too: the IdP refuses it without a proof and with a
      // proof of the thief's key (after the IdP's nonce dance, so the proof itself is a valid one).
      const refreshToken = await page.evaluate(() => sessionStorage.getItem('demo.dpop.refresh-token'));
      assert.ok(refreshToken);
      const tokenUrl = `${env.demo.url}/oidc/token`;
      const form = () => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'demo-spa-dpop' });
      const redeem = async (dpop) => {
        const res = await fetch(tokenUrl, { method: 'POST', body: form(), headers: dpop ? { DPoP: dpop } : {} });
        return { status: res.status, nonce: res.headers.get('dpop-nonce'), ...(await res.json()) };
      };
      const thiefProof = (nonce) =>
        new SignJWT({ htm: 'POST', htu: tokenUrl, jti: crypto.randomUUID(), ...(nonce ? { nonce } : {}) })
          .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty, crv, x, y } })
          .setIssuedAt()
          .sign(privateKey);
      const bare = await redeem(null);
      assert.equal(bare.status, 400);
      const challenged = await redeem(await thiefProof());
      assert.equal(challenged.error, 'use_dpop_nonce');
      const refused = await redeem(await thiefProof(challenged.nonce));
      assert.equal(refused.status, 400);
      assert.deepEqual([bare.error, refused.error, bare.access_token, refused.access_token], ['invalid_grant', 'invalid_grant', undefined, undefined]);
    } finally {
      await context.close();
    }
  });

  test('the key is kept across a reload (the bound refresh token is redeemed with it) and deleted at sign-out; the next login gets a new key', async () => {
    const { context, traffic } = await dpopContext();
    try {
      const page = await logIn(context, 'fay');
      const first = await call(page);
      assert.equal(await storedKeys(page), 1);
      await page.reload();
      await page.getByTestId('dpop-status').filter({ hasText: /^fresh$/ }).waitFor();
      // After the reload the refresh token was redeemed with a proof of the same key (and the IdP's nonce).
      const refreshes = await until(() => { const r = traffic.filter((t) => t.path === '/oidc/token').slice(2); return r.length >= 2 && r; }, 5_000, 'the refresh');
      assert.deepEqual(refreshes.map((t) => t.status), [400, 200]);
      assert.equal(payloadOf(refreshes[1].body.access_token).cnf.jkt, first.jkt);
      assert.equal((await call(page)).jkt, first.jkt);

      await page.getByTestId('dpop-signout').click();
      await page.getByTestId('dpop-status').filter({ hasText: /^signed-out$/ }).waitFor();
      await until(async () => (await storedKeys(page)) === 0, 5_000, 'the key deleted');
      await page.locator('form[data-ready=true]').waitFor();
      await page.getByTestId('dpop-username').fill('fay');
      await page.getByTestId('dpop-login').click();
      await page.getByTestId('dpop-status').filter({ hasText: /^fresh$/ }).waitFor();
      const again = await call(page);
      assert.notEqual(again.jkt, first.jkt);
    } finally {
      await context.close();
    }
  });
});
