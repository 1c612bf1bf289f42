// `npm test` finds the Redis the Redis tests use, the way scripts/ensure-chromium.mjs finds Chromium:
// REDIS_URL, else a `redis-server` on PATH started on a free loopback port with no persistence (and
// stopped after), else Debian's redis-server package installed with apt-get when running as root on
// Debian (its system service stopped again), else one line with the exact command to run.
// No mock and no downloaded binary: the tests that make claims about Redis talk to a real server.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const REDIS_APT_INSTALL_COMMAND = 'apt-get update && apt-get install -y redis-server';
/** Where Debian's package puts the binary. */
export const DEBIAN_REDIS_SERVER = '/usr/bin/redis-server';

/** True when /etc/os-release names Debian or a derivative (Ubuntu included: its archive has redis-server too). */
export function isDebianLikeOsRelease(text) {
  const field = (name) => (new RegExp(`^${name}="?([^"\\n]*)"?`, 'm').exec(text || '') || [])[1] || '';
  return `${field('ID')} ${field('ID_LIKE')}`.split(/\s+/).includes('debian');
}

/** The first executable `name` in the `PATH` string, or null. */
export function findOnPath(name, pathEnv, isExecutable) {
  for (const dir of (pathEnv || '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/**
 * Decides, from facts only, which Redis the tests use: `use` (REDIS_URL as given), `start` (that
 * redis-server binary, on a free loopback port), `install` (Debian's package with apt-get, then
 * start /usr/bin/redis-server) or `stop` (one line with the exact command to run).
 */
export function planRedis({ redisUrl, serverOnPath, isRoot, hasAptGet, isDebian }) {
  if (redisUrl) {
    if (/^rediss?:\/\/[^\s]+$/.test(redisUrl)) return { action: 'use', url: redisUrl };
    return { action: 'stop', message: `REDIS_URL is not a redis:// or rediss:// URL: set it to e.g. redis://127.0.0.1:6379, or unset it.` };
  }
  if (serverOnPath) return { action: 'start', path: serverOnPath };
  if (isDebian && hasAptGet && isRoot) return { action: 'install', path: DEBIAN_REDIS_SERVER };
  const command = isDebian && hasAptGet ? `sudo sh -c '${REDIS_APT_INSTALL_COMMAND}'` : 'REDIS_URL=redis://host:port npm test (or put redis-server on PATH)';
  return { action: 'stop', message: `No Redis found (REDIS_URL unset, no redis-server on PATH). Run: ${command}` };
}

/** A port the kernel just gave out on 127.0.0.1 (free a moment ago; startRedisServer retries if taken). */
export function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true once a PING on `port` is answered with PONG. */
function pings(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * Starts `binary` on a free 127.0.0.1 port with no persistence and resolves, once it answers PING,
 * to `{ url, pid, stop() }`. `stop()` resumes a paused server (tests SIGSTOP it), ends it and waits.
 * The server is also killed when this process exits, so a forgotten one never outlives the tests.
 */
export async function startRedisServer(binary, { readyTimeoutMs = 10_000 } = {}) {
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeLoopbackPort();
    const logFile = join(tmpdir(), `nft-redis-${process.pid}-${port}.log`);
    const log = openSync(logFile, 'w');
    // stdout/stderr go to a file, never a pipe: `npm test` blocks in spawnSync while this server runs,
    // and a full pipe would stall it.
    const child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes'],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    child.unref();
    let exited = null;
    const exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exited = { code, signal };
        resolve();
      });
      child.once('error', (err) => {
        exited = { error: err };
        resolve();
      });
    });
    const killOnExit = () => {
      try {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      } catch {}
    };
    process.once('exit', killOnExit);
    const deadline = Date.now() + readyTimeoutMs;
    while (!exited && Date.now() < deadline && !(await pings(port))) await new Promise((r) => setTimeout(r, 50));
    if (!exited && Date.now() < deadline) {
      return {
        url: `redis://127.0.0.1:${port}`,
        pid: child.pid,
        async stop() {
          process.removeListener('exit', killOnExit);
          if (!exited) {
            child.kill('SIGCONT'); // a paused server handles no SIGTERM
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
            await exitPromise;
            clearTimeout(timer);
          }
          rmSync(logFile, { force: true });
        },
      };
    }
    killOnExit();
    process.removeListener('exit', killOnExit);
    await exitPromise;
    const output = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    rmSync(logFile, { force: true });
    lastError = new Error(`${binary} did not start on 127.0.0.1:${port}${exited?.error ? `: ${exited.error.message}` : ''}${output ? ` (${output})` : ''}`);
    // Only a port taken in the meantime is worth another try.
    if (!/Address already in use/i.test(output)) break;
  }
  throw lastError;
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function aptInstallRedis() {
  console.log("No redis-server found; installing Debian's redis-server package with apt-get (once)…");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'redis-server']]) {
    const res = spawnSync('apt-get', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env });
    if (res.status !== 0) {
      process.stderr.write(`${res.stdout || ''}${res.stderr || ''}`);
      throw new Error(`apt-get ${args.join(' ')} failed; run: ${REDIS_APT_INSTALL_COMMAND}`);
    }
  }
  // The package starts a system service on port 6379; the tests use their own server, not that one.
  spawnSync('service', ['redis-server', 'stop'], { stdio: 'ignore' });
  if (!existsSync(DEBIAN_REDIS_SERVER)) throw new Error(`apt-get installed redis-server but ${DEBIAN_REDIS_SERVER} is missing; set REDIS_URL.`);
}

/**
 * Finds (installing it if it may) or starts the Redis for the tests: resolves to `{ url, stop() }`
 * plus `pid` when it started the server itself (then `stop()` ends it; otherwise it does nothing).
 * Rejects with one line saying what to run when there is no Redis to be had.
 */
export async function ensureRedis({ env = process.env } = {}) {
  const plan = planRedis({
    redisUrl: env.REDIS_URL,
    serverOnPath: findOnPath('redis-server', env.PATH, isExecutable),
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    hasAptGet: existsSync('/usr/bin/apt-get'),
    isDebian: existsSync('/etc/os-release') && isDebianLikeOsRelease(readFileSync('/etc/os-release', 'utf8')),
  });
  if (plan.action === 'stop') throw new Error(plan.message);
  if (plan.action === 'use') return { url: plan.url, async stop() {} };
  if (plan.action === 'install') aptInstallRedis();
  return startRedisServer(plan.path);
}
