// How `npm test` finds Redis (scripts/ensure-redis.mjs): the decision as a pure function, a real
// redis-server started and stopped on a free loopback port (paused included), and scripts/test.mjs
// stopping at once, before building, when REDIS_URL is wrong. Nothing here installs a package: the
// apt-get branch is covered by the decision only.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  DEBIAN_REDIS_SERVER,
  REDIS_APT_INSTALL_COMMAND,
  ensureRedis,
  findOnPath,
  isDebianLikeOsRelease,
  planRedis,
  startRedisServer,
} from '../../scripts/ensure-redis.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const debianRoot = { isRoot: true, hasAptGet: true, isDebian: true };

describe('planRedis', () => {
  test('REDIS_URL wins, even over a redis-server on PATH', () => {
    assert.deepEqual(planRedis({ ...debianRoot, redisUrl: 'redis://10.0.0.5:6380/2', serverOnPath: '/usr/bin/redis-server' }), {
      action: 'use',
      url: 'redis://10.0.0.5:6380/2',
    });
    assert.equal(planRedis({ ...debianRoot, redisUrl: 'rediss://user:pw@cache.example:6380' }).action, 'use');
  });

  test('a REDIS_URL that is no redis URL stops with how to fix it, never starts or installs', () => {
    const plan = planRedis({ ...debianRoot, redisUrl: 'localhost:6379', serverOnPath: '/usr/bin/redis-server' });
    assert.equal(plan.action, 'stop');
    assert.match(plan.message, /^REDIS_URL is not a redis:\/\/ or rediss:\/\/ URL/);
  });

  test('no REDIS_URL, redis-server on PATH → start that binary', () => {
    assert.deepEqual(planRedis({ ...debianRoot, serverOnPath: '/opt/redis/bin/redis-server' }), { action: 'start', path: '/opt/redis/bin/redis-server' });
    assert.deepEqual(planRedis({ isRoot: false, hasAptGet: false, isDebian: false, serverOnPath: '/usr/local/bin/redis-server' }).action, 'start');
  });

  test('none, root on Debian with apt-get → install Debian redis-server, then start /usr/bin/redis-server', () => {
    assert.deepEqual(planRedis({ ...debianRoot, serverOnPath: null }), { action: 'install', path: DEBIAN_REDIS_SERVER });
  });

  test('none, Debian but not root → one line with the exact sudo command', () => {
    const plan = planRedis({ ...debianRoot, isRoot: false, serverOnPath: null });
    assert.equal(plan.action, 'stop');
    assert.equal(plan.message, `No Redis found (REDIS_URL unset, no redis-server on PATH). Run: sudo sh -c '${REDIS_APT_INSTALL_COMMAND}'`);
    assert.doesNotMatch(plan.message, /\n/);
  });

  test('none, not Debian (or no apt-get) → one line saying to set REDIS_URL or put redis-server on PATH', () => {
    for (const facts of [{ ...debianRoot, isDebian: false }, { ...debianRoot, hasAptGet: false }]) {
      const plan = planRedis({ ...facts, serverOnPath: null });
      assert.equal(plan.action, 'stop');
      assert.match(plan.message, /^No Redis found .*Run: REDIS_URL=redis:\/\/host:port npm test \(or put redis-server on PATH\)$/);
    }
  });
});

describe('findOnPath and isDebianLikeOsRelease', () => {
  test('the first executable of that name in PATH order', () => {
    const exe = (...paths) => (p) => paths.includes(p);
    const path = ['/a', '', '/b', '/c'].join(delimiter);
    assert.equal(findOnPath('redis-server', path, exe('/b/redis-server', '/c/redis-server')), '/b/redis-server');
    assert.equal(findOnPath('redis-server', path, exe()), null);
    assert.equal(findOnPath('redis-server', undefined, exe('/redis-server')), null);
  });

  test('Debian and its derivatives (Ubuntu too: its archive has redis-server), not others', () => {
    assert.equal(isDebianLikeOsRelease('ID=debian\nVERSION_ID="12"\n'), true);
    assert.equal(isDebianLikeOsRelease('ID=ubuntu\nID_LIKE=debian\n'), true);
    assert.equal(isDebianLikeOsRelease('ID=linuxmint\nID_LIKE="ubuntu debian"\n'), true);
    assert.equal(isDebianLikeOsRelease('ID="fedora"\n'), false);
    assert.equal(isDebianLikeOsRelease(''), false);
  });
});

