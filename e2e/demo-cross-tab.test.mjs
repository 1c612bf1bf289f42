// End-to-end: the demo's cross-tab sync (withCrossTabSync: a Web Lock around each refresh, a
// BroadcastChannel carrying tokens and sign-outs) with several tabs of ONE browser context, in
// Debian's Chromium, against the demo backend with 40 s tokens. "Same token" means the same jti.
// UPDATE_DOCS_SCREENSHOT=1 also writes the two-tab picture to docs/demo-cross-tab.png.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  artifacts,
  clickAndWaitForRows,
  holdSessionToken,
  logIn,
  newContext,
  openTab,
  root,
  shownJti,
  startDemo,
  until,
  waitForStatus,
  within,
} from './helpers/demo.mjs';

const TTL_SECONDS = 40;

let demo;
let browser;
let stop;
const contexts = [];

async function context() {
  const made = await newContext(browser, demo.url);
  contexts.push(made.context);
  return made;
}

const texts = (tabs, testId) => Promise.all(tabs.map((t) => t.getByTestId(testId).innerText()));
const newestEvent = async (tab) => {
  const row = tab.getByTestId('event').first();
  return `${await row.locator('.event').innerText()} ${await row.getByTestId('event-origin').innerText().catch(() => '')}`.trim();
};

/** Two dashboards side by side in one picture, each under its label. */
async function sideBySide(shots, path) {
  const page = await browser.newPage({ viewport: { width: 2100, height: 200 } });
  try {
    const cells = shots
      .map(({ label, file }) => `<figure><figcaption>${label}</figcaption><img src="data:image/png;base64,${readFileSync(file).toString('base64')}"></figure>`)
      .join('');
    await page.setContent(`<style>body{margin:0;display:flex;gap:20px;padding:20px;background:#cfd6e4;font:600 22px system-ui}
      figure{margin:0;width:1020px}img{width:1020px;border:1px solid #8a92a3;border-radius:6px}figcaption{margin-bottom:8px}</style>${cells}`);
    await page.screenshot({ path, fullPage: true });
  } finally {
    await page.close();
  }
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  ({ demo, browser, close: stop } = await startDemo(TTL_SECONDS));
});

after(async () => {
  await stop?.();
});

