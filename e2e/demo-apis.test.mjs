// End-to-end, tokens per API (#25): the demo calls two APIs with different audiences — its own API
// (same origin, the default token) and the reports API on another origin (http://127.0.0.1:PORT while
// the app is http://localhost:PORT), which takes only tokens for its own audience, from
// `withApiToken('reports', …, withSessionEndpoint({ api: 'reports' }))` and the BFF's
// `/session/token?api=reports`. Proves, from the browser's requests and from what each API recorded,
// that neither API ever receives the other's token. Each test signs in in its own browser context.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { artifacts, claimsOf, clickAndWaitForRows, logIn, newContext, startDemo, until, waitForStatus } from './helpers/demo.mjs';

const TTL_SECONDS = 40;
const API_AUDIENCE = 'urn:ngx-fresh-token:demo-api';
const REPORTS_AUDIENCE = 'urn:ngx-fresh-token:demo-reports';

let demo;
let browser;
let stop;
const contexts = [];

const stats = () => fetch(`${demo.url}/api/stats`).then((r) => r.json());
async function context() {
  const made = await newContext(browser, demo.url);
  contexts.push(made.context);
  return made;
}
const lifetime = (page, name) => page.getByTestId(`lifetime-${name}`);

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  ({ demo, browser, close: stop } = await startDemo(TTL_SECONDS));
});

after(async () => {
  await stop?.();
});

