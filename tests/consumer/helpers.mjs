// Shared harness of the consumer-app checks (tests/consumer/*.test.mjs): apps made as a user makes them —
// `ng new` from the npm registry with a CLI of their own (`npx -p @angular/cli@<version>`, in a temp folder outside
// this workspace, whose own CLI refuses `ng new` inside it) — and the package as a user gets it: the tarball
// `npm pack` makes of dist/ngx-fresh-token.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const dist = join(root, 'dist', 'ngx-fresh-token');
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** No analytics prompt, no interactive prompts, no colours in what the assertions read. */
const quietEnv = { ...process.env, NG_CLI_ANALYTICS: 'false', NG_FORCE_TTY: 'false', CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' };

/** A temp folder, removed by the returned function. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a command to its end; returns { stdout, stderr, ms } and fails the test, with its output, on a non-zero exit. */
export function run(command, args, { cwd, env = {}, allowFailure = false } = {}) {
  const started = Date.now();
  const res = spawnSync(command, args, { cwd, env: { ...quietEnv, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = { status: res.status, stdout: res.stdout ?? '', stderr: res.stderr ?? '', ms: Date.now() - started };
  if (!allowFailure) {
    assert.equal(res.status, 0, `${command} ${args.join(' ')} exited ${res.status}:\n${out.stdout.slice(-4000)}\n${out.stderr.slice(-4000)}`);
  }
  return out;
}

/** The tarball npm would publish: `npm pack` of dist/ngx-fresh-token into `dir`. */
export function packTarball(dir) {
  const res = run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: dist });
  return join(dir, JSON.parse(res.stdout)[0].filename);
}

/** `ng new <name>` with @angular/cli@<version> from the registry, in `dir`; returns the app folder. */
export function ngNew(dir, name, cliVersion, flags = []) {
  const res = run(npx, ['-y', '-p', `@angular/cli@${cliVersion}`, 'ng', 'new', name, '--defaults', '--skip-git', '--skip-tests', ...flags], { cwd: dir });
  return { app: join(dir, name), ms: res.ms };
}

/** The app's own Angular CLI (node_modules/.bin/ng), as `npx ng` in the app runs it. */
export function ng(app, args, options = {}) {
  return run(npx, ['--no-install', 'ng', ...args], { cwd: app, ...options });
}

/** A free loopback port. */
export async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * Starts `node <entry>` (the app's built SSR server) on `port` and waits until it answers; returns
 * { origin, stop(), output() }. The process is killed by stop() (and when this test process exits).
 */
export async function startNodeServer(app, entry, port, env = {}) {
  const child = spawn(process.execPath, [entry], { cwd: app, env: { ...quietEnv, PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const kill = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  const origin = `http://localhost:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output}`);
    try {
      await fetch(`${origin}/favicon.ico`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`the server did not answer within 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    origin,
    output: () => output,
    async stop() {
      process.removeListener('exit', kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      kill();
    },
  };
}

/** The newest Angular 21 (long-term support until May 2027) the registry here serves. */
export const ANGULAR_21 = '21.2.26';

/** The workspace's pinned Angular CLI version (22.x) — the one the library is built with. */
export function workspaceAngularVersion() {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies['@angular/cli'];
}

/** Minutes and seconds, for the log lines that document each stage's cost. */
export const minutes = (ms) => `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
