import { InjectionToken, PLATFORM_ID, inject } from '@angular/core';
import type { RefreshRetryPolicy } from './backoff';
import { DEFAULT_REFRESH_BUFFER_MS } from './lifetime';
import type { AuthService } from './auth.service';
import type { FreshTokenError } from './errors';
import type { TokenSource } from './token';
import type { UrlMatcher } from './url-matcher';

/** @internal Whether this injector renders on the server platform (no platform at all, as in a plain Node injector, is not). */
export function ɵonServer(): boolean {
  return inject(PLATFORM_ID, ɵOPTIONAL) === 'server';
}

/**
 * @internal How the core reads the settings of its features: a feature's setting, or `null` when
 * the app did not give the feature (each reader has its default). Settings without a default
 * provider are one `InjectionToken` each and nothing more.
 */
export const ɵOPTIONAL = { optional: true } as const;

/**
 * @internal How the core reads the features that act beyond its service (other tabs, timers, the
 * page, a server render): only those given to the same `provideFreshToken()`, never a parent's
 * (one in a child injector — a lazy route's, with another source — must not talk on the parent's
 * channel, refresh by the parent's timer, or start from the parent's render).
 */
export const ɵOWN = { optional: true, self: true } as const;

/** @internal The token source set by `withTokenSource()` (or an entry's source feature). */
export const ɵFRESH_TOKEN_SOURCE = /* @__PURE__ */ new InjectionToken<TokenSource>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_SOURCE' : '');

/**
 * The refresh buffer in ms that the app configured with `withRefreshBuffer()` (default 30 000):
 * integrations that schedule their own renewals (a socket reconnect) read it from here, so they
 * agree with the service.
 *
 * @example
 * const bufferMs = inject(FRESH_TOKEN_REFRESH_BUFFER_MS);
 */
export const FRESH_TOKEN_REFRESH_BUFFER_MS = /* @__PURE__ */ new InjectionToken<number>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_REFRESH_BUFFER_MS' : '', {
  providedIn: 'root',
  factory: () => DEFAULT_REFRESH_BUFFER_MS,
});

/** @internal Least validity for sending without waiting, set by `withMinValidity()` (read with {@link ɵOPTIONAL}; without it 10 s, or the buffer if shorter). */
export const ɵMIN_VALIDITY_MS = /* @__PURE__ */ new InjectionToken<number>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'MIN_VALIDITY_MS' : '');

/** @internal `withAutoRefresh()`: starts automatic refresh for a service (read with {@link ɵOWN}); `null` when off or on the server. */
export const ɵAUTO_REFRESH = /* @__PURE__ */ new InjectionToken<((auth: AuthService) => void) | null>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'AUTO_REFRESH' : '');

/** @internal What the service asks of cross-tab sync (`withCrossTabSync()`). */
export interface ɵCrossTabLink {
  /** Runs `fromSource` under the browser-wide lock, unless another tab's token makes it unnecessary. */
  exclusive(signal: AbortSignal, trigger: string | null, firstLoad: boolean, fromSource: () => Promise<string | null>): Promise<string | null>;
  /** Tells the other tabs about the token the service now holds. */
  publish(): void;
  /** Tells the other tabs the session ended here (with the error code when it expired). */
  publishEnd(expiredCode?: string): void;
  /** Tells the other tabs this tab's refresh failed transiently. */
  publishFailed(): void;
}

/** @internal `withCrossTabSync()`: links a service to the other tabs (read with {@link ɵOWN}); `null` when off, on the server or without the browser APIs. */
export const ɵCROSS_TAB = /* @__PURE__ */ new InjectionToken<((auth: AuthService) => ɵCrossTabLink) | null>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'CROSS_TAB' : '');

/** @internal URL matchers set by `withAuthorizedUrls()` (read with {@link ɵOPTIONAL}; without them, same-origin only). */
export const ɵAUTHORIZED_URLS = /* @__PURE__ */ new InjectionToken<readonly UrlMatcher[]>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'AUTHORIZED_URLS' : '');

/** @internal Header format set by `withAuthHeader()` (read with {@link ɵOPTIONAL}; without it `Authorization: Bearer <token>`). */
export const ɵAUTH_HEADER = /* @__PURE__ */ new InjectionToken<(token: string) => Record<string, string>>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'AUTH_HEADER' : '');

/** @internal Retry policy set by `withRefreshRetry()` (read with {@link ɵOPTIONAL}; without it `DEFAULT_REFRESH_RETRY`). */
export const ɵREFRESH_RETRY = /* @__PURE__ */ new InjectionToken<RefreshRetryPolicy>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'REFRESH_RETRY' : '');

/**
 * @internal The name of a `withApiToken()` token, provided in its own injector; `null` (not provided)
 * for the default token. Cross-tab sync names its lock and channel with it, server rendering its
 * `TransferState` keys.
 */
export const ɵTOKEN_NAME = /* @__PURE__ */ new InjectionToken<string>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'TOKEN_NAME' : '');

/**
 * @internal `withApiToken()`: what ends with the default session — every named token. `signOut` true: the
 * default service's `signOut()` (each named source's `signOut()` once), called at once, before the sources
 * answer; false: the session ended otherwise (expired with `error`, its source said signed out, another tab
 * signed out), and the named tokens are only dropped. Read with {@link ɵOWN}: the named services have none.
 */
export const ɵSIGN_OUT_ALSO = /* @__PURE__ */ new InjectionToken<(signOut: boolean, error?: FreshTokenError) => Promise<unknown> | void>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'SIGN_OUT_ALSO' : '');
