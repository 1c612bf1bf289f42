// `ngx-fresh-token/internal` (#24): the rules the core and every entry share — one FreshTokenError,
// one HTTP failure classifier, one refresh-buffer rule, one SHA-256/base64url — load in a plain Node
// process that never resolves an Angular module (the BFF imports them from there), and the core
// re-exports the very same objects (no copies).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const hook = join(root, 'tests', 'node', 'helpers', 'resolve-log-hook.mjs');

const childScript = `
  const { FreshTokenError, classifyHttpError, effectiveBufferMs, sha256Base64Url } = await import('ngx-fresh-token/internal');
  const error = new FreshTokenError('NFT410', 'the identity provider refused the client', { status: 500 });
  console.log(JSON.stringify({
    hash: await sha256Base64Url('opaque-token-ü'),
    buffer: [effectiveBufferMs(30000, 3600000), effectiveBufferMs(30000, 40000), effectiveBufferMs(30000, null)],
    classes: [408, 429, 503, 400].map((status) => classifyHttpError({ status }, 0).transient),
    nft410: classifyHttpError(error, 0),
    error: [error instanceof Error, error.name, error.code, error.message, error.transient],
  }));
`;

function runChild() {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', hook, '--input-type=module', '-e', childScript], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      const line = stderr.split('\n').find((l) => l.startsWith('RESOLVED '));
      done({ code, stdout, stderr, resolved: line ? JSON.parse(line.slice('RESOLVED '.length)) : [] });
    });
  });
}

test('ngx-fresh-token/internal runs in plain Node without resolving any @angular/ module', async () => {
  const run = await runChild();
  assert.equal(run.code, 0, run.stderr);
  const angular = run.resolved.filter(({ specifier, url }) => specifier.startsWith('@angular/') || url.includes('/node_modules/@angular/'));
  assert.deepEqual(angular, []);
  const out = JSON.parse(run.stdout);
  assert.equal(out.hash, createHash('sha256').update('opaque-token-ü').digest('base64url'), 'the same bytes as X-Replaces-Token on the server');
  assert.deepEqual(out.buffer, [30000, 20000, 30000], 'min(buffer, half the lifetime)');
  assert.deepEqual(out.classes, [true, true, true, false], '408 is transient everywhere');
  assert.equal(out.nft410.transient, false, 'a configuration error is never retried');
  assert.equal(out.nft410.code, 'NFT410');
  assert.deepEqual(out.error, [true, 'FreshTokenError', 'NFT410', 'NFT410: the identity provider refused the client', false]);
});

test('the core re-exports the very same FreshTokenError, classifyHttpError and effectiveBufferMs (one of each, no copies)', async () => {
  await import('@angular/compiler');
  const core = await import('ngx-fresh-token');
  const internal = await import('ngx-fresh-token/internal');
  assert.equal(core.FreshTokenError, internal.FreshTokenError);
  assert.equal(core.classifyHttpError, internal.classifyHttpError);
  assert.equal(core.effectiveBufferMs, internal.effectiveBufferMs);
  const oauth = await import('ngx-fresh-token/oauth');
  assert.ok(oauth.OAuthErrorCode, 'the oauth entry loads against the same internal entry');
});
