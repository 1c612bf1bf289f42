#!/usr/bin/env node
// `npm run bench`: every measurement of issue #15 in one run, one table, bench/results.json.
//   1. size of each entry of ngx-fresh-token and of each peer (bench/size.mjs)
//   2. bytes added to a minimal Angular app's initial JS by `ng build` (bench/apps.mjs)
//   3. per-request overhead with a fresh token, 1 URL and 1 000 URLs (bench/overhead.mjs), and with
//      3 tokens and 20 URL rules against 1 token and 1 rule (bench/api-tokens.mjs, #25)
//   4. storms: expired token, concurrent 401s, the refresh APIs (bench/storms.mjs)
//   5. waiting on a refresh, before/after zero-wait refresh (bench/refresh-wait.mjs)
// Builds the package first when dist/ is missing (or with --rebuild), installs the peers into
// bench/node_modules from bench/package-lock.json when they are missing, links the built package.
//   node bench/run.mjs [--quick] [--no-apps] [--rebuild] [--json=path]
// --quick: no ng builds, fewer requests and rounds (a smoke run, about a minute); its results
// go to bench/.apps/results-quick.json unless --json is given. Absolute times depend on the machine.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const withApps = !quick && !args.includes('--no-apps');
const jsonArg = args.find((a) => a.startsWith('--json='));
const out = jsonArg ? resolve(jsonArg.slice(7)) : quick ? join(here, '.apps', 'results-quick.json') : join(here, 'results.json');
const log = (...a) => console.error(...a);
const started = Date.now();
const phaseMs = {};

