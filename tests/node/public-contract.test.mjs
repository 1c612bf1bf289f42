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
  for (const entry of ['amplify', 'oauth', 'centrifugo', 'dpop', 'testing']) {
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

/** Every `.d.ts` the package publishes, with its text. */
function publishedDeclarations() {
  const dist = join(root, 'dist', 'ngx-fresh-token');
  return readdirSync(dist, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.d.ts'))
    .map((f) => ({ file: f, text: readFileSync(join(dist, f), 'utf8') }));
}

test('no ɵ member of ours appears in a published .d.ts (stripInternal); only the declarations Angular\'s compiler writes', () => {
  const declarations = publishedDeclarations();
  assert.ok(declarations.length > 0, 'the package is built');
  // What Angular's compiler puts into every d.ts of an @Injectable/@Component (ɵfac, ɵprov, …) and
  // the types it names them with (i0.ɵɵFactoryDeclaration, …) are the compiler's, not this package's.
  const compilers = /^(ɵfac|ɵprov|ɵinj|ɵmod|ɵcmp|ɵdir|ɵpipe|ɵɵ\w+)$/;
  const ours = [];
  for (const { file, text } of declarations) {
    for (const m of text.matchAll(/ɵ[\wɵ$]*/g)) if (!compilers.test(m[0])) ours.push(`${file}: ${m[0]}`);
  }
  assert.deepEqual([...new Set(ours)], []);
});
