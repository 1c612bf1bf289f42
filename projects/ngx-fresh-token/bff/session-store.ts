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
 *   equals `expectedVersion` (false when it differs or the record is gone).
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
  /** Most live sessions kept; past it the oldest-expiring ones are dropped first (default 100 000). */
  maxSessions?: number;
}

interface MemoryEntry {
  record: SessionRecord;
  /** Idle deadline (epoch ms): the TTL. */
  deadline: number;
}

/**
 * The default {@link SessionStore}: a `Map` in this process. Sessions end with the process and are
 * not shared between instances; use `redisSessionStore()` for several instances. Expired entries are
 * dropped when read and swept as new ones are written, with no timer (it never keeps a process alive).
 *
 * @example
 * const bff = await createBff({ ...options, store: memorySessionStore() });
 */
export function memorySessionStore(options: MemorySessionStoreOptions = {}): SessionStore {
  const now = options.now ?? (() => Date.now());
  const maxSessions = options.maxSessions ?? 100_000;
  const entries = new Map<string, MemoryEntry>();
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
    if (entries.size >= maxSessions) {
      const oldest = [...entries].sort((a, b) => Math.min(a[1].deadline, a[1].record.expiresAt) - Math.min(b[1].deadline, b[1].record.expiresAt));
      for (const [key] of oldest.slice(0, entries.size - maxSessions + 1)) remove(key);
    }
  }

  function write(key: string, record: SessionRecord, ttlMs: number): void {
    if (++writesSinceSweep >= 1_000 || entries.size >= maxSessions) {
      writesSinceSweep = 0;
      sweep();
    }
    remove(key);
    // A copy, so a caller mutating its object cannot change what is stored.
    const stored: SessionRecord = { ...record, index: record.index ? [...record.index] : undefined };
    entries.set(key, { record: stored, deadline: Math.min(now() + ttlMs, record.expiresAt) });
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
    async findByIndex(entry) {
      return [...(index.get(entry) ?? [])].filter((key) => live(key) !== null);
    },
    async claimOnce(key, ttlMs) {
      const until = claims.get(key);
      if (until !== undefined && until > now()) return false;
      claims.set(key, now() + ttlMs);
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
