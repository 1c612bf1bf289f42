// The integration contract (issue #12): entries use only the core's public API, the core exports
// no ɵ name, and the server-side helpers load in plain Node without Angular.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lib = join(root, 'projects', 'ngx-fresh-token');

function sources(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: join(dir, f), text: readFileSync(join(dir, f), 'utf8') }));
}

test('no entry (testing included) touches a ɵ member of the core', () => {
  const offenders = [];
  for (const entry of ['amplify', 'oauth', 'centrifugo', 'testing']) {
    for (const { file, text } of sources(join(lib, entry))) {
      // Member access (`auth.ɵx`) and ɵ names imported from the core package.
      for (const m of text.matchAll(/\.ɵ\w+/g)) offenders.push(`${file}: ${m[0]}`);
      for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'ngx-fresh-token'/g)) {
        for (const name of m[1].split(',').map((n) => n.trim())) if (name.includes('ɵ')) offenders.push(`${file}: imports ${name}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

test("the core's public API exports no ɵ name", async () => {
  const publicApi = readFileSync(join(lib, 'src', 'public-api.ts'), 'utf8');
  assert.doesNotMatch(publicApi, /ɵ/);
  await import('@angular/compiler');
  const exported = Object.keys(await import('ngx-fresh-token'));
  assert.ok(exported.includes('AuthService') && exported.includes('retryOnUnauthorized'), 'found the runtime exports');
  assert.deepEqual(exported.filter((n) => n.includes('ɵ')), []);
});
