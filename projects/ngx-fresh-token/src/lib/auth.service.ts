import { DOCUMENT, isPlatformServer } from '@angular/common';
import { Injectable, Injector, PLATFORM_ID, Signal, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { BehaviorSubject, Observable, Subject, distinctUntilChanged, map, of, shareReplay, switchMap } from 'rxjs';
import { FRESH_TOKEN_CLOCK } from './clock';
import { ɵAUTH_HEADER, ɵAUTHORIZED_URLS, ɵFRESH_TOKEN_SOURCE, ɵREFRESH_BUFFER_MS, ɵREFRESH_RETRY } from './config';
import { FreshTokenError, FreshTokenErrorCode, toFreshTokenError } from './errors';
import { TokenLifetime, msUntilExpiry, msUntilNextStatus, needsRefresh, resolveLifetime, tokenStatus } from './lifetime';
import { fetchWithRetry } from './refresh';
import type { TokenEvent, TokenGrant, TokenState } from './token';
import { createUrlAuthorizer } from './url-matcher';

/** What the service holds; everything time-dependent is derived from it on read. */
interface CoreState {
  life: TokenLifetime | null;
  idToken: string | null;
  refreshing: boolean;
  error: FreshTokenError | null;
}

const EXPIRES_IN_TICK_MS = 1_000;
const SIGNED_OUT: CoreState = { life: null, idToken: null, refreshing: false, error: null };

/** The URL relative request URLs resolve against; server DOMs (domino) throw on `baseURI`. */
function documentBase(doc: Document | null): string | undefined {
  try {
    return doc?.baseURI || doc?.location?.href;
  } catch {
    return doc?.location?.href;
  }
}

function sameState(a: TokenState, b: TokenState): boolean {
  return (
    a.status === b.status && a.token === b.token && a.expiresAt === b.expiresAt && a.refreshing === b.refreshing && a.error === b.error
  );
}

/**
 * Owns the access token and its lifetime. Every consumer (the HTTP interceptor, Amplify,
 * AppSync Events, Centrifugo) asks it for a valid token; it refreshes at most once at a time,
 * retries transient failures with bounded backoff and ends the session on permanent ones.
 * Provided by {@link provideFreshToken}.
 *
 * @example
 * const auth = inject(AuthService);
 * const token = await auth.getValidToken();
 * auth.state$.subscribe((s) => console.log(s.status, s.expiresAt));
 */
@Injectable()
export class AuthService {
  private readonly clock = inject(FRESH_TOKEN_CLOCK);
  private readonly bufferMs = inject(ɵREFRESH_BUFFER_MS);
  private readonly retryPolicy = inject(ɵREFRESH_RETRY);
  private readonly authHeader = inject(ɵAUTH_HEADER);
  private readonly injector = inject(Injector);
  // Without a platform (a plain Node script) there is no SSR render to hold up.
  private readonly isServer = isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown');
  private readonly source = inject(ɵFRESH_TOKEN_SOURCE, { optional: true });
  private readonly core = new BehaviorSubject<CoreState>(SIGNED_OUT);
  private readonly events = new Subject<TokenEvent>();
  private inFlight: Promise<string | null> | null = null;
  /** Whether the source has been asked at least once; until then "no token" means "unknown". */
  private loaded = false;
  /** Bumped by signOut() so that answers to requests made before it are dropped. */
  private epoch = 0;
  private headerCache: { token: string; headers: Record<string, string>; names: string[] } | null = null;
  private stateSignal?: Signal<TokenState>;

  /** @internal Decides per request URL whether the token may be sent (see `withAuthorizedUrls`). */
  readonly ɵisAuthorizedUrl: (url: string) => boolean;

  /** The token's lifetime; replays the current state and re-emits when the status changes with time (browser only). */
  readonly state$: Observable<TokenState> = this.core.pipe(
    switchMap((core) => this.watchStatus(core)),
    distinctUntilChanged(sameState),
    shareReplay({ bufferSize: 1, refCount: true }),
  );

  /** The current access token, or `null` when signed out; emits when it changes. */
  readonly token$: Observable<string | null> = this.core.pipe(
    map((core) => core.life?.token ?? null),
    distinctUntilChanged(),
  );

  /** Milliseconds until the token expires (0 once expired), ticking about once a second while subscribed; `null` without an expiry. */
  readonly expiresIn$: Observable<number | null> = this.core.pipe(
    map((core) => core.life),
    distinctUntilChanged(),
    switchMap((life) => (life && life.expiresAt !== null ? this.tickExpiresIn(life) : of(null))),
    distinctUntilChanged(),
  );

  /** Refreshes, failures, 401s and sign-outs as they happen (no replay). */
  readonly events$: Observable<TokenEvent> = this.events.asObservable();

  constructor() {
    if (!this.source || typeof this.source.getToken !== 'function') {
      throw new FreshTokenError(
        FreshTokenErrorCode.NoTokenSource,
        (typeof ngDevMode === 'undefined' || ngDevMode) ? 'No TokenSource configured. To fix the problem, pass withTokenSource(...) to provideFreshToken(); a factory must return an object with getToken().' : '',
      );
    }
    this.ɵisAuthorizedUrl = createUrlAuthorizer(inject(ɵAUTHORIZED_URLS), documentBase(inject(DOCUMENT, { optional: true })));
  }

  /** The token's lifetime as a signal; created on first read, so it starts no timer until used. */
  get state(): Signal<TokenState> {
    return (this.stateSignal ??= toSignal(this.state$, { requireSync: true, injector: this.injector }));
  }

  /** The OpenID Connect ID token from the last grant, if the source supplied one. */
  get idToken(): string | null {
    return this.core.value.idToken;
  }

  /**
   * Returns a token that is fresh: from memory when it is (no I/O, no decoding), after a shared
   * refresh when it is expiring or expired, `null` when signed out. When a refresh fails
   * transiently the current token is returned while it has not expired.
   *
   * @example
   * const token = await auth.getValidToken();
   */
  getValidToken(): Promise<string | null> {
    const peeked = this.ɵpeek();
    if (peeked !== undefined) return Promise.resolve(peeked);
    return this.startRefresh(this.core.value.life !== null).catch((err: FreshTokenError) => {
      const life = this.core.value.life;
      if (err.transient && life && (msUntilExpiry(life, this.clock.now()) ?? 1) > 0) return life.token;
      throw err;
    });
  }

  /**
   * Forces a refresh (for example right after the user signs in), shared with any refresh in
   * flight. Resolves to the new token, or `null` when the source says signed out; rejects with a
   * {@link FreshTokenError} when the refresh fails.
   *
   * @example
   * await auth.refresh();
   */
  refresh(): Promise<string | null> {
    return this.startRefresh(true);
  }

  /**
   * Signs out: forgets the token, drops any refresh in flight, calls `TokenSource.signOut()`
   * and emits a `signed-out` event.
   *
   * @example
   * await auth.signOut();
   */
  async signOut(): Promise<void> {
    this.epoch++;
    this.inFlight = null;
    this.loaded = true;
    this.core.next(SIGNED_OUT);
    await this.signOutAtSource();
    this.events.next({ type: 'signed-out' });
  }

  /** @internal The token if it needs no refresh, `null` if signed out, `undefined` if a refresh is needed first. */
  ɵpeek(): string | null | undefined {
    const life = this.core.value.life;
    if (life) return needsRefresh(life, this.clock.now()) ? undefined : life.token;
    return this.loaded ? null : undefined;
  }

  /**
   * @internal The token to retry with after `sentToken` was rejected with 401: the current one
   * if it already changed and has not expired, else the result of one shared forced refresh.
   */
  ɵtokenAfterUnauthorized(sentToken: string): Promise<string | null> {
    const life = this.core.value.life;
    if (life && life.token !== sentToken && !this.inFlight && (msUntilExpiry(life, this.clock.now()) ?? 1) > 0) {
      return Promise.resolve(life.token);
    }
    return this.startRefresh(true);
  }

  /** @internal The auth headers for `token`, built once per token. */
  ɵheadersFor(token: string): Record<string, string> {
    if (this.headerCache?.token !== token) {
      const headers = this.authHeader(token);
      if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
        throw new FreshTokenError(FreshTokenErrorCode.InvalidOption, (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The withAuthHeader() function must return an object of string header values.' : '');
      }
      this.headerCache = { token, headers, names: Object.keys(headers) };
    }
    return this.headerCache.headers;
  }

  /** @internal Whether `headers` already holds one of the headers that carry `token` (the request brings its own). */
  ɵhasOwnAuthHeader(token: string, headers: { has(name: string): boolean }): boolean {
    this.ɵheadersFor(token);
    for (const name of this.headerCache!.names) if (headers.has(name)) return true;
    return false;
  }

  /** @internal Emits an event on `events$` (used by the interceptor and the integrations). */
  ɵnotify(event: TokenEvent): void {
    this.events.next(event);
  }

  /** @internal Puts a grant in place as if the source had returned it (testing, login responses). */
  ɵsetGrant(grant: TokenGrant | null): void {
    this.epoch++;
    this.inFlight = null;
    this.loaded = true;
    this.core.next(
      grant
        ? { life: resolveLifetime(grant, this.clock.now(), this.bufferMs, false), idToken: grant.idToken ?? null, refreshing: false, error: null }
        : SIGNED_OUT,
    );
  }

  private startRefresh(forceRefresh: boolean): Promise<string | null> {
    if (this.inFlight) return this.inFlight;
    const epoch = this.epoch;
    const current = () => epoch === this.epoch;
    this.core.next({ ...this.core.value, refreshing: true });
    const flight = fetchWithRetry(this.source!, forceRefresh, this.retryPolicy, this.clock, () => !current())
      .then((grant) => {
        if (!current()) return null;
        this.loaded = true;
        const hadToken = this.core.value.life !== null;
        if (!grant) {
          this.core.next(SIGNED_OUT);
          if (hadToken) this.events.next({ type: 'signed-out' });
          return null;
        }
        const life = resolveLifetime(grant, this.clock.now(), this.bufferMs);
        this.core.next({ life, idToken: grant.idToken ?? null, refreshing: false, error: null });
        this.events.next({ type: 'refreshed' });
        return life.token;
      })
      .catch((err: unknown) => {
        const error = toFreshTokenError(err, this.clock.now());
        if (!current()) throw error;
        if (error.transient) {
          this.core.next({ ...this.core.value, refreshing: false, error });
          this.events.next({ type: 'refresh-failed', error });
        } else {
          this.loaded = true;
          this.core.next({ ...SIGNED_OUT, error });
          this.events.next({ type: 'session-expired', error });
          void this.signOutAtSource();
        }
        throw error;
      })
      .finally(() => {
        if (this.inFlight === flight) this.inFlight = null;
      });
    this.inFlight = flight;
    return flight;
  }

  private async signOutAtSource(): Promise<void> {
    try {
      await this.source!.signOut?.();
    } catch {
      // The local session is gone either way; a failing remote sign-out must not crash the app.
    }
  }

  private toState(core: CoreState, nowMs: number): TokenState {
    const life = core.life;
    return {
      status: tokenStatus(life, nowMs),
      token: life?.token ?? null,
      expiresAt: life && life.expiresAt !== null ? life.expiresAt + life.skewMs : null,
      refreshing: core.refreshing,
      error: core.error,
    };
  }

  /** Emits the state now and again at each status change; one timer at a time, none on the server. */
  private watchStatus(core: CoreState): Observable<TokenState> {
    return this.scheduled((now) => [this.toState(core, now), msUntilNextStatus(core.life, now)]);
  }

  /** Emits the time left now and about once a second until it reaches 0; once on the server. */
  private tickExpiresIn(life: TokenLifetime): Observable<number> {
    return this.scheduled((now) => {
      const left = Math.max(0, msUntilExpiry(life, now)!);
      return [left, left === 0 ? null : Math.min(EXPIRES_IN_TICK_MS, left)];
    });
  }

  /**
   * Emits `next(now)[0]` on subscribe, then again after `next(now)[1]` ms (none when `null`), on the
   * injected clock. Timers run only while subscribed and never on the server platform.
   */
  private scheduled<T>(next: (nowMs: number) => [value: T, nextInMs: number | null]): Observable<T> {
    return new Observable<T>((subscriber) => {
      let handle: unknown;
      const emit = () => {
        const [value, nextInMs] = next(this.clock.now());
        subscriber.next(value);
        handle = this.isServer || nextInMs === null ? undefined : this.clock.setTimeout(emit, nextInMs);
      };
      emit();
      return () => handle !== undefined && this.clock.clearTimeout(handle);
    });
  }
}
