// The SessionStore contract (ngx-fresh-token/bff, issue #19): ONE shared suite, run against
// memorySessionStore() (fake clock), redisSessionStore(node-redis 5 client) and
// redisSessionStore(ioredis client), the last two against a REAL redis-server (REDIS_URL, else one
// started here by scripts/ensure-redis.mjs). Then what only Redis has: one round trip per cached hit,
// TTLs on the server, a scan of every key, the subscriber connection, and a paused server (SIGSTOP).
// Time: the stores take a fake clock (`now`); Redis's own TTLs are real, so those waits stay short.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { Redis } from 'ioredis';
import { memorySessionStore, redisSessionStore } from 'ngx-fresh-token/bff';
import { ensureRedis } from '../../scripts/ensure-redis.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HOUR = 3_600_000;
const testPrefix = `nft-test-${process.pid}:`;
let prefixCount = 0;
const nextPrefix = () => `${testPrefix}${++prefixCount}:`;

// ---- Redis for this file ------------------------------------------------------------------------

let redisUrl = process.env.REDIS_URL || '';
let ownRedis = null; // a server started here (when REDIS_URL is unset)
let pausable = null; // { url, pid } of a server this process may SIGSTOP
let inspector; // a plain node-redis connection to look at what the stores wrote
const openClients = [];
const openStores = [];

/** redisSessionStore(), closed after the file even when a test fails half-way (its subscriber would keep the process alive). */
function redisStore(client, options) {
  const store = redisSessionStore(client, options);
  openStores.push(store);
  return store;
}

async function nodeRedisClient(url = redisUrl) {
  const client = createClient({ url });
  client.on('error', () => {}); // the pause test makes the server unreachable on purpose
  await client.connect();
  openClients.push(() => client.destroy());
  return client;
}

