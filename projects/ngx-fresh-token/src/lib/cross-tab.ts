import { InjectionToken, inject } from '@angular/core';
import type { AuthService } from './auth.service';
import { FRESH_TOKEN_CLOCK, FreshTokenClock, ɵstartTimer } from './clock';
import { ɵOPTIONAL, ɵOWN, ɵTOKEN_NAME, ɵonServer, type ɵCrossTabLink } from './config';
import { ɵPROXIED_SESSION } from './bff-proxy';
import { ɵerror } from './errors';
import { TokenLifetime, msUntilExpiry } from './lifetime';

/**
 * Options of `withCrossTabSync()`.
 *
 * @example
 * withCrossTabSync({ name: 'billing-api', adoptTimeoutMs: 300 })
 */
export interface CrossTabSyncOptions {
  /**
   * Names the Web Lock and the BroadcastChannel (prefixed `ngx-fresh-token:`). Default
   * `'default'`. Give each app or token source on the same origin its own name. A token of
   * `withApiToken()` adds its own name (`ngx-fresh-token:default#reports`), so every token keeps
   * its own lock and channel.
   */
  name?: string;
  /** How long a tab that opens asks the running tabs for their token before calling its own source. Default 300 ms. */
  adoptTimeoutMs?: number;
}

/** @internal What the browser gives cross-tab sync; injectable so tests (and exotic hosts) can supply their own. */
export interface ɵCrossTabApis {
  /** `navigator.locks`, or `null` where Web Locks are missing. */
  locks: {
    request<T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T>;
  } | null;
  /** Opens a `BroadcastChannel`, or `null` where there is none. */
  channel: ((name: string) => ɵChannel) | null;
}

/** @internal The part of `BroadcastChannel` cross-tab sync uses. */
export interface ɵChannel {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/** @internal The browser's Web Locks and BroadcastChannel, where they exist (never on the server, in old browsers or in Node without them). */
export const ɵCROSS_TAB_APIS = /* @__PURE__ */ new InjectionToken<ɵCrossTabApis>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'CROSS_TAB_APIS' : '', {
  providedIn: 'root',
  factory: () => {
    const nav = typeof navigator === 'object' ? (navigator as Navigator & { locks?: ɵCrossTabApis['locks'] }) : undefined;
    return {
      locks: nav?.locks && typeof nav.locks.request === 'function' ? nav.locks : null,
      channel: typeof BroadcastChannel === 'function' ? (name) => new BroadcastChannel(name) as unknown as ɵChannel : null,
    };
  },
});

/** @internal
 * A token as it travels between tabs: what the receiving tab needs to hold it exactly as the
 * sender does (same device, same clock), so nothing is decoded or re-estimated on arrival.
 */
export interface ɵSharedToken extends TokenLifetime {
  idToken: string | null;
  /** The session's user (`AuthService.sessionUser`), so every tab shows the same one. */
  user?: Record<string, unknown> | null;
}

/** Messages on the channel. `s` is the sign-out generation: a grant from before a sign-out is ignored. */
type Message =
  | { t: 'grant'; s: number; from: string; to?: string; v: ɵSharedToken }
  | { t: 'out'; s: number; from: string; expired?: string }
  | { t: 'hello'; s: number; from: string }
  // A tab took the lock and calls its source now; 'done' follows when that failed (a grant or 'out' otherwise).
  | { t: 'busy'; s: number; from: string }
  | { t: 'done'; s: number; from: string };

function isShared(v: unknown): v is ɵSharedToken {
  const x = v as ɵSharedToken | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.token === 'string' &&
    x.token.length > 0 &&
    (x.expiresAt === null || Number.isFinite(x.expiresAt)) &&
    Number.isFinite(x.skewMs) &&
    Number.isFinite(x.bufferMs) &&
    Number.isFinite(x.refreshBufferMs) &&
    Number.isFinite(x.minValidityMs) &&
    (x.idToken === null || typeof x.idToken === 'string') &&
    (x.user == null || (typeof x.user === 'object' && !Array.isArray(x.user)))
  );
}

/** @internal
 * Cross-tab coordination for one `AuthService`: refreshes run under a Web Lock, and a
 * BroadcastChannel carries new tokens and sign-outs to the other tabs of the same origin.
 * Created only where both APIs exist; elsewhere the service works per tab, as without it.
 */
