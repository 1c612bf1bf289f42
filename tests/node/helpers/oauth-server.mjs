// A real OAuth 2 / OpenID Connect server for the oauth tests: oidc-provider on 127.0.0.1 (random
// port) with the client_credentials and refresh_token grants, JWT access tokens for one resource
// server, short TTLs and refresh-token rotation. Login and consent are completed headlessly: the
// interaction route signs in a fixed account, and the grant is created on the fly.
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

export const API_RESOURCE = 'urn:ngx-fresh-token:api';
export const CONFIDENTIAL_CLIENT = { clientId: 'service-client', clientSecret: 'sEcReT-3f9a1c2e7b6d4058-do-not-log' };
export const PUBLIC_CLIENT = { clientId: 'spa-client', redirectUri: 'http://127.0.0.1/callback' };

/**
 * Starts oidc-provider. Returns its origin, token URL, counters of token requests per grant type,
 * `login()` (authorization-code + PKCE flow driven with fetch, returns the token response) and `close()`.
 */
export async function startOAuthServer({ accessTokenTtlSeconds = 4, refreshTokenTtlSeconds = 600 } = {}) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const counts = { client_credentials: 0, refresh_token: 0, authorization_code: 0 };
  const tokenResponses = [];
  let origin = '';

  const provider = new Provider('http://127.0.0.1', {
    clients: [
      {
        client_id: CONFIDENTIAL_CLIENT.clientId,
        client_secret: CONFIDENTIAL_CLIENT.clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'api:read',
      },
      {
        client_id: PUBLIC_CLIENT.clientId,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [PUBLIC_CLIENT.redirectUri],
        scope: 'openid offline_access api:read',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-cookie-key'] },
    scopes: ['openid', 'offline_access', 'api:read'],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: accessTokenTtlSeconds,
      ClientCredentials: accessTokenTtlSeconds,
      RefreshToken: refreshTokenTtlSeconds,
      Grant: 3600,
      Session: 3600,
      Interaction: 600,
      AuthorizationCode: 60,
      IdToken: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: () => true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api:read',
          audience: API_RESOURCE,
          accessTokenTTL: accessTokenTtlSeconds,
          accessTokenFormat: 'jwt',
        }),
      },
    },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    // Headless consent: every grant for the public client covers openid, offline_access and the API.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid offline_access api:read');
      grant.addResourceScope(API_RESOURCE, 'api:read');
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  provider.proxy = false;
  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params?.grant_type;
    if (type in counts) counts[type]++;
  });
  provider.on('grant.error', (ctx) => {
    const type = ctx.oidc.params?.grant_type;
    if (type in counts) counts[type]++;
  });
  const callback = provider.callback();

  const server = createServer(async (req, res) => {
    // The browser-side library calls the token endpoint cross-origin in Karma; allow it.
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.url.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        let result;
        if (details.prompt.name === 'login') {
          result = { login: { accountId: 'user-1' } };
        } else {
          const grant = new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId });
          grant.addOIDCScope('openid offline_access api:read');
          grant.addResourceScope(API_RESOURCE, 'api:read');
          result = { consent: { grantId: await grant.save() } };
        }
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
      } catch (err) {
        res.statusCode = 500;
        res.end(String(err));
      }
      return;
    }
    if (req.url === '/token') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const params = new URLSearchParams(Buffer.concat(chunks).toString());
        tokenResponses.push({ grantType: params.get('grant_type'), refreshToken: params.get('refresh_token') });
      });
    }
    callback(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  // The issuer must match the origin the server is reached at.
  provider.issuer = origin;

  async function login() {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const auth = new URL('/auth', origin);
    auth.search = new URLSearchParams({
      client_id: PUBLIC_CLIENT.clientId,
      response_type: 'code',
      redirect_uri: PUBLIC_CLIENT.redirectUri,
      scope: 'openid offline_access api:read',
      prompt: 'consent',
      resource: API_RESOURCE,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: randomBytes(8).toString('hex'),
    }).toString();
    const jar = new Map();
    let url = auth.href;
    for (let hop = 0; hop < 10; hop++) {
      if (url.startsWith(PUBLIC_CLIENT.redirectUri)) break;
      const res = await fetch(url, {
        redirect: 'manual',
        headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const [k, ...v] = pair.split('=');
        jar.set(k.trim(), v.join('='));
      }
      const location = res.headers.get("location");
      if (!location) throw new Error(`login stopped at ${res.status}: ${await res.text()}`);
      url = new URL(location, url).href;
    }
    const code = new URL(url).searchParams.get('code');
    if (!code) throw new Error(`no code in ${url}`);
    const tokenRes = await fetch(`${origin}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: PUBLIC_CLIENT.redirectUri,
        client_id: PUBLIC_CLIENT.clientId,
        code_verifier: verifier,
        resource: API_RESOURCE,
      }),
    });
    const body = await tokenRes.json();
    if (!tokenRes.ok) throw new Error(`code exchange failed: ${JSON.stringify(body)}`);
    return body;
  }

  async function revoke(token) {
    const res = await fetch(`${origin}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: PUBLIC_CLIENT.clientId, token_type_hint: 'refresh_token' }),
    });
    if (!res.ok) throw new Error(`revocation failed: ${res.status}`);
  }

  return {
    origin,
    tokenUrl: `${origin}/token`,
    counts,
    tokenRequests: tokenResponses,
    provider,
    login,
    revoke,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
