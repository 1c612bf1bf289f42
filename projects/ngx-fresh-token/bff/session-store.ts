/**
 * One session as the store keeps it. Everything secret is in `data`, sealed (AES-256-GCM) by the
 * BFF before the store sees it: a store only ever holds ciphertext, hashes and numbers.
 *
 * @example
 * const record: SessionRecord = { version: 1, expiresAt: Date.now() + 8 * 3_600_000, data: 'v1.k1…', index: ['sid:…'] };
 */
export interface SessionRecord {
  /** Starts at 1 and grows by one with every write of tokens: the fence of {@link SessionStore.compareAndSet}. */
  version: number;
  /** The session's absolute end (epoch ms); a store never returns a record past it. */
  expiresAt: number;
  /** The sealed session (tokens, claims): opaque to the store. */
  data: string;
  /** Opaque lookup entries (hashes of the OpenID `sid` and `sub`), for {@link SessionStore.findByIndex}. */
  index?: string[];
}

/**
 * A lock on one session, held by one BFF instance while it redeems the session's refresh token.
 *
 * @example
 * const lock = await store.acquireLock?.(key, 15_000); try { … } finally { await lock?.release(); }
 */
export interface SessionLock {
  /** Lets go of the lock if this holder still owns it (compare-and-delete); a no-op once it expired. */
  release(): Promise<void>;
}

/**
 * Where the BFF keeps sessions: get/set/delete by key with a TTL, a compare-and-set on the
 * record's version, an index for back-channel logout and a replay cache. Keys are already hashes
 * of the cookie's session id; records are already sealed. The two implementations are
 * {@link memorySessionStore} (one process) and `redisSessionStore()` (several instances); both pass
 * the same shared spec, and an app can plug its own.
 *
 * Contract, in short:
 * - `get` never returns a record past its TTL or its `expiresAt`. With `idleMs` it also slides the
 *   TTL to `min(idleMs, expiresAt − now)` without rewriting the record (so an idle touch can never
 *   overwrite tokens another writer stored meanwhile).
 * - `set` creates or replaces a record; `compareAndSet` replaces it only when the stored version
 *   equals `expectedVersion` (false when it differs or the record is gone); `compareAndDelete`
 *   (optional) deletes it only under the same condition.
 * - `findByIndex(entry)` lists the keys of records whose `index` holds `entry`.
 * - `claimOnce(key, ttlMs)` is true the first time a key is claimed within `ttlMs`, false after.
 * - `acquireLock` / `waitForUpdate` are optional: a store shared by several processes implements
 *   them so that one instance at a time redeems a session's refresh token and the others wait for
 *   its result. Without them the BFF coordinates within its own process only.
 * - Every call may reject (the store is down): the BFF then answers 503 + `Retry-After` and keeps the session.
 *
 * @example
 * const bff = await createBff({ ...options, store: memorySessionStore() });
 */
