// The demo's dev backend in one process: oidc-provider under /oidc, the backend-for-frontend
// (ngx-fresh-token/bff's createBff: /auth/login, /auth/callback, /auth/logout, /session/token (and
// ?api=reports), /session/user, /auth/backchannel-logout), the protected API (/api/*), the reports
// API (/reports-api/*, another origin for the browser: 127.0.0.1) and, when built, the Angular SSR
// app. Binds to 127.0.0.1 only.
import '@angular/compiler'; // the built Angular package is partially compiled: JIT-link it on import
import { createWebRequestFromNodeRequest, writeResponseToNodeResponse } from '@angular/ssr/node';
import express from 'express';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createApi } from './api.mjs';
import { createDemoBff } from './bff.mjs';
import { createDpopApi } from './dpop-api.mjs';
import { createOidcProvider } from './oidc.mjs';
import { startProxiedApi } from './proxied-api.mjs';

function freshStats() {
  // profileRequests*: GET /api/profile, which the dashboard calls during its server render too.
  // refreshes count the default token's; apiRefreshes those of the other APIs' tokens (reports).
  // audiences: for each API, the audience of every token it was handed (`none`: no token) — never a token.
  return {
    logins: 0,
    refreshes: 0,
    requests: 0,
    unauthorized: 0,
    revocations: 0,
    requestsByGeneration: {},
    profileRequests: 0,
    profileRequestsWithToken: 0,
    apiRefreshes: 0,
    reportsRequests: 0,
    reportsUnauthorized: 0,
    audiences: { api: {}, reports: {} },
  };
}

/**
 * Serves `/amplify/config` and `/amplify/revoke` of Amplify mode; without `amplify` both answer
 * that the mode is off (200 for the config, so the page's check is no failed request).
 */
function mountAmplify(app, amplify) {
  const off = { enabled: false, message: 'Amplify mode is off: start the demo with npm run demo:amplify' };
  app.get('/amplify/config', (_req, res) => {
    res.set('Cache-Control', 'no-store');
    if (!amplify) return res.json(off);
    const { userPoolId, userPoolClientId, userPoolEndpoint, graphqlEndpoint, eventsEndpoint, region } = amplify;
    res.json({ enabled: true, userPoolId, userPoolClientId, userPoolEndpoint, graphqlEndpoint, eventsEndpoint, region });
  });
  // Revokes the Cognito access token the request carries at the loopback AppSync (it must verify
  // against cognito-local's JWKS): the page's next GraphQL call with it gets a 401.
  app.post('/amplify/revoke', async (req, res, next) => {
    try {
      if (!amplify?.revokeAccessToken) return res.status(404).json({ error: 'amplify_not_configured', message: off.message });
      const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !(await amplify.revokeAccessToken(token))) return res.status(401).json({ error: 'invalid_token' });
      res.json({ revoked: true });
    } catch (err) {
      next(err);
    }
  });
}

/** The IdP's public keys, fetched through its discovery document (an IdP in another instance). */
async function fetchJwks(issuer) {
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  return (await fetch(metadata.jwks_uri)).json();
}

/**
 * Starts the backend on 127.0.0.1:`port` (0 = any free port). `angularServer` is the path of the
 * built SSR bundle (`dist/demo/server/server.mjs`); without it only the APIs are served.
 *
 * For several instances (`npm run demo:cluster`): `store` (a shared SessionStore), `secrets` (one
 * sealing key for all), `instanceName` (sent as `X-Demo-Instance` on every answer), `clusterOrigins`
 * (every instance's origin: registered at the embedded IdP and accepted as Origins) and
 * `idp: { issuer, clientSecret }` to use the IdP another instance embeds instead of one of its own
 * (`oidcClientSecret` fixes the embedded IdP's client secret so the others can be told it).
 */
