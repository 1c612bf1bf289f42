// The demo's "what happens next" line for every token state, checked with Node alone (the function
// is pure and its file has a type-only import, which Node's type stripping removes). The e2e tests
// see the fresh, refreshing and signed-out lines in Chromium; the states that need a failing or
// hidden refresh are covered here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

// Node notes that the workspace's package.json names no module type for the .ts file; expected
// here, so only that warning is dropped (every other one is still printed).
const printers = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (w) => w.code !== 'MODULE_TYPELESS_PACKAGE_JSON' && printers.forEach((print) => print(w)));
const { nextStep } = await import('../projects/demo/src/app/next-step.ts');

const at = (ms) => `@${ms}`;
const NOW = 12_000; // past the refresh point (10 000) of the token below
const state = (over) => ({ status: 'fresh', token: 't', expiresAt: 40_000, refreshing: false, error: null, refreshAt: 10_000, ...over });
const failed = { code: 'NFT201' };

describe('demo: the line under the status badge says what happens next', () => {
  test('fresh: when the refresh starts (state.refreshAt), automatically or at the next request', () => {
    assert.equal(nextStep(state(), true, NOW, at), 'Fresh — refreshes automatically at @10000, in the background.');
    assert.equal(nextStep(state(), false, NOW, at), 'Fresh — the first request after @10000 refreshes it, in the background.');
    assert.equal(nextStep(state({ expiresAt: null, refreshAt: null }), true, NOW, at), 'Fresh — this token does not expire.');
  });

  test('expiring: refreshing in the background, or what starts the refresh, or that it failed', () => {
    assert.match(nextStep(state({ status: 'expiring', refreshing: true }), true, NOW, at), /^Inside the buffer — refreshing in the background; requests go out at once/);
    assert.match(nextStep(state({ status: 'expiring' }), true, NOW, at), /refreshes automatically while the page is visible/);
    assert.match(nextStep(state({ status: 'expiring' }), false, NOW, at), /the next request refreshes it/);
    assert.match(nextStep(state({ status: 'expiring', error: failed }), true, NOW, at), /last refresh failed: NFT201.*cool-down/);
  });

  test('a token that lives shorter than the buffer is expiring from the start: the line says when it refreshes', () => {
    const short = state({ status: 'expiring', expiresAt: 20_000, refreshAt: 15_000 });
    assert.equal(nextStep(short, false, NOW, at), 'Shorter-lived than twice the refresh buffer — the first request after @15000 (half its life) refreshes it.');
    assert.equal(nextStep(short, true, NOW, at), 'Shorter-lived than twice the refresh buffer — refreshes automatically at @15000 (half its life).');
    assert.match(nextStep(short, false, 15_001, at), /^Inside the buffer — the next request refreshes it/);
  });

  test('expired is never shown bare: refreshing…, or what refreshes it next', () => {
    assert.equal(nextStep(state({ status: 'expired', refreshing: true }), true, NOW, at), 'Expired — refreshing…; requests wait for the new token.');
    assert.equal(nextStep(state({ status: 'expired' }), true, NOW, at), 'Expired — the next request (or the page becoming visible) refreshes it first.');
    assert.equal(nextStep(state({ status: 'expired', error: failed }), false, NOW, at), 'Expired (last refresh failed: NFT201) — the next request refreshes it first.');
  });

  test('signed out: log in', () => {
    assert.match(nextStep(state({ status: 'signed-out', token: null, expiresAt: null, refreshAt: null }), true, NOW, at), /^Signed out — log in/);
  });
});