export interface SessionStore {
  /** The record under `key`, or `null`; with `idleMs`, slides its TTL (see the contract above). */
  get(key: string, options?: { idleMs?: number }): Promise<SessionRecord | null>;
  /** Creates or replaces the record under `key`, living `ttlMs` (capped at its `expiresAt`). */
  set(key: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /** Replaces the record only when its stored version is `expectedVersion`; `false` otherwise. */
  compareAndSet(key: string, expectedVersion: number, record: SessionRecord, ttlMs: number): Promise<boolean>;
  /** Deletes the record under `key` (and its index entries); no error when there is none. */
  delete(key: string): Promise<void>;
  /**
   * Deletes the record under `key` only when its stored version is `expectedVersion`; `true` when it
   * deleted it or there was none. Optional: without it the BFF fences its deletes with a
   * `compareAndSet` to a record that is already over.
   */
  compareAndDelete?(key: string, expectedVersion: number): Promise<boolean>;
  /** Keys of the live records whose `index` holds `entry`. */
  findByIndex(entry: string): Promise<string[]>;
  /** `true` the first time `key` is claimed within `ttlMs`, `false` while that claim lives (replay detection). */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Takes the refresh lock of `key` for `ttlMs`; `null` when another holder has it. Optional. */
  acquireLock?(key: string, ttlMs: number): Promise<SessionLock | null>;
  /** Resolves when the record under `key` is written or deleted, or after `timeoutMs`. Optional. */
  waitForUpdate?(key: string, timeoutMs: number): Promise<void>;
  /** Lets go of connections and timers the store opened itself (not a client the app passed in). Optional. */
  close?(): Promise<void>;
}

/**
 * Options of {@link memorySessionStore}.
 *
 * @example
 * const store = memorySessionStore({ maxSessions: 50_000 });
 */
export interface MemorySessionStoreOptions {
  /** Clock in epoch ms (default `Date.now`); tests pass a fake one. */
  now?: () => number;
  /**
   * Most live records kept (default 100 000). When full, a new one evicts the oldest short-lived record
   * (in-doubt markers, one-time references), else the oldest session of the account that holds the most,
   * so one account can only ever evict its own; when every account holds one session, the new session is
   * refused (the BFF answers 503) rather than another user's evicted. One-time claims are capped at the
   * same number.
   */
  maxSessions?: number;
  /** Most live sessions of one account (`sub`) (default 20); a new login past it ends that account's oldest session. */
  maxSessionsPerUser?: number;
}

interface MemoryEntry {
  record: SessionRecord;
  /** Idle deadline (epoch ms): the TTL. */
  deadline: number;
  /** The account it belongs to: its first `sub:` index entry (the BFF writes one per session), if any. */
  owner?: string;
}

/** Index entries of this prefix name the account a session belongs to (the BFF's hashed `sub`). */
const OWNER_ENTRY_PREFIX = 'sub:';


/**
 * The default {@link SessionStore}: a `Map` in this process. Sessions end with the process and are
 * not shared between instances; use `redisSessionStore()` for several instances. Expired entries are
 * dropped when read and swept as new ones are written, with no timer (it never keeps a process alive).
 * Bounded: at most `maxSessionsPerUser` sessions per account (the `sub:` index entry the BFF writes)
 * and `maxSessions` in all; when full, the account with the most sessions loses its oldest, so one
 * account can never push other users out.
 *
 * @example
 * const bff = await createBff({ ...options, store: memorySessionStore() });
 */
export function memorySessionStore(options: MemorySessionStoreOptions = {}): SessionStore {
  const now = options.now ?? (() => Date.now());
  const maxSessions = options.maxSessions ?? 100_000;
  const maxSessionsPerUser = options.maxSessionsPerUser ?? 20;
  const entries = new Map<string, MemoryEntry>();
  /** Sessions per account, oldest first (a Set keeps insertion order). */
  const owners = new Map<string, Set<string>>();
  /** Records without an account (the BFF's short-lived markers and one-time references), oldest first: evicted before any session. */
  const ownerless = new Set<string>();
  /** Most one-time claims kept (replay detection); past it the oldest go. */
  const maxClaims = Math.max(1_000, maxSessions);
  let lastFullSweep = -Infinity;
  const index = new Map<string, Set<string>>();
  const claims = new Map<string, number>();
  const locks = new Map<string, { owner: object; until: number }>();
  const waiters = new Map<string, Set<() => void>>();
  let writesSinceSweep = 0;

  const live = (key: string): MemoryEntry | null => {
    const entry = entries.get(key);
    if (!entry) return null;
    const t = now();
    if (entry.deadline <= t || entry.record.expiresAt <= t) {
      remove(key);
      return null;
    }
    return entry;
  };

  const notify = (key: string) => {
    const set = waiters.get(key);
    if (!set) return;
    waiters.delete(key);
    for (const wake of set) wake();
  };

  function remove(key: string): void {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    if (entry.owner !== undefined) {
      const keys = owners.get(entry.owner);
      keys?.delete(key);
      if (keys && keys.size === 0) owners.delete(entry.owner);
    } else {
      ownerless.delete(key);
    }
    for (const e of entry.record.index ?? []) {
      const keys = index.get(e);
      keys?.delete(key);
      if (keys && keys.size === 0) index.delete(e);
    }
    notify(key);
  }

  function sweep(): void {
    const t = now();
    for (const [key, entry] of entries) if (entry.deadline <= t || entry.record.expiresAt <= t) remove(key);
    for (const [key, until] of claims) if (until <= t) claims.delete(key);
    for (const [key, lock] of locks) if (lock.until <= t) locks.delete(key);
  }

  /**
   * Makes room for one more record of `owner`: its own oldest past the per-account cap; when full, the
   * oldest record without an account, else the oldest session of the account holding the most. When every
   * account holds one session, nobody else's session is evicted: the write is refused (the BFF answers 503).
   */
  function makeRoom(key: string, owner: string | undefined): void {
    const own = owner === undefined ? undefined : owners.get(owner);
    if (own && !own.has(key)) {
      while (own.size >= maxSessionsPerUser) remove(own.values().next().value as string);
    }
    if (entries.size >= maxSessions && now() - lastFullSweep >= 1_000) {
      // Expired entries first (a full sweep at most once a second, so a full store does not scan on every write).
      lastFullSweep = now();
      sweep();
    }
    while (entries.size >= maxSessions && !entries.has(key)) {
      if (ownerless.size > 0) {
        remove(ownerless.values().next().value as string);
        continue;
      }
      let largest: Set<string> | undefined;
      for (const keys of owners.values()) if (!largest || keys.size > largest.size) largest = keys;
      if (largest && (largest.size > 1 || largest === own)) {
        remove(largest.values().next().value as string);
        continue;
      }
      throw new Error('memorySessionStore is full (maxSessions) and every account holds one session');
    }
  }

  function write(key: string, record: SessionRecord, ttlMs: number): void {
    if (++writesSinceSweep >= 1_000) {
      writesSinceSweep = 0;
      sweep();
    }
    const owner = record.index?.find((e) => e.startsWith(OWNER_ENTRY_PREFIX));
    const previous = entries.get(key);
    if (!previous) makeRoom(key, owner);
    remove(key);
    // A copy, so a caller mutating its object cannot change what is stored.
    const stored: SessionRecord = { ...record, index: record.index ? [...record.index] : undefined };
    entries.set(key, { record: stored, deadline: Math.min(now() + ttlMs, record.expiresAt), owner });
    if (owner !== undefined) {
      let keys = owners.get(owner);
      if (!keys) owners.set(owner, (keys = new Set()));
      keys.add(key);
    } else {
      ownerless.add(key);
    }
    for (const e of stored.index ?? []) {
      let keys = index.get(e);
      if (!keys) index.set(e, (keys = new Set()));
      keys.add(key);
    }
    notify(key);
  }

  return {
    async get(key, opts) {
      const entry = live(key);
      if (!entry) return null;
      if (opts?.idleMs !== undefined) entry.deadline = Math.min(now() + opts.idleMs, entry.record.expiresAt);
      return { ...entry.record, index: entry.record.index ? [...entry.record.index] : undefined };
    },
    async set(key, record, ttlMs) {
      write(key, record, ttlMs);
    },
    async compareAndSet(key, expectedVersion, record, ttlMs) {
      const entry = live(key);
      if (!entry || entry.record.version !== expectedVersion) return false;
      write(key, record, ttlMs);
      return true;
    },
    async delete(key) {
      remove(key);
    },
    async compareAndDelete(key, expectedVersion) {
      const entry = live(key);
      if (!entry) return true;
      if (entry.record.version !== expectedVersion) return false;
      remove(key);
      return true;
    },
    async findByIndex(entry) {
      return [...(index.get(entry) ?? [])].filter((key) => live(key) !== null);
    },
    async claimOnce(key, ttlMs) {
      const t = now();
      const until = claims.get(key);
      if (until !== undefined && until > t) return false;
      claims.delete(key);
      claims.set(key, t + ttlMs);
      // Bounded: past the cap the oldest claims go (expired ones are swept with the sessions; replay
      // windows are minutes, so only a flood reaches the cap).
      while (claims.size > maxClaims) claims.delete(claims.keys().next().value as string);
      return true;
    },
    async acquireLock(key, ttlMs) {
      const held = locks.get(key);
      if (held && held.until > now()) return null;
      const owner = {};
      locks.set(key, { owner, until: now() + ttlMs });
      return {
        release: async () => {
          // Compare-and-delete: a holder whose lock expired (and was taken by another) removes nothing.
          if (locks.get(key)?.owner === owner) locks.delete(key);
          notify(key);
        },
      };
    },
    waitForUpdate(key, timeoutMs) {
      return new Promise<void>((resolve) => {
        let set = waiters.get(key);
        if (!set) waiters.set(key, (set = new Set()));
        const wake = () => {
          clearTimeout(timer);
          set!.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        set.add(wake);
      });
    },
  };
}
