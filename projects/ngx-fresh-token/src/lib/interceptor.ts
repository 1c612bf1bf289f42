import { HttpErrorResponse, HttpInterceptorFn, HttpRequest } from '@angular/common/http';
import { isPlatformServer } from '@angular/common';
import { PLATFORM_ID, TransferState, inject } from '@angular/core';
import { tap } from 'rxjs';
import { AuthService } from './auth.service';
import { SKIP_FRESH_TOKEN } from './context';
import { FreshTokenError } from './errors';
import { ɵREQUEST_POLICY } from './request-policy';
import { ɵkeepForBrowser, ɵtransferred, ɵwantsTransfer } from './response-transfer';
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
 * `SKIP_FRESH_TOKEN` or their own auth header are passed through untouched. A `GET` with
 * `TRANSFER_AUTHENTICATED_RESPONSE` has its body handed from the server render to the browser.
 *
 * @example
 * provideHttpClient(withInterceptors([freshTokenInterceptor]))
 */
export const freshTokenInterceptor: HttpInterceptorFn = (req, next) => {
  const auth = inject(AuthService, { optional: true });
  if (!auth) {
    throw new FreshTokenError(
      'NFT106',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'freshTokenInterceptor needs AuthService. To fix the problem, add provideFreshToken(withTokenSource(...)) to the same injector as provideHttpClient().' : '',
    );
  }
  const policy = inject(ɵREQUEST_POLICY);
  if (req.context.get(SKIP_FRESH_TOKEN) || req.headers.has('Authorization') || !policy.isAuthorizedUrl(req.url)) {
    return next(req);
  }
  // Requests that carry the token never enter the SSR transfer cache, whatever the header is called:
  // Angular skips only Authorization/Proxy-Authorization by itself.
  const withToken = (token: string): HttpRequest<unknown> => req.clone({ setHeaders: policy.headersFor(token), transferCache: false });
  let sendWith = (token: string) => next(withToken(token));
  if (ɵwantsTransfer(req)) {
    const state = inject(TransferState);
    if (isPlatformServer(inject(PLATFORM_ID))) {
      const plain = sendWith;
      sendWith = (token) => plain(token).pipe(tap((event) => ɵkeepForBrowser(state, req, event, token)));
    } else {
      const handed = ɵtransferred(state, req);
      if (handed) return handed;
    }
  }
  const send = (token: string | null) =>
    // Signed out, or the request brings its own value for one of our headers: leave it alone.
    // The retry goes to `next`, below this interceptor, so it can never be retried again.
    token === null || policy.hasOwnAuthHeader(token, req.headers) ? next(req) : retryOnUnauthorized(auth, token, sendWith, isUnauthorized);
  const peeked = auth.ɵpeek();
  return peeked !== undefined ? send(peeked) : ɵafter(auth.getValidToken(), send);
};
