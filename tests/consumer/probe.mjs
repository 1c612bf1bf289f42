// What the consumer-app checks add to an app after `ng add ngx-fresh-token` (test code, never written by the
// schematic): a /probe page whose button calls the app's own API through HttpClient, and that API in server.ts
// (/api/echo: answers with the Authorization header it got; with ?once=<id>, its first call for that id answers 401).
// Then, black-box against the built server and a real OpenID provider: pages served, signed-out guard redirect on the
// server, a sign-in through the BFF, the guarded page rendered signed in (no token in the HTML), and in Chromium the
// interceptor attaching the token and, after a 401, refreshing it once and retrying.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import chromiumConfig from '../../scripts/chromium.cjs';
import { BFF_CLIENTS, BFF_SCOPE, TEST_SECRETS, cookieJar, signIn, startBffIdp } from '../node/helpers/bff-idp.mjs';
import { freePort, startNodeServer } from './helpers.mjs';

const { CHROME_BIN, CHROMIUM_FLAGS } = chromiumConfig;

function edit(path, from, to) {
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes(from), `${path} holds ${JSON.stringify(from)}`);
  writeFileSync(path, text.replace(from, to));
}

/** Adds the probe page and the echo API to an app that `ng add ngx-fresh-token --defaults` set up. */
export function addProbe(app) {
  writeFileSync(
    join(app, 'src', 'app', 'probe.ts'),
    `import { Component, inject, signal } from '@angular/core';
import { HttpClient } from '@angular/common/http';
import { firstValueFrom } from 'rxjs';

@Component({
  selector: 'app-probe',
  template: \`<button id="call" type="button" (click)="call()">call</button><pre id="result">{{ result() }}</pre>\`,
})
export class Probe {
  private readonly http = inject(HttpClient);
  protected readonly result = signal('');
  private calls = 0;

  async call(): Promise<void> {
    this.result.set('');
    const once = (location.search.match(/once=(\\w+)/) ?? [])[1];
    const url = once ? \`/api/echo?once=\${once}-\${++this.calls}\` : '/api/echo';
    try {
      this.result.set(JSON.stringify(await firstValueFrom(this.http.get(url))));
    } catch (error) {
      this.result.set(JSON.stringify({ error: (error as { status?: number }).status ?? String(error) }));
    }
  }
}
`,
  );
  const routes = join(app, 'src', 'app', 'app.routes.ts');
  edit(routes, 'export const routes: Routes = [', "export const routes: Routes = [\n  { path: 'probe', component: Probe },");
  writeFileSync(routes, `import { Probe } from './probe';\n${readFileSync(routes, 'utf8')}`);
  const serverRoutes = join(app, 'src', 'app', 'app.routes.server.ts');
  edit(serverRoutes, 'export const serverRoutes: ServerRoute[] = [', "export const serverRoutes: ServerRoute[] = [\n  { path: 'probe', renderMode: RenderMode.Client },");
  edit(
    join(app, 'src', 'server.ts'),
    '/**\n * Serve static files from /browser\n */',
    `// The consumer check's API: echoes the Authorization header; ?once=<id> answers 401 to the first call for that id.
const seenOnce = new Map<string, string | null>();
app.get('/api/echo', (req, res) => {
  const authorization = req.headers.authorization ?? null;
  const once = typeof req.query['once'] === 'string' ? req.query['once'] : undefined;
  if (once && !seenOnce.has(once)) {
    seenOnce.set(once, authorization);
    res.status(401).json({ error: 'first call' });
    return;
  }
  res.json({ authorization, rejected: once ? seenOnce.get(once) : undefined });
});

/**
 * Serve static files from /browser
 */`,
  );
}