async function ioredisClient(url = redisUrl) {
  const client = new Redis(url, { lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  openClients.push(() => client.disconnect());
  return client;
}

const clientKinds = { 'node-redis': nodeRedisClient, ioredis: ioredisClient };

before(async () => {
  if (!redisUrl) {
    ownRedis = await ensureRedis({ env: { ...process.env, REDIS_URL: '' } });
    redisUrl = ownRedis.url;
  }
  inspector = await nodeRedisClient();
});

after(async () => {
  try {
    for await (const keys of inspector.scanIterator({ MATCH: `${testPrefix}*`, COUNT: 500 })) if (keys.length) await inspector.del(keys);
  } finally {
    for (const store of openStores) await store.close();
    for (const close of openClients) close();
    await ownRedis?.stop();
    if (pausable?.stop) await pausable.stop();
  }
});

/** A server this process may pause: the one `npm test` started (REDIS_PID), the one started here, or a new one. */
async function pausableRedis() {
  if (pausable) return pausable;
  if (process.env.REDIS_PID && process.env.REDIS_URL) pausable = { url: process.env.REDIS_URL, pid: Number(process.env.REDIS_PID) };
  else if (ownRedis?.pid) pausable = { url: ownRedis.url, pid: ownRedis.pid };
  else pausable = await ensureRedis({ env: { ...process.env, REDIS_URL: '' } }); // REDIS_URL points at a server we did not start
  return pausable;
}

// ---- Harnesses: two handles on one store (two connections for Redis) and a clock ---------------

function memoryHarness() {
  let t = Date.now();
  const store = memorySessionStore({ now: () => t });
  return {
    a: store,
    b: store, // one process, one store: "another connection" is the same Map
    now: () => t,
    /** Time passes (fake clock only; the memory store has no other). */
    elapse: async (ms) => {
      t += ms;
    },
    /** The fake clock jumps; server TTLs do not move. */
    jumpClock: (ms) => {
      t += ms;
    },
    /** Resolves once a waitForUpdate on `key` listens (at once: the memory store registers synchronously). */
    listening: async () => {},
    close: async () => {},
  };
}

function redisHarness(kind) {
  return async () => {
    const [c1, c2] = [await clientKinds[kind](), await clientKinds[kind]()];
    let t = Date.now();
    const options = { prefix: nextPrefix(), now: () => t };
    const a = redisStore(c1, options);
    const b = redisStore(c2, options);
    return {
      a,
      b,
      now: () => t,
      // Redis TTLs are real: the fake clock and the server both move on.
      elapse: async (ms) => {
        t += ms;
        await sleep(ms);
      },
      jumpClock: (ms) => {
        t += ms;
      },
      listening: async (key) => {
        const channel = `${options.prefix}u:${key}`;
        for (let i = 0; i < 200; i++) {
          const [, count] = await inspector.sendCommand(['PUBSUB', 'NUMSUB', channel]);
          if (Number(count) > 0) return;
          await sleep(10);
        }
        throw new Error(`no subscriber on ${channel}`);
      },
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  };
}

const record = (h, overrides = {}) => ({ version: 1, expiresAt: h.now() + 8 * HOUR, data: 'v1.k1.sealed-ciphertext', ...overrides });
/** Compares records field by field: a store may leave `index` out or set it to undefined when there is none. */
const same = (actual, expected) =>
  assert.deepEqual(actual && { ...actual, index: actual.index ?? null }, expected && { ...expected, index: expected.index ?? null });
const sorted = (keys) => [...keys].sort();

/** Resolves to the ms `promise` took; fails if it takes longer than `limitMs`. */
async function timed(promise, limitMs, what) {
  const start = performance.now();
  let timer;
  await Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${limitMs} ms`)), limitMs);
    }),
  ]);
  clearTimeout(timer);
  return performance.now() - start;
}

// ---- The shared conformance suite --------------------------------------------------------------

function conformance(name, makeHarness) {
  describe(`SessionStore conformance: ${name}`, () => {
    let h;
    const it = (title, fn) =>
      test(title, async () => {
        h = await makeHarness();
        try {
          await fn();
        } finally {
          await h.close();
        }
      });

    it('get returns what set stored, null for a missing key and after delete; deleting nothing is fine', async () => {
      const r = record(h, { index: ['sid:1', 'sub:1'] });
      await h.a.set('k', r, HOUR);
      same(await h.a.get('k'), r);
      same(await h.b.get('k'), r);
      assert.equal(await h.a.get('missing'), null);
      await h.b.delete('k');
      assert.equal(await h.a.get('k'), null);
      await h.a.delete('k');
      await h.a.delete('never-there');
      const plain = record(h);
      await h.a.set('plain', plain, HOUR);
      same(await h.b.get('plain'), plain);
    });

    it('stores a copy: changing the object after set, or what get returned, changes nothing stored', async () => {
      const r = record(h, { index: ['sid:1'] });
      await h.a.set('k', r, HOUR);
      r.data = 'changed';
      r.index.push('sid:2');
      const got = await h.a.get('k');
      assert.equal(got.data, 'v1.k1.sealed-ciphertext');
      got.index.push('sid:3');
      assert.deepEqual((await h.b.get('k')).index, ['sid:1']);
      assert.deepEqual(await h.a.findByIndex('sid:2'), []);
    });

    it('a record lives ttlMs, and never longer than its expiresAt', async () => {
      await h.a.set('short-ttl', record(h), 200);
      await h.a.set('near-end', record(h, { expiresAt: h.now() + 200 }), HOUR);
      await h.elapse(100);
      assert.notEqual(await h.b.get('short-ttl'), null);
      assert.notEqual(await h.b.get('near-end'), null);
      await h.elapse(200);
      assert.equal(await h.b.get('short-ttl'), null);
      assert.equal(await h.b.get('near-end'), null);
    });

    it('never returns, lists or compare-and-sets a record past its expiresAt, whatever its TTL', async () => {
      const r = record(h, { expiresAt: h.now() + 10_000, index: ['sid:x'] });
      await h.a.set('k', r, HOUR);
      h.jumpClock(9_990);
      same(await h.a.get('k'), r);
      assert.deepEqual(await h.a.findByIndex('sid:x'), ['k']);
      h.jumpClock(20);
      assert.equal(await h.a.get('k'), null);
      assert.equal(await h.a.get('k', { idleMs: HOUR }), null);
      assert.deepEqual(await h.b.findByIndex('sid:x'), []);
      assert.equal(await h.b.compareAndSet('k', 1, record(h, { version: 2 }), HOUR), false);
    });

    it('get with idleMs slides the TTL without rewriting the record', async () => {
      const r = record(h);
      await h.a.set('k', r, 300);
      await h.elapse(180);
      same(await h.a.get('k', { idleMs: 300 }), r);
      await h.elapse(180); // 360 ms after the write: past the first TTL, inside the slid one
      same(await h.b.get('k'), r);
      // The touch wrote nothing: the version is still 1, so the refresh path's fence still matches.
      assert.equal(await h.b.compareAndSet('k', 1, record(h, { version: 2, data: 'v1.k1.rotated' }), 300), true);
      assert.equal((await h.a.get('k', { idleMs: 300 })).data, 'v1.k1.rotated');
      await h.elapse(350);
      assert.equal(await h.a.get('k'), null);
    });

    it('idle sliding stops at expiresAt', async () => {
      await h.a.set('k', record(h, { expiresAt: h.now() + 250 }), 250);
      await h.elapse(100);
      assert.notEqual(await h.a.get('k', { idleMs: HOUR }), null);
      await h.elapse(200);
      assert.equal(await h.b.get('k'), null);
    });

    it('compareAndSet writes only over the expected version: a stale writer is refused, the version never goes back', async () => {
      await h.a.set('k', record(h), HOUR);
      // Two holders read version 1; B writes first, A's write (from a lock that expired) must fail.
      assert.equal(await h.b.compareAndSet('k', 1, record(h, { version: 2, data: 'from-b' }), HOUR), true);
      assert.equal(await h.a.compareAndSet('k', 1, record(h, { version: 2, data: 'from-a-stale' }), HOUR), false);
      assert.deepEqual([(await h.a.get('k')).version, (await h.a.get('k')).data], [2, 'from-b']);
      assert.equal(await h.a.compareAndSet('k', 3, record(h, { version: 4, data: 'ahead' }), HOUR), false);
      assert.equal(await h.a.compareAndSet('k', 1, record(h, { version: 1, data: 'backwards' }), HOUR), false);
      assert.equal(await h.a.compareAndSet('k', 2, record(h, { version: 3, data: 'from-a' }), HOUR), true);
      assert.deepEqual([(await h.b.get('k')).version, (await h.b.get('k')).data], [3, 'from-a']);
      assert.equal(await h.a.compareAndSet('missing', 0, record(h), HOUR), false);
      assert.equal(await h.a.compareAndSet('missing', 1, record(h), HOUR), false);
      assert.equal(await h.a.get('missing'), null);
    });

    it('of ten concurrent compareAndSets on one version, from two connections, exactly one wins', async () => {
      await h.a.set('k', record(h), HOUR);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? h.a : h.b).compareAndSet('k', 1, record(h, { version: 2, data: `writer-${i}` }), HOUR)),
      );
      assert.equal(results.filter(Boolean).length, 1);
      const stored = await h.a.get('k');
      assert.equal(stored.version, 2);
      assert.equal(stored.data, `writer-${results.indexOf(true)}`);
    });

    it('the index follows set, compareAndSet and delete', async () => {
      await h.a.set('k1', record(h, { index: ['sid:a', 'sub:x'] }), HOUR);
      await h.b.set('k2', record(h, { index: ['sub:x'] }), HOUR);
      assert.deepEqual(sorted(await h.a.findByIndex('sub:x')), ['k1', 'k2']);
      assert.deepEqual(await h.b.findByIndex('sid:a'), ['k1']);
      assert.deepEqual(await h.a.findByIndex('sid:none'), []);

      assert.equal(await h.b.compareAndSet('k1', 1, record(h, { version: 2, index: ['sid:b', 'sub:x'] }), HOUR), true);
      assert.deepEqual(await h.a.findByIndex('sid:a'), []);
      assert.deepEqual(await h.a.findByIndex('sid:b'), ['k1']);
      assert.equal(await h.a.compareAndSet('k1', 1, record(h, { version: 2, index: ['sid:stale'] }), HOUR), false);
      assert.deepEqual(await h.a.findByIndex('sid:stale'), [], 'a refused write indexes nothing');

      await h.a.delete('k2');
      assert.deepEqual(await h.b.findByIndex('sub:x'), ['k1']);
      await h.a.set('k1', record(h, { version: 3 }), HOUR); // no index any more
      assert.deepEqual(await h.b.findByIndex('sub:x'), []);
      assert.deepEqual(await h.b.findByIndex('sid:b'), []);
    });

    it("a record that expired is not found by its old index entries, even once its key is reused", async () => {
      await h.a.set('k', record(h, { index: ['sid:old'] }), 150);
      await h.elapse(200);
      assert.deepEqual(await h.b.findByIndex('sid:old'), []);
      await h.b.set('k', record(h, { index: ['sid:new'] }), HOUR);
      assert.deepEqual(await h.a.findByIndex('sid:old'), []);
      assert.deepEqual(await h.a.findByIndex('sid:new'), ['k']);
    });

    it('claimOnce is true once per key while its claim lives, across connections', async () => {
      assert.equal(await h.a.claimOnce('jti-1', 200), true);
      assert.equal(await h.b.claimOnce('jti-1', 200), false);
      assert.equal(await h.a.claimOnce('jti-1', 200), false);
      assert.equal(await h.b.claimOnce('jti-2', 200), true);
      const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? h.a : h.b).claimOnce('jti-3', HOUR)));
      assert.equal(concurrent.filter(Boolean).length, 1);
      await h.elapse(250);
      assert.equal(await h.b.claimOnce('jti-1', 200), true, 'claimable again after its TTL');
      assert.equal(await h.a.claimOnce('jti-3', HOUR), false);
    });

    it('the refresh lock is exclusive across connections and released by its holder', async () => {
      const lockA = await h.a.acquireLock('k', 5_000);
      assert.ok(lockA);
      assert.equal(await h.b.acquireLock('k', 5_000), null);
      assert.equal(await h.a.acquireLock('k', 5_000), null, 'not re-entrant either');
      const other = await h.b.acquireLock('k2', 5_000);
      assert.ok(other, 'locks are per session');
      await lockA.release();
      const lockB = await h.b.acquireLock('k', 5_000);
      assert.ok(lockB);
      await lockB.release();
      await other.release();
      const racing = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? h.a : h.b).acquireLock('k3', 5_000)));
      assert.equal(racing.filter(Boolean).length, 1);
      await racing.find(Boolean).release();
    });

    it("an expired holder's release does not remove the next holder's lock", async () => {
      const stale = await h.a.acquireLock('k', 150);
      assert.ok(stale);
      await h.elapse(200);
      const next = await h.b.acquireLock('k', 5_000);
      assert.ok(next, 'the lock expired');
      await stale.release();
      assert.equal(await h.a.acquireLock('k', 5_000), null, 'still held by the next holder');
      await next.release();
      await next.release(); // twice: nothing to release, no error
      const again = await h.a.acquireLock('k', 5_000);
      assert.ok(again);
      await again.release();
    });

    for (const [how, write] of [
      ['set', (s) => s.set('k', record(h, { version: 2 }), HOUR)],
      ['compareAndSet', (s) => s.compareAndSet('k', 1, record(h, { version: 2 }), HOUR)],
      ['delete', (s) => s.delete('k')],
    ]) {
      it(`waitForUpdate is woken by a ${how} from another connection`, async () => {
        await h.a.set('k', record(h), HOUR);
        const lock = await h.b.acquireLock('k', 10_000); // a refresh is under way on "another instance"
        const waiting = h.a.waitForUpdate('k', 8_000);
        await h.listening('k');
        await write(h.b);
        await timed(waiting, 1_000, `waking by ${how} (timeout 8 s)`);
        await lock.release();
      });
    }

    it('waitForUpdate times out when nothing is written to its key (a write to another key does not wake it)', async () => {
      await h.a.set('k', record(h), HOUR);
      const lock = await h.b.acquireLock('k', 10_000);
      const start = performance.now();
      const waiting = h.a.waitForUpdate('k', 400);
      for (let i = 0; i < 5; i++) {
        await h.b.set('other', record(h, { version: i + 1 }), HOUR);
        await sleep(30);
      }
      await waiting;
      const took = performance.now() - start;
      assert.ok(took >= 390, `resolved after ${Math.round(took)} ms, before its 400 ms timeout`);
      assert.ok(took < 2_000, `resolved after ${Math.round(took)} ms`);
      await lock.release();
    });
  });
}

conformance('memorySessionStore (fake clock)', memoryHarness);
conformance('redisSessionStore + node-redis 5 (real redis-server)', redisHarness('node-redis'));
conformance('redisSessionStore + ioredis (real redis-server)', redisHarness('ioredis'));

// ---- What only the Redis store has --------------------------------------------------------------

/** Counts the calls made on `client` (each call on it sends one command: one round trip). */
function counting(client) {
  const counter = { calls: [] };
  counter.client = new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args) => {
        counter.calls.push(String(prop));
        return value.apply(target, args);
      };
    },
  });
  return counter;
}

async function allKeys() {
  const keys = [];
  for await (const batch of inspector.scanIterator({ MATCH: '*', COUNT: 1000 })) keys.push(...batch);
  return keys;
}

for (const [kind, connect] of Object.entries(clientKinds)) {
  describe(`redisSessionStore + ${kind}: Redis specifics`, () => {
    test('a cached get with idle sliding is one round trip, and the server TTL is capped at expiresAt', async () => {
      const prefix = nextPrefix();
      const counter = counting(await connect());
      let t = Date.now();
      const store = redisStore(counter.client, { prefix, now: () => t });
      const r = { version: 1, expiresAt: t + 5_000, data: 'sealed', index: ['sid:1'] };
      await store.set('k', r, 1_000);
      const ttlAfterSet = await inspector.pTTL(`${prefix}s:k`);
      assert.ok(ttlAfterSet > 0 && ttlAfterSet <= 1_000, `TTL ${ttlAfterSet}`);
      const indexTtl = await inspector.pTTL(`${prefix}i:sid:1`);
      assert.ok(indexTtl > 1_000 && indexTtl <= 5_000, `the index lives as long as its record can: ${indexTtl}`);

      counter.calls.length = 0;
      same(await store.get('k', { idleMs: 60_000 }), r);
      assert.deepEqual(counter.calls, ['eval'], 'one command for a cached hit, sliding included');
      const ttlAfterSlide = await inspector.pTTL(`${prefix}s:k`);
      assert.ok(ttlAfterSlide > 1_000 && ttlAfterSlide <= 5_000, `slid to expiresAt − now, not to idleMs: ${ttlAfterSlide}`);
      t += 1_000;
      await store.get('k', { idleMs: 2_000 });
      const ttlShorter = await inspector.pTTL(`${prefix}s:k`);
      assert.ok(ttlShorter > 1_000 && ttlShorter <= 2_000, `slid to idleMs: ${ttlShorter}`);
      assert.deepEqual({ ...(await inspector.hGetAll(`${prefix}s:k`)) }, { version: '1', expiresAt: String(r.expiresAt), data: 'sealed', index: '["sid:1"]' });
      await store.close();
    });

    // Found by the attacker review: sessions that idled out stayed in their account's logout index (only a
    // back-channel logout cleaned it, in one Lua call): scripted logins grew one set without bound (200 000 members,
    // 600 ms of blocked Redis per logout). Now every write past the cap drops members whose record is gone, and an
    // account past maxSessionsPerUser loses its oldest sessions, as in the memory store.
    test('an account\'s logout index stays bounded: sessions that idled out leave it, and past maxSessionsPerUser the oldest live ones end', async () => {
      const prefix = nextPrefix();
      const store = redisStore(await connect(), { prefix, maxSessionsPerUser: 5 });
      const expiresAt = Date.now() + HOUR;
      for (let i = 0; i < 120; i++) {
        await store.set(`gone-${i}`, { version: 1, expiresAt: expiresAt + i, data: 'x', index: [`sid:g${i}`, 'sub:acct'] }, 1);
        await new Promise((r) => setTimeout(r, 2)); // its 1 ms idle window is over: the record is gone
      }
      assert.ok((await inspector.sCard(`${prefix}i:sub:acct`)) <= 6, `members left: ${await inspector.sCard(`${prefix}i:sub:acct`)}`);
      for (let i = 0; i < 8; i++) await store.set(`live-${i}`, { version: 1, expiresAt: expiresAt + 1_000 + i, data: 'x', index: [`sid:l${i}`, 'sub:acct'] }, HOUR);
      const found = sorted(await store.findByIndex('sub:acct'));
      assert.deepEqual(found, sorted(['live-3', 'live-4', 'live-5', 'live-6', 'live-7']), 'the five newest');
      for (const k of ['live-0', 'live-1', 'live-2']) {
        assert.equal(await store.get(k), null, `${k} ended`);
        assert.equal(await inspector.sCard(`${prefix}i:sid:${k.replace('live-', 'l')}`), 0, `${k} left its sid index`);
      }
      // A sid: entry is one login's: never a reason to end a session.
      assert.deepEqual(await store.findByIndex('sid:l7'), ['live-7']);
      await store.close();
    });

    test('an account\'s index filled past 4 × the cap (instances without the cap, or with a bigger one, during a deploy) shrinks with every write', async () => {
      const prefix = nextPrefix();
      const expiresAt = Date.now() + HOUR;
      // 60 live sessions written by an instance with a cap of 100.
      const wide = redisStore(await connect(), { prefix, maxSessionsPerUser: 100 });
      for (let i = 0; i < 60; i++) await wide.set(`old-${i}`, { version: 1, expiresAt: expiresAt + i, data: 'x', index: ['sub:acct2'] }, HOUR);
      const store = redisStore(await connect(), { prefix, maxSessionsPerUser: 5 });
      const sizes = [];
      for (let i = 0; i < 4; i++) {
        await store.set(`new-${i}`, { version: 1, expiresAt: expiresAt + 1_000 + i, data: 'x', index: ['sub:acct2'] }, HOUR);
        sizes.push(await inspector.sCard(`${prefix}i:sub:acct2`));
      }
      assert.ok(sizes.every((n, i) => i === 0 || n <= sizes[i - 1]), `never grows: ${sizes}`);
      assert.equal(sizes.at(-1), 5, `back to the cap: ${sizes}`);
      assert.ok((await store.findByIndex('sub:acct2')).includes('new-3'), 'the newest session stays');
      await wide.close();
      await store.close();
    });

    test('every key it writes has a TTL, stays under its prefix and holds only what it was given', async () => {
      const prefix = nextPrefix();
      const before = (await allKeys()).filter((k) => !k.startsWith(testPrefix));
      const store = redisStore(await connect(), { prefix });
      const expiresAt = Date.now() + HOUR;
      // The second write moves the session from sid:hash-old to sid:hash-a: the old set must go.
      await store.set('sess-hash-1', { version: 1, expiresAt, data: 'v1.k1.FIRST-CIPHERTEXT', index: ['sid:hash-old', 'sub:hash-b'] }, 60_000);
      assert.equal(await store.compareAndSet('sess-hash-1', 1, { version: 2, expiresAt, data: 'v1.k1.SECOND-CIPHERTEXT', index: ['sid:hash-a', 'sub:hash-b'] }, 60_000), true);
      await store.set('sess-hash-2', { version: 1, expiresAt, data: 'v1.k1.OTHER-CIPHERTEXT' }, 60_000);
      assert.equal(await store.claimOnce('jti-hash', 60_000), true);
      const lock = await store.acquireLock('sess-hash-1', 60_000);
      await store.waitForUpdate('sess-hash-2', 50); // pub/sub leaves no key

      const after = await allKeys();
      assert.deepEqual(sorted(after.filter((k) => !k.startsWith(testPrefix))), sorted(before), 'no key outside the prefix');
      const mine = after.filter((k) => k.startsWith(prefix));
      assert.deepEqual(sorted(mine), sorted([`${prefix}s:sess-hash-1`, `${prefix}s:sess-hash-2`, `${prefix}i:sid:hash-a`, `${prefix}i:sub:hash-b`, `${prefix}c:jti-hash`, `${prefix}l:sess-hash-1`]));
      const values = [];
      for (const key of mine) {
        const ttl = await inspector.pTTL(key);
        assert.ok(ttl > 0, `${key} has a TTL (${ttl})`);
        const type = await inspector.type(key);
        if (type === 'hash') {
          const fields = await inspector.hGetAll(key);
          for (const f of Object.keys(fields)) assert.ok(['version', 'expiresAt', 'data', 'index'].includes(f), `field ${f}`);
          values.push(...Object.values(fields));
        } else if (type === 'set') values.push(...(await inspector.sMembers(key)));
        else values.push(await inspector.get(key));
      }
      const lockOwner = await inspector.get(`${prefix}l:sess-hash-1`);
      assert.match(lockOwner, /^[0-9a-f-]{36}$/, 'the lock holds a random owner id');
      const given = new Set(['1', '2', String(expiresAt), 'v1.k1.SECOND-CIPHERTEXT', 'v1.k1.OTHER-CIPHERTEXT', '["sid:hash-a","sub:hash-b"]', 'sess-hash-1', lockOwner]);
      assert.deepEqual(values.filter((v) => !given.has(v)), [], 'nothing but what the store was given');
      assert.ok(!values.some((v) => v.includes('FIRST-CIPHERTEXT')), 'no earlier version is kept');
      await lock.release();
      await store.close();
    });

    test('waitForUpdate returns at once when no refresh lock is held once it listens (the holder finished first)', async () => {
      const store = redisStore(await connect(), { prefix: nextPrefix() });
      const took = await timed(store.waitForUpdate('k', 5_000), 2_000, 'waiting with no lock held');
      assert.ok(took < 2_000);
      await store.close();
    });

    test('close() ends pending waits and closes the subscriber connection it opened, not the app client', async () => {
      const countClients = async () => (await inspector.sendCommand(['CLIENT', 'LIST'])).trim().split('\n').length;
      const store = redisStore(await connect(), { prefix: nextPrefix() });
      const baseline = await countClients();
      const lock = await store.acquireLock('k', 10_000);
      const waiting = store.waitForUpdate('k', 8_000);
      for (let i = 0; i < 100 && (await countClients()) === baseline; i++) await sleep(20);
      assert.equal(await countClients(), baseline + 1, 'the first wait opened one subscriber connection');
      await store.close();
      await timed(waiting, 1_000, 'a wait ended by close()');
      for (let i = 0; i < 100 && (await countClients()) > baseline; i++) await sleep(20);
      assert.equal(await countClients(), baseline, 'the subscriber is closed');
      await lock.release(); // the app's client still works
      assert.ok(await store.acquireLock('k', 1_000));
    });

    test('while Redis is paused a call does not resolve (the BFF bounds it); after SIGCONT it resolves and the store works', async () => {
      const server = await pausableRedis();
      const store = redisStore(await connect(server.url), { prefix: nextPrefix() });
      const r = { version: 1, expiresAt: Date.now() + HOUR, data: 'sealed' };
      await store.set('k', r, 60_000);
      process.kill(server.pid, 'SIGSTOP');
      let resumed = false;
      try {
        const pending = store.get('k');
        const outcome = await Promise.race([pending.then(() => 'resolved', () => 'rejected'), sleep(300).then(() => 'pending')]);
        assert.equal(outcome, 'pending', 'no answer from a paused server');
        process.kill(server.pid, 'SIGCONT');
        resumed = true;
        await timed(pending, 5_000, 'the call after SIGCONT');
        same(await pending, r);
        assert.equal(await store.compareAndSet('k', 1, { ...r, version: 2 }, 60_000), true);
        assert.equal((await store.get('k')).version, 2);
      } finally {
        if (!resumed) process.kill(server.pid, 'SIGCONT');
        await store.close();
      }
    });
  });
}

describe('redisSessionStore: the client it takes', () => {
  test('rejects anything but a node-redis or ioredis client with NFT401', () => {
    for (const bad of [null, {}, { eval: () => {} }]) {
      assert.throws(() => redisSessionStore(bad), (err) => err.code === 'NFT401' && /node-redis 5 client .* or an ioredis client/.test(err.message));
    }
  });

  test('refuses an ioredis client with a keyPrefix (its scripts build keys ioredis would not prefix) with NFT401 pointing to prefix', () => {
    const client = new Redis('redis://127.0.0.1:1', { lazyConnect: true, keyPrefix: 'app:' });
    try {
      assert.throws(() => redisSessionStore(client), (err) => err.code === 'NFT401' && /keyPrefix/.test(err.message) && /prefix/.test(err.message));
    } finally {
      client.disconnect();
    }
  });

  test("accepts both clients' TypeScript types (tsc against the built package)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'nft-redis-types-'));
    try {
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
      writeFileSync(
        join(dir, 'check.ts'),
        [
          "import { createClient } from 'redis';",
          "import { Redis } from 'ioredis';",
          "import { redisSessionStore, type RedisSessionStore, type SessionStore } from 'ngx-fresh-token/bff';",
          'export async function check(): Promise<SessionStore[]> {',
          "  const nodeRedis = await createClient({ url: 'redis://127.0.0.1:1' }).connect();",
          "  const ioredis = new Redis('redis://127.0.0.1:1');",
          "  const a: RedisSessionStore = redisSessionStore(nodeRedis, { prefix: 'app:' });",
          '  const b = redisSessionStore(ioredis);',
          "  const lock = await b.acquireLock('k', 1000);",
          '  await lock?.release();',
          '  return [a, b];',
          '}',
          '// @ts-expect-error: a string is no Redis client',
          "redisSessionStore('redis://127.0.0.1');",
        ].join('\n'),
      );
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const res = spawnSync(
        process.execPath,
        [tsc, '--noEmit', '--strict', '--target', 'ES2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node', 'check.ts'],
        { cwd: dir, encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
