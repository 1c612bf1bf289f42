// ngx-fresh-token/bff options against a real oidc-provider 9: bad options reject with NFT401 naming
// the option and never its value; a plain-http issuer needs dangerouslyAllowInsecureHttpIssuer;
// an unreachable issuer is NFT402; the three client authentication methods each sign in, refresh
// and sign out (the IdP sees the method used).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { BffErrorCode, FreshTokenError, createBff, memorySessionStore } from 'ngx-fresh-token/bff';
import { BFF_CLIENTS, bffOptions, cookieJar, getToken, signIn, startBffApp, startBffIdp, tokenHash, xhr } from './helpers/bff-idp.mjs';

let app;
let idp;
const created = [];
before(async () => {
  app = await startBffApp();
  idp = await startBffIdp({ appOrigin: app.origin });
});
after(async () => {
  for (const bff of created) await bff.close?.();
  await idp?.close();
  await app?.close();
});

const SECRET_LOOKING = 'sk_live_51HxQ-DO-NOT-LOG-9f8e7d6c';

/** Asserts `createBff(options)` rejects with NFT401 naming `option` and not containing `value`. */
async function rejectsOption(options, option, value) {
  const warnings = [];
  const err = await createBff({ ...options, logger: { warn: (m) => warnings.push(m) } }).then(
    (bff) => {
      created.push(bff);
      return null;
    },
    (e) => e,
  );
  assert.ok(err, `createBff accepted a bad ${option}`);
  assert.ok(err instanceof FreshTokenError, `a FreshTokenError (${err?.name})`);
  assert.equal(err.code, BffErrorCode.InvalidOption);
  assert.equal(err.code, 'NFT401');
  assert.ok(err.message.includes(option), `the message names ${option}: ${err.message}`);
  if (value !== undefined) {
    assert.ok(!err.message.includes(value), 'the message never holds the value');
    assert.ok(!String(err.stack).includes(value), 'nor the stack');
    assert.ok(!warnings.some((w) => w.includes(value)), 'nor a warning');
  }
}