export class ɵCrossTabSync implements ɵCrossTabLink {
  private readonly id = Math.random().toString(36).slice(2);
  private readonly lockName: string;
  private readonly channel: ɵChannel;
  private signOuts = 0;
  private waiting: ((shared: ɵSharedToken) => void) | null = null;
  /** Another tab said it is refreshing, and its result has not arrived yet. */
  private peerBusy = false;
  private peerDone: (() => void) | null = null;

  private readonly adoptTimeoutMs: number;
  private readonly startTimer: (ms: number, done: () => void) => () => void;

  constructor(
    private readonly apis: { locks: NonNullable<ɵCrossTabApis['locks']>; channel: NonNullable<ɵCrossTabApis['channel']> },
    options: CrossTabSyncOptions,
    private readonly auth: AuthService,
    private readonly clock: FreshTokenClock,
    tokenName?: string | null,
    private readonly tokenless = false,
  ) {
    this.adoptTimeoutMs = options.adoptTimeoutMs ?? 300;
    this.startTimer = (ms, done) => ɵstartTimer(clock, ms, done);
    const name = `ngx-fresh-token:${options.name ?? 'default'}${tokenName ? `#${tokenName}` : ''}`;
    this.lockName = name;
    this.channel = apis.channel(name);
    this.channel.onmessage = (event) => this.receive(event.data);
    // The service's changes complete when it is destroyed: then this tab stops listening.
    auth.ɵchanges.subscribe({ complete: () => this.close() });
  }

  /**
   * Runs the refresh while holding the browser-wide lock: one at a time across tabs. Inside the
   * lock it first waits for a refresh another tab announced, then re-checks: a token other than
   * `trigger` with more than its min validity left (adopted meanwhile) is used as is; a first load
   * asks the running tabs; only then is the source called, announced to the others.
   */
  exclusive(signal: AbortSignal, trigger: string | null, firstLoad: boolean, fromSource: () => Promise<string | null>): Promise<string | null> {
    return this.apis.locks.request(this.lockName, { signal }, async () => {
      // The previous lock holder may have its token already while its message is still on the way.
      await this.settle();
      const held = this.auth.ɵheld;
      if (held.life && held.life.token !== trigger) {
        const left = msUntilExpiry(held.life, this.clock.now());
        if (left === null || left > held.life.minValidityMs) return held.life.token;
      }
      // A session without a token (withBffSession()) has nothing another tab could hand over: no asking.
      if (firstLoad && !held.life && !held.loaded && !this.tokenless) {
        const shared = await this.ask();
        if (shared && !signal.aborted) this.adopt(shared);
        const adopted = this.auth.ɵheld.life;
        if (adopted) return adopted.token;
      }
      this.post({ t: 'busy', s: this.signOuts, from: this.id });
      return fromSource();
    });
  }

  /**
   * Waits (at most `timeoutMs`) for the result of a refresh another tab announced: the lock is
   * handed over as soon as that tab has its token, possibly before its message has arrived here.
   */
  private settle(): Promise<void> {
    if (!this.peerBusy) return Promise.resolve();
    return new Promise((resolve) => {
      const cancel = this.startTimer(this.adoptTimeoutMs, () => finish());
      const finish = () => {
        this.peerDone = null;
        this.peerBusy = false;
        cancel();
        resolve();
      };
      this.peerDone = finish;
    });
  }

  /** Tells the other tabs this tab's refresh failed transiently (no token follows). */
  publishFailed(): void {
    this.post({ t: 'done', s: this.signOuts, from: this.id });
  }

  /** Tells the other tabs about the token this tab now holds (from its source, or a sign-in). */
  publish(): void {
    const shared = this.current();
    // Nothing to share (a session without a token, withBffSession()): 'done' still ends the "busy" this tab announced.
    this.post(shared ? { t: 'grant', s: this.signOuts, from: this.id, v: shared } : { t: 'done', s: this.signOuts, from: this.id });
  }

  /** Tells the other tabs the session ended here (sign-out, or expiry with its error code). */
  publishEnd(expiredCode?: string): void {
    this.post({ t: 'out', s: ++this.signOuts, from: this.id, expired: expiredCode });
  }

