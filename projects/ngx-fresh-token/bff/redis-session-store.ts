import { bffError, BffErrorCode } from './errors';
import type { SessionLock, SessionRecord, SessionStore } from './session-store';

/**
 * The Redis client {@link redisSessionStore} takes: a connected node-redis 5 client
 * (`createClient()` from `redis`) or an ioredis client (`new Redis()`). Only its shape is named
 * here, so the library imports neither package; which of the two it is is told apart at runtime.
 *
 * @example
 * const client: RedisClientLike = await createClient({ url: process.env['REDIS_URL'] }).connect();
 */
export interface RedisClientLike {
  /** node-redis: `eval(script, { keys, arguments })`; ioredis: `eval(script, numKeys, ...keysAndArgs)`. */
  eval(...args: never[]): unknown;
  /** A new connection with the same options: the store's own pub/sub subscriber for {@link SessionStore.waitForUpdate}. */
  duplicate(...args: never[]): unknown;
}

/**
 * Options of {@link redisSessionStore}.
 *
 * @example
 * const store = redisSessionStore(client, { prefix: 'shop:nft:' });
 */
export interface RedisSessionStoreOptions {
  /** Start of every key and channel the store uses (default `nft:`), so several apps can share one Redis. */
  prefix?: string;
  /**
   * Clock in epoch ms (default `Date.now`): decides when a record is past its `expiresAt` and caps TTLs
   * at it. Redis's own TTLs run on the server's clock; tests pass a fake one for the `expiresAt` checks.
   */
  now?: () => number;
  /**
   * Most live sessions of one account (`sub`) (default 20), as in the memory store: a new login past it ends that
   * account's oldest session. Also what keeps an account's logout index bounded (sessions that idled out leave it
   * as new ones are written), so a back-channel logout never scans more than a few times this many.
   */
  maxSessionsPerUser?: number;
}

/**
 * The Redis store: a {@link SessionStore} with every optional method, since several instances share it.
 *
 * @example
 * const store: RedisSessionStore = redisSessionStore(client, { prefix: 'shop:nft:' });
 * const bff = await createBff({ ...options, store });
 */
export type RedisSessionStore = Required<SessionStore>;

// Key layout (P = prefix; key and entry are already hashes, never a cookie value or a token):
//   P s:<key>    hash {version, expiresAt, data, index?}: exactly a SessionRecord (data is sealed,
//                index a JSON array of opaque entries); PX = min(ttl, expiresAt − now)
//   P i:<entry>  set of session keys whose record's index holds <entry>; PX = expiresAt − now of its
//                longest-living member, the most any member can live, so no set outlives its sessions
//   P l:<key>    refresh lock: a random owner id, SET NX PX
//   P c:<key>    claimOnce marker '1', SET NX PX
//   P u:<key>    pub/sub channel: a message on every write, delete and lock release of <key>
//
// Concurrency design (the BFF's refresh path):
//   lock     acquireLock: SET P l:<key> owner NX PX ttl — one instance at a time redeems the token;
//   re-read  the holder reads the session again after acquiring (another holder may have finished);
//   fence    compareAndSet: one Lua script checks the stored version, then writes, so a holder whose
//            lock expired cannot overwrite a newer session (its expected version is stale);
//            compareAndDelete fences the delete after an `invalid_grant` the same way;
//   release  compare-and-delete in Lua: an expired holder cannot remove the next holder's lock;
//   waiters  waitForUpdate: subscribe to P u:<key>, then resolve on the holder's write or release,
//            at once when no lock is held any more (the holder finished before the subscription
//            was live), or at the timeout; the waiter then re-reads, it never redeems.
// All scripts touch only keys of one single Redis (or a primary with replicas): not Redis Cluster.

