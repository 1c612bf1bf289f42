import { FreshTokenError } from 'ngx-fresh-token/internal';

/**
 * Stable codes of the errors the `ngx-fresh-token/bff` entry throws or answers with. Each is
 * documented in the README's error table; messages never hold a token, secret, code or cookie value.
 *
 * @example
 * if (err instanceof FreshTokenError && err.code === BffErrorCode.InvalidOption) console.error(err.message);
 */
export const BffErrorCode = {
  /** A `createBff()` option is missing or invalid (the message names the option, never its value). */
  InvalidOption: 'NFT401',
  /** Discovery of the issuer failed when `createBff()` ran (unreachable, or metadata not usable). */
  DiscoveryFailed: 'NFT402',
  /** The identity provider gave no verdict: a timeout, a network error, 5xx / 429, an HTML or other non-OAuth answer at any status, a JSON error other than `invalid_grant`: answered 503 + `Retry-After`, the session kept. */
  IdpUnavailable: 'NFT403',
  /** The session store did not answer in time or failed: answered 503 + `Retry-After`. */
  StoreUnavailable: 'NFT404',
  /** The login callback failed a check (state, nonce, PKCE, transaction cookie, code, ID token): answered 400. */
  CallbackRejected: 'NFT405',
  /** The identity provider rejected the refresh token (`invalid_grant`): the session ended, answered 401. */
  SessionEnded: 'NFT406',
  /** A request failed the CSRF rules (missing `X-CSRF: 1`, foreign `Origin`, cross-site fetch): answered 403. */
  CsrfRejected: 'NFT407',
  /** A back-channel logout token failed verification or was replayed (400), or its body was too large (413). */
  LogoutTokenRejected: 'NFT408',
  /** Another instance holds the session's refresh lock longer than the wait allows: answered 503 + `Retry-After`. */
  RefreshBusy: 'NFT409',
  /** The identity provider refused the client itself (`invalid_client`, `unauthorized_client`): a configuration error, answered 500 (not retried), the session kept, logged once. */
  ClientRejected: 'NFT410',
  /** The identity provider refused the resource or scope asked of `bff.accessToken()` (`invalid_target`, `invalid_scope`): answered 400, the session is kept. */
  TokenRequestRejected: 'NFT411',
  /** The session was sealed under a secret this instance does not hold yet (a rolling deploy of a new secret): answered 503 + `Retry-After`, the session kept. */
  SessionKeyUnknown: 'NFT412',
  /** `/session/token?api=` (or `bff.accessToken(request, { api })`) named an API that `createBff`'s `apis` does not configure: answered 400. */
  UnknownApi: 'NFT413',
  /** `/session/token?api=` named an API that is proxied: its tokens never leave the server. Answered 403. */
  ApiProxied: 'NFT414',
  /** A proxied path would leave the API's path once decoded (dot segments, encoded slashes, backslashes), its body did not match its length, or it came in a transfer coding other than chunked: answered 400, nothing forwarded. */
  ProxyPathRefused: 'NFT415',
  /** The proxied API could not be reached (connection refused, reset or closed): answered 502. */
  UpstreamUnavailable: 'NFT416',
  /** The proxied API did not answer within the API's `timeoutMs`: answered 504. */
  UpstreamTimeout: 'NFT417',
  /** The method is not allowed for this proxied API: answered 405 with `Allow`. */
  ProxyMethodRefused: 'NFT418',
  /** A WebSocket upgrade was refused (no session for a `user` API, a foreign or missing Origin, a cross-site fetch, or an API without `websocket: true`). */
  WebSocketRefused: 'NFT419',
  /**
   * DPoP (`createBff({ dpop })`): the token is bound to the BFF's key, useless without it, so it is not
   * handed out — not to the browser (`/session/token`: 403), not to server code or a render
   * (`bff.accessToken()`, a render context's `getToken`). Call the API through its proxy path.
   */
  DpopBound: 'NFT420',
} as const;

/**
 * One of the {@link BffErrorCode} values.
 *
 * @example
 * const code: BffErrorCodeValue = BffErrorCode.SessionEnded; // 'NFT406'
 */
export type BffErrorCodeValue = (typeof BffErrorCode)[keyof typeof BffErrorCode];

/**
 * The one error class of ngx-fresh-token, from the Angular-free `ngx-fresh-token/internal`: the same
 * class the core and the Angular entries throw, so `instanceof FreshTokenError` and `code` work alike on
 * both halves. On this entry `status` is the HTTP status the BFF answers with for it, and `retryAfterMs`
 * (503 answers) becomes the answer's `Retry-After` (in seconds).
 *
 * @example
 * try { await createBff(options); } catch (err) { if (err instanceof FreshTokenError && err.code === 'NFT401') process.exit(1); }
 */
export { FreshTokenError };

/** Builds a {@link FreshTokenError} of this entry: the one place that decides its status and `Retry-After`. */
export function bffError(
  code: BffErrorCodeValue,
  message: string,
  details: { status?: number; retryAfterSeconds?: number } = {},
): FreshTokenError {
  const status = details.status ?? 500;
  return new FreshTokenError(code, message, {
    status,
    transient: status === 503,
    ...(details.retryAfterSeconds !== undefined ? { retryAfterMs: details.retryAfterSeconds * 1000 } : {}),
  });
}
