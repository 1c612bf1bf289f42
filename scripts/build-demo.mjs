// Builds the library and the demo (Angular SSR) and links the built package for the demo backend:
// shared by `npm start` and `npm run demo:amplify`.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linkBuiltPackage } from './link-package.mjs';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function buildDemo() {
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
}
