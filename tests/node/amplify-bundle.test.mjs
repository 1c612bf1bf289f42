// aws-amplify is an optional peer dependency: only the `ngx-fresh-token/amplify` bundle may import it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const fesm = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'dist', 'ngx-fresh-token', 'fesm2022');
const amplifyImport = /(?:from\s*|import\s*\(?\s*)['"](?:aws-amplify|@aws-amplify\/[^'"]+)(?:\/[^'"]*)?['"]/;

test('the built core bundle contains no aws-amplify import', () => {
  const core = readFileSync(join(fesm, 'ngx-fresh-token.mjs'), 'utf8');
  assert.match(core, /class AuthService|AuthService = class/, 'this is the core bundle');
  assert.doesNotMatch(core, amplifyImport);
  assert.ok(!/aws-amplify/.test(core), 'not even a mention');
});

test('the built testing bundle contains no aws-amplify import', () => {
  assert.doesNotMatch(readFileSync(join(fesm, 'ngx-fresh-token-testing.mjs'), 'utf8'), amplifyImport);
});

test('the amplify entry is where aws-amplify is imported (the check above can see an import)', () => {
  const amplify = readFileSync(join(fesm, 'ngx-fresh-token-amplify.mjs'), 'utf8');
  assert.match(amplify, amplifyImport);
  assert.match(amplify, /from ['"]ngx-fresh-token['"]/, 'imports the core by package name');
});