  /** Asks the running tabs for their token; resolves it, or `null` after the adopt timeout without an answer. */
  private ask(): Promise<ɵSharedToken | null> {
    return new Promise((resolve) => {
      const cancel = this.startTimer(this.adoptTimeoutMs, () => finish(null));
      const finish = (shared: ɵSharedToken | null) => {
        this.waiting = null;
        cancel();
        resolve(shared);
      };
      this.waiting = finish;
      this.post({ t: 'hello', s: this.signOuts, from: this.id });
    });
  }

  /** Stops listening to the other tabs and lets a waiting lock holder go on. */
  private close(): void {
    this.channel.onmessage = null;
    this.waiting = null;
    this.peerDone?.();
    this.channel.close();
  }

  private post(message: Message): void {
    try {
      this.channel.postMessage(message);
    } catch {
      // A closed channel (page unloading): nothing to tell.
    }
  }

  private receive(data: unknown): void {
    const m = data as Message | null;
    // `s` counts sign-outs: a safe integer ≥ 0 (one at 2^53 would stop every later sign-out from counting as newer).
    if (typeof m !== 'object' || m === null || m.from === this.id || !Number.isSafeInteger(m.s) || m.s < 0 || m.s >= Number.MAX_SAFE_INTEGER) return;
    if (m.t === 'busy') {
      this.peerBusy = true;
      return;
    }
    if (m.t === 'done' || m.t === 'out' || (m.t === 'grant' && m.to === undefined)) {
      // The announced refresh is over; `finish` runs after the grant below has been adopted.
      queueMicrotask(() => (this.peerDone ? this.peerDone() : (this.peerBusy = false)));
    }
    if (m.t === 'out') {
      if (m.s <= this.signOuts) return; // already ended here
      this.signOuts = m.s;
      const code = typeof m.expired === 'string' ? m.expired : undefined;
      this.auth.ɵend(code ? ɵerror(code, (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The session ended in another tab.' : '') : undefined, true);
    } else if (m.t === 'hello') {
      const current = this.current();
      this.signOuts = Math.max(this.signOuts, m.s);
      if (current) this.post({ t: 'grant', s: this.signOuts, from: this.id, to: m.from, v: current });
    } else if (m.t === 'grant' && isShared(m.v) && (m.to === undefined || m.to === this.id)) {
      if (m.s < this.signOuts) return; // from before a sign-out this tab has seen
      this.signOuts = m.s;
      if (this.waiting) this.waiting(m.v);
      else this.adopt(m.v);
    }
  }

  /** The held token as it travels to other tabs. */
  private current(): ɵSharedToken | null {
    const { life, idToken, user } = this.auth.ɵheld;
    return life && { ...life, idToken, user };
  }

  /** Holds another tab's token, unless this tab holds the same, a later one, or it has expired. */
  private adopt(shared: ɵSharedToken): void {
    const held = this.auth.ɵheld.life;
    const localExpiry = (x: { expiresAt: number | null; skewMs: number }) => (x.expiresAt === null ? Infinity : x.expiresAt + x.skewMs);
    if (held?.token === shared.token || (held && localExpiry(held) > localExpiry(shared)) || localExpiry(shared) <= this.clock.now()) return;
    const { idToken, user, ...life } = shared;
    this.auth.ɵadopt(life, idToken, user ?? null);
  }
}

/** @internal
 * The code behind `withCrossTabSync()`, handed to the service through DI (apps without the feature
 * do not ship it); `null` on the server and where Web Locks or BroadcastChannel are missing.
 */
export function ɵcrossTabFactory(options: CrossTabSyncOptions): () => ((auth: AuthService) => ɵCrossTabLink) | null {
  return () => {
    const { locks, channel } = inject(ɵCROSS_TAB_APIS);
    const clock = inject(FRESH_TOKEN_CLOCK);
    const tokenName = inject(ɵTOKEN_NAME, ɵOPTIONAL);
    // This provideFreshToken()'s own withBffSession() (not a parent's: a named token's tabs do hand tokens over).
    const tokenless = inject(ɵPROXIED_SESSION, ɵOWN) !== null;
    if (ɵonServer() || !locks || !channel) return null;
    return (auth) => new ɵCrossTabSync({ locks, channel }, options, auth, clock, tokenName, tokenless);
  };
}