describe('demo, tokens per API, end to end', { concurrency: false }, () => {
  test.afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  });

  test('the dashboard shows both tokens side by side, each with its own audience, scope and lifetime', async () => {
    const { context: ctx, watch } = await context();
    const page = await logIn(ctx, demo.url);
    for (const name of ['default', 'reports']) {
      await lifetime(page, name).getByTestId('lifetime-status').filter({ hasText: /^fresh$/ }).waitFor();
      await lifetime(page, name).getByTestId('lifetime-jti').waitFor();
    }
    assert.equal(await lifetime(page, 'default').getByTestId('lifetime-aud').innerText(), API_AUDIENCE);
    assert.equal(await lifetime(page, 'reports').getByTestId('lifetime-aud').innerText(), REPORTS_AUDIENCE);
    assert.equal(await lifetime(page, 'reports').getByTestId('lifetime-scope').innerText(), 'reports:read', 'downscoped: only what the reports API needs');
    assert.notEqual(await lifetime(page, 'default').getByTestId('lifetime-jti').innerText(), await lifetime(page, 'reports').getByTestId('lifetime-jti').innerText());
    // The reports token lives 1.5× the default one here: two lifetimes, each on its own schedule.
    assert.match(await lifetime(page, 'reports').innerText(), /left of 60 s/);
    assert.match(await lifetime(page, 'default').innerText(), /left of 40 s/);
    assert.deepEqual(
      watch.apiTokenRequests.map((r) => r.api),
      ['reports'],
      'the reports token came from /session/token?api=reports, once',
    );
    await page.screenshot({ path: join(artifacts, 'dashboard-two-apis.png'), fullPage: true });
  });

  test("each request carries the token of the API it goes to, and neither API ever receives the other's token", async () => {
    const before = await stats();
    const { context: ctx, watch } = await context();
    const page = await logIn(ctx, demo.url);
    await lifetime(page, 'reports').getByTestId('lifetime-jti').waitFor();
    const rows = await clickAndWaitForRows(page, 'call-both', 2);
    // The request log says which token each request carried.
    assert.deepEqual(rows.map((attempts) => attempts.length), [1, 1]);
    const shown = rows.flat().sort();
    assert.match(shown[0], /^200 · #\d+$/, `the app's API call: ${shown}`);
    assert.match(shown[1], /^200 · reports #\d+$/, `the reports API call: ${shown}`);
    await page.getByTestId('reports-answer').waitFor();
    assert.equal(await page.getByTestId('reports-answer-aud').innerText(), REPORTS_AUDIENCE);
    assert.equal(await page.getByTestId('reports-answer-user').innerText(), 'alice');
    await clickAndWaitForRows(page, 'call', 1);
    await clickAndWaitForRows(page, 'call-reports', 1);

    // What left the browser: every call to the app's API with the default token, every call to the
    // reports API (another origin) with the reports token.
    const apiCalls = watch.apiCalls.filter((c) => c.path === '/api/data');
    assert.equal(apiCalls.length, 2);
    assert.ok(apiCalls.every((c) => c.aud === API_AUDIENCE), `app API calls carried: ${apiCalls.map((c) => c.aud)}`);
    assert.equal(watch.reportsCalls.length, 2);
    assert.ok(watch.reportsCalls.every((c) => c.aud === REPORTS_AUDIENCE && c.origin !== demo.url), `reports calls carried: ${watch.reportsCalls.map((c) => c.aud)}`);
    const defaultTokens = new Set(apiCalls.map((c) => c.token));
    assert.ok(watch.reportsCalls.every((c) => !defaultTokens.has(c.token)), 'no default token went to the reports API');

    // What each API recorded of every token it was handed (the audiences, never the tokens).
    const after = await stats();
    const seen = (api) => Object.keys(after.audiences[api]).filter((aud) => after.audiences[api][aud] !== (before.audiences[api][aud] ?? 0));
    assert.deepEqual(seen('api'), [API_AUDIENCE], "the app's API saw only default tokens");
    assert.deepEqual(seen('reports'), [REPORTS_AUDIENCE], 'the reports API saw only reports tokens');
  });

  test('each token refreshes on its own schedule, and after both refreshed each API still receives only its own token', async () => {
    const before = await stats();
    const { context: ctx, watch } = await context();
    const page = await logIn(ctx, demo.url);
    const generationOf = (name) => lifetime(page, name).getByTestId('lifetime-generation').innerText();
    await lifetime(page, 'reports').getByTestId('lifetime-jti').waitFor();
    assert.equal(await generationOf('reports'), 'reports #1');
    // Auto refresh at the buffer (30 s before expiry): the default token (40 s) at about 10 s, the
    // reports token (60 s) at about 30 s; each from its own source, neither waiting for the other.
    await lifetime(page, 'default').getByTestId('lifetime-generation').filter({ hasText: /^#2$/ }).waitFor({ timeout: 25_000 });
    assert.equal(await generationOf('reports'), 'reports #1', "the default token's refresh did not refresh the reports token");
    await lifetime(page, 'reports').getByTestId('lifetime-generation').filter({ hasText: /^reports #2$/ }).waitFor({ timeout: 40_000 });
    const rows = await clickAndWaitForRows(page, 'call-both', 2);
    assert.deepEqual(rows.flat().sort().map((a) => a.replace(/\d+$/, 'N')), ['200 · #N', '200 · reports #N']);
    assert.deepEqual(
      [...new Set(watch.apiTokenRequests.map((r) => r.api))],
      ['reports'],
      'the reports token came from /session/token?api=reports only',
    );
    // Every call that left the browser, before and after the refreshes, carried its own API's token.
    const apiCalls = watch.apiCalls.filter((c) => c.token);
    assert.ok(apiCalls.length >= 1 && apiCalls.every((c) => c.aud === API_AUDIENCE), `app API calls carried: ${apiCalls.map((c) => c.aud)}`);
    assert.ok(watch.reportsCalls.length >= 1 && watch.reportsCalls.every((c) => c.aud === REPORTS_AUDIENCE), `reports calls carried: ${watch.reportsCalls.map((c) => c.aud)}`);
    const after = await stats();
    const seen = (api) => Object.keys(after.audiences[api]).filter((aud) => after.audiences[api][aud] !== (before.audiences[api][aud] ?? 0));
    assert.deepEqual(seen('reports'), [REPORTS_AUDIENCE], 'the reports API saw only reports tokens');
    assert.ok(seen('api').every((aud) => aud === API_AUDIENCE || aud === 'none'), `the app's API saw: ${seen('api')}`);
    assert.ok(after.apiRefreshes - before.apiRefreshes >= 2, 'the reports token was redeemed at the BFF for its own API (first token and its refresh)');
  });

  test('both APIs check the audience: each refuses the other\'s token (so a mix-up would show as a 401, not pass)', async () => {
    const { context: ctx, watch } = await context();
    const page = await logIn(ctx, demo.url);
    await lifetime(page, 'reports').getByTestId('lifetime-jti').waitFor();
    await clickAndWaitForRows(page, 'call-both', 2);
    const defaultToken = watch.apiCalls.find((c) => c.path === '/api/data').token;
    const reportsToken = watch.reportsCalls[0].token;
    assert.equal(claimsOf(defaultToken).aud, API_AUDIENCE);
    const reportsUrl = `${demo.url.replace('localhost', '127.0.0.1')}/reports-api/summary`;
    const wrongAtReports = await fetch(reportsUrl, { headers: { authorization: `Bearer ${defaultToken}` } });
    assert.equal(wrongAtReports.status, 401);
    assert.equal((await wrongAtReports.json()).error, 'wrong_audience');
    const wrongAtApi = await fetch(`${demo.url}/api/data`, { headers: { authorization: `Bearer ${reportsToken}` } });
    assert.equal(wrongAtApi.status, 401);
    const right = await fetch(reportsUrl, { headers: { authorization: `Bearer ${reportsToken}` } });
    assert.equal(right.status, 200);
  });

  test('sign out ends both tokens: the reports token is dropped with the default one', async () => {
    const { context: ctx, watch } = await context();
    const page = await logIn(ctx, demo.url);
    await lifetime(page, 'reports').getByTestId('lifetime-jti').waitFor();
    const reportsRequests = watch.apiTokenRequests.length;
    await page.getByTestId('signout').click();
    await waitForStatus(page, 'signed-out');
    await lifetime(page, 'reports').getByTestId('lifetime-status').filter({ hasText: /^signed-out$/ }).waitFor();
    await page.getByTestId('call-reports').click();
    await until(() => watch.reportsCalls.length === 1, 10_000, 'the reports call after sign-out');
    assert.equal(watch.reportsCalls[0].token, null, 'sent without a token');
    assert.equal(watch.apiTokenRequests.length, reportsRequests, 'and no reports token was asked for');
  });
});
