// Return targets after the login never leave the app's origin (issue #23, open redirect): the value the
// BFF hands the hop page is checked as OUTPUT — resolved against the app origin and against the callback
// URL (what the browser does with the hop page's meta refresh) — not only as input. Real sign-ins through
// the real oidc-provider over HTTPS for dot-segment forms that resolve to `//host` after normalization,
// and fast-check properties over `safeReturnUrl()` (the same function, exported for apps' own routes):
// for any string, seeded with dots, slashes, backslashes, percent-encodings and Unicode look-alikes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import * as bffModule from 'ngx-fresh-token/bff';
import { cookieJar, signIn, startBffTestbed } from './helpers/bff-idp.mjs';

const { safeReturnUrl } = bffModule;
const ORIGIN = 'https://app.example.com';
const CALLBACK = `${ORIGIN}/auth/callback`;

/** True when `target` (a hop-page target) resolves to `origin` against both the origin and the callback URL. */
function staysOn(target, origin, callback) {
  for (const base of [`${origin}/`, callback]) {
    const url = new URL(target, base);
    if (url.origin !== origin) return false;
  }
  return true;
}

describe('return targets after real sign-ins (real oidc-provider over HTTPS)', () => {
  let tb;
  before(async () => {
    tb = await startBffTestbed(bffModule);
  });
  after(async () => {
    await tb?.close();
  });

  // Each resolves to `//evil.test…` once dot segments are removed (the review's finding), or reaches a
  // router or server that decodes it as such.
  const dotSegmentForms = [
    '/.//evil.test',
    '/.//evil.test/path?x=1',
    '/%2e//evil.test',
    '/%2E//evil.test',
    '/a/..//evil.test',
    '/%2e%2e//evil.test',
    '/a/%2e%2e//evil.test',
    '/././/evil.test',
    '/a/b/../..//evil.test',
    '/.%2F/evil.test',
    '/%2e%2f/evil.test',
    '/..//evil.test',
    '/.///evil.test',
    '/a/.%2e//evil.test',
  ];
  for (const returnUrl of dotSegmentForms) {
    test(`${JSON.stringify(returnUrl)} never sends the browser to another origin`, async () => {
      const { callback, target } = await signIn(cookieJar(), tb.app, { returnUrl });
      assert.equal(callback.status, 200);
      assert.ok(typeof target === 'string' && target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\'), `hop target ${JSON.stringify(target)}`);
      assert.ok(staysOn(target, tb.app.origin, `${tb.app.origin}/auth/callback`), `${JSON.stringify(target)} resolves to ${new URL(target, `${tb.app.origin}/auth/callback`).href}`);
    });
  }

  test('a return target that is one of the BFF’s own routes falls back to / (no chain of logins from one link)', async () => {
    for (const returnUrl of ['/auth/login?returnUrl=/auth/login', '/auth/logout', '/session/token', '/auth/end-session?ref=x', '/auth/callback?code=x']) {
      const { target } = await signIn(cookieJar(), tb.app, { returnUrl });
      assert.equal(target, '/', returnUrl);
    }
  });

  test('logging in again in the same browser ends its previous session (recorded at /auth/login, where the Strict cookie is sent)', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app, { loginHint: 'alice' });
    const first = tb.rec.keys().at(-1);
    assert.ok(await tb.rec.inner.get(first));
    await signIn(jar, tb.app, { loginHint: 'alice' });
    assert.notEqual(tb.rec.keys().at(-1), first);
    assert.equal(await tb.rec.inner.get(first), null, 'no orphan session left with a live refresh token');
  });

  test('a long returnUrl of non-ASCII characters (2,000 × é) never makes a transaction cookie over 4 KB', async () => {
    const jar = cookieJar();
    const login = await jar.fetch(`${tb.app.origin}/auth/login?returnUrl=${encodeURIComponent(`/${'é'.repeat(2_000)}`)}`, { navigation: true });
    assert.equal(login.status, 302);
    for (const line of login.headers.getSetCookie()) {
      const pair = line.split(';')[0];
      assert.ok(pair.length <= 4_096, `a cookie of ${pair.length} bytes would be dropped by the browser`);
    }
  });

  test('a path that fits is kept with its query and fragment', async () => {
    const { target } = await signIn(cookieJar(), tb.app, { returnUrl: '/orders/42?tab=items#line-3' });
    assert.equal(target, '/orders/42?tab=items#line-3');
  });
});

describe('safeReturnUrl() properties (fast-check)', () => {
  const pieces = ['/', '//', '\\', '/\\', '.', '..', '/.', '/..', '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '%252e', '%252f', '%00', '%0a', '\t', '\n', '\r', '@', ':', '?', '#', '%', 'evil.test', 'a', 'é', '\u3002', '\uff0f', '\uff0e', '\u2215', '\u2044', '\u29f8', '\ufe68', '\uff3c', '\u00a0', 'javascript:', 'http:', 'https://evil.test', '%', ';', '&'];
  const hostile = fc.array(fc.constantFrom(...pieces), { maxLength: 12 }).map((parts) => parts.join(''));
  const anyString = fc.oneof(hostile, fc.string({ maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.webUrl().map((u) => u.replace(/^https?:\/\/[^/]+/, '')));

  test('for any string, the result resolved against the origin and the callback URL stays on the origin', () => {
    fc.assert(
      fc.property(anyString, (input) => {
        const out = safeReturnUrl(input, ORIGIN);
        return out.startsWith('/') && !out.startsWith('//') && !out.startsWith('/\\') && staysOn(out, ORIGIN, CALLBACK);
      }),
      { numRuns: 20_000 },
    );
  });

  test('for any string, the result is short enough for the transaction cookie and has no control character', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.string({ unit: 'grapheme', minLength: 500, maxLength: 3_000 })), (input) => {
        const out = safeReturnUrl(`/${input}`, ORIGIN);
        // eslint-disable-next-line no-control-regex
        return out.length <= 1_024 && !/[\u0000-\u001f\u007f\\]/.test(out);
      }),
      { numRuns: 2_000 },
    );
  });

  test('the result is a fixed point: normalizing it again changes nothing', () => {
    fc.assert(
      fc.property(anyString, (input) => {
        const out = safeReturnUrl(input, ORIGIN);
        return safeReturnUrl(out, ORIGIN) === out;
      }),
      { numRuns: 10_000 },
    );
  });

  test('a plain same-origin path with query and fragment comes back as it went in', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.option(segment), fc.option(segment), (segs, q, h) => {
        const path = `/${segs.join('/')}${q ? `?q=${q}` : ''}${h ? `#${h}` : ''}`;
        return safeReturnUrl(path, ORIGIN) === path;
      }),
    );
  });
});
