// The demo's dev backend in one process: oidc-provider under /oidc, the backend-for-frontend
// (/auth/login, /auth/logout, /session/token), the protected API (/api/*) and, when built, the
// Angular SSR app. Binds to 127.0.0.1 only.
import '@angular/compiler'; // the built Angular package is partially compiled: JIT-link it on import
import express from 'express';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createApi } from './api.mjs';
import { createBff } from './bff.mjs';
import { createOidcProvider } from './oidc.mjs';

function freshStats() {
  return { logins: 0, refreshes: 0, requests: 0, unauthorized: 0, revocations: 0, requestsByGeneration: {} };
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

/**
 * Starts the backend on 127.0.0.1:`port` (0 = any free port). `angularServer` is the path of the
 * built SSR bundle (`dist/demo/server/server.mjs`); without it only the APIs are served.
 */
export async function startDemoServer({ port = 4300, accessTokenTtlSeconds = 60, angularServer, amplify } = {}) {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  const publicOrigin = `http://localhost:${actualPort}`;
  const internalOrigin = `http://127.0.0.1:${actualPort}`;
  const issuer = `${publicOrigin}/oidc`;
  const redirectUri = `${publicOrigin}/auth/callback`;

  // One object for the BFF, the API and the endpoints below; a reset clears it in place.
  const stats = freshStats();
  const revokedJtis = new Set();
  const generations = new Map();
  const oidc = await createOidcProvider({ issuer, redirectUri, accessTokenTtlSeconds });
  const bff = createBff({ internalOrigin, issuer, redirectUri, clientSecret: oidc.clientSecret, stats, revokedJtis, generations });
  // Per-session counters live on the BFF session (cookie): a new login starts them at zero.
  const sessionStatsOf = (req) => bff.sessionOf(req)?.stats ?? null;
  const api = createApi({ issuer, publicJwks: oidc.publicJwks, stats, sessionStatsOf, revokedJtis, generations });

  const app = express();
  app.disable('x-powered-by');
  app.get('/oidc/interaction/:uid', (req, res, next) => oidc.completeInteraction(req, res).catch(next));
  app.use('/oidc', oidc.provider.callback());
  app.use(express.json({ limit: '10kb' }));

  app.post('/auth/login', (req, res, next) => bff.login(req, res).catch(next));
  app.post('/auth/logout', (req, res, next) => bff.logout(req, res).catch(next));
  app.get('/auth/me', (req, res) => {
    const session = bff.sessionOf(req);
    res.set('Cache-Control', 'no-store').json(session ? { user: session.user } : { user: null });
  });
  app.get('/session/token', (req, res, next) => bff.sessionToken(req, res).catch(next));
  app.post('/session/token', (req, res, next) => bff.sessionToken(req, res).catch(next));

  app.get('/api/data', api.requireToken, api.data);
  app.post('/api/revoke', api.requireToken, api.revoke);
  // Dev-only counters for the UI and the e2e tests (no tokens in them): the top-level ones count
  // every session since the server started; `session` those of the caller's session (null without).
  app.get('/api/stats', (req, res) => {
    const session = sessionStatsOf(req);
    res.set('Cache-Control', 'no-store').json({ ...stats, accessTokenTtlSeconds, session: session && { ...session } });
  });
  app.post('/api/stats/reset', (_req, res) => {
    Object.assign(stats, freshStats());
    res.status(204).end();
  });

  // Amplify mode (`npm run demo:amplify`, `amplify` option): where the /amplify page finds
  // cognito-local and the loopback AppSync. Public ids and URLs only, no secrets.
  mountAmplify(app, amplify);

  if (angularServer && existsSync(angularServer)) {
    const { reqHandler } = await import(pathToFileURL(angularServer).href);
    app.use(express.static(join(dirname(angularServer), '../browser'), { index: false, redirect: false, maxAge: '1h' }));
    app.use(reqHandler);
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

  server.on('request', app);
  return {
    url: publicOrigin,
    stats: () => stats,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
