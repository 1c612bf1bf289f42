// The sign-in: GET /auth/login starts an authorization-code flow with PKCE S256, state and nonce
// (openid-client); GET /auth/callback finishes it and starts the server-side session.
// The login transaction (state, nonce, PKCE verifier, returnUrl) lives in a short-lived sealed
// cookie, one per transaction, so two tabs logging in at once do not overwrite each other's.
import { readCookies, serializeCookie } from './cookies';
import { sha256, type Sealer } from './crypto';
import { bffError, BffErrorCode, FreshTokenError, type BffErrorCodeValue } from './errors';
import { errorResponse, escapeHtml } from './http';
import { classifyGrantFailure, client, type GrantErrors, type OidcConfiguration } from './oidc';
import type { ResolvedBffOptions } from './options';
import type { TokenBinding } from './dpop';
import { safeReturnUrl } from './return-url';
import { tokenKey, type SessionData, type Sessions } from './sessions';

/** How long a login may take between /auth/login and the callback. */
export const LOGIN_TRANSACTION_SECONDS = 600;
/**
 * Open logins per browser: a new one past it drops the oldest transaction cookie, so the Cookie header
 * stays bounded (each cookie is under 2 KB: the return target is capped) whatever the number of /auth/login calls.
 */
export const MAX_LOGIN_TRANSACTIONS = 3;
/** At most this many transaction cookies of one request are looked at (opened or cleared). */
/** The parameters of an authorization response (RFC 6749 §4.1.2, RFC 9207, JARM): each at most once. */
const CALLBACK_PARAMETERS = ['state', 'code', 'iss', 'error', 'error_description', 'error_uri', 'response', 'session_state'];
const MAX_TRANSACTION_COOKIES_READ = 16;
const TRANSACTION_AAD = 'nft-login-transaction';

