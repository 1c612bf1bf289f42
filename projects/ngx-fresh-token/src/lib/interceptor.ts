import { HttpErrorResponse, HttpEvent, HttpHandlerFn, HttpInterceptorFn, HttpRequest } from '@angular/common/http';
import { inject } from '@angular/core';
import { Observable, catchError, from, switchMap, throwError } from 'rxjs';
import { AuthService } from './auth.service';
import { SKIP_FRESH_TOKEN } from './context';
import { FreshTokenError, FreshTokenErrorCode } from './errors';

function isUnauthorized(err: unknown): err is HttpErrorResponse {
  return err instanceof HttpErrorResponse && err.status === 401;
}

/**
 * Attaches a fresh token to requests for authorized URLs (same-origin by default), refreshing
 * first when the token is inside the buffer (concurrent requests share one refresh). On a 401
 * it retries once: with the current token if it changed since the request left, else after one
 * shared forced refresh. A second 401 reaches the caller unchanged and emits `unauthorized`.
 * Requests with `SKIP_FRESH_TOKEN` or their own auth header are passed through untouched.
 *
 * @example
 * provideHttpClient(withInterceptors([freshTokenInterceptor]))
 */
export const freshTokenInterceptor: HttpInterceptorFn = (req, next) => {
  const auth = inject(AuthService, { optional: true });
  if (!auth) {
    throw new FreshTokenError(
      FreshTokenErrorCode.NotProvided,
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'freshTokenInterceptor needs AuthService. To fix the problem, add provideFreshToken(withTokenSource(...)) to the same injector as provideHttpClient().' : '',
    );
  }
  if (req.context.get(SKIP_FRESH_TOKEN) || req.headers.has('Authorization') || !auth.ɵisAuthorizedUrl(req.url)) {
    return next(req);
  }
  const peeked = auth.ɵpeek();
  if (peeked !== undefined) return sendWithRetry(auth, req, next, peeked);
  return from(auth.getValidToken()).pipe(switchMap((token) => sendWithRetry(auth, req, next, token)));
};

/**
 * The request with the token's headers. It is kept out of the SSR transfer cache whatever the
 * headers are called: Angular skips only `Authorization`/`Proxy-Authorization` by itself, and an
 * authenticated response must never be written into the HTML.
 */
function withToken(auth: AuthService, req: HttpRequest<unknown>, token: string): HttpRequest<unknown> {
  return req.clone({ setHeaders: auth.ɵheadersFor(token), transferCache: false });
}

function sendWithRetry(
  auth: AuthService,
  req: HttpRequest<unknown>,
  next: HttpHandlerFn,
  token: string | null,
): Observable<HttpEvent<unknown>> {
  // Signed out, or the request brings its own value for one of our headers: leave it alone.
  if (token === null || auth.ɵhasOwnAuthHeader(token, req.headers)) return next(req);
  return next(withToken(auth, req, token)).pipe(
    catchError((err: unknown) => {
      if (!isUnauthorized(err)) return throwError(() => err);
      const giveUp = () => {
        auth.ɵnotify({ type: 'unauthorized' });
        return throwError(() => err);
      };
      return from(auth.ɵtokenAfterUnauthorized(token)).pipe(
        // The retry goes to `next`, below this interceptor, so it can never be retried again.
        switchMap((fresh) =>
          fresh === null
            ? giveUp()
            : next(withToken(auth, req, fresh)).pipe(
                catchError((retryErr: unknown) => {
                  if (isUnauthorized(retryErr)) auth.ɵnotify({ type: 'unauthorized' });
                  return throwError(() => retryErr);
                }),
              ),
        ),
        // A failed refresh already emitted its own event; the caller still sees the original 401.
        catchError((refreshErr: unknown) => (refreshErr instanceof FreshTokenError ? giveUp() : throwError(() => refreshErr))),
      );
    }),
  );
}
