#!/usr/bin/env node
// Builds `ng add ngx-fresh-token` into the built package: ng-packagr compiles only the Angular entries, so the
// schematics (CommonJS, run by the Angular CLI in Node) are compiled here with their own tsconfig, next to their
// collection.json and schema.json, in dist/ngx-fresh-token/schematics. Run after `ng build ngx-fresh-token`
// (which empties dist/ngx-fresh-token): `npm run build` and `npm test` do both.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'projects', 'ngx-fresh-token', 'schematics');
const out = join(root, 'dist', 'ngx-fresh-token', 'schematics');

export function buildSchematics() {
  if (!existsSync(join(root, 'dist', 'ngx-fresh-token', 'package.json'))) {
    throw new Error('build-schematics: dist/ngx-fresh-token is missing; run `ng build ngx-fresh-token` first.');
  }
  rmSync(out, { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const res = spawnSync(process.execPath, [tsc, '-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
  if (res.status !== 0) throw new Error('build-schematics: tsc failed');
  // Every JSON file (collection.json, each schematic's schema.json) but the tsconfig, at the same relative path.
  for (const file of readdirSync(src, { recursive: true }).map(String)) {
    if (!file.endsWith('.json') || file === 'tsconfig.json') continue;
    mkdirSync(dirname(join(out, file)), { recursive: true });
    copyFileSync(join(src, file), join(out, file));
  }
  // The package is "type": "module"; the CLI loads schematics with require().
  writeFileSync(join(out, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
  console.log(`schematics built: ${relative(root, out)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    buildSchematics();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
