// The demo's real OAuth 2 / OpenID Connect server: oidc-provider issuing JWT access tokens that
// live `accessTokenTtlSeconds` (60 s by default) and rotating refresh tokens. The only client is
// the backend-for-frontend (confidential; its secret never leaves this process). Login is
// completed by the BFF itself (`completeInteraction`): the demo has no passwords.
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';
import { randomBytes } from 'node:crypto';

export const API_AUDIENCE = 'urn:ngx-fresh-token:demo-api';
export const BFF_CLIENT_ID = 'demo-bff';
export const SCOPE = 'openid offline_access api';

export async function createOidcProvider({ issuer, redirectUri, accessTokenTtlSeconds }) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'demo-key', alg: 'RS256', use: 'sig' };
  const clientSecret = randomBytes(24).toString('base64url');
  const counts = { refresh_token: 0, authorization_code: 0 };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: BFF_CLIENT_ID,
        client_secret: clientSecret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'client_secret_post',
        scope: SCOPE,
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    scopes: ['openid', 'offline_access', 'api'],
    pkce: { required: () => false },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: accessTokenTtlSeconds,
      RefreshToken: 8 * 3600,
      Grant: 8 * 3600,
      Session: 8 * 3600,
      Interaction: 600,
      AuthorizationCode: 60,
      IdToken: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api',
          audience: API_AUDIENCE,
          accessTokenTTL: accessTokenTtlSeconds,
          accessTokenFormat: 'jwt',
        }),
      },
    },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, name: sub }) }),
    interactions: { url: (_ctx, interaction) => `/oidc/interaction/${interaction.uid}` },
  });
  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params?.grant_type;
    if (type in counts) counts[type]++;
  });
  // oidc-provider prints nothing by default; keep it that way (its errors may carry token material).
  provider.on('server_error', (_ctx, err) => console.error('[oidc] server error:', err.name));

  /** Finishes a login/consent interaction for the account named in `login_hint`. */
  async function completeInteraction(req, res) {
    const details = await provider.interactionDetails(req, res);
    const accountId = String(details.params.login_hint || 'demo-user');
    let result;
    if (details.prompt.name === 'login') {
      result = { login: { accountId } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId });
      grant.addOIDCScope(SCOPE);
      grant.addResourceScope(API_AUDIENCE, 'api');
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }

  return { provider, clientSecret, counts, publicJwks: { keys: [{ kty: jwk.kty, n: jwk.n, e: jwk.e, kid: jwk.kid, alg: 'RS256', use: 'sig' }] }, completeInteraction };
}
