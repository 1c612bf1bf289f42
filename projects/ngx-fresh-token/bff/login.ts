// The sign-in: GET /auth/login starts an authorization-code flow with PKCE S256, state and nonce
// (openid-client); GET /auth/callback finishes it and starts the server-side session.
// The login transaction (state, nonce, PKCE verifier, returnUrl) lives in a short-lived sealed
// cookie, one per transaction, so two tabs logging in at once do not overwrite each other's.
import { readCookies, serializeCookie } from './cookies';
import { sha256, type Sealer } from './crypto';
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import { errorResponse, escapeHtml } from './http';
import { classifyGrantFailure, client, grantError, type OidcConfiguration } from './oidc';
import type { ResolvedBffOptions } from './options';
import { cachedTokenOf } from './refresh';
import { safeReturnUrl } from './return-url';
import { tokenKey, type SessionData, type Sessions } from './sessions';

/** How long a login may take between /auth/login and the callback. */
export const LOGIN_TRANSACTION_SECONDS = 600;
const TRANSACTION_AAD = 'nft-login-transaction';

interface LoginTransaction {
  state: string;
  nonce: string;
  verifier: string;
  returnUrl: string;
  createdAt: number;
}

/** The cookie name of the transaction with `state` (a short hash of it, not the state itself). */
async function transactionCookieName(options: ResolvedBffOptions, state: string): Promise<string> {
  return `${options.transactionCookiePrefix}${(await sha256(state)).slice(0, 12)}`;
}

const callbackRejected = (why: string) =>
  bffError(BffErrorCode.CallbackRejected, `the login callback was rejected: ${why}. Start the login again.`, { status: 400 });

/** The page the callback answers with: a same-site hop to `returnUrl`, so the `SameSite=Strict` session cookie reaches the server on it. */
function hopPage(returnUrl: string, cookies: string[]): Response {
  const target = escapeHtml(returnUrl);
  const html =
    `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${target}">` +
    `<title>Signing in…</title></head><body><p>Signing in… <a href="${target}">Continue</a></p></body></html>`;
  const headers = new Headers({
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    // The callback URL holds the authorization code: never send it on as a Referer.
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
  });
  for (const cookie of cookies) headers.append('Set-Cookie', cookie);
  return new Response(html, { status: 200, headers });
}

