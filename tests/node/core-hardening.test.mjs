// Hardening across a process boundary (issue #10): a sign-out racing a late 401 from a real
// loopback API, and a destroyed injector that must not keep a Node process alive.
import { createRootInjector } from './helpers/injector.mjs';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { HttpClient, HttpErrorResponse, provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { firstValueFrom } from 'rxjs';
import { AuthService, freshTokenInterceptor, provideFreshToken, withAuthorizedUrls, withTokenSource } from 'ngx-fresh-token';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A session server: `/token` issues tokens while the session lives, `/logout` ends it after 100 ms, `/api` checks tokens (emitting `api` with each call). */
function startSessionServer() {
  const state = { sessionAlive: true, issued: 0, valid: new Set(), tokenCalls: 0, holdApi: null, apiCalls: [], events: new EventEmitter() };
  const server = createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/token') {
      state.tokenCalls++;
      if (!state.sessionAlive) return send(401, { error: 'no_session' });
      const token = `tok-${++state.issued}`;
      state.valid.add(token);
      return send(200, { accessToken: token, expiresAt: Date.now() + 600_000 });
    }
    if (req.url === '/logout') {
      await new Promise((r) => setTimeout(r, 100)); // a slow logout (server behaviour, not a wait of the test)
      state.sessionAlive = false;
      state.valid.clear();
      return send(204, {});
    }
    if (req.url.startsWith('/api')) {
      const auth = req.headers.authorization ?? null;
      state.apiCalls.push({ url: req.url, auth });
      state.events.emit('api', req.url);
      if (req.url === '/api/slow' && state.holdApi) await state.holdApi;
      const ok = auth !== null && state.valid.has(auth.slice('Bearer '.length)) && req.url !== '/api/slow';
      return send(ok ? 200 : 401, { ok });
    }
    send(404, {});
  });
  return { server, state };
}

let server;
let state;
let origin;

before(async () => {
  ({ server, state } = startSessionServer());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((r) => server.close(r)));

test('a 401 arriving while signOut() waits for a slow logout puts no token back; the next call goes without one', async () => {
  const source = {
    getToken: async () => {
      const res = await fetch(`${origin}/token`);
      if (!res.ok) throw Object.assign(new Error('token endpoint'), { status: res.status });
      return res.json();
    },
    signOut: async () => {
      await fetch(`${origin}/logout`, { method: 'POST' });
    },
  };
  const injector = createRootInjector([
    provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor])),
    provideFreshToken(withTokenSource(source), withAuthorizedUrls(origin)),
  ]);
  const http = injector.get(HttpClient);
  const auth = injector.get(AuthService);
  try {
    assert.ok(await auth.getValidToken());
    let release;
    state.holdApi = new Promise((r) => (release = r));
    const slowArrived = once(state.events, 'api', { signal: AbortSignal.timeout(5_000) });
    const slow = firstValueFrom(http.get(`${origin}/api/slow`)).catch((e) => e);
    assert.deepEqual(await slowArrived, ['/api/slow'], 'the server holds the request');
    const tokenCallsBefore = state.tokenCalls;
    const signingOut = auth.signOut();
    release(); // the API answers 401 while the logout is still in flight
    const err = await slow;
    await signingOut;
    assert.ok(err instanceof HttpErrorResponse);
    assert.equal(err.status, 401);
    assert.equal(state.tokenCalls, tokenCallsBefore, 'no refresh for a request sent before the sign-out');
    assert.equal(state.apiCalls.filter((c) => c.url === '/api/slow').length, 1, 'not retried');
    assert.equal(auth.state().status, 'signed-out');
    const next = await firstValueFrom(http.get(`${origin}/api/next`)).catch((e) => e);
    assert.equal(next.status, 401, 'the next API call is not authenticated');
    assert.equal(state.apiCalls.at(-1).auth, null, 'and carries no token');
  } finally {
    injector.destroy();
  }
});

test('a destroyed injector does not keep a Node process alive with a hanging token source', async () => {
  const script = `
    import '@angular/compiler';
    import { Injector, createEnvironmentInjector, ɵINJECTOR_SCOPE } from '@angular/core';
    import { AuthService, provideFreshToken, withTokenSource } from 'ngx-fresh-token';
    let calls = 0;
    // Destroy once the source was called and hangs (its attempt timer armed), not after a guessed delay.
    const destroy = () => { injector.destroy(); console.log('destroyed after', calls, 'call'); };
    const injector = createEnvironmentInjector(
      [{ provide: ɵINJECTOR_SCOPE, useValue: 'root' }, provideFreshToken(withTokenSource({ getToken: () => { calls++; setImmediate(destroy); return new Promise(() => {}); } }))],
      Injector.NULL,
    );
    injector.get(AuthService).getValidToken().then((t) => console.log('resolved', t), (e) => console.log('rejected', e.code));
  `;
  const started = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = await once(child, 'exit');
  clearTimeout(killer);
  const tookMs = Date.now() - started;
  assert.equal(code, 0, out);
  assert.match(out, /destroyed after 1 call/);
  assert.match(out, /resolved null/);
  // Before the fix the 10 s attempt timer and its retries kept the process alive for about 45 s.
  assert.ok(tookMs < 8_000, `exited after ${tookMs} ms`);
});
