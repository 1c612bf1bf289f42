// Refreshes are never lost (issue #23). The real oidc-provider over HTTPS rotates refresh tokens with
// reuse detection: a rotated refresh token that never reaches the store is a session lost at the next
// refresh (the old one is spent, reuse revokes the grant). Here the store fails the compare-and-set after
// the IdP answered (once, and for longer than the lock allows), the IdP commits a rotation whose answer
// openid-client then rejects, and a stale holder's invalid_grant meets a session another writer already
// moved on. The lock's TTL counts what its holder does. What remains (an answer that never arrives) is
// shown too: one clean 401, nothing loops.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { cookieJar, getToken, signIn, startBffTestbed } from './helpers/bff-idp.mjs';
import { waitFor } from './helpers/wait.mjs';

const TOKEN_REQUEST_TIMEOUT_MS = 1_000;
const STORE_TIMEOUT_MS = 200;

/** The testbed's store, with switches that make its calls fail the way a store under trouble does. */
function faultyStore(inner) {
  const faults = { casFailures: 0, casDown: false, deleteFailures: 0, beforeDelete: null };
  const store = {};
  for (const [name, fn] of Object.entries(inner)) if (typeof fn === 'function') store[name] = fn.bind(inner);
  store.compareAndSet = async (...args) => {
    if (faults.casDown || faults.casFailures > 0) {
      faults.casFailures = Math.max(0, faults.casFailures - 1);
      throw new Error('store unavailable (injected)');
    }
    return inner.compareAndSet(...args);
  };
  // `beforeDelete` runs once, just before the next delete of a session record (not a marker's).
  const beforeDelete = async (key) => {
    if (key.includes(':')) return;
    const hook = faults.beforeDelete;
    faults.beforeDelete = null;
    await hook?.();
  };
  store.delete = async (...args) => {
    await beforeDelete(args[0]);
    if (faults.deleteFailures > 0) {
      faults.deleteFailures--;
      throw new Error('store unavailable (injected)');
    }
    return inner.delete(...args);
  };
  if (inner.compareAndDelete) {
    store.compareAndDelete = async (...args) => {
      await beforeDelete(args[0]);
      return inner.compareAndDelete(...args);
    };
  }
  return { store, faults };
}

let tb;
let faulty;
let bff;
before(async () => {
  tb = await startBffTestbed(bffModule, { bff: { tokenRequestTimeoutMs: TOKEN_REQUEST_TIMEOUT_MS, storeTimeoutMs: STORE_TIMEOUT_MS, minRefreshIntervalMs: 0 } });
  faulty = faultyStore(tb.rec.store);
  bff = await tb.newBff({ store: faulty.store });
  tb.mount(bff);
});
after(async () => {
  await tb?.close();
});

async function signedIn(loginHint = 'alice') {
  const jar = cookieJar();
  await signIn(jar, tb.app, { loginHint });
  const key = tb.rec.keys().at(-1);
  return { jar, key, request: () => new Request(`${tb.app.origin}/orders`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } }) };
}
const stale = () => tb.clock.advance(60_000);
const storedVersion = async (key) => (await tb.rec.inner.get(key))?.version ?? null;