interface LoginTransaction {
  state: string;
  nonce: string;
  verifier: string;
  returnUrl: string;
  createdAt: number;
  /**
   * The store key of the session this browser had when the login started (its `SameSite=Strict` cookie
   * reaches /auth/login, a same-site navigation, but not the cross-site callback): it ends when the new one starts.
   */
  previousKey?: string;
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

/** A login transaction from its sealed cookie value: the transaction, `'newer-key'` (sealed under a secret this instance lacks yet) or `null`. */
async function openTransaction(sealer: Sealer, sealed: string): Promise<LoginTransaction | 'newer-key' | null> {
  const opened = await sealer.open(sealed, TRANSACTION_AAD);
  if (opened === null) return null;
  if ('newerKey' in opened) return 'newer-key';
  try {
    const transaction = JSON.parse(opened.plaintext) as LoginTransaction;
    return transaction && typeof transaction.state === 'string' && typeof transaction.createdAt === 'number' ? transaction : null;
  } catch {
    return null;
  }
}

/** The login and callback routes of one BFF. */
export function createLoginRoutes(options: ResolvedBffOptions, sessions: Sessions, sealer: Sealer, config: OidcConfiguration, grantErrors: GrantErrors, binding: TokenBinding) {
  const origin = options.redirectUri.origin;
  const bffPaths = new Set(Object.values(options.routes));
  // The login asks for everything the named APIs' tokens will be minted from (a refresh may only ask for a
  // resource the login was granted, and only scopes it got): their resources, and their scopes in the scope.
  const apiList = [...options.apis.values()];
  const loginResources = [...new Set([...options.resource, ...apiList.flatMap((a) => (a.resource ? [a.resource] : []))])];
  const loginScope = [...new Set([...options.scope.split(' '), ...apiList.flatMap((a) => (a.scope ? a.scope.split(/\s+/) : []))])].filter(Boolean).join(' ');
  /** The return target: a same-origin path that is none of the BFF's own routes (a hop to /auth/login would start the next login, and the next…). */
  const returnTarget = (returnUrl: string | null): string => {
    const target = safeReturnUrl(returnUrl, origin);
    return bffPaths.has(new URL(target, origin).pathname) ? '/' : target;
  };
  const clearCookie = (name: string) => serializeCookie(name, '', { sameSite: 'Lax', secure: options.secureCookies, maxAgeSeconds: 0 });

  /** The `Set-Cookie` lines that drop this browser's oldest open logins, leaving room for one more. */
  async function dropOldTransactions(request: Request): Promise<string[]> {
    const open: Array<{ name: string; createdAt: number }> = [];
    for (const [name, value] of readCookies(request)) {
      if (!name.startsWith(options.transactionCookiePrefix)) continue;
      if (open.length >= MAX_TRANSACTION_COOKIES_READ) {
        open.push({ name, createdAt: -Infinity });
        continue;
      }
      const transaction = await openTransaction(sealer, value);
      open.push({ name, createdAt: transaction && transaction !== 'newer-key' ? transaction.createdAt : transaction === 'newer-key' ? options.now() : -Infinity });
    }
    if (open.length < MAX_LOGIN_TRANSACTIONS) return [];
    open.sort((a, b) => b.createdAt - a.createdAt);
    return open.slice(MAX_LOGIN_TRANSACTIONS - 1, MAX_LOGIN_TRANSACTIONS - 1 + 2 * MAX_TRANSACTION_COOKIES_READ).map((c) => clearCookie(c.name));
  }

  async function login(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const verifier = client.randomPKCECodeVerifier();
    const transaction: LoginTransaction = {
      state,
      nonce,
      verifier,
      returnUrl: returnTarget(url.searchParams.get('returnUrl')),
      createdAt: options.now(),
    };
    const previousKey = await sessions.keyOfRequest(request);
    if (previousKey) transaction.previousKey = previousKey;
    const params: Record<string, string> = { ...options.authorizationParams };
    // The browser's parameters first, so nothing below can be overridden (createBff also refuses protocol names).
    for (const name of options.forwardedLoginParams) {
      const value = url.searchParams.get(name);
      if (value !== null && value.length <= 256) params[name] = value;
    }
    Object.assign(params, {
      redirect_uri: options.redirectUri.href,
      scope: loginScope,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    // DPoP: the code is bound to the BFF's key (RFC 9449 §10), so only the BFF can redeem it.
    if (binding.jkt) params['dpop_jkt'] = binding.jkt;
    const authorizationUrl = client.buildAuthorizationUrl(config, params);
    for (const r of loginResources) authorizationUrl.searchParams.append('resource', r);
    const cookie = serializeCookie(await transactionCookieName(options, state), await sealer.seal(JSON.stringify(transaction), TRANSACTION_AAD), {
      sameSite: 'Lax',
      secure: options.secureCookies,
      maxAgeSeconds: LOGIN_TRANSACTION_SECONDS,
    });
    const headers = new Headers({ Location: authorizationUrl.href, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    for (const line of await dropOldTransactions(request)) headers.append('Set-Cookie', line);
    headers.append('Set-Cookie', cookie);
    return new Response(null, { status: 302, headers });
  }

  /** Whether openid-client refused the authorization response itself (its parameters), before any token request. */
  function isRefusedCallback(err: unknown): boolean {
    if (!(err instanceof client.ClientError) || err.code !== 'OAUTH_INVALID_RESPONSE') return false;
    const cause = (err as { cause?: { cause?: { parameters?: unknown } } }).cause?.cause;
    return cause?.parameters instanceof URLSearchParams;
  }

  async function callback(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const state = url.searchParams.get('state');
    if (!state || state.length > 512) return errorResponse(callbackRejected('no state'));
    const cookieName = await transactionCookieName(options, state);
    const clearTransaction = clearCookie(cookieName);
    const reject = (why: string) => errorResponse(callbackRejected(why), [clearTransaction]);

    const sealed = readCookies(request).get(cookieName);
    const transaction = sealed ? await openTransaction(sealer, sealed) : null;
    // Sealed by an instance that already has a newer secret (a rolling deploy): another try may reach it.
    if (transaction === 'newer-key') return errorResponse(sessions.newerKeyError());
    if (!transaction) return reject('no login transaction for this state (cookie missing, expired or tampered with)');
    if (transaction.state !== state) return reject('state mismatch');
    // A parameter of the authorization response sent twice is a tampered callback (openid-client refuses it too,
    // but as an invalid response, which would read as an IdP outage).
    if (CALLBACK_PARAMETERS.some((name) => url.searchParams.getAll(name).length > 1)) return reject('a callback parameter was sent twice');
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
        binding.grantOptions,
      );
    } catch (err) {
      if (err instanceof client.AuthorizationResponseError) return reject('the identity provider answered with an error');
      // The callback's parameters failed openid-client's own checks before any request to the IdP (an `iss` of
      // another issuer — RFC 9207 mix-up —, a JARM `response`): a tampered callback, not an outage.
      if (isRefusedCallback(err)) return reject('the callback parameters did not verify (issuer or response mode)');
      const kind = await classifyGrantFailure(err);
      // A verdict on the code (invalid_grant: a bad or replayed code, a PKCE mismatch) or an answer that failed verification.
      if (kind === 'ended' || kind === 'rejected' || kind === 'request') return reject('the code, PKCE verifier, nonce or ID token did not verify');
      // No verdict (a timeout, a network error, 5xx, HTML or other garbage): 503; a refused client: NFT410.
      // No Retry-After: this callback URL is spent (claimed above); the way on is a new login.
      const failure = grantErrors.errorFor(kind);
      return errorResponse(bffError(failure.code as BffErrorCodeValue, 'the identity provider did not complete the login; start the login again.', { status: failure.status }), [clearTransaction]);
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
      tokens: { [tokenKey()]: binding.tokenOf(response, now) },
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
    // A browser that logs in again leaves no orphan: its previous session (if any) goes. The callback is a
    // cross-site navigation, so the Strict cookie is usually missing here: the key recorded at /auth/login counts.
    for (const previous of new Set([transaction.previousKey, await sessions.keyOfRequest(request)])) {
      if (previous && previous !== created.key) await sessions.remove(previous).catch(() => undefined);
    }
    options.onEvent({ type: 'login', sessionKey: created.key, sub: data.sub, accessToken: data.tokens[tokenKey()].accessToken });
    return hopPage(transaction.returnUrl, [clearTransaction, sessions.sessionCookie(created.id, created.record)]);
  }

  return { login, callback };
}
