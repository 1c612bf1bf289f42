import { InjectionToken } from '@angular/core';

/**
 * Options of `withCrossTabSync()`.
 *
 * @example
 * withCrossTabSync({ name: 'billing-api', adoptTimeoutMs: 300 })
 */
export interface CrossTabSyncOptions {
  /**
   * Names the Web Lock and the BroadcastChannel (prefixed `ngx-fresh-token:`). Default
   * `'default'`. Give each app or token source on the same origin its own name.
   */
  name?: string;
  /** How long a tab that opens asks the running tabs for their token before calling its own source. Default 300 ms. */
  adoptTimeoutMs?: number;
}

/** What the browser gives cross-tab sync; injectable so tests (and exotic hosts) can supply their own. */
export interface ɵCrossTabApis {
  /** `navigator.locks`, or `null` where Web Locks are missing. */
  locks: {
    request<T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T>;
  } | null;
  /** Opens a `BroadcastChannel`, or `null` where there is none. */
  channel: ((name: string) => ɵChannel) | null;
}

/** The part of `BroadcastChannel` cross-tab sync uses. */
export interface ɵChannel {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/** The browser's Web Locks and BroadcastChannel, where they exist (never on the server, in old browsers or in Node without them). */
export const ɵCROSS_TAB_APIS = new InjectionToken<ɵCrossTabApis>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'CROSS_TAB_APIS' : '', {
  providedIn: 'root',
  factory: () => {
    const nav = typeof navigator === 'object' ? (navigator as Navigator & { locks?: ɵCrossTabApis['locks'] }) : undefined;
    return {
      locks: nav?.locks && typeof nav.locks.request === 'function' ? nav.locks : null,
      channel: typeof BroadcastChannel === 'function' ? (name) => new BroadcastChannel(name) as unknown as ɵChannel : null,
    };
  },
});

/** Options set by `withCrossTabSync()`; `null` when it is off. */
export const ɵCROSS_TAB_OPTIONS = new InjectionToken<CrossTabSyncOptions | null>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'CROSS_TAB_OPTIONS' : '', {
  providedIn: 'root',
  factory: () => null,
});

/**
 * A token as it travels between tabs: what the receiving tab needs to hold it exactly as the
 * sender does (same device, same clock), so nothing is decoded or re-estimated on arrival.
 */
export interface ɵSharedToken {
  token: string;
  /** Issuer-clock expiry in epoch ms, `null` for a token that never expires. */
  expiresAt: number | null;
  skewMs: number;
  refreshBufferMs: number;
  idToken: string | null;
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
    Number.isFinite(x.refreshBufferMs) &&
    (x.idToken === null || typeof x.idToken === 'string')
  );
}

/** What the service lets cross-tab sync do to it. */
export interface ɵCrossTabHost {
  /** The token this tab holds, to answer a tab that opens. */
  current(): ɵSharedToken | null;
  /** Another tab refreshed: hold its token without calling the source. */
  adopt(shared: ɵSharedToken): void;
  /** Another tab signed out (or its session expired, with the error code): end the session here too. */
  endedElsewhere(expiredCode: string | undefined): void;
}

/**
 * Cross-tab coordination for one `AuthService`: refreshes run under a Web Lock, and a
 * BroadcastChannel carries new tokens and sign-outs to the other tabs of the same origin.
 * Created only where both APIs exist; elsewhere the service works per tab, as without it.
 */
export class ɵCrossTabSync {
  private readonly id = Math.random().toString(36).slice(2);
  private readonly lockName: string;
  private readonly channel: ɵChannel;
  private signOuts = 0;
  private waiting: ((shared: ɵSharedToken) => void) | null = null;
  /** Another tab said it is refreshing, and its result has not arrived yet. */
  private peerBusy = false;
  private peerDone: (() => void) | null = null;

  constructor(
    private readonly apis: { locks: NonNullable<ɵCrossTabApis['locks']>; channel: NonNullable<ɵCrossTabApis['channel']> },
    options: CrossTabSyncOptions,
    private readonly host: ɵCrossTabHost,
  ) {
    const name = `ngx-fresh-token:${options.name ?? 'default'}`;
    this.lockName = name;
    this.channel = apis.channel(name);
    this.channel.onmessage = (event) => this.receive(event.data);
  }

  /** Runs `refresh` while holding the browser-wide lock: one refresh at a time across tabs. */
  exclusive<T>(signal: AbortSignal, refresh: () => Promise<T>): Promise<T> {
    return this.apis.locks.request(this.lockName, { signal }, refresh);
  }

  /**
   * Waits (at most `timeoutMs`) for the result of a refresh another tab announced: the lock is
   * handed over as soon as that tab has its token, possibly before its message has arrived here.
   */
  settle(timeoutMs: number, startTimer: (ms: number, done: () => void) => () => void): Promise<void> {
    if (!this.peerBusy) return Promise.resolve();
    return new Promise((resolve) => {
      const cancel = startTimer(timeoutMs, () => finish());
      const finish = () => {
        this.peerDone = null;
        this.peerBusy = false;
        cancel();
        resolve();
      };
      this.peerDone = finish;
    });
  }

  /** Tells the other tabs this one calls its source now (it holds the lock). */
  announce(): void {
    this.post({ t: 'busy', s: this.signOuts, from: this.id });
  }

  /** Tells the other tabs this tab's refresh failed transiently (no token follows). */
  publishFailed(): void {
    this.post({ t: 'done', s: this.signOuts, from: this.id });
  }

  /** Tells the other tabs about a token this tab got from its source. */
  publish(shared: ɵSharedToken): void {
    this.post({ t: 'grant', s: this.signOuts, from: this.id, v: shared });
  }

  /** Tells the other tabs the session ended here (sign-out, or expiry with its error code). */
  publishEnd(expiredCode?: string): void {
    this.post({ t: 'out', s: ++this.signOuts, from: this.id, expired: expiredCode });
  }

  /** Asks the running tabs for their token; resolves it, or `null` after `timeoutMs` without an answer. */
  ask(timeoutMs: number, startTimer: (ms: number, done: () => void) => () => void): Promise<ɵSharedToken | null> {
    return new Promise((resolve) => {
      const cancel = startTimer(timeoutMs, () => finish(null));
      const finish = (shared: ɵSharedToken | null) => {
        this.waiting = null;
        cancel();
        resolve(shared);
      };
      this.waiting = finish;
      this.post({ t: 'hello', s: this.signOuts, from: this.id });
    });
  }

  close(): void {
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
    if (typeof m !== 'object' || m === null || m.from === this.id || !Number.isInteger(m.s)) return;
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
      this.host.endedElsewhere(typeof m.expired === 'string' ? m.expired : undefined);
    } else if (m.t === 'hello') {
      const current = this.host.current();
      this.signOuts = Math.max(this.signOuts, m.s);
      if (current) this.post({ t: 'grant', s: this.signOuts, from: this.id, to: m.from, v: current });
    } else if (m.t === 'grant' && isShared(m.v) && (m.to === undefined || m.to === this.id)) {
      if (m.s < this.signOuts) return; // from before a sign-out this tab has seen
      this.signOuts = m.s;
      if (this.waiting) this.waiting(m.v);
      else this.host.adopt(m.v);
    }
  }
}
