// End-to-end (#20): the demo renders signed-in pages on the server and the browser starts from them.
// A MutationObserver installed before the page's first byte records every text the status badge
// shows from the first paint on; the console is watched for hydration errors (NG05xx); a context
// with JavaScript disabled sees only the server's HTML.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SESSION_COOKIE, logIn, newContext, startDemo, submitLogin } from './helpers/demo.mjs';

const TTL_SECONDS = 60;
let demo;
let browser;
let stop;
const contexts = [];

before(async () => {
  ({ demo, browser, close: stop } = await startDemo(TTL_SECONDS));
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await stop?.();
});

/** Records `[data-testid=status]` texts (with times) from the first parse of every document of the context. */
const RECORD_STATUS = () => {
  const seen = (window.__statuses = []);
  const read = () => {
    const el = document.querySelector('[data-testid=status]');
    const text = el ? el.textContent.trim() : null;
    if (text !== null && seen.at(-1)?.text !== text) seen.push({ text, at: performance.now() });
  };
  new MutationObserver(read).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
};

async function watchedContext(options) {
  const w = await newContext(browser, demo.url);
  contexts.push(w.context);
  await w.context.addInitScript(RECORD_STATUS);
  w.consoleErrors = [];
  w.context.on('page', (page) =>
    page.on('console', (msg) => {
      if (msg.type() === 'error' || /NG0?5\d\d/.test(msg.text())) w.consoleErrors.push(msg.text());
    }),
  );
  return w;
}

describe('authenticated SSR in Chromium', () => {
  test('the page the login lands on is rendered signed in: the status never shows signed-out from the first paint', async () => {
    const w = await watchedContext();
    const page = await w.context.newPage();
    await page.goto(`${demo.url}/login`);
    await submitLogin(page, 'alice');
    await page.waitForURL(`${demo.url}/`);
    await page.getByTestId('session-user-sub').filter({ hasText: 'alice' }).waitFor();
    await page.waitForLoadState('load');
    await page.waitForTimeout(1_000);
    const statuses = await page.evaluate(() => window.__statuses);
    assert.ok(statuses.length > 0, 'the status was seen');
    assert.notEqual(statuses[0].text, 'signed-out', `first paint: ${statuses[0].text}`);
    assert.deepEqual(statuses.filter((s) => s.text === 'signed-out'), [], JSON.stringify(statuses));
    assert.deepEqual(w.consoleErrors, []);
  });

  test('reloading the dashboard: never signed-out until 3 s after load, no hydration error, at most one /session/token before the first API call completes', async () => {
    const w = await watchedContext();
    const page = await logIn(w.context, demo.url, 'alice');
    w.watch.sessionTokenRequests.length = 0;
    w.watch.apiCalls.length = 0;
    w.consoleErrors.length = 0;
    await page.reload({ waitUntil: 'load' });
    await page.waitForTimeout(3_000);
    const statuses = await page.evaluate(() => window.__statuses);
    assert.ok(statuses.length > 0);
    assert.deepEqual(statuses.filter((s) => s.text === 'signed-out'), [], JSON.stringify(statuses));
    assert.equal(await page.getByTestId('profile-sub').innerText(), 'alice');
    assert.equal(w.watch.apiCalls.filter((c) => c.path === '/api/profile').length, 0, 'the profile came with the page, not fetched again');
    assert.deepEqual(w.consoleErrors, [], 'no console error (hydration included)');
    assert.ok(!page.url().includes('/login'), 'not redirected');
    // The first API call of the page.
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/data');
    await page.getByTestId('call').click();
    assert.equal((await answered).status(), 200);
    assert.ok(w.watch.sessionTokenRequests.length <= 1, `${w.watch.sessionTokenRequests.length} /session/token requests`);
    assert.ok(w.watch.apiCalls.every((c) => c.token), 'every API call carried the token');
  });

  test('with JavaScript disabled the HTML alone shows the signed-in dashboard', async () => {
    const w = await watchedContext();
    const signedIn = await logIn(w.context, demo.url, 'bob');
    const cookie = (await w.context.cookies()).find((c) => c.name === SESSION_COOKIE);
    assert.ok(cookie);
    await signedIn.close();
    const noJs = await browser.newContext({ javaScriptEnabled: false });
    contexts.push(noJs);
    await noJs.addCookies([cookie]);
    const page = await noJs.newPage();
    const response = await page.goto(`${demo.url}/`);
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(await page.getByTestId('status').innerText(), 'fresh');
    assert.equal(await page.getByTestId('session-user-sub').innerText(), 'bob');
    assert.equal(await page.getByTestId('profile-sub').innerText(), 'bob');
    assert.equal(response.headers()['cache-control'], 'private, no-store');
  });
});
