import { Observable, ObservableInput, Subscriber, Subscription, from } from 'rxjs';
import type { AuthService } from './auth.service';

/**
 * One attempt's subscriber: values and completion go straight to the caller's subscriber, an error
 * to {@link RetryOnce.failed} instead. Passed to `subscribe()` as a `Subscriber`, so RxJS wraps
 * nothing around it, and added to the caller's subscriber, so unsubscribing the caller cancels the
 * attempt.
 */
class Attempt<T> extends Subscriber<T> {
  readonly caller: Subscriber<T>;
  readonly sent: string;
  readonly retried: boolean;
  readonly #retry: RetryOnce<T>;

  constructor(caller: Subscriber<T>, retry: RetryOnce<T>, sent: string, retried: boolean) {
    super(caller);
    this.caller = caller;
    this.#retry = retry;
    this.sent = sent;
    this.retried = retried;
  }

  protected override _error(err: unknown): void {
    this.unsubscribe();
    this.#retry.failed(this, err);
  }
}

/**
 * The Observable {@link retryOnUnauthorized} returns. A class rather than closures: it is made for
 * every request the interceptor sends, so it allocates as little as it can (cheaper than the
 * `catchError` any interceptor that watches for a 401 pays).
 */
class RetryOnce<T> extends Observable<T> {
  readonly #auth: AuthService;
  readonly #token: string;
  readonly #send: (token: string) => ObservableInput<T>;
  readonly #isUnauthorized: (error: unknown) => boolean;

  constructor(auth: AuthService, token: string, send: (token: string) => ObservableInput<T>, isUnauthorized: (error: unknown) => boolean) {
    super();
    this.#auth = auth;
    this.#token = token;
    this.#send = send;
    this.#isUnauthorized = isUnauthorized;
  }

  // RxJS calls `_subscribe` for every subscriber (declared @internal in its typings, hence no `override`).
  _subscribe(subscriber: Subscriber<T>): void {
    this.#attempt(subscriber, this.#token, false);
  }

  #attempt(caller: Subscriber<T>, sent: string, retried: boolean): void {
    const sending = this.#send(sent);
    (sending instanceof Observable ? sending : from(sending)).subscribe(new Attempt(caller, this, sent, retried));
  }

  /** An attempt failed with `err`: a 401 gets one retry with {@link AuthService.tokenAfterUnauthorized}; anything else reaches the caller. */
  failed({ caller, sent, retried }: Attempt<T>, err: unknown): void {
    if (!this.#isUnauthorized(err)) return caller.error(err);
    const auth = this.#auth;
    const giveUp = () => {
      auth.reportUnauthorized();
      caller.error(err);
    };
    if (retried) return giveUp();
    // No token to retry with (signed out, a sign-out came in between, the refresh failed, which
    // has its own event): the caller gets the original 401.
    auth.tokenAfterUnauthorized(sent).then(
      (next) => caller.closed || (next === null ? giveUp() : this.#attempt(caller, next, true)),
      () => caller.closed || giveUp(),
    );
  }
}

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
  return new RetryOnce(auth, token, send, isUnauthorized);
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