describe('bff: a rotated refresh token always reaches the store (real oidc-provider, reuse detection)', () => {
  test('the lock lives token request timeout + 2 × store timeout + a margin (what its holder does under it)', async () => {
    const { jar } = await signedIn();
    stale();
    const mark = tb.rec.calls.length;
    assert.equal((await getToken(jar, tb.app)).status, 200);
    const lock = tb.rec.calls.slice(mark).find((c) => c.method === 'acquireLock');
    assert.ok(lock, 'the refresh took the session lock');
    assert.equal(lock.args[1], TOKEN_REQUEST_TIMEOUT_MS + 2 * STORE_TIMEOUT_MS + 5_000);
  });

  test('a compare-and-set that fails once after the IdP answered is retried within the lock: 200, the rotation lands, no invalid_grant', async () => {
    const { jar, key } = await signedIn();
    stale();
    const version = await storedVersion(key);
    const invalid = tb.idp.counts.invalid_grant;
    faulty.faults.casFailures = 1;
    const first = await getToken(jar, tb.app);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(await storedVersion(key), version + 1, 'stored');
    stale();
    const next = await getToken(jar, tb.app);
    assert.equal(next.status, 200, 'the stored refresh token is the rotated one');
    assert.equal(tb.idp.counts.invalid_grant, invalid);
  });

  test('a store that fails every compare-and-set for longer than the lock allows: 503, the grant is kept in this process with the lock held, the next call stores it; no invalid_grant', async () => {
    const { jar, key, request } = await signedIn('bob');
    stale();
    const version = await storedVersion(key);
    const redemptions = tb.idp.counts.refresh_token;
    const invalid = tb.idp.counts.invalid_grant;
    faulty.faults.casDown = true;
    let failed;
    try {
      failed = await getToken(jar, tb.app);
      assert.equal(failed.status, 503);
      assert.ok(Number(failed.response.headers.get('retry-after')) > 0);
      assert.equal(failed.response.headers.getSetCookie().length, 0, 'the cookie is kept');
      assert.equal(await storedVersion(key), version, 'nothing reached the store');
      // Other instances must wait, not redeem the spent refresh token: the lock is kept.
      assert.equal(await tb.rec.inner.acquireLock(key, 1_000), null, 'the refresh lock is still held');
    } finally {
      faulty.faults.casDown = false;
    }
    const next = await getToken(jar, tb.app);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.equal(tb.idp.counts.refresh_token - redemptions, 1, 'the kept grant’s token: nothing redeemed again');
    assert.ok(tb.idp.issued.accessTokens.at(-1) === next.body.accessToken);
    assert.equal(await storedVersion(key), version + 1, 'stored now');
    const lock = await tb.rec.inner.acquireLock(key, 1_000);
    assert.ok(lock, 'the lock was let go once the grant was stored');
    await lock.release();
    // The stored refresh token is the rotated one: a later refresh, from any instance, works.
    const other = await tb.newBff({ store: tb.rec.store });
    stale();
    assert.ok(await other.accessToken(request(), { forceRefresh: true }));
    assert.equal(tb.idp.counts.invalid_grant, invalid, 'no invalid_grant, no reuse');
  });

  test('while a grant is kept, another instance does not redeem the spent refresh token even after the lock has lapsed (the in-doubt marker): 503, then the kept grant lands', async () => {
    const { jar, key, request } = await signedIn('gina');
    stale();
    const invalid = tb.idp.counts.invalid_grant;
    faulty.faults.casDown = true;
    try {
      assert.equal((await getToken(jar, tb.app)).status, 503);
      // The lock lapses (this store's clock), as it would while this instance's store connection is down.
      tb.clock.advance(TOKEN_REQUEST_TIMEOUT_MS + 2 * STORE_TIMEOUT_MS + 6_000);
      const lock = await tb.rec.inner.acquireLock(key, 1_000);
      assert.ok(lock, 'the lock has lapsed');
      await lock.release();
      // Another instance on the same store (it can write; this one cannot).
      const other = await tb.newBff({ store: tb.rec.store, minRefreshIntervalMs: 0 });
      await assert.rejects(other.accessToken(request(), { forceRefresh: true }), (err) => err.status === 503 && err.code === 'NFT409');
      assert.equal(tb.idp.counts.invalid_grant, invalid, 'the spent refresh token was not redeemed again');
    } finally {
      faulty.faults.casDown = false;
    }
    assert.equal((await getToken(jar, tb.app)).status, 200, 'the kept grant lands');
    assert.equal(tb.idp.counts.invalid_grant, invalid);
  });

  test('a kept grant is stored in the background once the store answers again, without another call', async () => {
    const { jar, key, request } = await signedIn('carol');
    stale();
    const version = await storedVersion(key);
    const invalid = tb.idp.counts.invalid_grant;
    faulty.faults.casDown = true;
    try {
      assert.equal((await getToken(jar, tb.app)).status, 503);
    } finally {
      faulty.faults.casDown = false;
    }
    await waitFor(async () => (await storedVersion(key)) === version + 1, 5_000, 'the kept grant to be stored in the background');
    // Another instance (another BFF on the same store) now redeems the rotated refresh token.
    const other = await tb.newBff({ store: tb.rec.store });
    stale();
    assert.ok(await other.accessToken(request(), { forceRefresh: true }));
    assert.equal(tb.idp.counts.invalid_grant, invalid);
  });

  test('the IdP committed a rotation whose answer openid-client rejects: the rotated refresh token is stored, 503 now, the next call works', async () => {
    const { jar } = await signedIn('dave');
    stale();
    const invalid = tb.idp.counts.invalid_grant;
    // The IdP redeems and rotates, then the answer changes on the way: `expires_in` is no number.
    tb.idp.inject('token', { commit: true, rewrite: (body) => ({ ...body, expires_in: 'soon' }) });
    const rejected = await getToken(jar, tb.app);
    assert.equal(rejected.status, 503, JSON.stringify(rejected.body));
    const next = await getToken(jar, tb.app);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.equal(tb.idp.counts.invalid_grant, invalid, 'the stored refresh token was the rotated one');
  });

  test('what remains: an answer the IdP committed that never arrives ends the session at the next refresh with one clean 401, nothing loops', async () => {
    const { jar } = await signedIn('erin');
    stale();
    tb.idp.inject('token', { commit: true, drop: true });
    const lost = await getToken(jar, tb.app);
    assert.equal(lost.status, 503);
    const ended = await getToken(jar, tb.app);
    assert.equal(ended.status, 401, 'the kept refresh token was spent: reuse detection revoked the grant');
    const requests = tb.idp.tokenRequests.length;
    assert.equal((await getToken(jar, tb.app)).status, 401);
    assert.equal(tb.idp.tokenRequests.length, requests, 'nothing more reached the IdP');
  });

  test('a stale holder’s invalid_grant never deletes a session another writer moved on (the delete is fenced on the version)', async () => {
    const { jar, key, request } = await signedIn('frank');
    stale();
    // Another instance whose view of the lock has lapsed (it takes none) and shares the store.
    const { acquireLock: _lock, waitForUpdate: _wait, ...lockless } = tb.rec.store;
    const other = await tb.newBff({ store: lockless });
    // The IdP refuses this BFF's redemption (as it would a stale holder's) without consuming the token …
    tb.idp.inject('token', { status: 400, body: { error: 'invalid_grant' } });
    let moved = null;
    // … and just before this BFF deletes, the other one redeems and writes version v + 1.
    faulty.faults.beforeDelete = async () => {
      moved = await other.accessToken(request(), { forceRefresh: true });
    };
    const version = await storedVersion(key);
    const answer = await getToken(jar, tb.app);
    assert.ok(moved, 'the other writer moved the session on');
    assert.equal(await storedVersion(key), version + 1, 'the newer session stands');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.accessToken, moved.accessToken, 'the stale holder hands out the newer writer’s token');
    assert.equal((await getToken(jar, tb.app)).status, 200, 'still signed in');
  });
});
