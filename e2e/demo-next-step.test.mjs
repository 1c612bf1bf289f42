// The demo's "what happens next" line for every token state, checked with Node alone (the function
// is pure and its file has a type-only import, which Node's type stripping removes). The e2e tests
// see the fresh, refreshing and signed-out lines in Chromium; the states that need a failing or
// hidden refresh are covered here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextStep } from '../projects/demo/src/app/next-step.ts';

const at = (ms) => `@${ms}`;
const state = (over) => ({ status: 'fresh', token: 't', expiresAt: 40_000, refreshing: false, error: null, refreshAt: 10_000, ...over });
const failed = { code: 'NFT201' };

describe('demo: the line under the status badge says what happens next', () => {
  test('fresh: when the refresh starts (state.refreshAt), automatically or at the next request', () => {
    assert.equal(nextStep(state(), true, at), 'Fresh — refreshes automatically at @10000, in the background.');
    assert.equal(nextStep(state(), false, at), 'Fresh — the first request after @10000 refreshes it, in the background.');
    assert.equal(nextStep(state({ expiresAt: null, refreshAt: null }), true, at), 'Fresh — this token does not expire.');
  });

  test('expiring: refreshing in the background, or what starts the refresh, or that it failed', () => {
    assert.match(nextStep(state({ status: 'expiring', refreshing: true }), true, at), /^Inside the buffer — refreshing in the background; requests go out at once/);
    assert.match(nextStep(state({ status: 'expiring' }), true, at), /refreshes automatically while the page is visible/);
    assert.match(nextStep(state({ status: 'expiring' }), false, at), /the next request refreshes it/);
    assert.match(nextStep(state({ status: 'expiring', error: failed }), true, at), /last refresh failed: NFT201.*cool-down/);
  });

  test('expired is never shown bare: refreshing…, or what refreshes it next', () => {
    assert.equal(nextStep(state({ status: 'expired', refreshing: true }), true, at), 'Expired — refreshing…; requests wait for the new token.');
    assert.equal(nextStep(state({ status: 'expired' }), true, at), 'Expired — the next request (or the page becoming visible) refreshes it first.');
    assert.equal(nextStep(state({ status: 'expired', error: failed }), false, at), 'Expired (last refresh failed: NFT201) — the next request refreshes it first.');
  });

  test('signed out: log in', () => {
    assert.match(nextStep(state({ status: 'signed-out', token: null, expiresAt: null, refreshAt: null }), true, at), /^Signed out — log in/);
  });
});
