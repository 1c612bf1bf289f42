#!/usr/bin/env node
// Measures the built core entry's size, minified (esbuild, production: ngDevMode=false) and
// gzipped, with Angular, RxJS and jwt-decode external (an app has them anyway, or counts them
// once). Reports the whole entry and what a typical app imports. Run after `npm run build`.
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fesm = join(root, 'dist/ngx-fresh-token/fesm2022/ngx-fresh-token.mjs');
const work = mkdtempSync(join(tmpdir(), 'nft-size-'));

async function measure(label, contents, external) {
  const entry = join(work, `${label.replace(/\W+/g, '-')}.mjs`);
  writeFileSync(entry, contents);
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    define: { ngDevMode: 'false' },
    external,
    nodePaths: [join(root, 'node_modules')],
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  const row = { label, minBytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
  console.log(`${label.padEnd(46)} ${String(row.minBytes).padStart(7)} B min  ${String(row.gzipBytes).padStart(6)} B min+gzip`);
  return row;
}

const ext = ['@angular/*', 'rxjs', 'rxjs/*'];
readFileSync(fesm); // fail clearly when the package was not built
const rows = [
  await measure('core entry, everything exported', `export * from ${JSON.stringify(fesm)};`, [...ext, 'jwt-decode']),
  await measure(
    'core as a typical app imports it',
    `export { provideFreshToken, withTokenSource, withAuthorizedUrls, freshTokenInterceptor, AuthService } from ${JSON.stringify(fesm)};`,
    [...ext, 'jwt-decode'],
  ),
  await measure('jwt-decode (dependency)', `export { jwtDecode } from 'jwt-decode';`, ext),
];
writeFileSync(join(root, 'bench', 'size.json'), JSON.stringify(rows, null, 2) + '\n');
