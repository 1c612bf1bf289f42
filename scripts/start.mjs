#!/usr/bin/env node
// `npm start`: builds the library and the demo (Angular SSR), then starts the dev backend, which
// serves the demo, a real OpenID Connect provider and the protected API on http://localhost:4300.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linkBuiltPackage } from './link-package.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ng = join(root, 'node_modules', '@angular', 'cli', 'bin', 'ng.js');
for (const project of ['ngx-fresh-token', 'demo']) {
  console.log(`Building ${project}…`);
  const res = spawnSync(process.execPath, [ng, 'build', project], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (res.status !== 0) {
    console.error(`Building ${project} failed (exit ${res.status}).`);
    process.exit(1);
  }
}
linkBuiltPackage(root);
await import('../projects/demo-server/main.mjs');
