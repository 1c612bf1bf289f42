// `ngx-fresh-token/oauth/server` (issue #12): the session-token handler loads and runs in a plain
// Node process that never resolves a module of Angular (so neither @angular/core nor
// @angular/compiler), as a backend-for-frontend server needs. A child process imports only that
// entry, with a resolve hook that logs every module it resolves; the browser entry
// `ngx-fresh-token/oauth` is the control that proves the log sees Angular when it is loaded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const hook = join(root, 'tests', 'node', 'helpers', 'resolve-log-hook.mjs');

/** Uses a handler made by `createSessionTokenHandler` from `entry` against real Web Requests. */
const childScript = (entry) => `
  const { createSessionTokenHandler, SESSION_FORCE_REFRESH_HEADER } = await import(${JSON.stringify(entry)});
  const handler = createSessionTokenHandler({
    getSession: (request) => (request.headers.get('cookie') === 'sid=s1' ? { user: 'ada' } : null),
    issueAccessToken: (session, _request, { forceRefresh }) => ({ accessToken: (forceRefresh ? 'new-' : 'cached-') + session.user, expiresIn: 60 }),
    now: () => 1_000_000,
  });
  const url = 'http://127.0.0.1/api/session/token';
  const signedIn = await handler(new Request(url, { headers: { cookie: 'sid=s1', 'x-csrf': '1' } }));
  const forced = await handler(new Request(url, { headers: { cookie: 'sid=s1', 'x-csrf': '1', [SESSION_FORCE_REFRESH_HEADER]: '1' } }));
  const anonymous = await handler(new Request(url, { headers: { 'x-csrf': '1' } }));
  console.log(JSON.stringify({
    header: SESSION_FORCE_REFRESH_HEADER,
    signedIn: [signedIn.status, await signedIn.json(), signedIn.headers.get('cache-control')],
    forced: [forced.status, await forced.json()],
    anonymous: [anonymous.status, await anonymous.json()],
  }));
`;

/** Runs `childScript(entry)` in a fresh `node` (no NODE_OPTIONS) with the resolve log; resolves on exit. */
function runChild(entry) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', hook, '--input-type=module', '-e', childScript(entry)], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      const line = stderr.split('\n').find((l) => l.startsWith('RESOLVED '));
      done({ code, stdout, stderr, resolved: line ? JSON.parse(line.slice('RESOLVED '.length)) : null });
    });
  });
}

const angularModules = (resolved) =>
  resolved.filter(({ specifier, url }) => specifier.startsWith('@angular/') || url.includes('/node_modules/@angular/')).map((r) => r.specifier);

describe('ngx-fresh-token/oauth/server', () => {
  test('imports and answers Web Requests in plain Node without resolving any @angular/ module', async () => {
    const run = await runChild('ngx-fresh-token/oauth/server');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      header: 'X-Force-Refresh',
      signedIn: [200, { accessToken: 'cached-ada', expiresAt: 1_060_000, expiresIn: 60 }, 'no-store'],
      forced: [200, { accessToken: 'new-ada', expiresAt: 1_060_000, expiresIn: 60 }],
      anonymous: [401, { error: 'unauthenticated' }],
    });
    assert.ok(run.resolved, 'the resolve hook reported');
    assert.ok(run.resolved.some((r) => r.specifier === 'ngx-fresh-token/oauth/server'), 'the hook saw the entry being resolved');
    assert.deepEqual(angularModules(run.resolved), []);
  });

  test('control: the browser entry ngx-fresh-token/oauth does resolve Angular modules (so the log above would see them)', async () => {
    const run = await runChild('ngx-fresh-token/oauth');
    // The browser entry is partially compiled Angular code: without @angular/compiler it may fail to
    // run, but its Angular imports are resolved either way.
    assert.ok(run.resolved, run.stderr);
    assert.ok(angularModules(run.resolved).some((s) => s.startsWith('@angular/core')), JSON.stringify(angularModules(run.resolved)));
  });

  test("the built bundle imports nothing from Angular and the package exports map lists the entry", () => {
    const pkgDir = dirname(fileURLToPath(import.meta.resolve('ngx-fresh-token/package.json')));
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    const exported = pkg.exports['./oauth/server'];
    assert.ok(exported, 'package.json exports ./oauth/server');
    const bundle = readFileSync(join(pkgDir, exported.default), 'utf8');
    assert.match(bundle, /createSessionTokenHandler/);
    assert.doesNotMatch(bundle, /from\s*['"]@angular\/|import\s*\(?\s*['"]@angular\//);
    assert.ok(readFileSync(join(pkgDir, exported.types), 'utf8').includes('createSessionTokenHandler'), 'typings ship with it');
  });
});
