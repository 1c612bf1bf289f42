import { InjectionToken } from '@angular/core';
import { DEFAULT_REFRESH_RETRY, RefreshRetryPolicy } from './backoff';
import { DEFAULT_REFRESH_BUFFER_MS } from './lifetime';
import type { TokenSource } from './token';
import type { UrlMatcher } from './url-matcher';

/** The token source set by `withTokenSource()` (or an entry's source feature). */
export const ɵFRESH_TOKEN_SOURCE = new InjectionToken<TokenSource>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_SOURCE' : '');

/**
 * The refresh buffer in ms that the app configured with `withRefreshBuffer()` (default 30 000):
 * integrations that schedule their own renewals (a socket reconnect) read it from here, so they
 * agree with the service.
 *
 * @example
 * const bufferMs = inject(FRESH_TOKEN_REFRESH_BUFFER_MS);
 */
export const FRESH_TOKEN_REFRESH_BUFFER_MS = new InjectionToken<number>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_REFRESH_BUFFER_MS' : '', {
  providedIn: 'root',
  factory: () => DEFAULT_REFRESH_BUFFER_MS,
});

/** Least validity for sending without waiting, set by `withMinValidity()`; `null`: 10 s or the buffer if shorter. */
export const ɵMIN_VALIDITY_MS = new InjectionToken<number | null>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'MIN_VALIDITY_MS' : '', {
  providedIn: 'root',
  factory: () => null,
});

/** Whether `withAutoRefresh()` is on. */
export const ɵAUTO_REFRESH = new InjectionToken<boolean>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'AUTO_REFRESH' : '', {
  providedIn: 'root',
  factory: () => false,
});

/** URL matchers set by `withAuthorizedUrls()`; `null` means same-origin only. */
export const ɵAUTHORIZED_URLS = new InjectionToken<readonly UrlMatcher[] | null>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'AUTHORIZED_URLS' : '', {
  providedIn: 'root',
  factory: () => null,
});

/** Header format set by `withAuthHeader()`. */
export const ɵAUTH_HEADER = new InjectionToken<(token: string) => Record<string, string>>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'AUTH_HEADER' : '', {
  providedIn: 'root',
  factory: () => (token: string) => ({ Authorization: `Bearer ${token}` }),
});

/** Retry policy set by `withRefreshRetry()`. */
export const ɵREFRESH_RETRY = new InjectionToken<RefreshRetryPolicy>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'REFRESH_RETRY' : '', {
  providedIn: 'root',
  factory: () => DEFAULT_REFRESH_RETRY,
});