/** Sends one inline command and resolves with the first reply line, or 'no answer' after `ms`. */
function ask(port, command, ms = 1_000) {
  return new Promise((resolveReply) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (value) => {
      socket.destroy();
      resolveReply(value);
    };
    socket.setTimeout(ms, () => done('no answer'));
    socket.once('error', (err) => done(`error ${err.code}`));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk;
      if (reply.includes('\r\n')) done(reply.split('\r\n')[0]);
    });
  });
}

describe('startRedisServer and ensureRedis (a real redis-server)', () => {
  const binary = findOnPath('redis-server', process.env.PATH, existsSync);

  test('starts on a free 127.0.0.1 port without persistence, and stop() ends it even while paused', async () => {
    assert.ok(binary, 'redis-server is on PATH (see scripts/ensure-redis.mjs)');
    const server = await startRedisServer(binary);
    try {
      const port = Number(new URL(server.url).port);
      assert.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(await ask(port, 'PING'), '+PONG');
      // CONFIG GET answers over several lines: read the three replies whole.
      const config = await new Promise((done) => {
        const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('CONFIG GET appendonly\r\nCONFIG GET bind\r\nCONFIG GET save\r\n'));
        let text = '';
        socket.on('data', (c) => {
          text += c;
          if (text.split('\r\n').length >= 16) {
            socket.destroy();
            done(text);
          }
        });
      });
      assert.match(config, /appendonly\r\n\$2\r\nno/);
      assert.match(config, /bind\r\n\$9\r\n127\.0\.0\.1/);
      assert.match(config, /save\r\n\$0\r\n\r\n/);
      process.kill(server.pid, 'SIGSTOP');
      assert.equal(await ask(port, 'PING', 300), 'no answer');
    } finally {
      await server.stop();
    }
    assert.throws(() => process.kill(server.pid, 0), /ESRCH/, 'the process is gone');
  });

  test('a binary that is no redis-server rejects with what it printed, leaving nothing behind', async () => {
    const fake = join(root, 'test-results', 'fake-redis-server');
    mkdirSync(dirname(fake), { recursive: true });
    writeFileSync(fake, '#!/bin/sh\necho "fatal: this is not redis" >&2\nexit 3\n', { mode: 0o755 });
    try {
      await assert.rejects(startRedisServer(fake, { readyTimeoutMs: 3_000 }), /did not start on 127\.0\.0\.1:\d+ \(fatal: this is not redis\)/);
    } finally {
      rmSync(fake, { force: true });
    }
  });

  test('ensureRedis uses REDIS_URL as given, starting nothing', async () => {
    const redis = await ensureRedis({ env: { PATH: '', REDIS_URL: 'redis://127.0.0.1:1' } });
    assert.equal(redis.url, 'redis://127.0.0.1:1');
    assert.equal(redis.pid, undefined);
    await redis.stop();
  });

  test('ensureRedis starts the redis-server on PATH when REDIS_URL is unset', async () => {
    const redis = await ensureRedis({ env: { PATH: dirname(binary) } });
    try {
      assert.ok(redis.pid > 0);
      assert.equal(await ask(Number(new URL(redis.url).port), 'PING'), '+PONG');
    } finally {
      await redis.stop();
    }
  });
});

describe('scripts/test.mjs and Redis', () => {
  test('a wrong REDIS_URL stops at once with exit 1 and one line, before building or clearing test-results', () => {
    const sentinel = join(root, 'test-results', 'ensure-redis-sentinel');
    mkdirSync(dirname(sentinel), { recursive: true });
    writeFileSync(sentinel, 'kept');
    try {
      const res = spawnSync(process.execPath, [join(root, 'scripts/test.mjs'), '--only=node'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 15_000,
        env: { ...process.env, REDIS_URL: 'not-a-url' },
      });
      assert.equal(res.status, 1, res.stdout);
      assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
      assert.match(res.stderr, /REDIS_URL is not a redis:\/\/ or rediss:\/\/ URL/);
      assert.doesNotMatch(res.stdout, /===/, 'no stage started');
      assert.ok(existsSync(sentinel), 'test-results was left alone');
    } finally {
      rmSync(sentinel, { force: true });
    }
  });
});

// Nothing started here may outlive the file.
test('leaves no redis-server of its own running', async () => {
  await sleep(50);
  const mine = spawnSync('pgrep', ['-P', String(process.pid), 'redis-server'], { encoding: 'utf8' });
  assert.equal(mine.stdout.trim(), '');
});
