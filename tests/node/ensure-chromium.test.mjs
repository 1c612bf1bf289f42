// How `npm test` finds Chromium (scripts/ensure-chromium.mjs): the decision as a pure function, and
// scripts/test.mjs stopping at once, before building or clearing anything, when CHROME_BIN is wrong.
// Nothing here installs a package: the apt-get branch is covered by the decision only.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { APT_INSTALL_COMMAND, CHROMIUM_PATHS, isDebianOsRelease, planChromium } from '../../scripts/ensure-chromium.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const existing = (...paths) => (p) => paths.includes(p);
const debianRoot = { isRoot: true, hasAptGet: true, isDebian: true };

describe('planChromium', () => {
  test('CHROME_BIN wins when it exists, even over /usr/bin/chromium', () => {
    assert.deepEqual(planChromium({ ...debianRoot, chromeBin: '/opt/chrome/chrome', exists: existing('/opt/chrome/chrome', '/usr/bin/chromium') }), {
      action: 'use',
      path: '/opt/chrome/chrome',
    });
  });

  test('a CHROME_BIN that does not exist stops with its name, never installs', () => {
    const plan = planChromium({ ...debianRoot, chromeBin: '/nope/chrome', exists: existing('/usr/bin/chromium') });
    assert.equal(plan.action, 'stop');
    assert.match(plan.message, /CHROME_BIN is \/nope\/chrome, which does not exist/);
  });

  test('the usual install paths, in order', () => {
    assert.deepEqual(planChromium({ ...debianRoot, exists: existing('/usr/bin/chromium', '/usr/bin/google-chrome') }).path, '/usr/bin/chromium');
    assert.deepEqual(planChromium({ ...debianRoot, exists: existing('/usr/bin/chromium-browser', '/usr/bin/google-chrome') }).path, '/usr/bin/chromium-browser');
    assert.deepEqual(planChromium({ ...debianRoot, exists: existing('/usr/bin/google-chrome-stable') }), { action: 'use', path: '/usr/bin/google-chrome-stable' });
    assert.equal(CHROMIUM_PATHS[0], '/usr/bin/chromium');
  });

  test('none found, root on Debian with apt-get → install Debian chromium, then /usr/bin/chromium', () => {
    assert.deepEqual(planChromium({ ...debianRoot, exists: existing() }), { action: 'install', path: '/usr/bin/chromium' });
  });

  test('none found, Debian but not root → stop with the exact sudo command', () => {
    const plan = planChromium({ ...debianRoot, isRoot: false, exists: existing() });
    assert.equal(plan.action, 'stop');
    assert.ok(plan.message.endsWith(`Run: sudo sh -c '${APT_INSTALL_COMMAND}'`), plan.message);
  });

  test('none found, not Debian (or no apt-get) → stop with how to point CHROME_BIN', () => {
    for (const facts of [{ ...debianRoot, isDebian: false }, { ...debianRoot, hasAptGet: false }]) {
      const plan = planChromium({ ...facts, exists: existing() });
      assert.equal(plan.action, 'stop');
      assert.match(plan.message, /^No Chromium found .*Run: CHROME_BIN=\/path\/to\/chromium npm test$/);
    }
  });
});

describe('isDebianOsRelease', () => {
  test('Debian and Debian derivatives yes, Ubuntu (snap chromium) and others no', () => {
    assert.equal(isDebianOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'), true);
    assert.equal(isDebianOsRelease('ID=raspbian\nID_LIKE=debian\n'), true);
    assert.equal(isDebianOsRelease('ID=ubuntu\nID_LIKE=debian\n'), false);
    assert.equal(isDebianOsRelease('ID=linuxmint\nID_LIKE="ubuntu debian"\n'), false);
    assert.equal(isDebianOsRelease('ID="fedora"\n'), false);
    assert.equal(isDebianOsRelease(''), false);
  });
});

describe('scripts/test.mjs and Chromium', () => {
  test('a wrong CHROME_BIN stops at once with exit 1, before building or clearing test-results', () => {
    const sentinel = join(root, 'test-results', 'ensure-chromium-sentinel');
    mkdirSync(dirname(sentinel), { recursive: true });
    writeFileSync(sentinel, 'kept');
    try {
      const res = spawnSync(process.execPath, [join(root, 'scripts/test.mjs'), '--only=unit'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 15_000,
        env: { ...process.env, CHROME_BIN: '/nonexistent/chromium' },
      });
      assert.equal(res.status, 1, res.stdout);
      assert.match(res.stderr, /CHROME_BIN is \/nonexistent\/chromium, which does not exist/);
      assert.doesNotMatch(res.stdout, /===/, 'no stage started');
      assert.ok(existsSync(sentinel), 'test-results was left alone');
    } finally {
      rmSync(sentinel, { force: true });
    }
  });
});