/** The login and callback routes of one BFF. */
export function createLoginRoutes(options: ResolvedBffOptions, sessions: Sessions, sealer: Sealer, config: OidcConfiguration) {
  const origin = options.redirectUri.origin;

  async function login(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const verifier = client.randomPKCECodeVerifier();
    const transaction: LoginTransaction = {
      state,
      nonce,
      verifier,
      returnUrl: safeReturnUrl(url.searchParams.get('returnUrl'), origin),
      createdAt: options.now(),
    };
    const params: Record<string, string> = {
      ...options.authorizationParams,
      redirect_uri: options.redirectUri.href,
      scope: options.scope,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    for (const name of options.forwardedLoginParams) {
      const value = url.searchParams.get(name);
      if (value !== null && value.length <= 256) params[name] = value;
    }
    const authorizationUrl = client.buildAuthorizationUrl(config, params);
    for (const r of options.resource) authorizationUrl.searchParams.append('resource', r);
    const cookie = serializeCookie(await transactionCookieName(options, state), await sealer.seal(JSON.stringify(transaction), TRANSACTION_AAD), {
      sameSite: 'Lax',
      secure: options.secureCookies,
      maxAgeSeconds: LOGIN_TRANSACTION_SECONDS,
    });
    return new Response(null, {
      status: 302,
      headers: { Location: authorizationUrl.href, 'Cache-Control': 'no-store', 'Set-Cookie': cookie },
    });
  }

  async function callback(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const state = url.searchParams.get('state');
    if (!state || state.length > 512) return errorResponse(callbackRejected('no state'));
    const cookieName = await transactionCookieName(options, state);
    const clearTransaction = serializeCookie(cookieName, '', { sameSite: 'Lax', secure: options.secureCookies, maxAgeSeconds: 0 });
    const reject = (why: string) => errorResponse(callbackRejected(why), [clearTransaction]);

    const sealed = readCookies(request).get(cookieName);
    const plain = sealed ? await sealer.open(sealed, TRANSACTION_AAD) : null;
    if (!plain) return reject('no login transaction for this state (cookie missing, expired or tampered with)');
    const transaction = JSON.parse(plain) as LoginTransaction;
    if (transaction.state !== state) return reject('state mismatch');
    if (options.now() - transaction.createdAt > LOGIN_TRANSACTION_SECONDS * 1000) return reject('the login took too long');
    // One callback per transaction: a replayed callback URL is refused before the IdP sees the code again.
    const first = await sessions.call((s) => s.claimOnce(`login:${cookieName}:${transaction.createdAt}`, LOGIN_TRANSACTION_SECONDS * 1000));
    if (!first) return reject('this login was already completed');

    // openid-client checks state, the IdP's error parameters, PKCE (at the IdP), the ID token and its nonce.
    const currentUrl = new URL(options.redirectUri.href);
    currentUrl.search = url.search;
    let response: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      const extra = new URLSearchParams();
      for (const r of options.resource) extra.append('resource', r);
      response = await client.authorizationCodeGrant(
        config,
        currentUrl,
        { pkceCodeVerifier: transaction.verifier, expectedState: transaction.state, expectedNonce: transaction.nonce, idTokenExpected: true },
        extra,
      );
    } catch (err) {
      if (err instanceof client.AuthorizationResponseError) return reject('the identity provider answered with an error');
      const kind = classifyGrantFailure(err);
      if (kind === 'client') return errorResponse(grantError('client'), [clearTransaction]);
      // The IdP did not answer (network, timeout, 5xx, 429): a 503, not a verdict on the code.
      if (kind === 'unavailable') return errorResponse(grantError('unavailable'), [clearTransaction]);
      return reject('the code, PKCE verifier, nonce or ID token did not verify');
    }
    const claims = (response.claims() ?? {}) as Record<string, unknown>;
    if (typeof claims['sub'] !== 'string') return reject('the ID token has no subject');
    if (!response.refresh_token) {
      options.logger.warn('ngx-fresh-token/bff: the identity provider issued no refresh token; ask for offline_access (or configure the client) so sessions can outlive the first access token.');
    }
    const now = options.now();
    const data: SessionData = {
      sub: claims['sub'],
      sid: typeof claims['sid'] === 'string' ? claims['sid'] : undefined,
      claims,
      idToken: response.id_token,
      refreshToken: response.refresh_token,
      tokens: { [tokenKey()]: cachedTokenOf(response, now) },
      createdAt: now,
    };
    // The session never outlives its refresh token, when the IdP says how long that lives.
    const refreshExpiresIn = (response as { refresh_expires_in?: unknown }).refresh_expires_in;
    const absoluteMs =
      typeof refreshExpiresIn === 'number' && refreshExpiresIn > 0 ? Math.min(options.absoluteMs, refreshExpiresIn * 1000) : options.absoluteMs;
    let created;
    try {
      created = await sessions.create(data, absoluteMs);
    } catch (err) {
      if (err instanceof FreshTokenError) return errorResponse(err, [clearTransaction]);
      throw err;
    }
    // A browser that logs in again leaves no orphan: its previous session (if any) goes.
    const previousKey = await sessions.keyOfRequest(request);
    if (previousKey && previousKey !== created.key) await sessions.remove(previousKey).catch(() => undefined);
    options.onEvent({ type: 'login', sessionKey: created.key, sub: data.sub, accessToken: data.tokens[tokenKey()].accessToken });
    return hopPage(transaction.returnUrl, [clearTransaction, sessions.sessionCookie(created.id, created.record)]);
  }

  return { login, callback };
}
