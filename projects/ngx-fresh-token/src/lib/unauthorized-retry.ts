import { Observable, ObservableInput, Subscription, from } from 'rxjs';
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
  // Hand-written rather than catchError/switchMap: those operators would add their code to every app.
  return new Observable<T>((subscriber) => {
    let inner: Subscription | undefined;
    let closed = false;
    const attempt = (sent: string, retried: boolean) => {
      inner = from(send(sent)).subscribe({
        next: (value) => subscriber.next(value),
        complete: () => subscriber.complete(),
        error: (err: unknown) => {
          if (!isUnauthorized(err)) return subscriber.error(err);
          const giveUp = () => {
            auth.reportUnauthorized();
            subscriber.error(err);
          };
          if (retried) return giveUp();
          // No token to retry with (signed out, a sign-out came in between, the refresh failed,
          // which has its own event): the caller gets the original 401.
          auth.tokenAfterUnauthorized(sent).then(
            (next) => closed || (next === null ? giveUp() : attempt(next, true)),
            () => closed || giveUp(),
          );
        },
      });
    };
    attempt(token, false);
    return () => {
      closed = true;
      inner?.unsubscribe();
    };
  });
}

/** @internal Subscribes to `next(value)` once `promise` resolves (a rejection errors the stream); the deferred half of the interceptor. */
export function ɵafter<T, R>(promise: Promise<T>, next: (value: T) => Observable<R>): Observable<R> {
  return new Observable<R>((subscriber) => {
    let inner: Subscription | undefined;
    let closed = false;
    promise.then(
      (value) => closed || (inner = next(value).subscribe(subscriber)),
      (err: unknown) => subscriber.error(err),
    );
    return () => {
      closed = true;
      inner?.unsubscribe();
    };
  });
}
