// A server render has a budget (#24): the built demo (dist/demo/server) rendered by its own
// createSsrHandler, concurrently, with render contexts (createSessionRenderContext) whose token
// function stands for a session whose IdP is slow or misconfigured. Each page must answer within the
// server budget (one attempt of 3 s by default) plus a margin, signed in, without the data that
// needed the token; a configuration error (the BFF's NFT410) is asked for once per render, never retried.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import '@angular/compiler';
import { createSessionRenderContext } from 'ngx-fresh-token/oauth/server';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const angularServer = join(root, 'dist/demo/server/server.mjs');
/** The default server budget: one attempt of 3 s (README, "A server render has a budget"). */
const BUDGET_MS = 3_000;
/** What a render may take on top of the budget on this (shared, 2-core) machine. */
const MARGIN_MS = 2_500;

let server;
let origin;
/** What the next renders' session does: set per test. */
let session;
const pending = new Set();

before(async () => {
  assert.ok(existsSync(angularServer), 'the demo is not built: run npx ng build demo first');
  const { createSsrHandler } = await import(pathToFileURL(angularServer).href);
  const handler = createSsrHandler(async () =>
    createSessionRenderContext({ origin, user: { sub: session.user, name: session.user }, getToken: (request) => session.getToken(request) }),
  );
  server = createServer((req, res) => handler(req, res, (err) => {
    res.statusCode = err ? 500 : 404;
    res.end(err ? 'error' : 'not found');
  }));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://localhost:${server.address().port}`;
});

after(async () => {
  for (const timer of pending) clearTimeout(timer);
  await new Promise((r) => server?.close(r) ?? r());
});

/** GET `path` as a browser's first page load would, timed; resolves { status, headers, html, ms }. */
function render(path) {
  const started = Date.now();
  const url = new URL(path, origin);
  return new Promise((resolvePage, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: url.port, path: url.pathname, headers: { host: url.host, accept: 'text/html', cookie: 'sid=x' } }, (res) => {
      let html = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (html += chunk));
      res.on('end', () => resolvePage({ status: res.statusCode, headers: res.headers, html, ms: Date.now() - started }));
    });
    req.on('error', reject);
    req.end();
  });
}

const text = (html, testId) => new RegExp(`data-testid="${testId}"[^>]*>([^<]*)<`).exec(html)?.[1].trim() ?? null;

describe('a server render has a budget', () => {
  test('an IdP delayed by 20 s: 6 concurrent renders each answer within the budget plus a margin, signed in, without the profile', async () => {
    let calls = 0;
    session = {
      user: 'alice',
      // The session's token needs the IdP, which answers after 20 s.
      getToken: () =>
        new Promise((resolveToken) => {
          calls++;
          const timer = setTimeout(() => resolveToken({ accessToken: 'slow-opaque-token', expiresIn: 300 }), 20_000);
          pending.add(timer);
        }),
    };
    const pages = await Promise.all(Array.from({ length: 6 }, () => render('/')));
    for (const [i, page] of pages.entries()) {
      assert.equal(page.status, 200, `render ${i}`);
      assert.ok(page.ms < BUDGET_MS + MARGIN_MS, `render ${i} took ${page.ms} ms (budget ${BUDGET_MS} ms + ${MARGIN_MS} ms)`);
      assert.equal(text(page.html, 'session-user-sub'), 'alice', 'rendered signed in');
      assert.equal(text(page.html, 'profile-sub'), null, 'without the data that needed the token');
      assert.ok(!page.html.includes('slow-opaque-token'));
    }
    assert.equal(calls, 6, 'one attempt per render');
  });

  test('a configuration error (the BFF answers NFT410 as HTTP 500) is asked for once per render, never retried', async () => {
    let calls = 0;
    session = {
      user: 'bob',
      getToken: async () => {
        calls++;
        // What bff.accessToken() rejects with: the BFF's coded error, answered as HTTP 500.
        throw Object.assign(new Error('NFT410: the identity provider refused the client'), { name: 'FreshTokenError', code: 'NFT410', status: 500 });
      },
    };
    const pages = await Promise.all(Array.from({ length: 4 }, () => render('/')));
    for (const page of pages) {
      assert.equal(page.status, 200);
      assert.ok(page.ms < BUDGET_MS, `took ${page.ms} ms`);
    }
    assert.equal(calls, 4, 'one call per render');
  });
});
