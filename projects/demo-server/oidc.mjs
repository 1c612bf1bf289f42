// The demo's real OAuth 2 / OpenID Connect server: oidc-provider issuing JWT access tokens that
// live `accessTokenTtlSeconds` (60 s by default) and rotating refresh tokens. The only client is
// the backend-for-frontend (confidential, client_secret_basic; its secret never leaves this process).
// The browser signs in through the real authorization endpoint (code + PKCE S256, required); the
// interaction page (`completeInteraction`) finishes login and consent for the account named by
// `login_hint`: the demo has no passwords. RP-initiated and back-channel logout are on.
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';
import { ORDERS_AUDIENCE } from './proxied-api.mjs';
import { randomBytes } from 'node:crypto';

export const API_AUDIENCE = 'urn:ngx-fresh-token:demo-api';
/** The second API's audience (tokens per API, #25): the reports API on another origin checks it. */
export const REPORTS_AUDIENCE = 'urn:ngx-fresh-token:demo-reports';
export const REPORTS_SCOPE = 'reports:read';
export const BFF_CLIENT_ID = 'demo-bff';
export const SCOPE = 'openid offline_access api';
/** Every resource server: its scope and how long its tokens live (as a multiple of the demo's TTL). */
const RESOURCES = {
  [API_AUDIENCE]: { scope: 'api', ttlFactor: 1 },
  [REPORTS_AUDIENCE]: { scope: REPORTS_SCOPE, ttlFactor: 1.5 },
  // The orders API reached only through the BFF's proxy (proxied-api.mjs, #26).
  [ORDERS_AUDIENCE]: { scope: 'api', ttlFactor: 1 },
};

/** A bare HTML page of the IdP's own (sign-out) screens. */
const page = (title, body) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:system-ui;margin:2rem"><h1>${title}</h1>${body}</body></html>`;

/**
 * `redirectUri` and `postLogoutRedirectUri` may be lists (`npm run demo:cluster` registers every
 * instance's); `clientSecret` defaults to a random one (the cluster's other instances are told it).
 */
export async function createOidcProvider({ issuer, redirectUri, postLogoutRedirectUri, backchannelLogoutUri, accessTokenTtlSeconds, clientSecret: givenSecret }) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'demo-key', alg: 'RS256', use: 'sig' };
  const clientSecret = givenSecret ?? randomBytes(24).toString('base64url');
  const counts = { refresh_token: 0, authorization_code: 0 };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: BFF_CLIENT_ID,
        client_secret: clientSecret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [redirectUri].flat(),
        post_logout_redirect_uris: [postLogoutRedirectUri].flat().filter(Boolean),
        // The IdP tells the BFF when a user signs out there (OpenID Connect Back-Channel Logout 1.0).
        ...(backchannelLogoutUri ? { backchannel_logout_uri: backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
        token_endpoint_auth_method: 'client_secret_basic',
        scope: [SCOPE, REPORTS_SCOPE].join(' '),
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    scopes: ['openid', 'offline_access', 'api', REPORTS_SCOPE],
    pkce: { required: () => true },
    // Back-channel logout posts to the BFF on loopback, which oidc-provider's own fetch refuses (SSRF
    // protection): drop its dispatcher and use the global fetch. Dev only.
    fetch: (url, options) => {
      const { dispatcher: _dispatcher, ...rest } = options;
      return fetch(url, rest);
    },
    rotateRefreshToken: true,
    ttl: {
      // Each resource server's own TTL (the reports API's tokens live longer than the app API's).
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtlSeconds,
      RefreshToken: 8 * 3600,
      Grant: 8 * 3600,
      Session: 8 * 3600,
      Interaction: 600,
      AuthorizationCode: 60,
      IdToken: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      // A client may revoke only its own tokens (the one client here: the BFF).
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      rpInitiatedLogout: {
        enabled: true,
        // oidc-provider's confirmation form (`form`: its hidden fields) and success page, without the
        // default pages' web-font import (the demo runs offline).
        logoutSource: (ctx, form) => {
          ctx.body = page('Sign out', `${form}<p>Sign out of the demo's identity provider?</p>
            <button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
            <button type="submit" form="op.logoutForm">No, stay signed in</button>`);
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.body = page('Signed out', '<p>You are signed out at the identity provider. <a href="/login">Log in again</a></p>');
        },
      },
      backchannelLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_AUDIENCE,
        useGrantedResource: () => true,
        // One resource server per API: each token carries its own audience and no more scope than it needs.
        getResourceServerInfo: (_ctx, resource) => {
          const audience = RESOURCES[resource] ? resource : API_AUDIENCE;
          const { scope, ttlFactor } = RESOURCES[audience];
          return { scope, audience, accessTokenTTL: Math.round(accessTokenTtlSeconds * ttlFactor), accessTokenFormat: 'jwt' };
        },
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
      // Every scope the login asks for (the BFF adds each API's scope to it), or consent is asked again.
      grant.addOIDCScope([SCOPE, ...Object.values(RESOURCES).map((r) => r.scope)].join(' '));
      for (const [resource, { scope }] of Object.entries(RESOURCES)) grant.addResourceScope(resource, scope);
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }

  return { provider, clientSecret, counts, publicJwks: { keys: [{ kty: jwk.kty, n: jwk.n, e: jwk.e, kid: jwk.kid, alg: 'RS256', use: 'sig' }] }, completeInteraction };
}