/** get: one round trip; with an idle window also slides the TTL, capped at expiresAt, without rewriting. */
const GET_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 'version', 'expiresAt', 'data', 'index')
if not r[1] then return false end
local left = tonumber(r[2]) - tonumber(ARGV[1])
if left <= 0 then return false end
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], math.max(1, math.min(tonumber(ARGV[2]), left))) end
return r`;

/** set / compareAndSet: the fence. ARGV[4] is the expected version ('' = unconditional). */
const WRITE_SCRIPT = `
local function listed(sk, e)
  local idx = redis.call('HGET', sk, 'index')
  if not idx then return false end
  for _, x in ipairs(cjson.decode(idx)) do if x == e then return true end end
  return false
end
if ARGV[4] ~= '' then
  local cur = redis.call('HMGET', KEYS[1], 'version', 'expiresAt')
  if not cur[1] or tonumber(cur[1]) ~= tonumber(ARGV[4]) or tonumber(cur[2]) <= tonumber(ARGV[5]) then return 0 end
end
local old = redis.call('HGET', KEYS[1], 'index')
if old then
  for _, e in ipairs(cjson.decode(old)) do redis.call('SREM', ARGV[1] .. e, ARGV[3]) end
end
redis.call('DEL', KEYS[1])
if ARGV[11] == '' then
  redis.call('HSET', KEYS[1], 'version', ARGV[8], 'expiresAt', ARGV[9], 'data', ARGV[10])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
