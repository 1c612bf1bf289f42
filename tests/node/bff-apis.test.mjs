// Tokens per API in the BFF (issue #25): `createBff({ apis })` mints each named API's token from the one
// rotating refresh token (RFC 8707 resource and/or a narrower scope), `/session/token?api=<name>` hands it
// out, the browser can never ask for an arbitrary resource or scope, and the redemptions of one session are
// serialized across its APIs — in one process and across instances on Redis — so reuse detection never
// fires. Real oidc-provider 9 over HTTPS with resource indicators, rotation and reuse detection.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as bffModule from 'ngx-fresh-token/bff';
import { ensureRedis, freeLoopbackPort } from '../../scripts/ensure-redis.mjs';
import { API_RESOURCE, BFF_CLIENTS, BFF_SCOPE, TEST_SECRETS, bffOptions, cookieJar, getToken, jwtClaims, signIn, startBffIdp, startBffTestbed, tokenHash, within } from './helpers/bff-idp.mjs';
import { spawnBffInstance } from './helpers/bff-instance.mjs';

const RESOURCES = { reports: 'https://reports.example.test', events: 'https://events.example.test', partner: 'urn:example:partner' };
const IDP_APIS = { [RESOURCES.reports]: 'reports:read', [RESOURCES.events]: 'events:subscribe', [RESOURCES.partner]: 'partner:write' };
const APIS = {
  reports: { resource: RESOURCES.reports, scope: 'reports:read' },
  events: { resource: RESOURCES.events },
  partner: { resource: RESOURCES.partner, scope: 'partner:write' },
};
const forced = (held) => ({ 'x-force-refresh': '1', ...(held ? { 'x-replaces-token': tokenHash(held) } : {}) });
const tokenFor = (jar, app, api, headers = {}) =>
  jar.fetch(`${app.origin}/session/token?api=${encodeURIComponent(api)}`, { headers: { 'x-csrf': '1', origin: app.origin, ...headers } }).then(async (response) => ({ status: response.status, body: await response.json(), response }));

describe('bff apis: a token per API, downscoped, one redemption at a time per session', () => {
  let tb;
  before(async () => {
    tb = await startBffTestbed(bffModule, { bff: { resource: API_RESOURCE, apis: APIS, refreshBufferMs: 1_000 }, idp: { apis: IDP_APIS } });
  });
  after(async () => {
    await tb?.close();
  });

  test('the login asks for every API’s resource and scope', async () => {
    const { authUrl, callback } = await signIn(cookieJar(), tb.app);
    assert.equal(callback.status, 200);
    assert.deepEqual(authUrl.searchParams.getAll('resource').sort(), [API_RESOURCE, ...Object.values(RESOURCES)].sort());
    const scope = authUrl.searchParams.get('scope').split(' ');
    for (const s of [...BFF_SCOPE.split(' '), 'reports:read', 'partner:write']) assert.ok(scope.includes(s), s);
  });

  test('/session/token?api=<name> hands out that API’s token: its own audience and scope, cached per API', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app);
    const redemptions = tb.idp.counts.refresh_token;
    const byApi = {};
    for (const api of Object.keys(APIS)) {
      const r = await tokenFor(jar, tb.app, api);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      byApi[api] = r.body.accessToken;
      assert.equal(jwtClaims(r.body.accessToken).aud, RESOURCES[api], `${api}: audience`);
    }
    assert.equal(jwtClaims(byApi.reports).scope, 'reports:read', 'downscoped');
    assert.equal(tb.idp.counts.refresh_token - redemptions, 3);
    for (const api of Object.keys(APIS)) assert.equal((await tokenFor(jar, tb.app, api)).body.accessToken, byApi[api], `${api}: cached`);
    assert.equal(tb.idp.counts.refresh_token - redemptions, 3, 'nothing more redeemed');
    const plain = (await getToken(jar, tb.app)).body.accessToken;
    assert.equal(jwtClaims(plain).aud, API_RESOURCE, 'the default token is unchanged');
  });

  test('an API that is not configured gets 400 NFT413; nothing lets the browser pick a resource or a scope', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app);
    for (const name of ['unknown', RESOURCES.reports, '__proto__', 'constructor', '', 'reports ']) {
      const r = await tokenFor(jar, tb.app, name);
      assert.equal(r.status, 400, name);
      assert.equal(r.body.code, 'NFT413', name);
    }
    const withParams = await jar.fetch(`${tb.app.origin}/session/token?resource=${encodeURIComponent(RESOURCES.partner)}&scope=partner:write`, { headers: { 'x-csrf': '1', origin: tb.app.origin } });
    assert.equal(jwtClaims((await withParams.json()).accessToken).aud, API_RESOURCE, 'resource/scope parameters are ignored: the default token');
    await assert.rejects(tb.bff.accessToken(new Request(tb.app.origin, { headers: { cookie: jar.header(`${tb.app.origin}/`) } }), { api: 'nope' }), (err) => err.code === 'NFT413' && err.status === 400);
  });

  test('a storm of forced calls for three APIs of one session: 3 redemptions, 0 invalid_grant, each token its own audience', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app);
    const held = {};
    for (const api of Object.keys(APIS)) held[api] = (await tokenFor(jar, tb.app, api)).body.accessToken;
    tb.clock.advance(5_001); // past minRefreshIntervalMs
    const redemptions = tb.idp.counts.refresh_token;
    const invalid = tb.idp.counts.invalid_grant;
    const calls = [];
    for (let i = 0; i < 10; i++) for (const api of Object.keys(APIS)) calls.push(tokenFor(jar, tb.app, api, forced(held[api])).then((r) => ({ api, ...r })));
    const answers = await within(Promise.all(calls), 20_000, 'the storm');
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    assert.equal(tb.idp.counts.refresh_token - redemptions, 3, 'one redemption per API');
    assert.equal(tb.idp.counts.invalid_grant, invalid, 'no reuse: the redemptions were serialized');
    for (const api of Object.keys(APIS)) {
      const tokens = new Set(answers.filter((a) => a.api === api).map((a) => a.body.accessToken));
      assert.equal(tokens.size, 1, `${api}: one new token for all`);
      const [token] = tokens;
      assert.notEqual(token, held[api]);
      assert.equal(jwtClaims(token).aud, RESOURCES[api]);
    }
  });

  test('a server render resolves any configured API through the render context, as /session/token?api= does', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app);
    const request = new Request(`${tb.app.origin}/dashboard`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } });
    const { freshToken } = await tb.bff.renderContext(request);
    const reports = await freshToken.getToken({ forceRefresh: false, api: 'reports' });
    assert.equal(jwtClaims(reports.accessToken).aud, RESOURCES.reports);
    assert.equal((await tokenFor(jar, tb.app, 'reports')).body.accessToken, reports.accessToken, 'the same cached token');
    const plain = await freshToken.getToken({ forceRefresh: false });
    assert.equal(jwtClaims(plain.accessToken).aud, API_RESOURCE);
    await assert.rejects(freshToken.getToken({ forceRefresh: false, api: 'nope' }), (err) => err.code === 'NFT413');
  });

  test('bad apis options are NFT401 naming the option', async () => {
    for (const [apis, named] of [
      [{ 'bad name': { scope: 'x' } }, 'apis.bad name'],
      [{ reports: {} }, 'apis.reports'],
      [{ reports: { resource: 'not a uri' } }, 'apis.reports.resource'],
      [{ reports: { resource: 'https://a.test/#x' } }, 'apis.reports.resource'],
      [{ reports: { scope: '' } }, 'apis.reports.scope'],
      [{ reports: { scope: 'x', audience: 'y' } }, 'apis.reports.audience'],
      [[], 'apis'],
    ]) {
      await assert.rejects(bffModule.createBff(bffOptions(tb.idp, tb.app, { apis })), (err) => err.code === 'NFT401' && err.message.includes(named), JSON.stringify(apis));
    }
  });
});

