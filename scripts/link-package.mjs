// Makes `ngx-fresh-token` (and its entries) resolve to the built package from Node code in this
// workspace (integration tests, the demo backend), as an app's node_modules would.
import { lstatSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

export function linkBuiltPackage(root) {
  const link = join(root, 'node_modules', 'ngx-fresh-token');
  try {
    lstatSync(link);
  } catch {
    symlinkSync(join(root, 'dist', 'ngx-fresh-token'), link, 'dir');
  }
}