describe('demo, cross-tab sync, end to end', { concurrency: false }, () => {
  test.afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  });

  test('four tabs: 2–4 adopt tab 1’s token without /session/token; entering the buffer together costs ONE refresh while a call in each goes out at once; a fifth tab opened later adopts too', async () => {
    const { context: ctx, watch, sessionStats } = await context();
    const tab1 = await logIn(ctx, demo.url);
    const firstJti = await shownJti(tab1);
    const tokenRequests = watch.sessionTokenRequests.length;

    // Tabs 2–4 open at once; each asks the running tabs (hello) before it would call its source.
    const others = await Promise.all([1, 2, 3].map(() => openTab(ctx, demo.url)));
    const tabs = [tab1, ...others];
    assert.equal(watch.sessionTokenRequests.length, tokenRequests, 'tabs 2–4 opened without a /session/token request');
    assert.deepEqual(await Promise.all(tabs.map(shownJti)), [firstJti, firstJti, firstJti, firstJti], 'the same token in all four');
    for (const tab of others) {
      assert.equal(await newestEvent(tab), 'loaded adopted from another tab');
      assert.equal(await tab.getByTestId('tab-adoptions').innerText(), '1');
    }
    const refreshAts = await Promise.all(tabs.map((t) => t.getByTestId('next-step').getAttribute('data-refresh-at')));
    assert.equal(new Set(refreshAts).size, 1, 'the token enters the buffer at the same moment in all four');

    // Hold the refresh at the network once it starts; then call the API from every tab.
    const hold = await holdSessionToken(ctx);
    await within(hold.arrived, Math.max(0, Number(refreshAts[0]) - Date.now()) + 5_000, 'the refresh at refreshAt');
    const attempts = await Promise.all(tabs.map((t) => clickAndWaitForRows(t, 'call', 1)));
    assert.ok(attempts.every(([a]) => a.length === 1 && a[0].startsWith('200 · ')), `attempts: ${JSON.stringify(attempts)}`);
    const calls = watch.apiCalls.slice(-4);
    assert.deepEqual(calls.map((c) => c.jti), [firstJti, firstJti, firstJti, firstJti], 'the four calls went out at once with the current token');
    const answers = watch.dataAnswers.slice(-4);
    assert.ok(answers.every((a) => a.status === 200));
    assert.equal(new Set(answers.map((a) => a.generation)).size, 1, 'the API saw one token generation');
    assert.equal(watch.sessionTokenRequests.length - tokenRequests, 1, 'one /session/token request across the four tabs');

    await hold.release();
    await until(async () => {
      const jtis = await Promise.all(tabs.map(shownJti));
      return new Set(jtis).size === 1 && jtis[0] !== firstJti;
    }, 10_000, 'all four tabs to hold the new token');
    const newJti = await shownJti(tab1);
    assert.equal(watch.sessionTokenRequests.length - tokenRequests, 1, 'still one /session/token request: the others adopted');
    assert.equal((await sessionStats()).refreshes, 1, 'one refresh on the server');
    const refreshed = (await texts(tabs, 'tab-refreshes')).map(Number);
    assert.deepEqual(refreshed.slice().sort(), [0, 0, 0, 1], 'exactly one tab refreshed from its source');
    const refresher = tabs[refreshed.indexOf(1)];
    const adopter = tabs.find((t) => t !== refresher);
    assert.equal(await newestEvent(refresher), 'refreshed (this tab)');
    for (const tab of tabs.filter((t) => t !== refresher)) assert.equal(await newestEvent(tab), 'refreshed adopted from another tab');

    // After the refresh every tab sends the new token, with one more server generation.
    await Promise.all(tabs.map((t) => clickAndWaitForRows(t, 'call', 1)));
    assert.deepEqual(watch.apiCalls.slice(-4).map((c) => c.jti), [newJti, newJti, newJti, newJti]);
    assert.ok(watch.dataAnswers.slice(-4).every((a) => a.status === 200 && a.generation > answers[0].generation));

    // The dashboards of the tab that refreshed and of one that adopted, side by side.
    const shots = [];
    for (const [label, tab] of [['Tab that refreshed (its own source)', refresher], ['Tab that adopted the token from it', adopter]]) {
      const file = join(artifacts, `cross-tab-${shots.length + 1}.png`);
      await tab.screenshot({ path: file, animations: 'disabled' });
      shots.push({ label, file });
    }
    const picture = join(artifacts, 'dashboard-two-tabs.png');
    await sideBySide(shots, picture);
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') copyFileSync(picture, join(root, 'docs', 'demo-cross-tab.png'));

    // A fifth tab, opened later, adopts the current token: still no /session/token request.
    const fifth = await openTab(ctx, demo.url);
    assert.equal(await shownJti(fifth), newJti);
    assert.equal(await newestEvent(fifth), 'loaded adopted from another tab');
    assert.equal(watch.sessionTokenRequests.length - tokenRequests, 1, 'the fifth tab started without a /session/token request');
  });

  test('sign out in one tab → every tab is signed out within 1 s, and none asks the server for a token', async (t) => {
    const { context: ctx, watch, sessionStats } = await context();
    const tab1 = await logIn(ctx, demo.url);
    const tabs = [tab1, ...(await Promise.all([1, 2, 3].map(() => openTab(ctx, demo.url))))];
    const tokenRequests = watch.sessionTokenRequests.length;

    // Each tab notes the moment its status badge turns signed-out; the third tab notes its click. Every
    // observer is in place before the click (installed, then awaited apart): an observer installed after
    // the broadcast reached its tab would never see the change.
    await Promise.all(
      tabs.map((tab) =>
        tab.evaluate(() => {
          window.__signedOutAt = new Promise((resolve) => {
            const badge = document.querySelector('[data-testid=status]');
            const seen = () => badge.textContent.trim() === 'signed-out' && (observer.disconnect(), resolve(Date.now()));
            const observer = new MutationObserver(seen);
            observer.observe(badge, { subtree: true, childList: true, characterData: true });
          });
        }),
      ),
    );
    const signedOutAt = tabs.map((tab) => tab.evaluate(() => window.__signedOutAt));
    const clickedAt = await tabs[2].evaluate(() => {
      const at = Date.now();
      document.querySelector('[data-testid=signout]').click();
      return at;
    });
    const delays = (await within(Promise.all(signedOutAt), 5_000, 'every tab to sign out')).map((at) => at - clickedAt);
    t.diagnostic(`signed out after ${delays.join(', ')} ms (tabs 1–4; the click was in tab 3)`);
    assert.ok(Math.max(...delays) <= 1_000, `every tab signed out within 1 s: ${delays} ms`);
    for (const tab of tabs) assert.match(await tab.getByTestId('next-step').innerText(), /^Signed out — log in/);
    assert.equal(watch.sessionTokenRequests.length, tokenRequests, 'no tab asked the server for a token');
    assert.equal(await sessionStats(), null, 'the session is gone on the server');
    for (const tab of tabs) assert.equal(await tab.getByTestId('event').first().locator('.event').innerText(), 'signed-out');
  });
});