export async function startDemoServer({
  port = 4300,
  accessTokenTtlSeconds = 60,
  angularServer,
  amplify,
  store,
  secrets,
  instanceName,
  clusterOrigins,
  idp,
  oidcClientSecret,
} = {}) {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  const publicOrigin = `http://localhost:${actualPort}`;
  const issuer = idp?.issuer ?? `${publicOrigin}/oidc`;
  const redirectUri = `${publicOrigin}/auth/callback`;
  const origins = clusterOrigins ?? [publicOrigin];

  // One object for the BFF, the API and the endpoints below; a reset clears it in place.
  const stats = freshStats();
  const revokedJtis = new Set();
  const generations = new Map();
  const apiGenerations = { reports: new Map() };
  // The embedded IdP, unless this instance uses another instance's.
  const oidc = idp
    ? null
    : await createOidcProvider({
        issuer,
        redirectUri: origins.map((o) => `${o}/auth/callback`),
        postLogoutRedirectUri: origins.map((o) => `${o}/login`),
        // One URI per client: the instance embedding the IdP; with a shared store it ends the session everywhere.
        backchannelLogoutUri: `${publicOrigin}/auth/backchannel-logout`,
        accessTokenTtlSeconds,
        clientSecret: oidcClientSecret,
        dpopRedirectUri: origins.map((o) => `${o}/dpop`),
      });

  const app = express();
  app.disable('x-powered-by');
  if (instanceName) {
    // Which instance answered (the dashboard shows it for each /session/token).
    app.use((_req, res, next) => {
      res.set('X-Demo-Instance', instanceName);
      next();
    });
  }
  if (oidc) {
    app.get('/oidc/interaction/:uid', (req, res, next) => oidc.completeInteraction(req, res).catch(next));
    app.use('/oidc', oidc.provider.callback());
  }
  // Attached before createBff(): its discovery asks this very server for the IdP's metadata.
  server.on('request', app);

  let demoBff;
  // The API reached only through the BFF's proxy (/api/orders): its own loopback server.
  const proxied = await startProxiedApi({ issuer, publicJwks: oidc ? oidc.publicJwks : await fetchJwks(issuer) });
  try {
    demoBff = await createDemoBff({
      origin: publicOrigin,
      issuer,
      clientSecret: idp?.clientSecret ?? oidc.clientSecret,
      accessTokenTtlSeconds,
      stats,
      generations,
      apiGenerations,
      store,
      secrets,
      allowedOrigins: clusterOrigins,
      apis: proxied.apis,
    });
  } catch (err) {
    server.close();
    await proxied.close();
    throw err;
  }
  const { bff, sessionStatsOf: sessionStatsOfRequest } = demoBff;
  /** The BFF session of a Node request: only its cookie matters. */
  const webRequest = (req) => new Request(`${publicOrigin}/`, { headers: { cookie: req.headers.cookie ?? '' } });
  const sessionStatsOf = (req) => sessionStatsOfRequest(webRequest(req));
  const publicJwks = oidc ? oidc.publicJwks : await fetchJwks(issuer);
  const api = createApi({ issuer, publicJwks, stats, sessionStatsOf, revokedJtis, generations, apiGenerations, appOrigins: origins });

  // The BFF's routes and proxied APIs, straight from node:http's request to its response (bff.handleNode:
  // no Web Request/Response on the proxied path), before any body parser: it reads the bodies it needs
  // itself. `false` means not its route, nothing read.
  app.use((req, res, next) => bff.handleNode(req, res).then((done) => done || next(), next));
  app.use(express.json({ limit: '10kb' }));

  app.get('/auth/me', async (req, res, next) => {
    try {
      const session = await bff.session(webRequest(req));
      res.set('Cache-Control', 'no-store').json({ user: session ? session.sub : null });
    } catch (err) {
      next(err);
    }
  });

  // The reports API (#25): for the browser another origin (http://127.0.0.1:PORT), with CORS.
  app.options('/reports-api/{*rest}', api.reports);
  app.get('/reports-api/{*rest}', api.reports);

  app.get('/api/data', api.requireToken, api.data);
  // The /dpop page's API: DPoP-bound tokens only (issue #27).
  app.use('/dpop-api', createDpopApi({ issuer, publicJwks, publicOrigin }).handle);
  app.get('/api/profile', api.profile);
  app.post('/api/revoke', api.requireToken, api.revoke);
  // Dev-only counters for the UI and the e2e tests (no tokens in them): the top-level ones count
  // every session since the server started; `session` those of the caller's session (null without).
  app.get('/api/stats', async (req, res, next) => {
    try {
      const session = await sessionStatsOf(req);
      res.set('Cache-Control', 'no-store').json({ ...stats, accessTokenTtlSeconds, session: session && { ...session } });
    } catch (err) {
      next(err);
    }
  });
  app.post('/api/stats/reset', (_req, res) => {
    Object.assign(stats, freshStats());
    res.status(204).end();
  });

  // Amplify mode (`npm run demo:amplify`, `amplify` option): where the /amplify page finds
  // cognito-local and the loopback AppSync. Public ids and URLs only, no secrets.
  mountAmplify(app, amplify);

  if (angularServer && existsSync(angularServer)) {
    const { createSsrHandler } = await import(pathToFileURL(angularServer).href);
    app.use(express.static(join(dirname(angularServer), '../browser'), { index: false, redirect: false, maxAge: '1h' }));
    // Each render gets the request's session (REQUEST_CONTEXT): signed-in pages render signed in.
    app.use(createSsrHandler((request) => bff.renderContext(request)));
  } else {
    app.get('/', (_req, res) => res.type('text').send('Demo UI not built: run `npm start`.'));
  }

  // Clear errors for bad input; never echo request bodies or tokens.
  app.use((err, _req, res, _next) => {
    if (err.type === 'entity.parse.failed' || err instanceof SyntaxError) {
      return res.status(400).json({ error: 'invalid_request', message: 'the body is not valid JSON' });
    }
    console.error('[demo-server]', err.message);
    res.status(500).json({ error: 'server_error' });
  });

  return {
    url: publicOrigin,
    stats: () => stats,
    proxiedStats: () => proxied.stats,
    bff,
    oidc,
    close: async () => {
      await new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      });
      await bff.close();
      await proxied.close();
    },
  };
}