else
  redis.call('HSET', KEYS[1], 'version', ARGV[8], 'expiresAt', ARGV[9], 'data', ARGV[10], 'index', ARGV[11])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  local cap = tonumber(ARGV[12])
  for _, e in ipairs(cjson.decode(ARGV[11])) do
    local ik = ARGV[1] .. e
    redis.call('SADD', ik, ARGV[3])
    if redis.call('PTTL', ik) < tonumber(ARGV[7]) then redis.call('PEXPIRE', ik, ARGV[7]) end
    -- Bounded: past the cap, a sample of members is checked and those whose record is gone (idled out) or no
    -- longer lists the entry leave the set (at most 64 per write, so a set swollen before this rule shrinks
    -- over a few writes instead of blocking Redis once).
    if redis.call('SCARD', ik) > cap then
      for _, k in ipairs(redis.call('SRANDMEMBER', ik, 64)) do
        if k ~= ARGV[3] and not listed(ARGV[13] .. k, e) then redis.call('SREM', ik, k) end
      end
      -- An account's entry (sub:) still past the cap: its oldest sessions (the earliest absolute end) end, as a
      -- new login past maxSessionsPerUser ends the oldest in the memory store. A set past 4 × cap (filled by
      -- instances without the cap, or with a bigger one, during a deploy) is worked on through a sample of that
      -- many, whose oldest end: bounded work per write, and the set shrinks with every write until it is exact.
      local n = redis.call('SCARD', ik)
      if n > cap and string.sub(e, 1, 4) == 'sub:' then
        local live = {}
        local members = n <= 4 * cap and redis.call('SMEMBERS', ik) or redis.call('SRANDMEMBER', ik, 4 * cap)
        for _, k in ipairs(members) do
          if k ~= ARGV[3] then
            local at = redis.call('HGET', ARGV[13] .. k, 'expiresAt')
            if at then live[#live + 1] = { tonumber(at), k } else redis.call('SREM', ik, k) end
          end
        end
        table.sort(live, function(a, b) return a[1] < b[1] end)
        local over = redis.call('SCARD', ik) - cap
        for i = 1, math.min(over, #live) do
          local k = live[i][2]
          local old = redis.call('HGET', ARGV[13] .. k, 'index')
          if old then
            for _, oe in ipairs(cjson.decode(old)) do redis.call('SREM', ARGV[1] .. oe, k) end
          end
          if redis.call('DEL', ARGV[13] .. k) == 1 then redis.call('PUBLISH', ARGV[14] .. k, 'delete') end
        end
      end
    end
  end
end
redis.call('PUBLISH', ARGV[2], 'write')
return 1`;

/** delete / compareAndDelete: ARGV[4] is the expected version ('' = unconditional); 1 when deleted or gone. */
const DELETE_SCRIPT = `
if ARGV[4] ~= '' then
  local cur = redis.call('HGET', KEYS[1], 'version')
  if cur and tonumber(cur) ~= tonumber(ARGV[4]) then return 0 end
end
local old = redis.call('HGET', KEYS[1], 'index')
if old then
  for _, e in ipairs(cjson.decode(old)) do redis.call('SREM', ARGV[1] .. e, ARGV[3]) end
end
if redis.call('DEL', KEYS[1]) == 1 then redis.call('PUBLISH', ARGV[2], 'delete') end
return 1`;

/** findByIndex: live members whose record still lists the entry; drops members that are gone or moved on. */
const FIND_SCRIPT = `
local out = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local r = redis.call('HMGET', ARGV[1] .. k, 'expiresAt', 'index')
  local listed = false
  if r[2] then
    for _, e in ipairs(cjson.decode(r[2])) do if e == ARGV[2] then listed = true break end end
  end
  if not listed then redis.call('SREM', KEYS[1], k)
  elseif tonumber(r[1]) > tonumber(ARGV[3]) then out[#out + 1] = k end
end
return out`;

/** claimOnce and acquireLock: SET NX PX. */
const SET_NX_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;

/** Lock release: compare-and-delete, then wake the waiters. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'release')
  return 1
end
return 0`;

const LOCK_HELD_SCRIPT = `return redis.call('EXISTS', KEYS[1])`;

/** The calls the store makes, the same for both clients. */
interface RedisAdapter {
  run(script: string, keys: string[], args: string[]): Promise<unknown>;
  subscriber(onMessage: (channel: string) => void): Subscriber;
}

interface Subscriber {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  close(): void;
}

interface EventSource {
  on(event: string, listener: (...args: never[]) => void): unknown;
}

interface NodeRedisClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  duplicate(): NodeRedisConnection;
}

interface NodeRedisConnection extends EventSource {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  destroy?(): unknown;
  disconnect?(): unknown;
}

interface IoRedisClient {
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  duplicate(): IoRedisConnection;
}

interface IoRedisConnection extends EventSource {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  disconnect(): unknown;
}

const ignore = () => undefined;

/** Tells node-redis 5 and ioredis apart: only ioredis has the generic `call(command, ...args)`. */
function adapterFor(client: RedisClientLike): RedisAdapter {
  const c = client as unknown as Record<string, unknown>;
  if (typeof c?.['eval'] !== 'function' || typeof c['duplicate'] !== 'function') {
    throw bffError(
      BffErrorCode.InvalidOption,
      'redisSessionStore(client): client must be a node-redis 5 client (createClient() from "redis") or an ioredis client. To fix the problem, pass the Redis client your app already has.',
    );
  }
  if (typeof c['call'] === 'function') {
    // ioredis prefixes KEYS[] of a script but not the key names the scripts build from ARGV (index sets,
    // the session namespace): with `keyPrefix` writes and lookups would miss each other.
    const keyPrefix = (c['options'] as { keyPrefix?: unknown } | undefined)?.keyPrefix;
    if (typeof keyPrefix === 'string' && keyPrefix !== '') {
      throw bffError(
        BffErrorCode.InvalidOption,
        'redisSessionStore(client): the ioredis client has a keyPrefix. To fix the problem, pass a client without keyPrefix and give the prefix to redisSessionStore(client, { prefix }).',
      );
    }
    const io = client as unknown as IoRedisClient;
    return {
      run: (script, keys, args) => io.eval(script, keys.length, ...keys, ...args),
      subscriber(onMessage) {
        // ioredis connects a duplicate by itself and queues commands until it is ready.
        const sub = io.duplicate();
        sub.on('error', ignore);
        sub.on('message', ((channel: string) => onMessage(channel)) as (...args: never[]) => void);
        return {
          subscribe: (channel) => sub.subscribe(channel),
          unsubscribe: (channel) => sub.unsubscribe(channel),
          close: () => sub.disconnect(),
        };
      },
    };
  }
  const nr = client as unknown as NodeRedisClient;
  return {
    run: (script, keys, args) => nr.eval(script, { keys, arguments: args }),
    subscriber(onMessage) {
      const sub = nr.duplicate();
      // Without a listener, an 'error' event (Redis gone) would end the process.
      sub.on('error', ignore);
      const listener = (_message: string, channel: string) => onMessage(channel);
      // node-redis queues commands sent while it connects, in order.
      sub.connect().catch(ignore);
      return {
        subscribe: (channel) => sub.subscribe(channel, listener),
        unsubscribe: (channel) => sub.unsubscribe(channel, listener),
        close: () => (sub.destroy ? sub.destroy() : sub.disconnect?.()),
      };
    },
  };
}

function asString(value: unknown): string | null {
  if (typeof value === 'string') return value;
  // A node-redis client with a Buffer type mapping answers bytes; decode them without Node's Buffer.
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return null;
}

function toRecord(reply: unknown): SessionRecord | null {
  if (!Array.isArray(reply)) return null;
  const [version, expiresAt, data, index] = reply.map(asString);
  if (version === null || expiresAt === null || data === null) return null;
  const record: SessionRecord = { version: Number(version), expiresAt: Number(expiresAt), data };
  if (index !== null) record.index = JSON.parse(index) as string[];
  return record;
}

function checkMs(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw bffError(BffErrorCode.InvalidOption, `redisSessionStore: ${name} must be a finite number of milliseconds.`);
  }
}

/**
 * A {@link SessionStore} in Redis, shared by every instance of the app: sessions, the back-channel
 * logout index and the replay cache, plus the refresh lock (`SET NX PX`, released by
 * compare-and-delete), the version fence of `compareAndSet` (one Lua script) and pub/sub wake-ups for
 * the instances that wait for a refresh. A cached `get` is one round trip, idle sliding included.
 *
 * Takes the client the app already has (node-redis 5 or ioredis; neither is a dependency of this
 * library) and never closes it; `close()` ends only the subscriber connection the store opened itself.
 * Values hold only what the BFF gave: sealed session data, versions, times and opaque hashes.
 * Needs one Redis (or a primary with replicas); Redis Cluster is not supported.
 *
 * @example
 * import { createClient } from 'redis'; // or: import Redis from 'ioredis'; const client = new Redis(url);
 * const client = await createClient({ url: process.env['REDIS_URL'] }).connect();
 * const bff = await createBff({ ...options, store: redisSessionStore(client, { prefix: 'shop:' }) });
 */
export function redisSessionStore(client: RedisClientLike, options: RedisSessionStoreOptions = {}): RedisSessionStore {
  const redis = adapterFor(client);
  const prefix = options.prefix ?? 'nft:';
  const now = options.now ?? (() => Date.now());
  const maxSessionsPerUser = options.maxSessionsPerUser ?? 20;
  if (!Number.isInteger(maxSessionsPerUser) || maxSessionsPerUser < 1) {
    throw bffError(BffErrorCode.InvalidOption, 'redisSessionStore: maxSessionsPerUser must be a whole number of at least 1.');
  }
  const sessionKey = (key: string) => `${prefix}s:${key}`;
  const indexPrefix = `${prefix}i:`;
  const lockKey = (key: string) => `${prefix}l:${key}`;
  const channelOf = (key: string) => `${prefix}u:${key}`;

  // Pub/sub state: one lazily opened subscriber connection, one subscription per awaited key.
  let subscriber: Subscriber | null = null;
  const waiting = new Map<string, { wakers: Set<() => void>; subscribed: Promise<boolean> }>();
  const wakeChannel = (channel: string) => {
    for (const wake of [...(waiting.get(channel)?.wakers ?? [])]) wake();
  };

  const write = async (key: string, expectedVersion: string, record: SessionRecord, ttlMs: number): Promise<boolean> => {
    checkMs('ttlMs', ttlMs);
    const t = now();
    const ttlPx = Math.max(1, Math.floor(Math.min(ttlMs, record.expiresAt - t)));
    const indexPx = Math.max(1, Math.floor(record.expiresAt - t));
    const reply = await redis.run(
      WRITE_SCRIPT,
      [sessionKey(key)],
      [
        indexPrefix,
        channelOf(key),
        key,
        expectedVersion,
        String(t),
        String(ttlPx),
        String(indexPx),
        String(record.version),
        String(record.expiresAt),
        record.data,
        record.index ? JSON.stringify(record.index) : '',
        String(maxSessionsPerUser),
        `${prefix}s:`,
        `${prefix}u:`,
      ],
    );
    return Number(reply) === 1;
  };

  const setNx = async (key: string, value: string, ttlMs: number): Promise<boolean> => {
    checkMs('ttlMs', ttlMs);
    return Number(await redis.run(SET_NX_SCRIPT, [key], [value, String(Math.max(1, Math.floor(ttlMs)))])) === 1;
  };

  return {
    async get(key, opts) {
      const idleMs = opts?.idleMs;
      if (idleMs !== undefined) checkMs('idleMs', idleMs);
      const reply = await redis.run(GET_SCRIPT, [sessionKey(key)], [String(now()), idleMs === undefined ? '' : String(Math.floor(idleMs))]);
      return toRecord(reply);
    },

    async set(key, record, ttlMs) {
      await write(key, '', record, ttlMs);
    },

    compareAndSet(key, expectedVersion, record, ttlMs) {
      return write(key, String(expectedVersion), record, ttlMs);
    },

    async delete(key) {
      await redis.run(DELETE_SCRIPT, [sessionKey(key)], [indexPrefix, channelOf(key), key, '']);
    },

    async compareAndDelete(key, expectedVersion) {
      return Number(await redis.run(DELETE_SCRIPT, [sessionKey(key)], [indexPrefix, channelOf(key), key, String(expectedVersion)])) === 1;
    },

    async findByIndex(entry) {
      const reply = await redis.run(FIND_SCRIPT, [indexPrefix + entry], [`${prefix}s:`, entry, String(now())]);
      return Array.isArray(reply) ? reply.map(asString).filter((k): k is string => k !== null) : [];
    },

    claimOnce(key, ttlMs) {
      return setNx(`${prefix}c:${key}`, '1', ttlMs);
    },

    async acquireLock(key, ttlMs): Promise<SessionLock | null> {
      const owner = crypto.randomUUID();
      if (!(await setNx(lockKey(key), owner, ttlMs))) return null;
      return {
        release: async () => {
          await redis.run(RELEASE_SCRIPT, [lockKey(key)], [owner, channelOf(key)]);
        },
      };
    },

    waitForUpdate(key, timeoutMs) {
      checkMs('timeoutMs', timeoutMs);
      const channel = channelOf(key);
      return new Promise<void>((resolve) => {
        subscriber ??= redis.subscriber(wakeChannel);
        const sub = subscriber;
        let entry = waiting.get(channel);
        if (!entry) {
          // Subscribe and unsubscribe are sent in call order on one connection, so a key awaited
          // again right after its last waiter left ends up subscribed.
          const subscribed = sub.subscribe(channel).then(
            () => true,
            () => false,
          );
          entry = { wakers: new Set(), subscribed };
          waiting.set(channel, entry);
        }
        const own = entry;
        let done = false;
        const wake = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          own.wakers.delete(wake);
          if (own.wakers.size === 0 && waiting.get(channel) === own) {
            waiting.delete(channel);
            sub.unsubscribe(channel).catch(ignore);
          }
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        own.wakers.add(wake);
        // A holder that wrote and released before the subscription was live sent its message to no
        // one: once subscribed, a lock that is gone means there is nothing left to wait for.
        void own.subscribed.then(async (ok) => {
          if (!ok || done) return;
          try {
            if (Number(await redis.run(LOCK_HELD_SCRIPT, [lockKey(key)], [])) === 0) wake();
          } catch {
            // Redis failed: the timeout still ends the wait.
          }
        });
      });
    },

    async close() {
      const sub = subscriber;
      subscriber = null;
      for (const channel of [...waiting.keys()]) wakeChannel(channel);
      waiting.clear();
      sub?.close();
    },
  };
}
