// The demo's Amplify mode in one call, shared by `npm run demo:amplify` and the e2e test: a real
// cognito-local (temp dir, 127.0.0.1) with a user pool whose tokens live `tokenSeconds`, one
// confirmed user and the GetTokensFromRefreshToken proxy; the loopback AppSync GraphQL + Events
// server verifying every token against cognito-local's JWKS; and the demo backend + SSR app
// serving `/amplify/config`. The Cognito and AppSync servers are the Node test harnesses, reused.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAppSync } from '../../tests/node/helpers/amplify-appsync.mjs';
import { startCognito } from '../../tests/node/helpers/amplify-cognito.mjs';
import { startDemoServer } from './app.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Starts the stack. `port`: the demo's port on 127.0.0.1 (0 = any free port); `tokenSeconds`:
 * lifetime of Cognito access and ID tokens. Returns the demo URL, the demo user's credentials
 * (local dev only), the servers (for counters) and `close()`.
 */
export async function startAmplifyDemoStack({
  port = 4300,
  tokenSeconds = 60,
  angularServer = join(root, 'dist/demo/server/server.mjs'),
} = {}) {
  const started = [];
  try {
    const cognito = await startCognito({ accessTokenSeconds: tokenSeconds });
    started.push(() => cognito.stop());
    const appsync = await startAppSync({ jwksUrl: cognito.jwksUrl, cors: true });
    started.push(() => appsync.stop());
    const amplify = {
      userPoolId: cognito.userPoolId,
      userPoolClientId: cognito.clientId,
      userPoolEndpoint: cognito.endpoint,
      graphqlEndpoint: appsync.graphqlEndpoint,
      eventsEndpoint: appsync.eventsEndpoint,
      region: 'local',
    };
    const jwks = createRemoteJWKSet(new URL(cognito.jwksUrl));
    // The page's "revoke" button: only a Cognito access token that verifies can be revoked.
    const revokeAccessToken = async (token) => {
      try {
        const { payload } = await jwtVerify(token, jwks, { algorithms: ['RS256'] });
        if (payload.token_use !== 'access' || typeof payload.jti !== 'string') return false;
        appsync.revoke(payload.jti);
        return true;
      } catch {
        return false;
      }
    };
    const demo = await startDemoServer({ port, angularServer, amplify: { ...amplify, revokeAccessToken } });
    started.push(() => demo.close());
    return {
      url: demo.url,
      amplify,
      username: cognito.username,
      password: cognito.password,
      tokenSeconds,
      cognito,
      appsync,
      demo,
      close: () => stopAll(started),
    };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

async function stopAll(started) {
  for (const stop of started.splice(0).reverse()) {
    await stop().catch(() => undefined);
  }
}
