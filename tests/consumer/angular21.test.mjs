// Angular 21 (long-term support until May 2027): the package, built with Angular 22's compiler (partial
// compilation: every ɵɵngDeclare* call asks for linker minVersion 12.0.0), installed from its tarball into a fresh
// `ng new --ssr` app of Angular 21.2.26 with a plain `npm install` (the peer ranges accept 21: no
// --legacy-peer-deps), set up with `ng add --defaults`, built by Angular 21's CLI (its linker and TypeScript ~5.9),
// then checked black-box like the Angular 22 app (tests/consumer/probe.mjs): server render with the session, sign-in,
// and in Chromium the interceptor attaching the token and refreshing it after a 401.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ANGULAR_21, minutes, ng, ngNew, packTarball, run, tempDir } from './helpers.mjs';
import { addProbe, checkServedApp } from './probe.mjs';

const SLOW = { timeout: 15 * 60_000 };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let temp;
let app;
let tarball;
const cost = {};

before(() => {
  temp = tempDir('nft-ng21-');
  tarball = packTarball(temp.dir);
});
after(() => {
  console.log(`Angular 21 consumer cost: ${Object.entries(cost).map(([k, ms]) => `${k} ${minutes(ms)}`).join(', ')}`);
  temp?.remove();
});

test(`an Angular ${ANGULAR_21} app installs the package with plain npm install and ng add sets it up`, SLOW, () => {
  const created = ngNew(temp.dir, 'lts', ANGULAR_21, ['--ssr']);
  app = created.app;
  cost['ng new'] = created.ms;
  const core = JSON.parse(readFileSync(join(app, 'node_modules', '@angular', 'core', 'package.json'), 'utf8'));
  assert.match(core.version, /^21\./);
  const install = run(npm, ['install', '--no-audit', '--no-fund', tarball], { cwd: app });
  cost['npm install'] = install.ms;
  assert.doesNotMatch(install.stderr, /ERESOLVE|peer dep/i);
  const add = ng(app, ['add', tarball, '--defaults', '--skip-confirmation']);
  cost['ng add'] = add.ms;
  assert.match(add.stdout + add.stderr, /ngx-fresh-token: src\/server\.ts: createBff\(\) mounted/);
  assert.ok(existsSync(join(app, 'node_modules', 'openid-client', 'package.json')));
});

test(`Angular ${ANGULAR_21}'s CLI links and builds the app with the package`, SLOW, () => {
  assert.ok(app, 'the app was made');
  addProbe(app);
  const build = ng(app, ['build']);
  cost['ng build'] = build.ms;
  assert.ok(existsSync(join(app, 'dist', 'lts', 'server', 'server.mjs')));
});

test(`on Angular ${ANGULAR_21}: server render with the session, sign-in, and the interceptor in Chromium`, SLOW, async (t) => {
  assert.ok(existsSync(join(app ?? '', 'dist', 'lts', 'server', 'server.mjs')), 'the app was built');
  const started = Date.now();
  await checkServedApp(t, app, 'lts');
  cost['server and browser checks'] = Date.now() - started;
});
