#!/usr/bin/env node
// `npm test`: builds the library, runs every Jasmine spec in headless Chromium (Karma) and every
// Node integration test (node:test, against the built package and real loopback servers), then
// prints one closing line `N passed, N failed` from the real counts.
// On a Node older than Angular 22 needs it first re-runs itself under Node 24 (scripts/ensure-node.mjs),
// and it finds or installs Chromium before anything else (scripts/ensure-chromium.mjs), and Redis
// for the node and e2e stages (scripts/ensure-redis.mjs: REDIS_URL, else a redis-server of its own,
// stopped at the end), and a throwaway CA + server certificate for the HTTPS test IdP
// (scripts/ensure-test-tls.mjs, passed as NODE_EXTRA_CA_CERTS).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode } from './ensure-node.mjs';

await ensureNode(); // project modules are imported only after it, so nothing else runs on old Node

const { linkBuiltPackage } = await import('./link-package.mjs');
const { ensureChromium } = await import('./ensure-chromium.mjs');
const { ensureRedis } = await import('./ensure-redis.mjs');
const { ensureTestTls } = await import('./ensure-test-tls.mjs');
const { buildSchematics } = await import('./build-schematics.mjs');

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// `--only=unit,node,e2e,consumer` runs a subset (npm run e2e uses `--only=e2e`); default: everything.
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const stages = new Set(onlyArg ? onlyArg.slice(7).split(',') : ['unit', 'node', 'e2e', 'consumer']);
// Karma (unit) and Playwright (e2e) launch Chromium: find it (or stop) before touching anything.
if (stages.has('unit') || stages.has('e2e') || stages.has('consumer')) ensureChromium();
// The node and e2e stages test the Redis store against a real redis-server: REDIS_URL, or one started
// here (on a free loopback port, stopped at the end), or stop at once with the command to run.
let redis = null;
if (stages.has('node') || stages.has('e2e')) {
  try {
    redis = await ensureRedis();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
const results = join(root, 'test-results');
rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });
const ng = join(root, 'node_modules', '@angular', 'cli', 'bin', 'ng.js');
const totals = { passed: 0, failed: 0, skipped: 0 };
const env = { ...process.env, NG_CLI_ANALYTICS: 'false' };
// REDIS_PID only for a server started here: tests may pause it (SIGSTOP) to simulate a hung Redis.
const redisEnv = redis ? { REDIS_URL: redis.url, ...(redis.pid ? { REDIS_PID: String(redis.pid) } : {}) } : {};
// The BFF tests reach the real oidc-provider over HTTPS: a CA and a server certificate made for this run.
const tlsEnv = stages.has('node') || stages.has('e2e') || stages.has('consumer') ? ensureTestTls(join(results, 'tls')).env : {};

function run(label, args, extraEnv = {}, timeoutMs = undefined) {
  console.log(`\n=== ${label} ===`);
  const res = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...env, ...extraEnv }, timeout: timeoutMs, killSignal: 'SIGKILL' });
  if (res.error?.code === 'ETIMEDOUT') {
    console.error(`${label}: still running after ${Math.round(timeoutMs / 60_000)} min, stopped (a test file kept its process alive: the last file above). Counted as a failure.`);
  }
  return res.status === 0;
}

function runStep(label, fn) {
  console.log(`\n=== ${label} ===`);
  try {
    fn();
    return true;
  } catch (err) {
    console.error(err.message);
    return false;
  }
}

function addCounts(label, file, ok) {
  let counts = { passed: 0, failed: 0, skipped: 0 };
  if (existsSync(file)) counts = JSON.parse(readFileSync(file, 'utf8'));
  // A runner that crashed, or failed without a failing test, still counts as one failure.
  if (!ok && counts.failed === 0) counts.failed = 1;
  console.log(`${label}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  for (const k of Object.keys(totals)) totals[k] += counts[k] ?? 0;
}

function findNodeTests(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.mjs') && !f.includes('helpers'))
    .sort()
    .map((f) => join(dir, f));
}

// 1. Build the package (every entry, then `ng add`'s schematics); everything below tests what would be published.
if (!run('build ngx-fresh-token', [ng, 'build', 'ngx-fresh-token']) || !runStep('build schematics (ng add)', buildSchematics)) {
  totals.failed++;
} else {
  linkBuiltPackage(root);

  // 2. Jasmine specs in real headless Chromium.
  if (stages.has('unit')) {
    const karmaFile = join(results, 'karma.json');
    const karmaOk = run('unit specs (Karma, Chromium)', [ng, 'test', 'ngx-fresh-token', '--watch=false'], { NFT_COUNTS_FILE: karmaFile });
    addCounts('unit specs', karmaFile, karmaOk);
  }

  // 3. The demo (Angular SSR), built once: the node stage renders it (tests/node/ssr-demo.test.mjs) and
  // the e2e stage drives it in Chromium.
  const demoBuilt = (stages.has('node') || stages.has('e2e')) && run('build demo', [ng, 'build', 'demo']);
  if ((stages.has('node') || stages.has('e2e')) && !demoBuilt) totals.failed++;

  // 4. Node integration tests against the built package (and demo) and real loopback servers.
  if (stages.has('node')) runNodeTests('integration tests (node:test)', findNodeTests(join(root, 'tests', 'node')), 'node.json');

  // 5. End-to-end: the demo and its backend, driven by Playwright in Chromium.
  if (stages.has('e2e') && demoBuilt) runNodeTests('end-to-end tests (Playwright, Chromium)', findNodeTests(join(root, 'e2e')), 'e2e.json');

  // 6. The slower consumer stage (README, "Development": about N minutes, mostly registry installs and builds):
  // apps made with `ng new` from the npm registry, the package installed from its tarball — `ng add --defaults` on
  // Angular 22, and an Angular 21 app — built, served and checked black-box in Chromium (tests/consumer/).
  if (stages.has('consumer')) runNodeTests('consumer apps (ng new + ng add, Angular 21 and 22)', findNodeTests(join(root, 'tests', 'consumer')), 'consumer.json', 15 * 60_000, 45 * 60_000);
}

function runNodeTests(label, files, countsName, testTimeoutMs = 120_000, stageLimitMs = 25 * 60_000) {
  if (files.length) {
    const nodeFile = join(results, countsName);
    const nodeOk = run(label, [
      '--test',
      '--test-concurrency=1',
      // No --test-force-exit: with process isolation it can drop a file's last verdicts before the parent reads them
      // (nodejs/node#64833: seen here, a run that reported 469 of 478 tests, exit 0). A file whose servers outlive a
      // failure is stopped by the stage's time limit instead, loudly.
      `--test-timeout=${testTimeoutMs}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${join(root, 'scripts', 'node-test-counts.mjs')}`,
      `--test-reporter-destination=${nodeFile}`,
      ...files,
    ], { ...redisEnv, ...tlsEnv }, stageLimitMs);
    addCounts(label, nodeFile, nodeOk);
  }
}

// The server started here ends now; if this script dies before, ensure-redis's exit hook kills it.
await redis?.stop();
const skipped = totals.skipped ? `, ${totals.skipped} skipped` : '';
console.log(`\n${totals.passed} passed, ${totals.failed} failed${skipped}`);
process.exit(totals.failed === 0 && totals.passed > 0 ? 0 : 1);
