// An app without @angular/router (issue #28): the router is an optional peer of this package (only signedInGuard()
// needs it, and loads it on first use), so a router-less app installs the packed package with a plain `npm install`
// — no ERESOLVE, no peer warning, no router pulled in — and `ng build` passes with no warning about it. Checked on
// Angular 21 (where the router as a required peer made npm fail with ERESOLVE: npm picked router 22.x, whose peers
// want Angular 22) and on Angular 22, each a fresh `ng new --routing=false` from the registry with its router removed.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ANGULAR_21, minutes, ng, ngNew, packTarball, run, tempDir, workspaceAngularVersion } from './helpers.mjs';

const SLOW = { timeout: 15 * 60_000 };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
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

for (const [label, version] of [
  ['Angular 21', ANGULAR_21],
  ['Angular 22', workspaceAngularVersion()],
]) {
  describe(`${label} (${version}), no @angular/router`, () => {
    let app;
    test('a plain npm install of the package: no ERESOLVE, no peer warning, no router installed', SLOW, () => {
      const name = `plain${version.split('.')[0].replace(/\D/g, '')}`;
      const created = ngNew(temp.dir, name, version, ['--routing=false', '--ssr=false']);
      app = created.app;
      cost[`${label} ng new`] = created.ms;
      run(npm, ['uninstall', '--no-audit', '--no-fund', '@angular/router'], { cwd: app });
      assert.equal(existsSync(join(app, 'node_modules', '@angular', 'router')), false, 'the app has no router');
      const install = run(npm, ['install', '--no-audit', '--no-fund', tarball], { cwd: app });
      cost[`${label} npm install`] = install.ms;
      assert.doesNotMatch(install.stdout + install.stderr, /ERESOLVE|peer dep|conflicting peer/i);
      assert.equal(existsSync(join(app, 'node_modules', '@angular', 'router')), false, 'npm did not install the optional router peer');
      const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
      assert.equal(pkg.dependencies['@angular/router'], undefined);
    });

    test('ng add --defaults sets up the interceptor and provideFreshToken, and adds no guard (saying why); ng build passes with no router warning', SLOW, () => {
      assert.ok(app, 'the app was made');
      const add = ng(app, ['add', tarball, '--defaults', '--pattern=custom', '--skip-confirmation']);
      const out = add.stdout + add.stderr;
      assert.match(out, /ngx-fresh-token: src\/app\/app\.config\.ts: provideHttpClient/);
      assert.match(out, /no router \(@angular\/router\): no signedInGuard\(\)/);
      const config = readFileSync(join(app, 'src', 'app', 'app.config.ts'), 'utf8');
      assert.match(config, /provideFreshToken\(/);
      assert.doesNotMatch(config, /signedInGuard/);
      const build = ng(app, ['build']);
      cost[`${label} ng build`] = build.ms;
      assert.doesNotMatch(build.stdout + build.stderr, /angular\/router|Could not resolve/i);
      const browser = readdirSync(join(app, 'dist'), { recursive: true }).filter((f) => String(f).endsWith('.js'));
      const bundle = browser.map((f) => readFileSync(join(app, 'dist', String(f)), 'utf8')).join('\n');
      // The core is in the app (its error codes survive production builds), and nothing of the router is.
      assert.match(bundle, /NFT101/);
      assert.doesNotMatch(bundle, /@angular\/router/);
    });
  });
}
