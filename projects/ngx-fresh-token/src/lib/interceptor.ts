import { HttpErrorResponse, HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { ɵOPTIONAL } from './config';
import { SKIP_FRESH_TOKEN } from './context';
import { ɵerror } from './errors';
import { ɵREQUEST_POLICY } from './request-policy';
import { retryOnUnauthorized, ɵafter } from './unauthorized-retry';

function isUnauthorized(err: unknown): boolean {
  return err instanceof HttpErrorResponse && err.status === 401;
}

/**
 * Attaches a valid token to requests for authorized URLs (same-origin by default): at once while
 * it has more than the min validity left (refreshing in the background inside the buffer), after
 * the one shared refresh below that. On a 401 it retries once (see {@link retryOnUnauthorized}):
 * with the current token if it changed since the request left, else after one shared forced
 * refresh. A second 401 reaches the caller unchanged and emits `unauthorized`. Requests with
 * `SKIP_FRESH_TOKEN` or their own auth header are passed through untouched. Paths of `withBffProxy()` get
 * `X-CSRF: 1` and never a token, whatever the token rules say. With
 * `withServerRendering()`, a `GET` with `TRANSFER_AUTHENTICATED_RESPONSE` has its body handed from
 * the server render to the browser.
 *
 * @example
 * provideHttpClient(withInterceptors([freshTokenInterceptor]))
 */
export const freshTokenInterceptor: HttpInterceptorFn = (req, next) => {
  // One inject() per request: the policy holds the service and the server rendering support too.
  const root = inject(ɵREQUEST_POLICY, ɵOPTIONAL);
  if (!root) {
    throw ɵerror(
      'NFT106',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'freshTokenInterceptor needs AuthService. To fix the problem, add provideFreshToken(withTokenSource(...)) to the same injector as provideHttpClient().' : '',
    );
  }
  // `has` before `get`: reading a token that was never set would store its default in every request's context.
  // Which token (if any) the URL gets: the default's rules, or the ranking of withApiToken()/withBffProxy().
  const policy = (req.context.has(SKIP_FRESH_TOKEN) && req.context.get(SKIP_FRESH_TOKEN)) || req.headers.has('Authorization') ? null : root.pick(req);
  if (!policy) return next(req);
  // A proxied path (withBffProxy()): X-CSRF and the session cookie, never a token.
  if (policy.send) return policy.send(req, next);
  const auth = policy.auth;
  // Requests that carry the token never enter the SSR transfer cache, whatever the header is called:
  // Angular skips only Authorization/Proxy-Authorization by itself.
  let sendWith = (token: string) => next(req.clone({ setHeaders: policy.headersFor(token), transferCache: false }));
  const render = policy.render;
  if (render) {
    const handed = render.handed(req);
    if (handed) return handed;
    sendWith = render.keeping(req, sendWith, auth);
  }
  // Signed out, or the request brings its own value for one of our headers: leave it alone.
  // The retry goes to `next`, below this interceptor, so it can never be retried again.
  const send = (token: string | null) =>
    token === null || policy.hasOwnAuthHeader(token, req.headers) ? next(req) : retryOnUnauthorized(auth, token, sendWith, isUnauthorized);
  const peeked = auth.ɵpeek();
  return peeked === undefined ? ɵafter(auth.getValidToken(), send) : send(peeked);
};
