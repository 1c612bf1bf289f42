import { Observable, ObservableInput, catchError, from, switchMap, throwError } from 'rxjs';
import type { AuthService } from './auth.service';

/**
 * The "retry once after a 401" step every transport shares (the HTTP interceptor, Amplify
 * GraphQL, AppSync Events publish, and any integration you write): sends with `token`; when that
 * fails with an error `isUnauthorized` recognises, asks {@link AuthService.tokenAfterUnauthorized}
 * for the token to retry with and sends exactly once more. When there is none the original error
 * reaches the caller; a second 401 reaches the caller unchanged. Either way `unauthorized` is
 * emitted on `auth.events$`. Other errors pass through untouched.
 *
 * @example
 * const token = await auth.getValidToken();
 * const result = await lastValueFrom(
 *   retryOnUnauthorized(auth, token!, (t) => fetchJson('/graphql', t), (e) => e instanceof HttpError && e.status === 401),
 * );
 */
export function retryOnUnauthorized<T>(
  auth: AuthService,
  token: string,
  send: (token: string) => ObservableInput<T>,
  isUnauthorized: (error: unknown) => boolean,
): Observable<T> {
  return from(send(token)).pipe(
    catchError((err: unknown) =>
      isUnauthorized(err)
        ? from(auth.tokenAfterUnauthorized(token).catch(() => null)).pipe(
            // No token to retry with (signed out, a sign-out came in between, the refresh failed,
            // which has its own event): the caller gets the original 401.
            switchMap((retryWith) =>
              retryWith === null
                ? (auth.reportUnauthorized(), throwError(() => err))
                : from(send(retryWith)).pipe(
                    catchError((retryErr: unknown) => {
                      if (isUnauthorized(retryErr)) auth.reportUnauthorized();
                      return throwError(() => retryErr);
                    }),
                  ),
            ),
          )
        : throwError(() => err),
    ),
  );
}