function phase(name, fn) {
  const t = Date.now();
  log(`\n[bench] ${name}`);
  const result = fn();
  const done = (value) => {
    phaseMs[name] = Date.now() - t;
    log(`[bench] ${name}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    return value;
  };
  return result instanceof Promise ? result.then(done) : done(result);
}

function run(cmd, cmdArgs, opts = {}) {
  const res = spawnSync(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NG_CLI_ANALYTICS: 'false' }, ...opts });
  if (res.status !== 0) throw new Error(`${[cmd, ...cmdArgs].join(' ')} exited with ${res.status ?? res.signal}`);
}

// 0. The package, the peers, the link.
const fesm = join(root, 'dist', 'ngx-fresh-token', 'fesm2022', 'ngx-fresh-token.mjs');
if (args.includes('--rebuild') || !existsSync(fesm)) {
  phase('build ngx-fresh-token (dist was missing)', () => run(process.execPath, [join(root, 'node_modules', '@angular', 'cli', 'bin', 'ng.js'), 'build', 'ngx-fresh-token'], { cwd: root }));
}
const benchPkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const missingPeers = Object.entries(benchPkg.devDependencies).filter(([name, version]) => {
  try {
    return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version !== version;
  } catch {
    return true;
  }
});
if (missingPeers.length) {
  phase('npm ci in bench/ (peers)', () => {
    const npm = process.env.npm_execpath;
    const npmArgs = ['ci', '--no-audit', '--no-fund'];
    // bench/.npmrc has legacy-peer-deps: the peers use the root's Angular, RxJS and aws-amplify.
    if (npm && npm.endsWith('.js')) run(process.execPath, [npm, ...npmArgs], { cwd: here });
    else run('npm', npmArgs, { cwd: here, shell: process.platform === 'win32' });
  });
}
const { linkBuiltPackage } = await import(pathToFileURL(join(root, 'scripts', 'link-package.mjs')).href);
linkBuiltPackage(root);
mkdirSync(join(here, '.apps'), { recursive: true });

function child(script, extra = [], env = {}) {
  const file = join(here, '.apps', `${script.replace(/\.mjs$/, '')}.json`);
  run(process.execPath, [join(here, script), ...extra, `--json=${file}`], { cwd: root, env: { ...process.env, ...env } });
  return JSON.parse(readFileSync(file, 'utf8'));
}

// 1–5.
const { measureSizes } = await import('./size.mjs');
const sizes = await phase('1. sizes (esbuild, ngDevMode=false, gzip -9)', () => measureSizes());
let apps = null;
if (withApps) {
  const { measureApps } = await import('./apps.mjs');
  apps = phase('2. ng build: minimal apps', () => measureApps({ log }));
}
const overhead = phase('3. per-request overhead', () => child('overhead.mjs', quick ? ['--quick'] : []));
const apiTokens = phase('3b. per-request overhead, tokens per API', () => child('api-tokens.mjs', quick ? ['--quick'] : []));
const storms = phase('4. storms', () => child('storms.mjs', [], quick ? { STORM_N: '200' } : {}));
const refreshWait = phase('5. refresh wait (bench/refresh-wait.mjs)', () => child('refresh-wait.mjs', [], quick ? { N: '200' } : {}));

const cpus = os.cpus();
const machine = {
  cpu: cpus[0]?.model ?? 'unknown',
  cores: cpus.length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform}/${process.arch}`,
};

// The table.
const plural = (n, word) => `${fmt(n)} ${word}${n === 1 ? '' : 's'}`;
const fmt = (n) => (n === undefined || n === null ? '?' : Math.round(n).toLocaleString('en-US').replace(/,/g, ' '));
const byEntry = Object.fromEntries(sizes.entries.map((e) => [e.entry, e.gzipBytes]));
const byPeer = Object.fromEntries(sizes.peers.map((p) => [p.peer, p.gzipBytes]));
const oh = Object.fromEntries(overhead.rows.map((r) => [r.name, r]));
const st = Object.fromEntries(storms.rows.map((r) => [r.name, r]));
const LIBS = ['ngx-fresh-token', '@auth0/angular-jwt', 'angular-oauth2-oidc', 'keycloak-angular', 'angular-auth-oidc-client'];
const APP_OF = { '@auth0/angular-jwt': 'auth0-angular-jwt', 'angular-oauth2-oidc': 'angular-oauth2-oidc', 'keycloak-angular': 'keycloak-angular', 'angular-auth-oidc-client': 'angular-auth-oidc-client' };
const added = (name) => {
  const row = apps?.[name];
  if (!apps) return 'not run (--quick / --no-apps)';
  if (!row || row.error) return `failed: ${row?.error?.split('\n')[0] ?? 'missing'}`;
  return `+${fmt(row.addedGzipBytes)}`;
};
const perRequest = (name, set) => {
  const r = oh[name];
  if (!r || r.error) return `not measured: ${r?.error ?? 'missing'}`;
  const ratio = r[set].ratioToFastestPeer;
  return `${fmt(r[set].addedNs)} ns (${ratio === undefined ? '?' : ratio.toFixed(2)}×)`;
};
const perFloor = (name, set) => {
  const ratio = oh[name]?.[set]?.ratioToFloors?.floor;
  return ratio === undefined ? '?' : `${ratio.toFixed(2)}×`;
};
const floorNs = (name, set) => (oh[name] && !oh[name].error ? `${fmt(oh[name][set].addedNs)} ns` : 'not measured');
const appSaw = (seen) =>
  Object.entries(seen ?? {})
    .map(([status, n]) => `${fmt(n)} × ${status}`)
    .join(' + ');
const storm = (name, kind) => {
  const r = st[name]?.[kind];
  if (!r) return '?';
  if (r.error) return `error: ${r.error}`;
  const calls = name === 'ngx-fresh-token' ? plural(r.sourceCalls, 'source call') : plural(r.tokenEndpointCalls, 'token request');
  const retried = r.api.ok && r.api.unauthorized ? `, ${fmt(r.api.unauthorized)} retried` : '';
  return `${calls} · app got ${appSaw(r.appSaw)}${retried}`;
};
const direct = (name) => {
  const r = st[name]?.direct;
  if (!r) return '— (no refresh API)';
  if (r.error) return `error: ${r.error}`;
  return `${r.call}: ${plural(r.tokenEndpointCalls, 'token request')}`;
};
const sync = (name) => {
  const r = oh[name];
  if (!r || r.error) return '?';
  const calls = name === 'ngx-fresh-token' ? ` · ${r.counterDeltas.sourceCalls} source calls` : name === '@auth0/angular-jwt' ? ' · tokenGetter per request' : '';
  return `${r.synchronous ? 'synchronous' : 'through a promise'}${calls}`;
};
const N = storms.requests;
const rw = refreshWait.results;
const ms = (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`);

const otherEntries = sizes.entries
  .filter((e) => !['ngx-fresh-token', 'ngx-fresh-token (typical app)', 'jwt-decode'].includes(e.entry))
  .map((e) => `${e.entry.replace('ngx-fresh-token/', '')} ${fmt(e.gzipBytes)}`)
  .join(' · ');
const nftApps = apps
  ? [
      `core ${added('nft-core')}`,
      `core + oauth ${added('nft-oauth')}`,
      `core + amplify ${added('nft-amplify')} (${apps['nft-amplify']?.addedGzipBytesVsAmplifyApp === undefined ? '?' : `+${fmt(apps['nft-amplify'].addedGzipBytesVsAmplifyApp)}`} to an app already on aws-amplify)`,
    ].join(' · ')
  : added('nft-core');

const at = Object.fromEntries(apiTokens.rows.map((r) => [r.name, r]));
const tokensPerApi = (set) =>
  `3 tokens, 20 rules ${fmt(at['3 tokens, 20 rules'][set].addedNs)} ns vs 1 token, 1 rule ${fmt(at['1 token, 1 rule'][set].addedNs)} ns: ${at['3 tokens, 20 rules'][set].ratioToSingle.toFixed(2)}× (spread over the 3 tokens: ${at['3 tokens, 20 rules, spread'][set].ratioToSingle.toFixed(2)}×)`;
const rows = [
  ['Size: whole entry, min+gzip (B)', `core ${fmt(byEntry['ngx-fresh-token'])} (typical app ${fmt(byEntry['ngx-fresh-token (typical app)'])}; with one withApiToken ${fmt(byEntry['ngx-fresh-token (typical app + one withApiToken)'])}) + jwt-decode ${fmt(byEntry['jwt-decode'])}`, fmt(byPeer['@auth0/angular-jwt']), fmt(byPeer['angular-oauth2-oidc']), `${fmt(byPeer['keycloak-angular'])} + keycloak-js ${fmt(byPeer['keycloak-js'])}`, fmt(byPeer['angular-auth-oidc-client'])],
  ['Size: other entries, min+gzip (B)', otherEntries, '—', '—', '—', '—'],
  ['ng build: added to a minimal app\'s initial JS, gzip (B)', nftApps, ...LIBS.slice(1).map((l) => added(APP_OF[l]))],
  ['Per request, fresh token, 1 URL: added (× fastest peer)', ...LIBS.map((l) => perRequest(l, 'oneUrl'))],
  ['Per request, fresh token, 1 000 URLs: added (× fastest peer)', ...LIBS.map((l) => perRequest(l, 'thousandUrls'))],
  ['Per request: × the floor (clone + set header + one catchError), 1 URL · 1 000 URLs', ...LIBS.map((l) => `${perFloor(l, 'oneUrl')} · ${perFloor(l, 'thousandUrls')}`)],
  ['Fresh path', ...LIBS.map(sync)],
  ['Tokens per API, 1 URL: added per request (× 1 token, 1 rule)', tokensPerApi('oneUrl'), '—', '—', '—', '—'],
  ['Tokens per API, 1 000 URLs: added per request (× 1 token, 1 rule)', tokensPerApi('thousandUrls'), '—', '—', '—', '—'],
  [`Storm: ${fmt(N)} requests on an expired token`, ...LIBS.map((l) => storm(l, 'expired'))],
  [`Storm: ${fmt(N)} concurrent 401s`, ...LIBS.map((l) => storm(l, 'unauthorized'))],
  [`${fmt(N)} concurrent calls of the refresh API`, ...LIBS.map(direct)],
  [
    `Refresh wait: ${fmt(rw[0].requests)} requests 20 s before expiry, endpoint ${refreshWait.endpointLatencyMs} ms (median · total wait)`,
    `before ${rw[0].medianMs} ms · ${ms(rw[0].totalWaitMs)}; after ${rw[1].medianMs} ms · ${ms(rw[1].totalWaitMs)}; ${rw[0].sourceCalls === rw[1].sourceCalls ? `${plural(rw[0].sourceCalls, 'source call')} each` : `${rw[0].sourceCalls} / ${rw[1].sourceCalls} source calls`}`,
    '—',
    '—',
    '—',
    '—',
  ],
];
const header = ['Measure', ...LIBS];
const esc = (c) => String(c).replace(/\|/g, '\\|');
const table = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
const plain = oh['HttpClient alone'];
const caption =
  `ngx-fresh-token bench${quick ? ' (--quick: fewer requests, no ng builds)' : ''} — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node} ${machine.platform}; ` +
  `HttpClient alone: ${fmt(plain?.oneUrl?.nsPerRequest)} ns/request (1 URL), ${fmt(plain?.thousandUrls?.nsPerRequest)} ns (1 000 URLs); ` +
  `${fmt(overhead.requestsPerRound)} requests × ${overhead.rounds} alternating rounds, medians; ratios from this run.`;
const notes = [
  'Sizes: esbuild bundle + minify, ngDevMode=false and ngServerMode=false (a browser build), Angular/RxJS external, gzip -9; entries of ngx-fresh-token without the core and without aws-amplify/centrifuge.',
  `ng build: @angular/build:application, production; gzip -9 of the JS index.html loads up front, minus the baseline app (${apps?.baseline ? `${fmt(apps.baseline.gzipBytes)} B` : 'not built'}: provideHttpClient, one component with one GET).`,
  'Per request: HttpClient over a synchronous in-memory backend; "added" = median over rounds of (library − HttpClient alone) in the same round; × = added ÷ the fastest peer\'s added.',
  `The floor (an interceptor that only clones the request, sets the header and watches for a 401 with one catchError): ${floorNs('floor', 'oneUrl')} (1 URL), ${floorNs('floor', 'thousandUrls')} (1 000 URLs); without the catchError: ${floorNs('floor without catchError', 'oneUrl')}, ${floorNs('floor without catchError', 'thousandUrls')}.`,
  `Storms: real HTTP (withFetch) to a loopback server whose token endpoint answers in ${storms.tokenEndpointLatencyMs} ms and whose API answers 401 to an expired or revoked token.`,
  ...storms.rows.flatMap((r) => Object.entries(r.notes ?? {}).map(([k, v]) => `${r.name} (${k}): ${v}`)),
];
const errors = [
  ...sizes.peers.filter((p) => p.error).map((p) => `size: ${p.peer}: ${p.error}`),
  ...overhead.rows.filter((r) => r.error).map((r) => `per request: ${r.name}: ${r.error}`),
  ...Object.entries(apps ?? {}).filter(([, r]) => r.error).map(([k, r]) => `ng build ${k}: ${r.error}`),
];

console.log(`\n${caption}\n\n${table}\n`);
for (const n of notes) console.log(`- ${n}`);
for (const e of errors) console.log(`! ${e}`);
const totalMs = Date.now() - started;
console.log(`\nTotal ${(totalMs / 1000).toFixed(0)} s (${Object.entries(phaseMs).map(([k, v]) => `${k.split(' ')[0]} ${(v / 1000).toFixed(0)} s`).join(', ')}). Results: ${out}`);

mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), quick, machine, totalMs, phaseMs, caption, table, notes, errors, sizes, apps, overhead, apiTokens, storms, refreshWait }, null, 2)}\n`,
);
process.exit(errors.length ? 1 : 0);
