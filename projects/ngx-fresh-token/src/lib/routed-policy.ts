// The request policy of an app with more than one place a request can go (`withApiToken()`,
// `withBffProxy()`): the default token's policy, whose `pick` asks the proxied paths first, then the
// ranking of every token's URL rules. Provided by those features in place of the plain policy; the
// code of each comes with its feature only (the tokens below are filled by them).
import type { HttpRequest } from '@angular/common/http';
import { InjectionToken, inject } from '@angular/core';
import { ɵOPTIONAL } from './config';
import { ɵRequestPolicy, ɵcreateRequestPolicy, ɵtokenless } from './request-policy';
import { ɵsentUrl } from './url-matcher';

/** @internal `withApiToken()`: from the default token's policy, the policy of the token each `(url, method)` gets. */
export const ɵTOKEN_ROUTER = /* @__PURE__ */ new InjectionToken<(defaultPolicy: ɵRequestPolicy | null) => (url: string, method: string) => ɵRequestPolicy | null>(
  (typeof ngDevMode === 'undefined' || ngDevMode) ? 'TOKEN_ROUTER' : '',
);

/** @internal `withBffProxy()`: wraps the token choice; a proxied path gets the proxy's policy, any other `pick(req)`. */
export const ɵPROXY_ROUTER = /* @__PURE__ */ new InjectionToken<(pick: (req: HttpRequest<unknown>) => ɵRequestPolicy | null) => (req: HttpRequest<unknown>) => ɵRequestPolicy | null>(
  (typeof ngDevMode === 'undefined' || ngDevMode) ? 'PROXY_ROUTER' : '',
);

/** @internal The request policy of `provideFreshToken()` with `withApiToken()` or `withBffProxy()`. */
export function ɵcreateRoutedPolicy(): ɵRequestPolicy {
  const policy = ɵcreateRequestPolicy();
  // Proxy-only mode: the default token's URLs get no token (there is none), the named tokens' theirs.
  const router = inject(ɵTOKEN_ROUTER, ɵOPTIONAL)?.(ɵtokenless() ? null : policy);
  let pick = router ? (req: HttpRequest<unknown>) => router(ɵsentUrl(req), req.method) : policy.pick;
  const proxy = inject(ɵPROXY_ROUTER, ɵOPTIONAL);
  if (proxy) pick = proxy(pick);
  return { ...policy, pick };
}
