// The end-to-end check of `ng add ngx-fresh-token` (issue #28), the way a new user meets it: a fresh `ng new --ssr`
// app from the npm registry (Angular 22, its own CLI in a temp folder), `ng add <the packed tarball> --defaults`,
// a second `ng add` that changes nothing, `ng build`, then the built server started against a real OpenID
// Connect provider (oidc-provider over HTTPS, tests/node/helpers/bff-idp.mjs) with only the variables
// .env.example names: it serves pages, its BFF signs a user in, /session/token hands out a token and the
// guarded page renders signed in on the server, and in Chromium the interceptor attaches the token and refreshes it
// after a 401 (tests/consumer/probe.mjs). Slow (registry installs and two builds): the README's
// "Development" section states its cost; `npm test` runs it in its consumer stage.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { minutes, ng, ngNew, packTarball, tempDir, workspaceAngularVersion } from './helpers.mjs';
import { addProbe, checkServedApp } from './probe.mjs';

const SLOW = { timeout: 15 * 60_000 };
let temp;
let app;
let tarball;
const cost = {};

before(() => {
  temp = tempDir('nft-ng-add-');
  tarball = packTarball(temp.dir);
});
after(() => {
  console.log(`ng add end-to-end cost: ${Object.entries(cost).map(([k, ms]) => `${k} ${minutes(ms)}`).join(', ')}`);
  temp?.remove();
});

test('ng new --ssr (Angular 22, from the registry) then ng add ngx-fresh-token --defaults writes the set-up', SLOW, () => {
  const created = ngNew(temp.dir, 'shop', workspaceAngularVersion(), ['--ssr']);
  app = created.app;
  cost['ng new'] = created.ms;
  const add = ng(app, ['add', tarball, '--defaults', '--skip-confirmation']);
  cost['ng add'] = add.ms;
  const out = add.stdout + add.stderr;
  assert.match(out, /ngx-fresh-token: src\/app\/app\.config\.ts: provideHttpClient/);
  assert.match(out, /ngx-fresh-token: src\/server\.ts: createBff\(\) mounted/);
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  assert.ok(pkg.dependencies['ngx-fresh-token'], 'ngx-fresh-token in dependencies');
  assert.ok(pkg.dependencies['openid-client'], 'openid-client in dependencies');
  assert.ok(existsSync(join(app, 'node_modules', 'openid-client', 'package.json')), 'openid-client installed');
  assert.match(readFileSync(join(app, 'src', 'app', 'app.config.ts'), 'utf8'), /withInterceptors\(\[freshTokenInterceptor\]\)/);
  assert.ok(existsSync(join(app, '.env.example')));
});

test('a second ng add changes nothing and says so', SLOW, () => {
  assert.ok(app, 'the app was made');
  const files = ['src/app/app.config.ts', 'src/server.ts', 'src/app/app.routes.ts', 'src/app/app.routes.server.ts', '.env.example', '.gitignore'];
  const before = files.map((f) => readFileSync(join(app, f), 'utf8'));
  const again = ng(app, ['add', tarball, '--defaults', '--skip-confirmation']);
  cost['second ng add'] = again.ms;
  assert.match(again.stdout + again.stderr, /already set up in "shop": nothing to change/);
  assert.deepEqual(files.map((f) => readFileSync(join(app, f), 'utf8')), before);
});

test('ng build passes (with a probe page and API added for the checks below)', SLOW, () => {
  assert.ok(app, 'the app was made');
  addProbe(app);
  const build = ng(app, ['build']);
  cost['ng build'] = build.ms;
  assert.ok(existsSync(join(app, 'dist', 'shop', 'server', 'server.mjs')));
});

test('the built server serves the app; its BFF signs in against a real OpenID provider; the interceptor works in Chromium', SLOW, async (t) => {
  assert.ok(existsSync(join(app ?? '', 'dist', 'shop', 'server', 'server.mjs')), 'the app was built');
  const started = Date.now();
  await checkServedApp(t, app, 'shop');
  cost['server and browser checks'] = Date.now() - started;
});
