// bff.renderContext(request) (#20) against a real oidc-provider 9: the render's token calls are the
// BFF's own (cache, single flight, X-Replaces-Token semantics by SHA-256), the user is the allowed
// claims plus sub, the origin is the redirect URI's, and a signed-out request gets user null.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { FRESH_TOKEN_RENDER_CONTEXT_KEY, readSessionRenderContext } from 'ngx-fresh-token/oauth/server';
import { cookieJar, getToken, signIn, startBffTestbed } from './helpers/bff-idp.mjs';

let tb;
before(async () => {
  tb = await startBffTestbed(bffModule, { bff: { refreshBufferMs: 1_000, minRefreshIntervalMs: 0 } });
});
after(async () => {
  await tb?.close();
});

const pageRequest = (cookie, host) => new Request(`${host ?? tb.app.origin}/dashboard`, { headers: cookie ? { cookie } : {} });

describe('bff.renderContext()', () => {
  test('a signed-in request: the allowed claims with sub, the configured origin, and the session\'s cached token', async () => {
    tb.clock.set(Date.now());
    const jar = cookieJar();
    await signIn(jar, tb.app, { loginHint: 'alice' });
    const cookie = jar.header(`${tb.app.origin}/`);
    const value = await tb.bff.renderContext(pageRequest(cookie, 'http://evil.example'));
    const context = readSessionRenderContext(value);
    assert.ok(context, 'a well-formed context under the documented key');
    assert.equal(FRESH_TOKEN_RENDER_CONTEXT_KEY, 'freshToken');
    assert.equal(context.origin, tb.app.origin, 'the redirect URI\'s origin, not the request\'s host');
    assert.equal(context.user.sub, 'alice');
    assert.equal(context.user.internal_role, undefined, 'only allowed claims');
    const fromRender = await context.getToken({ forceRefresh: false });
    const fromRoute = (await getToken(jar, tb.app)).body;
    assert.equal(fromRender.accessToken, fromRoute.accessToken, 'the same cached token as /session/token');
  });

  test('forced calls from many renders for the same held token: one redemption, one new token for all', async () => {
    tb.clock.set(Date.now());
    const jar = cookieJar();
    await signIn(jar, tb.app, { loginHint: 'bob' });
    const cookie = jar.header(`${tb.app.origin}/`);
    const contexts = await Promise.all(Array.from({ length: 10 }, () => tb.bff.renderContext(pageRequest(cookie)).then(readSessionRenderContext)));
    const held = (await contexts[0].getToken({ forceRefresh: false })).accessToken;
    const before = tb.idp.counts.refresh_token;
    const answers = await Promise.all(contexts.map((c) => c.getToken({ forceRefresh: true, currentToken: held })));
    assert.equal(tb.idp.counts.refresh_token, before + 1, 'one redemption');
    assert.equal(new Set(answers.map((a) => a.accessToken)).size, 1);
    assert.notEqual(answers[0].accessToken, held);
    // Later: a render still holding the old token gets the new one, redeeming nothing.
    const late = await contexts[0].getToken({ forceRefresh: true, currentToken: held });
    assert.equal(late.accessToken, answers[0].accessToken);
    assert.equal(tb.idp.counts.refresh_token, before + 1);
  });

  test('a signed-out request: user null and no token', async () => {
    const context = readSessionRenderContext(await tb.bff.renderContext(pageRequest(null)));
    assert.equal(context.user, null);
    assert.equal(await context.getToken({ forceRefresh: false }), null);
  });
});
