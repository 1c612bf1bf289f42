// The package exactly as it would be published: `npm pack` of dist/ngx-fresh-token (the file list
// is what `npm pack --dry-run` prints), unpacked and checked with publint and
// @arethetypeswrong/core (both read the tarball offline) and with the checks below.
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core';
import { build } from 'esbuild';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = join(root, 'dist', 'ngx-fresh-token');
const ENTRY_POINTS = ['.', './amplify', './bff', './centrifugo', './centrifugo/server', './dpop', './internal', './oauth', './oauth/server', './testing'];
/** Everything a published file may be: built bundles and their maps, bundled types, the manifest, the docs and `ng add`'s schematics. */
const ALLOWED = /^(fesm2022\/ngx-fresh-token(-[a-z-]+)?\.mjs(\.map)?|types\/ngx-fresh-token(-[a-z-]+)?\.d\.ts|package\.json|README\.md|LICENSE|CHANGELOG\.md|schematics\/(collection\.json|package\.json|ng-add\/[a-z-]+\.(js|json)))$/;

let work;
let tarball;
let files;
let unpacked;
let pkg;

const packed = (path) => readFileSync(join(unpacked, path), 'utf8');

before(() => {
  assert.ok(existsSync(join(dist, 'package.json')), 'build the package first (npm run build)');
  work = mkdtempSync(join(tmpdir(), 'nft-pack-'));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: dist, encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const [info] = JSON.parse(res.stdout);
  files = info.files.map((f) => f.path).sort();
  tarball = join(work, info.filename);
  // npm tarballs hold everything under package/.
  const tar = spawnSync('tar', ['-xzf', tarball, '-C', work], { encoding: 'utf8' });
  assert.equal(tar.status, 0, tar.stderr);
  unpacked = join(work, 'package');
  pkg = JSON.parse(packed('package.json'));
});

after(() => work && rmSync(work, { recursive: true, force: true }));

test('npm pack lists README.md, LICENSE and CHANGELOG.md beside package.json', () => {
  for (const name of ['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json']) assert.ok(files.includes(name), `${name} is packed`);
});

test('the packed LICENSE is the repository MIT license text, and package.json says MIT', () => {
  const license = packed('LICENSE');
  assert.equal(license, readFileSync(join(root, 'LICENSE'), 'utf8'));
  assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} /);
  assert.match(license, /Permission is hereby granted, free of charge/);
  assert.equal(pkg.license, 'MIT');
});

test('the packed CHANGELOG is the repository CHANGELOG, with an Unreleased section', () => {
  const changelog = packed('CHANGELOG.md');
  assert.equal(changelog, readFileSync(join(root, 'CHANGELOG.md'), 'utf8'));
  assert.match(changelog, /^## \[Unreleased\]$/m);
});

test('the packed README covers install, quick start, every entry point, the guard, and where the full docs are', () => {
  const readme = packed('README.md');
  for (const heading of ['# ngx-fresh-token', '## Install', '## Quick start', '## Entry points', '## Documentation', '## License']) {
    assert.match(readme, new RegExp(`^${heading}$`, 'm'), heading);
  }
  assert.match(readme, /npm install ngx-fresh-token/);
  assert.match(readme, /provideFreshToken\(/);
  assert.match(readme, /freshTokenInterceptor/);
  assert.match(readme, /signedInGuard\(\)/);
  for (const entry of ENTRY_POINTS) {
    const name = entry === '.' ? 'ngx-fresh-token' : `ngx-fresh-token/${entry.slice(2)}`;
    assert.match(readme, new RegExp(`\\| \`${name.replace('/', '\\/')}\` \\|`), `the entry table lists ${name}`);
  }
  for (const peer of Object.keys(pkg.peerDependencies)) assert.ok(readme.includes(`\`${peer}\``), `the README names the peer ${peer}`);
});

test('every target of the exports map is packed, with types first and a default', () => {
  assert.deepEqual(Object.keys(pkg.exports).filter((k) => k !== './package.json').sort(), [...ENTRY_POINTS].sort());
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (subpath === './package.json') continue;
    assert.deepEqual(Object.keys(target), ['types', 'default'], `${subpath}: types, then default`);
    for (const file of Object.values(target)) {
      assert.ok(file.startsWith('./'), file);
      assert.ok(files.includes(file.slice(2)), `${subpath} → ${file} is in the tarball`);
    }
  }
  assert.ok(files.includes(pkg.module) && files.includes(pkg.typings), 'module and typings point at packed files');
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.sideEffects, false);
});

