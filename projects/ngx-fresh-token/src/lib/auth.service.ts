import { DestroyRef, Signal, inject, signal, untracked } from '@angular/core';
import { BehaviorSubject, Observable, Subject, Subscriber, Subscription } from 'rxjs';
import { DEFAULT_REFRESH_RETRY, backoffDelayMs } from './backoff';
import { FRESH_TOKEN_CLOCK, ɵstartTimer } from './clock';
import { FRESH_TOKEN_REFRESH_BUFFER_MS, ɵOPTIONAL, ɵOWN, ɵonServer, ɵAUTO_REFRESH, ɵCROSS_TAB, ɵCrossTabLink, ɵFRESH_TOKEN_SOURCE, ɵMIN_VALIDITY_MS, ɵREFRESH_RETRY, ɵSIGN_OUT_ALSO } from './config';
import { FreshTokenError, toFreshTokenError, ɵerror } from './errors';
import { DEFAULT_MIN_VALIDITY_MS, TokenLifetime, msUntilExpiry, msUntilNextStatus, refreshAt, resolveLifetime, tokenStatus } from './lifetime';
import { fetchWithRetry, validateGrant } from './refresh';
import { ɵSERVER_HALF, ɵSERVER_RENDERING } from './server-render';
import type { TokenEvent, TokenGrant, TokenState } from './token';

/** What the service holds; everything time-dependent is derived from it on read. */
interface CoreState {
  /**
   * The token's lifetime; `null` when signed out. A session known signed in without a token here yet
   * (the one a server render serves, or the snapshot it left the browser) has a lifetime whose token
   * is `''`, with the times of the render's token: its status and times come out of the same arithmetic.
   */
  life: TokenLifetime | null;
  idToken: string | null;
  refreshing: boolean;
  error: FreshTokenError | null;
}

type User = Record<string, unknown> | null;

const EXPIRES_IN_TICK_MS = 1_000;
/** How many of the session's past tokens are remembered, to tell a late 401 of this session from one sent before a sign-out. */
const SESSION_TOKENS_KEPT = 16;
const SIGNED_OUT: CoreState = { life: null, idToken: null, refreshing: false, error: null };