describe('bff apis across 3 instances on Redis: one redemption at a time per session across its APIs', () => {
  let redis;
  let idp;
  const instances = [];
  before(async () => {
    redis = await ensureRedis();
    // The IdP listens before the other two ports are picked, so it cannot take one of them.
    const ports = [await freeLoopbackPort()];
    const origins = () => ports.map((p) => `http://localhost:${p}`);
    idp = await startBffIdp({ appOrigin: origins()[0], accessTokenTtlSeconds: 120, apis: IDP_APIS });
    ports.push(await freeLoopbackPort(), await freeLoopbackPort());
    for (let i = 0; i < 3; i++) {
      instances.push(
        await spawnBffInstance({
          name: `apis-${i + 1}`,
          port: ports[i],
          issuer: idp.issuer,
          clientId: BFF_CLIENTS.client_secret_basic.clientId,
          clientSecret: BFF_CLIENTS.client_secret_basic.clientSecret,
          redirectUri: `${origins()[0]}/auth/callback`,
          allowedOrigins: origins(),
          scope: BFF_SCOPE,
          resource: API_RESOURCE,
          apis: APIS,
          secrets: [TEST_SECRETS[0]],
          store: 'redis',
          redisUrl: redis.url,
          client: i % 2 ? 'ioredis' : 'node-redis',
          prefix: 'nft-apis:',
          minRefreshIntervalMs: 0,
          reportRequests: false,
        }),
      );
    }
  });
  after(async () => {
    await Promise.all(instances.map((b) => b.stop()));
    await idp?.close();
    await redis?.stop();
  });

  test('forced calls for three APIs, round-robin over the instances: 3 redemptions, 0 invalid_grant, every token its own audience', async () => {
    const jar = cookieJar();
    await signIn(jar, { origin: instances[0].origin });
    const at = (i) => ({ origin: instances[i % 3].origin });
    const held = {};
    for (const api of Object.keys(APIS)) held[api] = (await tokenFor(jar, at(0), api)).body.accessToken;
    const redemptions = idp.counts.refresh_token;
    const invalid = idp.counts.invalid_grant;
    const calls = [];
    let n = 0;
    for (let i = 0; i < 6; i++) for (const api of Object.keys(APIS)) calls.push(tokenFor(jar, at(n++), api, forced(held[api])).then((r) => ({ api, ...r })));
    const answers = await within(Promise.all(calls), 30_000, 'the storm');
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200], JSON.stringify(answers.filter((a) => a.status !== 200).map((a) => a.body)));
    assert.equal(idp.counts.refresh_token - redemptions, 3);
    assert.equal(idp.counts.invalid_grant, invalid);
    for (const api of Object.keys(APIS)) {
      const tokens = new Set(answers.filter((a) => a.api === api).map((a) => a.body.accessToken));
      assert.equal(tokens.size, 1, api);
      assert.equal(jwtClaims([...tokens][0]).aud, RESOURCES[api]);
    }
  });
});
