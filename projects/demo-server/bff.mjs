// The demo's backend-for-frontend is ngx-fresh-token/bff's createBff(): sign-in through the IdP's
// real authorization endpoint (code + PKCE S256, state, nonce), the session server-side behind a
// __Host- cookie, one refresh-grant redemption per session, sign-out with revocation, back-channel
// logout. What stays here is the demo's bookkeeping for the UI and the e2e tests: counters (in total
// and per session, by the session's store key) and the generation of each access token (by its jti).
import { randomBytes } from 'node:crypto';
import { createBff } from 'ngx-fresh-token/bff';
import { API_AUDIENCE, BFF_CLIENT_ID, REPORTS_AUDIENCE, REPORTS_SCOPE, SCOPE } from './oidc.mjs';

/** The claims of a JWT, unverified: only to read the `jti` of a token the IdP just issued. */
function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** Whether a token is for the demo's own API (the default token), by its `aud`. */
const forDefaultApi = (accessToken) => [claimsOf(accessToken).aud].flat().includes(API_AUDIENCE);

/**
 * Makes the demo's BFF. `stats` (every session), `generations` (jti → generation of the default
 * token) and `apiGenerations` (the same for `reports` tokens)
 * are shared with the APIs. Returns the BFF and `sessionStatsOf(request)`: the caller's
 * session counters, or `null` without a session. `store`, `secrets` and `allowedOrigins` are for
 * `npm run demo:cluster` (a Redis store and one sealing key shared by the instances); by default the
 * memory store and a random key.
 */
export async function createDemoBff({ origin, issuer, clientSecret, accessTokenTtlSeconds, stats, generations, apiGenerations, store, secrets, allowedOrigins, apis }) {
  /** Per-session counters by the session's store key (a hash of the cookie's id, never the id). */
  const sessionStats = new Map();
  // Each API numbers its own tokens: the default token's generations stay 1, 2, 3… whatever the others do.
  const counters = { api: 0, reports: 0 };
  const remember = (accessToken) => {
    const { jti, aud } = claimsOf(accessToken);
    const api = [aud].flat().includes(REPORTS_AUDIENCE) ? 'reports' : 'api';
    (api === 'api' ? generations : apiGenerations[api]).set(jti, ++counters[api]);
  };

  const bff = await createBff({
    issuer,
    // The dev IdP runs on loopback over plain http; a real deployment uses https and drops this.
    dangerouslyAllowInsecureHttpIssuer: true,
    clientId: BFF_CLIENT_ID,
    clientSecret, // client_secret_basic, the default
    redirectUri: `${origin}/auth/callback`,
    postLogoutRedirectUri: `${origin}/login`,
    scope: SCOPE,
    resource: API_AUDIENCE,
    // Tokens per API (#25): the reports API on another origin gets its own token (its own audience,
    // only reports:read), from /session/token?api=reports.
    // Proxied APIs (proxied-api.mjs, #26) are added by the caller: their tokens stay in the BFF.
    apis: {
      reports: { resource: REPORTS_AUDIENCE, scope: REPORTS_SCOPE },
      ...(apis ?? {}),
    },
    // Random at each start: the memory store's sessions end with the process anyway.
    secrets: secrets ?? [randomBytes(32).toString('base64url')],
    ...(store ? { store } : {}),
    ...(allowedOrigins ? { allowedOrigins } : {}),
    // The login page hands the user name over as login_hint; `prompt=login` makes the IdP's
    // password-less interaction take it every time (not an earlier IdP session's user), and
    // `consent` is what oidc-provider needs to grant offline_access (the refresh token).
    authorizationParams: { prompt: 'login consent' },
    // The browser refreshes 30 s before expiry, or at half the life of a shorter token: hand out
    // the cached token on the same terms, so loading the first token is never a refresh.
    refreshBufferMs: Math.min(30_000, accessTokenTtlSeconds * 500),
    // The dashboard's "revoke" button makes the API reject the token the tab just got, and shows the
    // one refresh that repairs it: no lower bound between forced refreshes here. A real app keeps the
    // default (5 s), which caps what one cookie holder can make the BFF spend at the IdP.
    minRefreshIntervalMs: 0,
    onEvent: (event) => {
      switch (event.type) {
        case 'login':
          stats.logins++;
          sessionStats.set(event.sessionKey, { logins: 1, refreshes: 0, requests: 0, unauthorized: 0, revocations: 0 });
          remember(event.accessToken);
          break;
        case 'refresh': {
          // The counters count the default token's refreshes; the other APIs' tokens (whose first one is a
          // redemption too: the login's tokens are the default API's) count apart, in total only — the
          // per-session counters keep their shape.
          const session = sessionStats.get(event.sessionKey);
          if (event.accessToken && !forDefaultApi(event.accessToken)) {
            stats.apiRefreshes++;
          } else {
            stats.refreshes++;
            if (session) session.refreshes++;
          }
          if (event.accessToken) remember(event.accessToken);
          break;
        }
        default: // logout, session-ended, backchannel-logout
          sessionStats.delete(event.sessionKey);
      }
    },
  });

  async function sessionStatsOf(request) {
    const session = await bff.session(request);
    if (!session) return null;
    let counters = sessionStats.get(session.key);
    if (!counters) sessionStats.set(session.key, (counters = { logins: 0, refreshes: 0, requests: 0, unauthorized: 0, revocations: 0 }));
    return counters;
  }

  return { bff, sessionStatsOf };
}
