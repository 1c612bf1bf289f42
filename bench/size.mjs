#!/usr/bin/env node
// Size of every entry of the built package and of each peer's bundle, one method for all:
// esbuild bundle + minify, `define: { ngDevMode: 'false', ngServerMode: 'false' }` (a production
// browser build, as Angular's application builder defines them for the browser bundle), Angular and RxJS
// external (an app has them anyway), then gzip -9. Each entry of ngx-fresh-token is measured
// without the core (`ngx-fresh-token` external: counted once, in the core row) and without its
// optional peer (aws-amplify, centrifuge); jwt-decode, the core's one dependency, has its own row.
// Peers are measured the same way, with their own dependencies bundled (keycloak-js: own row).
//   node bench/size.mjs            (after `npm run build`; peers from bench/node_modules)
//   node bench/size.mjs --dist=/path/to/dist/ngx-fresh-token   (another build, e.g. an older commit's, to compare)
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const DIST = join(root, 'dist', 'ngx-fresh-token');
const ANGULAR_RXJS = ['@angular/*', 'rxjs', 'rxjs/*'];
const OPTIONAL_PEERS = ['aws-amplify', 'aws-amplify/*', 'centrifuge'];
// The server entries' Node built-ins (the bff's proxy streams through node:http): a server has them.
const NODE_BUILTINS = ['node:*'];

async function measure(label, contents, external) {
  const work = join(here, '.apps', 'size');
  mkdirSync(work, { recursive: true });
  const entry = join(work, `${label.replace(/\W+/g, '-')}.mjs`);
  writeFileSync(entry, contents);
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    define: { ngDevMode: 'false', ngServerMode: 'false' },
    external,
    nodePaths: [join(here, 'node_modules'), join(root, 'node_modules')],
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  return { label, minBytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
}

/** `{ entries: [...], peers: [...] }`; entries follow dist/ngx-fresh-token/package.json "exports". */
export async function measureSizes({ dist = DIST } = {}) {
  const pkg = JSON.parse(readFileSync(join(dist, 'package.json'), 'utf8'));
  const fesm = (sub) => join(dist, pkg.exports[sub].default);
  const entries = [];
  for (const sub of Object.keys(pkg.exports)) {
    if (sub === './package.json' || !pkg.exports[sub].default) continue;
    const name = sub === '.' ? 'ngx-fresh-token' : `ngx-fresh-token/${sub.slice(2)}`;
    const external = [...ANGULAR_RXJS, ...OPTIONAL_PEERS, ...NODE_BUILTINS, 'jwt-decode', 'ngx-fresh-token', 'ngx-fresh-token/*'];
    entries.push({ entry: name, ...(await measure(`${name}, everything exported`, `export * from ${JSON.stringify(fesm(sub))};`, external)) });
    if (sub === '.') {
      entries.push({
        entry: 'ngx-fresh-token (typical app)',
        ...(await measure(
          'core as a typical app imports it',
          // provideFreshToken(withTokenSource(...), withAuthorizedUrls(...)), the interceptor, and
          // AuthService (auth.state() is a member of it, so always in).
          `export { provideFreshToken, withTokenSource, withAuthorizedUrls, freshTokenInterceptor, AuthService } from ${JSON.stringify(fesm(sub))};`,
          [...ANGULAR_RXJS, 'jwt-decode'],
        )),
      });
      // Tokens per API (#25): the typical app plus one named token, and what injectAuth() adds.
      const label = 'core as a typical app with one named token imports it';
      entries.push({
        entry: 'ngx-fresh-token (typical app + one withApiToken)',
        ...(await measure(
          label,
          `export { provideFreshToken, withTokenSource, withAuthorizedUrls, freshTokenInterceptor, AuthService, withApiToken, injectAuth } from ${JSON.stringify(fesm(sub))};`,
          [...ANGULAR_RXJS, 'jwt-decode'],
        ).catch(() => ({ label, error: 'no withApiToken in this build (before #25)' }))),
      });
      // The BFF proxy (#26): the typical app plus proxied paths, and the proxy-only app (no token source).
      entries.push({
        entry: 'ngx-fresh-token (typical app + withBffProxy)',
        ...(await measure(
          'core as a typical app with proxied paths imports it',
          `export { provideFreshToken, withTokenSource, withAuthorizedUrls, freshTokenInterceptor, AuthService, withBffProxy } from ${JSON.stringify(fesm(sub))};`,
          [...ANGULAR_RXJS, 'jwt-decode'],
        )),
      });
      entries.push({
        entry: 'ngx-fresh-token (proxy only: withBffSession + withBffProxy)',
        ...(await measure(
          'core as a proxy-only app imports it',
          `export { provideFreshToken, withBffSession, withBffProxy, freshTokenInterceptor, AuthService } from ${JSON.stringify(fesm(sub))};`,
          [...ANGULAR_RXJS, 'jwt-decode'],
        )),
      });
      entries.push({ entry: 'jwt-decode', ...(await measure('jwt-decode (dependency of the core)', `export { jwtDecode } from 'jwt-decode';`, ANGULAR_RXJS)) });
    }
  }
  const peerSpecs = [
    ['@auth0/angular-jwt', `export * from '@auth0/angular-jwt';`, ANGULAR_RXJS],
    ['angular-oauth2-oidc', `export * from 'angular-oauth2-oidc';`, ANGULAR_RXJS],
    ['keycloak-angular', `export * from 'keycloak-angular';`, [...ANGULAR_RXJS, 'keycloak-js']],
    ['keycloak-js', `export { default } from 'keycloak-js';`, ANGULAR_RXJS],
    ['angular-auth-oidc-client', `export * from 'angular-auth-oidc-client';`, ANGULAR_RXJS],
  ];
  const peers = [];
  for (const [peer, contents, external] of peerSpecs) {
    // `npm run bench` installs them; alone, this script measures the package even without them.
    if (!existsSync(join(here, 'node_modules', peer, 'package.json'))) {
      peers.push({ peer, label: peer, error: 'not installed in bench/node_modules (npm run bench installs it)' });
      continue;
    }
    peers.push({ peer, ...(await measure(peer, contents, external)) });
  }
  return { entries, peers };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const distArg = process.argv.find((a) => a.startsWith('--dist='));
  const { entries, peers } = await measureSizes(distArg ? { dist: resolve(distArg.slice(7)) } : {});
  for (const row of [...entries, ...peers]) {
    if (row.error) {
      console.log(`${row.label.padEnd(46)} ${row.error}`);
      continue;
    }
    console.log(`${row.label.padEnd(46)} ${String(row.minBytes).padStart(7)} B min  ${String(row.gzipBytes).padStart(6)} B min+gzip`);
  }
}
