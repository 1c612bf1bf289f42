import type { Provider } from '@angular/core';
import type { RefreshRetryPolicy } from './backoff';
import { ɵerror } from './errors';

/**
 * Kinds of {@link FreshTokenFeature}; each may appear once in `provideFreshToken()`.
 *
 * @example
 * const feature: FreshTokenFeature<typeof FreshTokenFeatureKind.RefreshBuffer> = withRefreshBuffer(60_000);
 */
export const FreshTokenFeatureKind = {
  TokenSource: 0,
  RefreshBuffer: 1,
  AuthorizedUrls: 2,
  AuthHeader: 3,
  RefreshRetry: 4,
  MinValidity: 5,
  AutoRefresh: 6,
  CrossTabSync: 7,
  ServerRendering: 8,
  /** `withApiToken()`: may appear once per token name. */
  ApiToken: 9,
  BffProxy: 10,
  /** `withTokenBinding()` (DPoP: `withDpop()` of `ngx-fresh-token/dpop`). */
  TokenBinding: 11,
} as const;

/**
 * One of the {@link FreshTokenFeatureKind} values.
 *
 * @example
 * const kind: FreshTokenFeatureKind = FreshTokenFeatureKind.MinValidity; // 5
 */
export type FreshTokenFeatureKind = (typeof FreshTokenFeatureKind)[keyof typeof FreshTokenFeatureKind];

/** Type-only brand: a feature is made by a `with…()` function, never by hand (no run-time property). */
declare const FEATURE_KIND: unique symbol;

/**
 * A configuration piece for {@link provideFreshToken}, made by a `with…()` function.
 *
 * @example
 * const feature: FreshTokenFeature = withRefreshBuffer(60_000);
 */
export interface FreshTokenFeature<K extends FreshTokenFeatureKind = FreshTokenFeatureKind> {
  /** Which setting the feature configures (type only). */
  readonly [FEATURE_KIND]: K;
  /** @internal Which setting the feature configures. */
  ɵkind: K;
  /** @internal The providers it contributes. */
  ɵproviders: Provider[];
}

/**
 * @internal Makes a feature of `kind` (the one place a {@link FreshTokenFeature} is created). `kind`
 * may be a string at run time — `withApiToken()` uses `'ApiToken:<name>'`, so that the duplicate
 * check of `provideFreshToken()` allows one per name — while its type stays the numeric kind.
 */
export function ɵfeature<K extends FreshTokenFeatureKind>(kind: K | string, providers: Provider[]): FreshTokenFeature<K> {
  return { ɵkind: kind, ɵproviders: providers } as unknown as FreshTokenFeature<K>;
}

/** @internal A complete retry policy, checked (`NFT105`, naming `what`, otherwise). */
export function ɵvalidRetryPolicy(policy: RefreshRetryPolicy, what: string): RefreshRetryPolicy {
  const bad = Object.entries(policy).find(([, v]) => typeof v !== 'number' || !Number.isFinite(v) || v < 0);
  if (bad || policy.maxAttempts < 1 || policy.attemptTimeoutMs <= 0) {
    throw ɵerror('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? `${what} takes finite, non-negative numbers, maxAttempts >= 1 and attemptTimeoutMs > 0.` : '');
  }
  return policy;
}