describe('createBff options', () => {
  test('a plain-http issuer without dangerouslyAllowInsecureHttpIssuer is refused with NFT401', async () => {
    const httpIssuer = idp.issuer.replace(/^https:/, 'http:');
    await rejectsOption({ ...bffOptions(idp, app), issuer: httpIssuer, dangerouslyAllowInsecureHttpIssuer: undefined }, 'issuer');
    await rejectsOption({ ...bffOptions(idp, app), issuer: httpIssuer, dangerouslyAllowInsecureHttpIssuer: false }, 'issuer');
  });

  test('bad options reject with NFT401 naming the option, never its value', async () => {
    const base = bffOptions(idp, app);
    await rejectsOption({ ...base, secrets: [SECRET_LOOKING.slice(0, 20)] }, 'secrets', SECRET_LOOKING.slice(0, 20));
    await rejectsOption({ ...base, secrets: [] }, 'secrets');
    await rejectsOption({ ...base, secrets: undefined }, 'secrets');
    await rejectsOption({ ...base, clientSecret: undefined }, 'clientSecret');
    await rejectsOption({ ...base, clientSecret: '' }, 'clientSecret');
    await rejectsOption({ ...base, clientAuthMethod: SECRET_LOOKING }, 'clientAuthMethod', SECRET_LOOKING);
    await rejectsOption({ ...base, clientAuthMethod: 'private_key_jwt', clientPrivateKey: SECRET_LOOKING }, 'clientPrivateKey', SECRET_LOOKING);
    await rejectsOption({ ...base, redirectUri: `not a url ${SECRET_LOOKING}` }, 'redirectUri', SECRET_LOOKING);
    await rejectsOption({ ...base, issuer: `::${SECRET_LOOKING}` }, 'issuer', SECRET_LOOKING);
    await rejectsOption({ ...base, clientId: '' }, 'clientId');
    await rejectsOption({ ...base, scope: `profile ${SECRET_LOOKING}` }, 'scope', SECRET_LOOKING);
    await rejectsOption({ ...base, session: { idleMs: -1 } }, 'session.idleMs');
    await rejectsOption({ ...base, session: { absoluteMs: Number.NaN } }, 'session.absoluteMs');
    await rejectsOption({ ...base, cookie: { name: '__Host-x' } }, 'cookie.name');
    await rejectsOption({ ...base, store: { get() {} } }, 'store');
    await rejectsOption({ ...base, basePath: 'api/' }, 'basePath');
    await rejectsOption({ ...base, resource: 'not a uri' }, 'resource');
    await rejectsOption({ ...base, resource: ['https://api.example.com/#frag'] }, 'resource');
  });

  test('resource takes any absolute URI without a fragment (RFC 8707 §2), a urn: audience too', async () => {
    for (const resource of ['urn:example:api', 'https://api.example.com/v1', ['urn:example:a', 'https://b.example.com']]) {
      created.push(await createBff({ ...bffOptions(idp, app), resource }));
    }
  });

  test('a plain-http issuer warns once when its host is not localhost/127.0.0.1, and not for the loopback dev IdP', async () => {
    const warnings = [];
    const logger = { warn: (m) => warnings.push(m) };
    // Nothing listens on 127.0.0.2:9 (loopback, refused at once): the warning comes before discovery fails.
    await assert.rejects(createBff({ ...bffOptions(idp, app), issuer: 'http://127.0.0.2:9/', logger }), (err) => err.code === BffErrorCode.DiscoveryFailed);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /http:\/\/127\.0\.0\.2:9 is plain http/);
    assert.ok(!warnings[0].includes(BFF_CLIENTS.client_secret_basic.clientSecret), 'no secret in the warning');
    const quiet = [];
    const bff = await createBff({ ...bffOptions(idp, app), logger: { warn: (m) => quiet.push(m) } });
    created.push(bff);
    assert.ok(new URL(idp.issuer).hostname === '127.0.0.1' || new URL(idp.issuer).hostname === 'localhost');
    assert.deepEqual(quiet, []);
  });

  test('an issuer that cannot be discovered rejects with NFT402', async () => {
    const closed = createServer();
    await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = closed.address().port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await createBff({ ...bffOptions(idp, app), issuer: `http://127.0.0.1:${port}` }).then(
      (bff) => (created.push(bff), null),
      (e) => e,
    );
    assert.ok(err instanceof FreshTokenError);
    assert.equal(err.code, 'NFT402');
    assert.ok(!err.message.includes(BFF_CLIENTS.client_secret_basic.clientSecret));
  });

  for (const [method, expectedAuth] of [
    ['client_secret_basic', 'basic'],
    ['client_secret_post', 'post'],
    ['private_key_jwt', 'jwt'],
  ]) {
    test(`${method}: signs in, refreshes and signs out, authenticating with ${method}`, async () => {
      const client = BFF_CLIENTS[method];
      const auth =
        method === 'private_key_jwt'
          ? { clientId: client.clientId, clientSecret: undefined, clientAuthMethod: method, clientPrivateKey: idp.clientPrivateKey }
          : { clientId: client.clientId, clientSecret: client.clientSecret, ...(method === 'client_secret_basic' ? {} : { clientAuthMethod: method }) };
      const bff = await createBff({ ...bffOptions(idp, app), store: memorySessionStore(), refreshBufferMs: 1_000, minRefreshIntervalMs: 0, ...auth });
      created.push(bff);
      app.mount(bff);
      const tokenRequests = idp.tokenRequests.length;
      const revocations = idp.revocations.length;

      const jar = cookieJar();
      const { callback, authUrl } = await signIn(jar, app, { loginHint: 'mallory' });
      assert.equal(callback.status, 200);
      assert.equal(authUrl.searchParams.get('client_id'), client.clientId);
      const first = await getToken(jar, app);
      assert.equal(first.status, 200);
      const second = await getToken(jar, app, { 'x-force-refresh': '1', 'x-replaces-token': tokenHash(first.body.accessToken) });
      assert.equal(second.status, 200);
      assert.notEqual(second.body.accessToken, first.body.accessToken);
      const out = await fetch(`${app.origin}/auth/logout`, { method: 'POST', headers: { cookie: jar.header(`${app.origin}/`), ...xhr(app) } });
      assert.equal(out.status, 200);

      const made = idp.tokenRequests.slice(tokenRequests);
      assert.deepEqual(made.map((r) => `${r.grantType}:${r.status}`), ['authorization_code:200', 'refresh_token:200']);
      assert.ok(made.every((r) => r.clientAuth === expectedAuth), `token requests authenticated with ${method}: ${made.map((r) => r.clientAuth)}`);
      const revoked = idp.revocations.slice(revocations);
      assert.equal(revoked.length, 1);
      assert.equal(revoked[0].status, 200);
      assert.equal(revoked[0].clientAuth, expectedAuth);
    });
  }
});