/** Starts the built server of `app` (dist/<name>) against a real OpenID provider and checks it black-box. */
export async function checkServedApp(t, app, name) {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const idp = await startBffIdp({ appOrigin: origin, accessTokenTtlSeconds: 300 });
  t.after(() => idp.close());
  const { clientId, clientSecret } = BFF_CLIENTS.client_secret_basic;
  // Exactly the variables .env.example names: the client secret only in the environment.
  const server = await startNodeServer(app, join('dist', name, 'server', 'server.mjs'), port, {
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: clientId,
    OIDC_CLIENT_SECRET: clientSecret,
    OIDC_SCOPE: BFF_SCOPE,
    SESSION_SECRETS: TEST_SECRETS[0],
    APP_ORIGIN: origin,
    NG_ALLOWED_HOSTS: 'localhost',
  });
  t.after(() => server.stop());

  await t.test('the server serves the app: its sign-in page (prerendered) and its static files', async () => {
    const login = await fetch(`${origin}/login`);
    assert.equal(login.status, 200);
    assert.match(await login.text(), /<h1>Sign in<\/h1>/);
    assert.equal((await fetch(`${origin}/favicon.ico`)).status, 200);
  });

  await t.test('signed out: /session/token answers 401 and the guarded page redirects on the server', async () => {
    const jar = cookieJar();
    assert.equal((await jar.fetch(`${origin}/session/token`, { headers: { 'x-csrf': '1' } })).status, 401);
    const guarded = await jar.fetch(`${origin}/account`, { navigation: true });
    assert.equal(guarded.status, 302, `GET /account signed out: ${guarded.status}\n${server.output()}`);
    assert.match(guarded.headers.get('location'), /\/login\?returnUrl=%2Faccount$/);
  });

  await t.test('the BFF signs in; the guarded page renders signed in on the server, without the token', async () => {
    const jar = cookieJar();
    const login = await signIn(jar, { origin }, { returnUrl: '/account' });
    assert.equal(login.callback.status, 200, `callback: ${login.callback.status} ${login.html.slice(0, 300)}\n${server.output()}`);
    const token = await jar.fetch(`${origin}/session/token`, { headers: { 'x-csrf': '1' } });
    assert.equal(token.status, 200);
    const { accessToken } = await token.json();
    assert.ok(accessToken);
    const account = await jar.fetch(`${origin}/account`, { navigation: true });
    assert.equal(account.status, 200);
    const html = await account.text();
    assert.match(html, /<h1>Account<\/h1>/);
    assert.match(html, /Session: fresh/);
    assert.ok(!html.includes(accessToken), 'no token in the HTML');
    assert.match(account.headers.get('cache-control') ?? '', /no-store/);
  });

  await t.test('in Chromium: the interceptor attaches the token, and after a 401 refreshes once and retries', async () => {
    const browser = await chromium.launch({ executablePath: CHROME_BIN, args: CHROMIUM_FLAGS });
    t.after(() => browser.close());
    // The test IdP's certificate comes from this run's own CA, which Node trusts (NODE_EXTRA_CA_CERTS) and Chromium does not.
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    // The IdP completes this login by itself (login_hint): a chain of redirects back to the app, then /probe.
    await page.goto(`${origin}/auth/login?returnUrl=${encodeURIComponent('/probe')}&login_hint=alice`);
    await page.waitForURL(`${origin}/probe`);
    await page.click('#call');
    await page.waitForFunction(() => document.querySelector('#result')?.textContent !== '');
    const first = JSON.parse(await page.textContent('#result'));
    assert.match(first.authorization ?? '', /^Bearer .+/, JSON.stringify(first));

    // The BFF redeems at most once per session per 5 s (minRefreshIntervalMs): let that pass since the sign-in.
    await new Promise((r) => setTimeout(r, 5_500));
    await page.goto(`${origin}/probe?once=x`);
    await page.click('#call');
    await page.waitForFunction(() => document.querySelector('#result')?.textContent !== '');
    const retried = JSON.parse(await page.textContent('#result'));
    assert.match(retried.authorization ?? '', /^Bearer .+/, JSON.stringify(retried));
    assert.equal(retried.rejected, first.authorization, 'the 401 was for the token held before');
    assert.notEqual(retried.authorization, first.authorization, 'the retry carried a refreshed token');
  });
}
