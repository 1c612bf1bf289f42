import type { Observable } from 'rxjs';
import type { FreshTokenError } from './errors';

/**
 * What a {@link TokenSource} hands out: an access token and, optionally, when it expires.
 *
 * @example
 * const grant: TokenGrant = { accessToken: 'eyJ…', expiresAt: Date.now() + 3_600_000 };
 */
export interface TokenGrant {
  /** The access token sent to APIs. */
  accessToken: string;
  /** Expiry in epoch ms; when absent it is read from the JWT `exp`; an opaque token with neither never expires. */
  expiresAt?: number;
  /** An OpenID Connect ID token, when the source has one. */
  idToken?: string;
  /**
   * The signed-in user's claims that may be shown (never a token), when the source knows them — a
   * session endpoint's `user`. `AuthService.sessionUser` follows it: a grant that names a user (or
   * `null`) sets it; one that names none keeps the session's user on a refresh, and clears it when put
   * in place by `setGrant()`.
   */
  user?: Record<string, unknown> | null;
}

/**
 * What {@link TokenSource.getToken} is asked for.
 *
 * @example
 * const source: TokenSource = {
 *   getToken: ({ forceRefresh }: TokenRequest) => (forceRefresh ? refreshAtServer() : readCachedGrant()),
 * };
 */
export interface TokenRequest {
  /** `true` when the current token must not be returned again (it is expiring, or an API rejected it). */
  forceRefresh: boolean;
  /**
   * The token the service holds when it asks (`null` when none): with `forceRefresh`, the one that
   * must not come back. A backend that caches tokens per session (the BFF's `X-Replaces-Token`)
   * uses it to hand out a newer token another tab or render already got, instead of redeeming again.
   */
  currentToken?: string | null;
}

/**
 * Where tokens come from: Amplify, an OAuth endpoint, a session endpoint or the app's own code.
 * `getToken` resolving to `null` means "signed out". Throw an error with an HTTP `status`
 * (or a `FreshTokenError`) so the service can tell transient from permanent failures.
 *
 * @example
 * const source: TokenSource = { getToken: () => fetch('/session/token').then((r) => r.json()) };
 */
export interface TokenSource {
  /** Returns a token, a new one when `forceRefresh` is true, or `null` when signed out. */
  getToken(request: TokenRequest): Promise<TokenGrant | null> | Observable<TokenGrant | null>;
  /**
   * Ends the session at the source (revoke, clear storage). Called with no argument by
   * `AuthService.signOut()`, and with `{ error }` when the session ended here on a permanent failure
   * (a malformed answer, a 4xx, a token expired on arrival): that is no verdict of the server, so a
   * source whose session lives on a server (`withSessionEndpoint()`) then forgets only what it holds
   * locally.
   */
  signOut?(request?: SignOutRequest): Promise<void> | void;
}

/**
 * Why {@link TokenSource.signOut} is called: empty for an explicit `AuthService.signOut()`; with the
 * `error` that ended the session otherwise.
 *
 * @example
 * signOut: (request) => request?.error ? forgetLocally() : endServerSession()
 */
export interface SignOutRequest {
  /** The permanent failure that ended the session here; absent for an explicit sign-out. */
  error?: FreshTokenError;
}

/**
 * A snapshot of the token's lifetime, as emitted by `AuthService.state$`.
 *
 * @example
 * auth.state$.subscribe((s) => console.log(s.status));
 */
export interface TokenState {
  /** `fresh`: more than the buffer left; `expiring`: inside the buffer; `expired`; or `signed-out`. */
  status: 'signed-out' | 'fresh' | 'expiring' | 'expired';
  /** The access token, or `null` when signed out. */
  token: string | null;
  /** Expiry in local epoch ms (corrected for clock skew), or `null` when none is known. */
  expiresAt: number | null;
  /** `true` while a refresh is in flight. */
  refreshing: boolean;
  /** The last refresh error, cleared by the next success. */
  error: FreshTokenError | null;
  /** When the refresh starts, in local epoch ms (`expiresAt` − the refresh buffer); `null` without an expiry. */
  refreshAt: number | null;
}

/**
 * Something that happened to the token, as emitted by `AuthService.events$`.
 *
 * @example
 * auth.events$.pipe(filter((e) => e.type === 'session-expired')).subscribe(() => router.navigate(['/login']));
 */
export type TokenEvent = {
  type: 'refreshed' | 'refresh-failed' | 'unauthorized' | 'session-expired' | 'signed-out';
  error?: FreshTokenError;
  /** `true` on a `refreshed` event when the token came from another tab (`withCrossTabSync()`), not from this tab's source. */
  adopted?: boolean;
};