test('the tarball holds only built code, types and docs: no specs, sources, nested manifests or secrets', () => {
  const unexpected = files.filter((f) => !ALLOWED.test(f));
  assert.deepEqual(unexpected, [], 'unexpected files in the tarball');
  for (const file of files) {
    const text = packed(file);
    assert.doesNotMatch(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, `${file}: a private key`);
    assert.doesNotMatch(text, /\bAKIA[0-9A-Z]{16}\b/, `${file}: an AWS access key id`);
    assert.doesNotMatch(text, /eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}/, `${file}: a JWT`);
    assert.doesNotMatch(text, /\b(describe|fdescribe|fit)\(['"]/, `${file}: spec code`);
  }
  assert.ok(!files.some((f) => /\.spec\.|\.ts$/.test(f.replace(/\.d\.ts$/, ''))), 'no spec or TypeScript source file');
});

test('peer dependencies: Angular 21 or 22; @angular/router for signedInGuard; aws-amplify, centrifuge, openid-client, jose, redis, ioredis and ws stay optional', () => {
  // Angular 21 and 22: tests/consumer/angular21.test.mjs builds and runs an Angular 21 app with this package.
  for (const name of ['@angular/common', '@angular/core', '@angular/router']) assert.equal(pkg.peerDependencies[name], '^21.0.0 || ^22.0.0', name);
  assert.equal(pkg.peerDependenciesMeta?.['@angular/router'], undefined, 'a required peer: every routed Angular app has it');
  assert.deepEqual(Object.keys(pkg.peerDependenciesMeta).sort(), ['aws-amplify', 'centrifuge', 'ioredis', 'jose', 'openid-client', 'redis', 'ws']);
  for (const name of ['aws-amplify', 'centrifuge', 'ioredis', 'jose', 'openid-client', 'redis', 'ws']) assert.equal(pkg.peerDependenciesMeta[name].optional, true);
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['jwt-decode', 'tslib']);
});

test('publint: nothing to fix, not even a suggestion', async () => {
  const data = readFileSync(tarball);
  const { messages } = await publint({
    pkgDir: 'package', // the folder inside the tarball
    level: 'suggestion',
    pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
  });
  assert.deepEqual(messages.map((m) => `${m.type}: ${formatMessage(m, pkg, { color: false })}`), []);
});

test('are the types wrong: every entry resolves to its types under node16 (ESM) and bundler resolution', async () => {
  const analysis = await checkPackage(createPackageFromTarballData(new Uint8Array(readFileSync(tarball))));
  assert.equal(analysis.types.kind, 'included');
  // The package is ESM only, like Angular's own: CommonJS `require` and the pre-exports `node10`
  // resolution are out of scope (the "esm-only" profile of the attw CLI).
  const ignored = new Set(['node10', 'node16-cjs']);
  // (An import between entries, such as the core's of `ngx-fresh-token/internal`, is an internal
  // resolution problem under node10 only: `resolutionOption`, same scope.)
  const problems = analysis.problems.filter((p) => !ignored.has(p.resolutionKind ?? p.resolutionOption));
  assert.deepEqual(problems, []);
  for (const entry of ENTRY_POINTS) {
    for (const kind of ['node16-esm', 'bundler']) {
      const resolution = analysis.entrypoints[entry]?.resolutions[kind]?.resolution;
      assert.match(resolution?.fileName ?? '', /\/types\/ngx-fresh-token(-[a-z-]+)?\.d\.ts$/, `${entry} (${kind})`);
    }
  }
});

/** Bundles `code` as an app would (esbuild, production, every dependency bundled) and returns the output. */
async function bundle(code) {
  const out = await build({
    stdin: { contents: code, resolveDir: unpacked, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    define: { ngDevMode: 'false' },
    nodePaths: [join(root, 'node_modules')],
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

test('an app that does not use signedInGuard bundles no router code (tree-shaking)', async () => {
  const core = JSON.stringify(join(unpacked, 'fesm2022', 'ngx-fresh-token.mjs'));
  const without = await bundle(`export { provideFreshToken, withTokenSource, freshTokenInterceptor, AuthService } from ${core};`);
  const withGuard = await bundle(`export { provideFreshToken, withTokenSource, freshTokenInterceptor, AuthService, signedInGuard } from ${core};`);
  // The same marker must be found when the guard is used, or the check could not see router code.
  const routerCode = /NavigationCancel|RouterStateSnapshot|UrlSerializer|router/i;
  assert.match(withGuard, routerCode);
  assert.doesNotMatch(without, routerCode);
  assert.ok(withGuard.length - without.length > 50_000, 'the router is a big part of the bundle that uses the guard');
});
