// Apps without @angular/router (issue #28), as the README's Limits describe them. The router is a required peer of
// this package (signedInGuard(), a fixed name of the core, imports it; an app that does not call the guard bundles
// none of it). Each app is a fresh `ng new --routing=false --ssr=false` from the registry with its router uninstalled:
// - Angular 22: a plain `npm install <tarball>` adds the router to node_modules by itself, with no ERESOLVE and no
//   peer warning, and leaves package.json alone;
// - Angular 21: a plain `npm install <tarball>` fails with ERESOLVE (npm picks router 22.x, whose peers want Angular
//   22); installing the router of the app's Angular with it works, with no peer warning;
// then, on both, `ng add --defaults` sets up the interceptor and provideFreshToken() and adds no guard (saying why),
// and `ng build` passes with no router code in the browser bundle.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ANGULAR_21, minutes, ng, ngNew, packTarball, run, tempDir, workspaceAngularVersion } from './helpers.mjs';

const SLOW = { timeout: 15 * 60_000 };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NO_PEER_TROUBLE = /ERESOLVE|peer dep|conflicting peer/i;
let temp;
let tarball;
const cost = {};

before(() => {
  temp = tempDir('nft-no-router-');
  tarball = packTarball(temp.dir);
});
after(() => {
  console.log(`router-less consumer cost: ${Object.entries(cost).map(([k, ms]) => `${k} ${minutes(ms)}`).join(', ')}`);
  temp?.remove();
});

/** A fresh router-less app of `version`, its router uninstalled. */
function routerlessApp(label, version) {
  const created = ngNew(temp.dir, `plain${version.split('.')[0]}`, version, ['--routing=false', '--ssr=false']);
  cost[`${label} ng new`] = created.ms;
  run(npm, ['uninstall', '--no-audit', '--no-fund', '@angular/router'], { cwd: created.app });
  assert.equal(existsSync(join(created.app, 'node_modules', '@angular', 'router')), false, 'the app has no router');
  return created.app;
}

/** ng add --defaults (no guard, saying why), then ng build: no router code in the browser bundle. */
function addAndBuild(label, app) {
  const add = ng(app, ['add', tarball, '--defaults', '--pattern=custom', '--skip-confirmation']);
  const out = add.stdout + add.stderr;
  assert.match(out, /ngx-fresh-token: src\/app\/app\.config\.ts: provideHttpClient/);
  assert.match(out, /does not use the router .*no signedInGuard\(\)/);
  const config = readFileSync(join(app, 'src', 'app', 'app.config.ts'), 'utf8');
  assert.match(config, /provideFreshToken\(/);
  assert.doesNotMatch(config, /signedInGuard/);
  const build = ng(app, ['build']);
  cost[`${label} ng build`] = build.ms;
  const files = readdirSync(join(app, 'dist'), { recursive: true }).filter((f) => String(f).endsWith('.js'));
  const bundle = files.map((f) => readFileSync(join(app, 'dist', String(f)), 'utf8')).join('\n');
  // The core is in the app (its error codes survive production builds); the router's code is not (these two
  // defaults of the Router's configuration are in every bundle that has the Router: the demo's does).
  assert.match(bundle, /NFT101/);
  assert.doesNotMatch(bundle, /emptyOnly|paramsOrQueryParamsChange/);
}

describe(`Angular 22 (${workspaceAngularVersion()}), no @angular/router`, () => {
  let app;
  test('a plain npm install of the package: no ERESOLVE, no peer warning; npm adds the router peer to node_modules, not to package.json', SLOW, () => {
    app = routerlessApp('Angular 22', workspaceAngularVersion());
    const install = run(npm, ['install', '--no-audit', '--no-fund', tarball], { cwd: app });
    cost['Angular 22 npm install'] = install.ms;
    assert.doesNotMatch(install.stdout + install.stderr, NO_PEER_TROUBLE);
    assert.ok(existsSync(join(app, 'node_modules', '@angular', 'router', 'package.json')));
    assert.equal(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).dependencies['@angular/router'], undefined);
  });

  test('ng add adds no guard (saying why); ng build passes and bundles no router code', SLOW, () => {
    assert.ok(app, 'the app was installed');
    addAndBuild('Angular 22', app);
  });
});

describe(`Angular 21 (${ANGULAR_21}), no @angular/router`, () => {
  let app;
  test('a plain npm install of the package fails with ERESOLVE (npm picks router 22.x); with the router of the app\'s Angular it installs, no peer warning', SLOW, () => {
    app = routerlessApp('Angular 21', ANGULAR_21);
    const plain = run(npm, ['install', '--no-audit', '--no-fund', tarball], { cwd: app, allowFailure: true });
    assert.notEqual(plain.status, 0);
    assert.match(plain.stdout + plain.stderr, /ERESOLVE[\s\S]*@angular\/router@22/);
    const install = run(npm, ['install', '--no-audit', '--no-fund', tarball, '@angular/router@^21'], { cwd: app });
    cost['Angular 21 npm install'] = install.ms;
    assert.doesNotMatch(install.stdout + install.stderr, NO_PEER_TROUBLE);
    const router = JSON.parse(readFileSync(join(app, 'node_modules', '@angular', 'router', 'package.json'), 'utf8'));
    assert.match(router.version, /^21\./);
  });

  test('ng add adds no guard (saying why); ng build passes and bundles no router code', SLOW, () => {
    assert.ok(app, 'the app was installed');
    addAndBuild('Angular 21', app);
  });
});