function sameState(a: TokenState, b: TokenState): boolean {
  return a.status === b.status && a.token === b.token && a.expiresAt === b.expiresAt && a.refreshing === b.refreshing && a.error === b.error;
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
export class AuthService {
  // `#` members: private at run time too, and shorter once minified.
  readonly #clock = inject(FRESH_TOKEN_CLOCK);
  readonly #bufferMs = inject(FRESH_TOKEN_REFRESH_BUFFER_MS);
  readonly #minValidityMs = inject(ɵMIN_VALIDITY_MS, ɵOPTIONAL) ?? Math.min(DEFAULT_MIN_VALIDITY_MS, this.#bufferMs);
  // Without a platform (a plain Node script) there is no SSR render to hold up.
  readonly #isServer = ɵonServer();
  /** In a server render (server builds only, see server-render.ts): the server half; `null` in the browser. */
  readonly #server = this.#isServer ? inject(ɵSERVER_HALF) : null;
  readonly #source = inject(ɵFRESH_TOKEN_SOURCE, ɵOPTIONAL);
  /** `withServerRendering()`: the snapshot to start from, the handed-over bodies to drop; `null` without it. */
  readonly #render = inject(ɵSERVER_RENDERING, ɵOWN);
  /** A render has its budget, whatever `withRefreshRetry()` says. */
  readonly #retryPolicy = this.#server ? (this.#render?.retry ?? this.#server.retry) : (inject(ɵREFRESH_RETRY, ɵOPTIONAL) ?? DEFAULT_REFRESH_RETRY);
  /** A render for a browser's session never shows the token: templates cannot put it into the HTML. */
  #masked = false;
  readonly #user = signal<User>(null);
  readonly #core = new BehaviorSubject<CoreState>(SIGNED_OUT);
  /** What `#core` holds, as a plain field: read on every request (a BehaviorSubject's `value` is a method call). */
  #value = SIGNED_OUT;
  readonly #events = new Subject<TokenEvent>();
  #inFlight: Promise<string | null> | null = null;
  /** Whether the source has been asked at least once; until then "no token" means "unknown". */
  #loaded = false;
  #destroyed = false;
  /**
   * Aborts the refresh of the current epoch: no further source call, no timer left behind. Replaced
   * by signOut(), setGrant() and destroy, so that answers to requests made before (whose signal is
   * then aborted) are dropped.
   */
  #abort = new AbortController();
  /** Tokens held since the last sign-out (bounded): a 401 for any other token was sent before it. */
  readonly #sessionTokens = new Set<string>();
  /** No source call before this time (epoch ms), except an explicit refresh(): set by failed cycles and Retry-After. */
  #coolDownUntil = 0;
  /** Failed refresh cycles in a row; each one lengthens the cool-down along the backoff curve. */
  #failedCycles = 0;
  #state?: Signal<TokenState>;
  /** What every `state$` subscriber gets (replaying the latest state) from the one status watch they share. */
  readonly #states = new BehaviorSubject<TokenState>(null!); // set by the watch before anyone subscribes
  /** The shared status watch, running while `state$` has subscribers (counted). */
  #watch?: Subscription;
  #watchers = 0;
  /** `withCrossTabSync()` where the browser supports it, else `null` (each tab on its own). */
  readonly #crossTab: ɵCrossTabLink | null;
  /** `withApiToken()`: the sign-out of the named tokens, which this (the default) service's sign-out ends too. */
  readonly #alsoSignOut = inject(ɵSIGN_OUT_ALSO, ɵOWN);

  /** The token's lifetime; replays the current state and re-emits when the status changes with time (browser only). */
  readonly state$: Observable<TokenState> = new Observable<TokenState>((subscriber) => {
    // Shared by hand rather than with shareReplay, which would add its RxJS machinery to every app.
    if (!this.#watchers++) this.#watch = this.#derive((core, now) => [this.#toState(core, now), msUntilNextStatus(core.life, now)], sameState).subscribe(this.#states);
    const inner = this.#states.subscribe(subscriber);
    return () => {
      inner.unsubscribe();
      if (!--this.#watchers) this.#watch!.unsubscribe();
    };
  });

  /** The current access token, or `null` when signed out; emits when it changes. */
  readonly token$: Observable<string | null> = this.#derive((core) => [this.#tokenOf(core), null]);

  /** Milliseconds until the token expires (0 once expired), ticking about once a second while subscribed; `null` without an expiry. */
  readonly expiresIn$: Observable<number | null> = this.#derive((core, now) => {
    const left = core.life && msUntilExpiry(core.life, now);
    return left === null ? [null, null] : [Math.max(0, left), left <= 0 ? null : Math.min(EXPIRES_IN_TICK_MS, left)];
  });

  /** Refreshes, failures, 401s and sign-outs as they happen (no replay). */
  readonly events$: Observable<TokenEvent> = this.#events.asObservable();

  constructor() {
    if (!this.#source || typeof this.#source.getToken !== 'function') {
      throw ɵerror(
        'NFT101',
        (typeof ngDevMode === 'undefined' || ngDevMode) ? 'No TokenSource configured. To fix the problem, pass withTokenSource(...) to provideFreshToken(); a factory must return an object with getToken().' : '',
      );
    }
    // The session as a server render knew it: in the render, the request's session (server builds
    // only); in the browser, the snapshot that render left. Both in server-render.ts.
    const start = (this.#server ?? this.#render)?.start(this);
    if (start) {
      this.#masked = start.masked;
      this.#loaded = !start.life;
      this.#user.set(start.user);
      if (start.life) this.#next({ ...SIGNED_OUT, life: start.life });
    }
    // Optional features hand in their code through DI, so an app without them does not ship it.
    this.#crossTab = inject(ɵCROSS_TAB, ɵOWN)?.(this) ?? null;
    inject(ɵAUTO_REFRESH, ɵOWN)?.(this);
    inject(DestroyRef).onDestroy(() => this.#destroy());
  }

  /**
   * The token's lifetime as a signal; created on first read, so it starts no timer until used.
   * Safe to read first anywhere, a template or a `computed()` included, and after destroy.
   */
  get state(): Signal<TokenState> {
    if (!this.#state) {
      const state = signal(this.#toState(this.#value, this.#clock.now()));
      // Not tracked by whatever reactive context reads it first; the subscription lives as long as the service.
      untracked(() => this.state$.subscribe((value) => state.set(value)));
      this.#state = state.asReadonly();
    }
    return this.#state;
  }

  /** The OpenID Connect ID token from the last grant, if the source supplied one (`null` in a server render of a browser's session). */
  get idToken(): string | null {
    return this.#masked ? null : this.#value.idToken;
  }

  /**
   * The signed-in user's claims (only those the server allows, for example `createBff()`'s
   * `userClaims`): what a server render knew (in the render and, from its snapshot, in the browser),
   * then what the source names with each grant (`TokenGrant.user`, a session endpoint's `user`). It
   * follows the session: a grant that names a user sets it, a refresh that names none keeps it, and
   * `setGrant()` without one, adoption of another tab's token without one, a sign-out or the end of
   * the session clear it. `null` when no user is known.
   *
   * @example
   * template: `@if (auth.sessionUser(); as user) { <span>{{ user['name'] }}</span> }`
   */
  readonly sessionUser: Signal<User> = this.#user.asReadonly();

  /**
   * Returns a token that may be sent: from memory when it is fresh (no I/O, no decoding); at once
   * when it is inside the buffer but still has more than the min validity left, while one shared
   * refresh runs in the background; after the shared refresh when less is left or it has expired;
   * `null` when signed out (and after the service is destroyed). When a refresh fails transiently,
   * or during the cool-down after one, the current token is returned while it has not expired; once
   * it has, the call rejects with `NFT201` (with `retryAfterMs`) without calling the source.
   *
   * @example
   * const token = await auth.getValidToken();
   */
  getValidToken(): Promise<string | null> {
    const peeked = this.ɵpeek();
    if (peeked !== undefined) return Promise.resolve(peeked);
    return this.#startRefresh(!!this.#value.life?.token).catch((err: FreshTokenError) => {
      const token = this.#unexpired();
      if (err.transient && token) return token;
      throw err;
    });
  }

  /**
   * Forces a refresh (for example right after the user signs in), shared with any refresh in
   * flight. Resolves to the new token, or `null` when the source says signed out; rejects with a
   * {@link FreshTokenError} when the refresh fails. Being an explicit request of the app, it
   * ignores the cool-down that follows a failed refresh or a `Retry-After`.
   *
   * @example
   * await auth.refresh();
   */
  refresh(): Promise<string | null> {
    return this.#startRefresh(true, true);
  }

  /**
   * Signs out: forgets the token, stops any refresh in flight (its answer is dropped), calls
   * `TokenSource.signOut()` and emits a `signed-out` event. Final for everything started before
   * it: no answer, 401 or refresh from before may put a token back. With `withCrossTabSync()`
   * every tab signs out. The app's default service ends the user's session: every token of
   * `withApiToken()` is dropped with it (each source's `signOut()` called once); a named token's
   * `signOut()` ends that token only.
   *
   * @example
   * await auth.signOut();
   */
  async signOut(): Promise<void> {
    this.#endSession(SIGNED_OUT);
    this.#crossTab?.publishEnd();
    await Promise.all([this.#signOutAtSource(), this.#alsoSignOut?.()]);
    // After destroy `events$` has completed, and this emits nothing.
    this.#events.next({ type: 'signed-out' });
  }

  /** When the injector is destroyed: no further source call, every timer cleared, all streams complete (the state last says `signed-out`). */
  #destroy(): void {
    this.#endSession(SIGNED_OUT);
    this.#destroyed = true;
    // The optional features inside the core (cross-tab sync, auto refresh) clean up when ɵchanges completes.
    this.#core.complete();
    this.#events.complete();
  }

  /**
   * @internal The token if it may be sent now (starting the background refresh when it is inside
   * the buffer), `null` if signed out, `undefined` if callers must wait for a refresh first.
   */
  ɵpeek(): string | null | undefined {
    const life = this.#value.life;
    // Signed out, unless a load is in flight (a sign-in): then callers wait for it.
    if (!life) return this.#loaded && !this.#inFlight ? null : undefined;
    // Known signed in without a token: before the first load (a render's snapshot) callers wait for it;
    // after it, a session that holds none (withBffSession()) has nothing to send until it is over.
    if (!life.token) return this.#loaded && (msUntilExpiry(life, this.#clock.now()) ?? 1) > 0 ? null : undefined;
    const left = msUntilExpiry(life, this.#clock.now());
    if (left === null || left > life.refreshBufferMs) return life.token;
    if (left <= life.minValidityMs) return undefined;
    this.ɵrefreshInBackground();
    return life.token;
  }

  /** @internal Signed in without a token here: as a server render knew it (none yet), or a session that holds none (withBffSession()). */
  ɵknownSignedIn(): boolean {
    return this.#value.life?.token === '';
  }

  /** @internal Starts the shared refresh unless one runs or the cool-down holds; its failures go to `events$` only. */
  ɵrefreshInBackground(): void {
    if (!this.#inFlight && this.#clock.now() >= this.#coolDownUntil) this.#startRefresh(true).catch(() => undefined);
  }

  /** @internal The secrets a body handed to the browser must not hold: `token` and the ID token (server-render.ts). */
  ɵsecrets(token: string): Array<string | null> {
    return [token, this.#value.idToken];
  }

  /**
   * The one rule for "the server rejected `sentToken` (a 401, or it says the token expired): which
   * token now?": the current token if it already changed since and has not expired (no refresh),
   * else the result of one shared forced refresh (subject to the cool-down). Resolves `null` when
   * there is nothing to retry with — signed out, or `sentToken` belongs to a session that ended
   * (a sign-out came in between); rejects with the {@link FreshTokenError} of a failed refresh
   * (`transient` tells whether to try again later). Emits no event itself: call
   * {@link AuthService.reportUnauthorized} when the 401 stands, or use {@link retryOnUnauthorized},
   * which does both.
   *
   * @example
   * const retryWith = await auth.tokenAfterUnauthorized(rejectedToken);
   * if (retryWith === null) { auth.reportUnauthorized(); stop(); } else reconnect(retryWith);
   */
  tokenAfterUnauthorized(sentToken: string): Promise<string | null> {
    // A token from before a sign-out (or a session end): that session is over, the 401 stands.
    if (!this.#sessionTokens.has(sentToken)) return Promise.resolve(null);
    const token = !this.#inFlight && this.#unexpired();
    return token && token !== sentToken ? Promise.resolve(token) : this.#startRefresh(true);
  }

  /**
   * Emits `unauthorized` on `events$`: for an integration whose retry after a 401 got a second 401.
   *
   * @example
   * if (retryResponse.status === 401) auth.reportUnauthorized();
   */
  reportUnauthorized(): void {
    this.#events.next({ type: 'unauthorized' });
  }

  /**
   * Puts a grant in place as if the source had returned it — a sign-in response that already
   * holds an access token, or a test — or signs out locally with `null` (without calling
   * `TokenSource.signOut()`). Drops any refresh in flight. `sessionUser` becomes the grant's `user`
   * (`null` when it names none). Throws `NFT203`/`NFT204`/`NFT205` for a grant the source could not
   * have returned either. With `withCrossTabSync()` the other tabs take the grant too.
   *
   * @example
   * auth.setGrant({ accessToken: loginResponse.access_token, expiresAt: Date.now() + loginResponse.expires_in * 1000 });
   */
  setGrant(grant: TokenGrant | null): void {
    validateGrant(grant);
    if (this.#destroyed) return;
    if (!grant) return this.#endSession(SIGNED_OUT);
    this.#newEpoch();
    this.#hold(this.#lifetime(grant, false), grant.idToken ?? null, grant.user ?? null);
    this.#crossTab?.publish();
  }

  /** @internal What the service holds, for the optional features inside the core (nothing of a masked render). */
  get ɵheld(): { life: TokenLifetime | null; idToken: string | null; user: User; loaded: boolean; coolDownUntil: number } {
    const core = this.#value;
    const life = this.#masked || !core.life?.token ? null : core.life;
    return { life, idToken: life && core.idToken, user: this.#user(), loaded: this.#loaded, coolDownUntil: this.#coolDownUntil };
  }

  /** @internal Emits whenever what the service holds changes; completes when the service is destroyed. */
  get ɵchanges(): Observable<unknown> {
    return this.#core;
  }

  /** @internal Holds a token another tab got from its source (cross-tab sync), with that tab's user, keeping a refresh in flight here running. */
  ɵadopt(life: TokenLifetime, idToken: string | null, user?: User): void {
    if (this.#destroyed) return;
    this.#hold(life, idToken, user ?? null, this.#inFlight !== null);
    this.#events.next({ type: 'refreshed', adopted: true });
  }

  /**
   * @internal Ends the session without calling the source (another tab signed out, or saw it
   * expire with `error`): signed out, with a `session-expired` or `signed-out` event.
   */
  ɵend(error?: FreshTokenError): void {
    if (this.#destroyed) return;
    const hadToken = this.#value.life !== null;
    this.#endSession(error ? { ...SIGNED_OUT, error } : SIGNED_OUT);
    if (error || hadToken) this.#events.next(error ? { type: 'session-expired', error } : { type: 'signed-out' });
  }

  /**
   * @internal Ends the session on a permanent failure (of the source, or a proxied call's 401 with
   * `withBffSession()`): signed out with `error`, a `session-expired` event, the other tabs told, and
   * the source's `signOut({ error })` (which forgets only what it holds locally).
   */
  ɵexpire(error: FreshTokenError): void {
    this.ɵend(error);
    this.#crossTab?.publishEnd(error.code);
    void this.#signOutAtSource(error);
  }

  /** Starts a new epoch: the refresh in flight is aborted and its answer, whatever it is, dropped. */
  #newEpoch(): void {
    this.#abort.abort(ɵerror('NFT201', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The refresh was cancelled by a sign-out.' : '', { transient: true }));
    this.#abort = new AbortController();
    this.#inFlight = null;
  }

  /**
   * Forgets the session in a new epoch: no token, no user, no cool-down, nothing handed over by a
   * render, and no 401 of its requests will be retried.
   */
  #endSession(state: CoreState): void {
    this.#newEpoch();
    this.#loaded = true;
    this.#user.set(null);
    this.#sessionTokens.clear();
    this.#coolDownUntil = this.#failedCycles = 0;
    this.#render?.drop();
    if (!this.#destroyed) this.#next(state);
  }

  /**
   * Holds a new token: loaded, no cool-down, remembered as one of this session's. `user` is the
   * session's user now; `undefined` keeps it (a refresh of the same session that names none). A new
   * session (`user` given) drops whatever a render handed over.
   */
  #hold(life: TokenLifetime, idToken: string | null, user: User | undefined, refreshing = false): void {
    this.#loaded = true;
    this.#coolDownUntil = this.#failedCycles = 0;
    if (user !== undefined) {
      this.#user.set(user && { ...user });
      this.#render?.drop();
    }
    const tokens = this.#sessionTokens;
    tokens.delete(life.token);
    tokens.add(life.token);
    if (tokens.size > SESSION_TOKENS_KEPT) tokens.delete(tokens.values().next().value!);
    this.#next({ life, idToken, refreshing, error: null });
  }

  /**
   * One shared refresh. Outside an explicit `refresh()` (`explicit`), a cool-down after a failed
   * cycle or a `Retry-After` makes it fail fast with `NFT201` and `retryAfterMs`, calling nothing.
   */
  #startRefresh(forceRefresh: boolean, explicit?: boolean): Promise<string | null> {
    if (this.#inFlight) return this.#inFlight;
    if (this.#destroyed) return Promise.resolve(null);
    const waitMs = this.#coolDownUntil - this.#clock.now();
    if (!explicit && waitMs > 0) {
      return Promise.reject(
        ɵerror(
          'NFT201',
          (typeof ngDevMode === 'undefined' || ngDevMode) ? `The token source failed recently; the next refresh may start in ${Math.ceil(waitMs)} ms.` : '',
          { transient: true, retryAfterMs: waitMs },
        ),
      );
    }
    // Aborted when this epoch ends (sign-out, setGrant(), destroy): the answer is then dropped.
    const signal = this.#abort.signal;
    // Whatever a dropped refresh brings, callers get what the service holds now (null after a sign-out).
    const held = () => this.#value.life?.token || null;
    const crossTab = this.#crossTab;
    // Fetch and hold the new token in one step, so that under the cross-tab lock the other tabs
    // hear of it before the next lock holder looks.
    const fromSource = () =>
      fetchWithRetry(this.#source!, { forceRefresh, currentToken: held() }, this.#retryPolicy, this.#clock, signal).then((grant) => {
        if (signal.aborted) return held();
        if (!grant) {
          this.ɵend();
          crossTab?.publishEnd();
          return null;
        }
        const life = this.#lifetime(grant, true);
        // An explicit refresh (a sign-in) may be another user's session: the grant names its user, or none.
        this.#hold(life, grant.idToken ?? null, grant.user !== undefined ? grant.user : explicit ? null : undefined);
        crossTab?.publish();
        this.#events.next({ type: 'refreshed' });
        return life.token || null;
      });
    const flight = (crossTab ? crossTab.exclusive(signal, held(), !forceRefresh, fromSource) : fromSource())
      .catch((err: unknown) => {
        if (signal.aborted) return held();
        const error = toFreshTokenError(err, this.#clock.now());
        // A render never ends the session it was given (only its source's `null` does): whatever
        // failed, it renders without the data and the browser decides after hydration.
        if (error.transient || (this.#server && this.#masked)) {
          // The next cycle waits for the backoff's next step, or the server's Retry-After if longer;
          // a render, which has its budget, does not ask again at all.
          const policy = this.#retryPolicy;
          this.#coolDownUntil = this.#server ? Infinity : this.#clock.now() + backoffDelayMs(policy.maxAttempts + this.#failedCycles++, policy, Math.random(), error.retryAfterMs);
          this.#refreshing(false, error);
          crossTab?.publishFailed();
          this.#events.next({ type: 'refresh-failed', error });
        } else {
          this.ɵexpire(error);
        }
        throw error;
      })
      .finally(() => {
        if (this.#inFlight !== flight) return;
        this.#inFlight = null;
        // A refresh that ended by adopting another tab's token (or found one already held) clears the flag here.
        if (this.#value.refreshing && !this.#destroyed) this.#refreshing(false);
      });
    this.#inFlight = flight;
    // Announced only now: a state$ subscriber that asks for a token on this emission joins this flight.
    this.#refreshing(true);
    return flight;
  }

  /** The lifetime of `grant` as it arrives now, with this service's buffer and min validity. */
  #lifetime(grant: TokenGrant, fromRefresh: boolean): TokenLifetime {
    return resolveLifetime(grant, this.#clock.now(), this.#bufferMs, fromRefresh, this.#minValidityMs);
  }

  /** Sets the `refreshing` flag (and the error of a failed refresh). */
  #refreshing(refreshing: boolean, error = this.#value.error): void {
    this.#next({ ...this.#value, refreshing, error });
  }

  /** The held token while it has not expired (a token without expiry never does); otherwise `null`. */
  #unexpired(): string | null {
    const life = this.#value.life;
    return life?.token && (msUntilExpiry(life, this.#clock.now()) ?? 1) > 0 ? life.token : null;
  }

  /** Holds `state` and tells every derived stream. */
  #next(state: CoreState): void {
    this.#core.next((this.#value = state));
  }

  /** Calls `TokenSource.signOut()`: with the `error` when a permanent failure ended the session here (no server verdict). */
  async #signOutAtSource(error?: FreshTokenError): Promise<void> {
    try {
      await (error ? this.#source!.signOut?.({ error }) : this.#source!.signOut?.());
    } catch {
      // The local session is gone either way; a failing remote sign-out must not crash the app.
    }
  }

  /** The token a reader may see: none while masked or while known without a token. */
  #tokenOf(core: CoreState): string | null {
    return (!this.#masked && core.life?.token) || null;
  }

  #toState(core: CoreState, nowMs: number): TokenState {
    const life = core.life;
    return {
      status: tokenStatus(life, nowMs),
      token: this.#tokenOf(core),
      expiresAt: life && life.expiresAt !== null ? life.expiresAt + life.skewMs : null,
      refreshing: core.refreshing,
      error: core.error,
      refreshAt: life && refreshAt(life),
    };
  }

  /**
   * A stream derived from what the service holds: `read(core, now)` gives the value and when to
   * read again (ms, or `null`); it is read on subscribe, at every change and at that time, and
   * emitted when it differs from the last one (by `same`). One timer per subscriber at a time,
   * only while subscribed, never on the server platform; completes when the service is destroyed.
   * (Hand-written: RxJS operators here would add their machinery to every app.)
   */
  #derive<T>(read: (core: CoreState, nowMs: number) => [value: T, nextInMs: number | null], same: (a: T, b: T) => boolean = Object.is): Observable<T> {
    return new Observable<T>((subscriber: Subscriber<T>) => {
      let cancel: (() => void) | undefined;
      let last: { value: T } | undefined;
      const update = () => {
        cancel?.();
        const [value, nextInMs] = read(this.#value, this.#clock.now());
        if (!last || !same(last.value, value)) subscriber.next((last = { value }).value);
        cancel = this.#isServer || nextInMs === null ? undefined : ɵstartTimer(this.#clock, nextInMs, update);
      };
      const sub = this.#core.subscribe({ next: update, complete: () => subscriber.complete() });
      return () => {
        sub.unsubscribe();
        cancel?.();
      };
    });
  }
}
