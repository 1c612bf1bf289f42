// End-to-end: the demo's Amplify mode (`npm run demo:amplify`) driven by Playwright in Debian's
// Chromium: a real cognito-local (tokens live 20 s, so the refresh buffer is 10 s), the real
// aws-amplify in the page, and the loopback AppSync GraphQL + Events server verifying every
// token against cognito-local's JWKS. Same stack as the npm script (startAmplifyDemoStack).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import chromiumConfig from '../scripts/chromium.cjs';

const { CHROME_BIN, CHROMIUM_FLAGS } = chromiumConfig;
import { startAmplifyDemoStack } from '../projects/demo-server/amplify-stack.mjs';
import { startDemoServer } from '../projects/demo-server/app.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = join(root, 'test-results', 'e2e');
const angularServer = join(root, 'dist/demo/server/server.mjs');
const TOKEN_SECONDS = 20;
const CHANNEL = '/default/demo';

let stack;
let browser;
let page;

const text = (testId) => page.getByTestId(testId).innerText();
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));

async function waitFor(cond, timeoutMs, what) {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TOP_ROW = '[data-testid=query-log] tbody tr[data-testid^="query-"]';

/**
 * Clicks "Run query" and waits for *that* query's row (a new top row, not the previous one:
 * zoneless rendering happens after the click returns) to have an outcome; returns its attempts
 * and result.
 */
async function runQuery(button = 'run-query') {
  const before = await page.$eval(TOP_ROW, (row) => row.dataset.testid).catch(() => null);
  await page.getByTestId(button).click();
  await page.waitForFunction((previous) => {
    const row = document.querySelector('[data-testid=query-log] tbody tr[data-testid^="query-"]');
    return row && row.dataset.testid !== previous && row.children[3].textContent.trim() !== '';
  }, before, { timeout: 15_000 });
  return page.$eval(TOP_ROW, (row) => ({
    attempts: [...row.querySelectorAll('.attempt')].map((a) => a.textContent.trim()),
    result: row.children[3].textContent.trim(),
  }));
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  stack = await startAmplifyDemoStack({ port: 0, tokenSeconds: TOKEN_SECONDS, angularServer });
  browser = await chromium.launch({ executablePath: CHROME_BIN, args: CHROMIUM_FLAGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

describe('demo, Amplify mode, end to end', { concurrency: false, timeout: 90_000 }, () => {
  test('the backend serves the public Amplify config (ids and URLs only)', async () => {
    const config = await fetch(`${stack.url}/amplify/config`).then((r) => r.json());
    assert.deepEqual(Object.keys(config).sort(), ['enabled', 'eventsEndpoint', 'graphqlEndpoint', 'region', 'userPoolClientId', 'userPoolEndpoint', 'userPoolId']);
    assert.equal(config.enabled, true);
    assert.equal(config.userPoolId, stack.amplify.userPoolId);
    assert.ok(!JSON.stringify(config).includes(stack.password));
  });

  test('the revoke endpoint accepts only a Cognito access token that verifies', async () => {
    const revoke = (authorization) =>
      fetch(`${stack.url}/amplify/revoke`, { method: 'POST', headers: authorization ? { authorization } : {} }).then((r) => r.status);
    const forged = ['eyJhbGciOiJSUzI1NiJ9', Buffer.from(JSON.stringify({ token_use: 'access', jti: 'x' })).toString('base64url'), 'c2ln'].join('.');
    assert.equal(await revoke(null), 401);
    assert.equal(await revoke(`Bearer ${forged}`), 401);
    assert.equal(await revoke('Basic abc'), 401);
  });

  test('sign in through the page → the Cognito access token is fresh and the query returns 200', async () => {
    await page.goto(`${stack.url}/amplify`);
    await page.getByTestId('amplify-username').fill(stack.username);
    await page.getByTestId('amplify-password').fill(stack.password);
    await page.getByTestId('amplify-signin').click();
    await page.getByTestId('username-claim').filter({ hasText: /\S/ }).waitFor();
    assert.match(await text('status'), /^(fresh|expiring)$/);
    assert.equal(await text('generation'), '1');
    assert.deepEqual(await page.locator('[data-testid=events] .event').allInnerTexts(), ['loaded'], 'the first token is no refresh');

    const logStart = stack.appsync.graphqlLog.length;
    const { attempts, result } = await runQuery();
    assert.deepEqual(attempts, ['200 · #1']);
    assert.match(result, /^me\.sub = /);
    const sent = stack.appsync.graphqlLog.slice(logStart);
    assert.deepEqual(sent.map((r) => r.status), [200], 'the server verified the token against the JWKS');
    assert.equal(claimsOf(sent[0].token).token_use, 'access');
    assert.equal(claimsOf(sent[0].token).client_id, stack.amplify.userPoolClientId);
    assert.ok(!(await page.content()).includes(sent[0].token), 'the page never shows the token');
    // The token panel shared with the session-endpoint dashboard: the whole jti, and what happens next.
    assert.equal(await text('jti'), claimsOf(sent[0].token).jti);
    assert.match(await text('next-step'), /refreshes it|refreshing/);
  });

  test('Amplify keeps the Cognito access, ID and refresh tokens in localStorage (as the README says)', async () => {
    const keys = await page.evaluate(() => Object.keys(localStorage));
    const kinds = keys
      .map((k) => /^CognitoIdentityServiceProvider\.[^.]+\..+\.(accessToken|idToken|refreshToken)$/.exec(k)?.[1])
      .filter(Boolean)
      .sort();
    assert.deepEqual(kinds, ['accessToken', 'idToken', 'refreshToken']);
  });

  test('the Events subscription receives a published message', async () => {
    await waitFor(() => stack.appsync.subscriberCount(CHANNEL) === 1, 10_000, 'the page to subscribe');
    assert.equal(await text('events-status'), 'connected');
    await page.getByTestId('publish').click();
    await page.getByTestId('message').filter({ hasText: 'hello #1' }).waitFor({ timeout: 10_000 });
    assert.equal(await text('message-count'), '1');
    assert.deepEqual(stack.appsync.publishLog.map((p) => [p.via, p.status, p.channel]), [['http', 200, CHANNEL]]);
  });

  test('the cards keep their parts apart: Events header, counters and Publish; token claims and buttons', async () => {
    const gaps = await page.evaluate(() => {
      const box = (el) => el.getBoundingClientRect();
      const events = document.querySelector('[data-testid=events-panel]');
      const token = document.querySelector('[data-testid=token-panel]');
      return {
        'Events header → counters': box(events.querySelector('dl')).top - box(events.querySelector('header')).bottom,
        'counters → Publish': box(events.querySelector('[data-testid=publish]')).top - box(events.querySelector('dl')).bottom,
        'claims → revoke button': box(token.querySelector('[data-testid=amplify-revoke]')).top - box(token.querySelector('dl')).bottom,
      };
    });
    for (const [where, gap] of Object.entries(gaps)) assert.ok(gap >= 6, `${gap} px between ${where}`);
  });

  test('across token expiry: the subscription is renewed with a fresh token and still delivers; queries stay 200', async () => {
    const first = stack.appsync.handshakes.at(-1);
    // The connection renews itself 10 s before its token expires (half the 20 s lifetime).
    await waitFor(async () => Number(await text('connections')) >= 2, (TOKEN_SECONDS + 5) * 1000, 'the connection to renew');
    await waitFor(() => stack.appsync.subscriberCount(CHANNEL) === 1 && stack.appsync.openSockets() === 1, 10_000, 'one socket after renewal');
    const renewed = stack.appsync.handshakes.at(-1);
    assert.notEqual(renewed, first);
    assert.equal(renewed.ok, true);
    assert.notEqual(claimsOf(renewed.authorization).jti, claimsOf(first.authorization).jti, 'renewed with a new token');
    assert.ok(renewed.exp > first.exp);
    assert.equal(stack.appsync.handshakes.filter((h) => h.closedBy === 'expired').length, 0, 'no connection lived past its token');

    // Past the expiry of the token the subscription was first opened with.
    const pastFirstExpiry = first.exp * 1000 + 500 - Date.now();
    if (pastFirstExpiry > 0) await new Promise((r) => setTimeout(r, pastFirstExpiry));
    assert.equal(stack.appsync.subscriberCount(CHANNEL), 1, 'still subscribed after the first token expired');
    await page.getByTestId('publish').click();
    await page.getByTestId('message').filter({ hasText: 'hello #2' }).waitFor({ timeout: 10_000 });
    assert.equal(await text('message-count'), '2');

    const logStart = stack.appsync.graphqlLog.length;
    const { attempts } = await runQuery();
    assert.equal(attempts.length, 1, 'not retried: the token went out fresh');
    assert.match(attempts[0], /^200 · #([2-9]|\d\d)$/, 'a newer token than the first');
    assert.deepEqual(stack.appsync.graphqlLog.slice(logStart).map((r) => r.status), [200]);
    assert.ok(stack.cognito.stats.refreshes >= 1, 'refreshed through GetTokensFromRefreshToken');
    await page.screenshot({ path: join(artifacts, 'amplify-after-expiry.png') });
  });

  test('the revoke button: the token is revoked server-side, and the query it runs shows one 401, then a retry with a refreshed token', async () => {
    // Right after the next refresh, so the token the page holds stays current for the whole test (10 s).
    const generation = await text('generation');
    await waitFor(async () => (await text('generation')) !== generation, (TOKEN_SECONDS / 2 + 3) * 1000, 'the next refresh');
    assert.deepEqual((await runQuery()).attempts, [`200 · #${await text('generation')}`]);
    const current = stack.appsync.graphqlLog.at(-1).token;
    const refreshes = stack.cognito.stats.refreshes;
    const logStart = stack.appsync.graphqlLog.length;
    const { attempts, result } = await runQuery('amplify-revoke');
    assert.equal(stack.appsync.graphqlLog[logStart].token, current, 'the first attempt carried the revoked token');
    assert.equal(attempts.length, 2, 'retried exactly once');
    const [first, second] = attempts.map((a) => a.match(/^(\d+) · #(\d+)$/));
    assert.equal(first[1], '401');
    assert.equal(second[1], '200');
    assert.equal(Number(second[2]), Number(first[2]) + 1, 'the retry carried the next token');
    assert.match(result, /^me\.sub = /);
    assert.equal(await page.locator('[data-testid^="query-"] .badge.retried').first().innerText(), 'retried');
    assert.deepEqual(stack.appsync.graphqlLog.slice(logStart).map((r) => r.status), [401, 200]);
    assert.equal(stack.cognito.stats.refreshes, refreshes + 1, 'one refresh for the retry');
    await page.screenshot({ path: join(artifacts, 'amplify-after-revoke.png') });
  });

  test('the server closes the Events socket with an auth error: the page reconnects with a fresh token and keeps delivering', async () => {
    const connections = Number(await text('connections'));
    assert.equal(stack.appsync.closeAllWithAuthError(), 1);
    await waitFor(async () => Number(await text('connections')) > connections, 10_000, 'a reconnect');
    await waitFor(() => stack.appsync.subscriberCount(CHANNEL) === 1, 10_000, 'the page to resubscribe');
    await page.getByTestId('publish').click();
    await page.getByTestId('message').filter({ hasText: 'hello #3' }).waitFor({ timeout: 10_000 });
    assert.equal(await text('message-count'), '3');
    assert.equal(await page.getByTestId('events-error').count(), 0);
  });

  test('auto-query runs a query every 5 s until switched off', async () => {
    const start = stack.appsync.graphqlLog.length;
    await page.getByTestId('auto-query').check();
    await waitFor(() => stack.appsync.graphqlLog.length - start >= 2, 8_000, 'two automatic queries');
    await page.getByTestId('auto-query').uncheck();
    const stoppedAt = stack.appsync.graphqlLog.length;
    assert.ok(stack.appsync.graphqlLog.slice(start).every((r) => r.status === 200));
    await new Promise((r) => setTimeout(r, 5_500));
    assert.equal(stack.appsync.graphqlLog.length, stoppedAt, 'no query after switching off');
  });

  test('the server-rendered /amplify page holds no token and runs no Amplify', async () => {
    const html = await fetch(`${stack.url}/amplify`).then((r) => r.text());
    assert.match(html, /<app-root/);
    assert.match(html, /data-testid="amplify-loading"/, 'rendered in its loading state; Amplify starts in the browser');
    assert.doesNotMatch(html, /eyJ[\w-]{10,}\.eyJ[\w-]{10,}/);
    for (const { token } of stack.appsync.graphqlLog) assert.ok(!html.includes(token));
  });

  test('without Amplify mode the page says how to start it', async () => {
    const plain = await startDemoServer({ port: 0, angularServer });
    try {
      const config = await fetch(`${plain.url}/amplify/config`);
      assert.equal(config.status, 200, 'Amplify mode being off is an answer, not a missing resource');
      const body = await config.json();
      assert.equal(body.enabled, false);
      assert.match(body.message, /npm run demo:amplify/);
      const other = await browser.newPage();
      const failed = [];
      other.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${new URL(r.url()).pathname}`));
      try {
        await other.goto(`${plain.url}/amplify`);
        await other.getByTestId('not-configured').waitFor({ timeout: 10_000 });
        assert.match(await other.getByTestId('not-configured').innerText(), /npm run demo:amplify/);
        const mentions = (await other.locator('main').innerText()).match(/npm run demo:amplify/g) ?? [];
        assert.equal(mentions.length, 1, 'the page says how to start Amplify mode once');
        assert.deepEqual(failed, [], 'no failed request');
      } finally {
        await other.close();
      }
    } finally {
      await plain.close();
    }
  });
});
