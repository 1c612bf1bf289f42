// ONE BFF instance in its own process, for the multi-instance tests and the benchmark:
// createBff + redisSessionStore (node-redis 5 or ioredis, as told) — or the memory store — behind a
// tiny HTTP server on 127.0.0.1, which prints `{"port":N,"pid":N}` on stdout once it listens.
//
//   parent:  const bff = await spawnBffInstance({ issuer, redisUrl, client: 'ioredis', ... });
//            bff.origin, bff.pid, bff.kill('SIGKILL'), await bff.stop()
//   child:   this file run by node with the config (JSON) in NFT_BFF_INSTANCE.
//
// The child leaves when its parent goes (the IPC channel closes), so a failed test never leaves one
// behind. Test hooks, over IPC only (the benchmark uses none):
//   { hook: 'pause-after-token-response' } the next refresh-grant answer from the IdP is read in
//     full, then the process stops itself (SIGSTOP) before the BFF sees it: a holder frozen between
//     the IdP's answer and its compare-and-set (a GC pause, a frozen VM). The parent SIGCONTs it.
//   { hook: 'pause-before-token-request', freshTimeout? } the same, but before the refresh grant is
//     sent; openid-client's timeout, armed before, lapses while frozen and aborts it on thaw, unless
//     `freshTimeout` (a freeze just before openid-client was called: the request then goes out).
// and reports { request: url } as each request arrives (unless `reportRequests: false`),
//   { hook: 'memory', at } runs a full GC and reports { memory: { rss, at } } (what the process retains).
//   { hook: 'fail-compare-and-set', times? } the next `times` (1) compareAndSet calls of the store
//     throw (a store that fails the write after the IdP answered).
// { event: 'refresh' | 'session-ended' | … } (the BFF's onEvent, no token), { cas: ok | 'failed' }
// for every compareAndSet of the store, and { paused: 'after-token-response' | … } before stopping.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { toWebRequest, writeNodeResponse } from './web-request.mjs';

const SELF = fileURLToPath(import.meta.url);

/**
 * Starts one BFF process; resolves once it listens. `config`: { issuer, clientId, clientSecret,
 * redirectUri, postLogoutRedirectUri?, scope, secrets, allowedOrigins?, store: 'redis' | 'memory',
 * redisUrl?, client?: 'node-redis' | 'ioredis', prefix?, port? (0), name?, storeTimeoutMs?,
 * tokenRequestTimeoutMs?, refreshBufferMs?, minRefreshIntervalMs?, keptGrantMs?, apis?, resource?, dpop? ({ privateKey: JWK }), reportRequests? (true), module? (another build of ngx-fresh-token/bff, by path: the benchmark's --vs), adapter? ('angular': @angular/ssr/node's) }.
 */
export async function spawnBffInstance(config, { readyTimeoutMs = 20_000 } = {}) {
  const child = fork(SELF, [], {
    // --expose-gc: the { hook: 'memory' } message measures what the process retains, not garbage.
    // NFT_BFF_PROFILE=<dir>: each instance writes a CPU profile there (node --cpu-prof) when it stops.
    execArgv: ['--expose-gc', ...(process.env.NFT_BFF_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.NFT_BFF_PROFILE}`] : [])],
    env: { ...process.env, NFT_BFF_INSTANCE: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const messages = [];
  child.on('message', (m) => messages.push(m));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let exit = null;
  void exited.then((e) => (exit = e));
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`BFF instance ${config.name ?? ''} did not start in ${readyTimeoutMs} ms: ${stderr}`)), readyTimeoutMs);
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line);
        if (typeof msg.port === 'number') {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        // not the ready line
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`BFF instance ${config.name ?? ''} exited (${e.code ?? e.signal}) before listening: ${stderr}`));
    });
  });
  let info;
  try {
    info = await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    name: config.name,
    port: info.port,
    pid: child.pid,
    origin: `http://localhost:${info.port}`,
    child,
    messages,
    /** Resolves with the first IPC message matching `predicate` (seen already or coming), or rejects after `ms`. */
    nextMessage(predicate, ms, what = 'a message', from = 0) {
      const seen = messages.slice(from).find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const onMessage = (m) => {
          if (!predicate(m)) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m);
        };
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`timed out after ${ms} ms waiting for ${what} from ${config.name ?? 'the BFF instance'}`));
        }, ms);
        child.on('message', onMessage);
      });
    },
    send: (msg) => child.send(msg),
    alive: () => exit === null,
    exited,
    stderr: () => stderr,
    kill: (signal = 'SIGTERM') => {
      if (exit === null) child.kill(signal);
    },
    /** Ends the process (resuming it first if it was stopped) and waits for it. */
    async stop() {
      if (exit !== null) return exit;
      try {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      } catch {
        // gone already
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      const e = await exited;
      clearTimeout(timer);
      return e;
    },
  };
}

// ─── the child ────────────────────────────────────────────────────────────────────────────────

async function runInstance(config) {
  const { createBff, memorySessionStore, redisSessionStore } = await import(config.module ?? 'ngx-fresh-token/bff');
  const report = (msg) => process.connected && process.send(msg);
  let redisClient = null;
  let closeClient = () => undefined;
  let store;
  if (config.store === 'memory') {
    store = memorySessionStore();
  } else if (config.client === 'ioredis') {
    const { Redis } = await import('ioredis');
    redisClient = new Redis(config.redisUrl, { lazyConnect: true });
    redisClient.on('error', () => undefined); // a paused or stopped Redis must not end the process
    await redisClient.connect();
    closeClient = () => redisClient.disconnect();
    store = redisSessionStore(redisClient, { prefix: config.prefix });
  } else {
    const { createClient } = await import('redis');
    redisClient = createClient({ url: config.redisUrl });
    redisClient.on('error', () => undefined);
    await redisClient.connect();
    closeClient = () => redisClient.destroy();
    store = redisSessionStore(redisClient, { prefix: config.prefix });
  }
  let failCas = 0;
  // Reports the outcome of every fence write (what the multi-instance tests assert on).
  const casReporting = {
    ...Object.fromEntries(Object.entries(store).map(([k, v]) => [k, typeof v === 'function' ? v.bind(store) : v])),
    async compareAndSet(key, expectedVersion, record, ttlMs) {
      if (failCas > 0) {
        // Test hook: the store fails this write (a timeout, a failover) after the IdP answered.
        failCas--;
        report({ cas: 'failed', expectedVersion });
        throw new Error('injected store failure');
      }
      const ok = await store.compareAndSet(key, expectedVersion, record, ttlMs);
      report({ cas: ok, expectedVersion });
      return ok;
    },
  };

  // Test hooks on the refresh grant (openid-client calls the global fetch at request time).
  let pauseHook = null;
  let hookFreshTimeout = false;
  const realFetch = globalThis.fetch;
  const stopSelf = (what) =>
    new Promise((resolve) => {
      const stop = () => {
        process.kill(process.pid, 'SIGSTOP');
        resolve(); // runs once the parent sent SIGCONT
      };
      if (process.connected) process.send({ paused: what }, stop);
      else stop();
    });
  globalThis.fetch = async (input, init) => {
    const body = init?.body;
    const isRefresh = typeof body === 'string' ? body.includes('grant_type=refresh_token') : body instanceof URLSearchParams && body.get('grant_type') === 'refresh_token';
    if (!isRefresh || !pauseHook) return realFetch(input, init);
    const hook = pauseHook;
    pauseHook = null;
    if (hook === 'pause-before-token-request') {
      await stopSelf('before-token-request');
      // openid-client armed its timeout before calling fetch, and that timer lapsed while frozen:
      // with `freshTimeout` the freeze is moved to just before openid-client was called (a new timer).
      if (hookFreshTimeout) init = { ...init, signal: AbortSignal.timeout(config.tokenRequestTimeoutMs ?? 10_000) };
      // Timers that lapsed while frozen fire first (else whether the abort beats the request's first
      // bytes would be a race).
      else await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const response = await realFetch(input, init);
    if (hook !== 'pause-after-token-response') return response;
    const bytes = await response.arrayBuffer();
    await stopSelf('after-token-response');
    return new Response(bytes, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  process.on('message', (msg) => {
    if (msg?.hook === 'memory') {
      globalThis.gc?.();
      const m = process.memoryUsage();
      report({ memory: { rss: m.rss, retained: m.heapUsed + m.external, at: msg.at } });
      return;
    }
    if (msg?.hook === 'fail-compare-and-set') {
      failCas = msg.times ?? 1;
      return;
    }
    if (msg?.hook) {
      pauseHook = msg.hook;
      hookFreshTimeout = msg.freshTimeout === true;
    }
  });

  const bff = await createBff({
    issuer: config.issuer,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUri: config.redirectUri,
    postLogoutRedirectUri: config.postLogoutRedirectUri,
    scope: config.scope,
    secrets: config.secrets,
    allowedOrigins: config.allowedOrigins,
    store: casReporting,
    dangerouslyAllowInsecureHttpIssuer: true,
    ...(config.storeTimeoutMs ? { storeTimeoutMs: config.storeTimeoutMs } : {}),
    ...(config.tokenRequestTimeoutMs ? { tokenRequestTimeoutMs: config.tokenRequestTimeoutMs } : {}),
    ...(config.refreshBufferMs !== undefined ? { refreshBufferMs: config.refreshBufferMs } : {}),
    ...(config.minRefreshIntervalMs !== undefined ? { minRefreshIntervalMs: config.minRefreshIntervalMs } : {}),
    ...(config.keptGrantMs !== undefined ? { keptGrantMs: config.keptGrantMs } : {}),
    ...(config.apis ? { apis: config.apis } : {}),
    ...(config.resource ? { resource: config.resource } : {}),
    ...(config.dpop ? { dpop: config.dpop } : {}),
    logger: { warn: (m) => process.stderr.write(`${m}\n`) },
    onEvent: (e) => report({ event: e.type }),
  });

  // The Node ⇄ Web adapter: this helper's own (web-request.mjs), or Angular SSR's (`adapter: 'angular'`,
  // @angular/ssr/node's createWebRequestFromNodeRequest/writeResponseToNodeResponse, as the README recommends).
  let toRequest = toWebRequest;
  let writeResponse = writeNodeResponse;
  if (config.adapter === 'angular') {
    await import('@angular/compiler'); // @angular/ssr's partially compiled injectables, outside an Angular build
    const ssr = await import('@angular/ssr/node');
    toRequest = async (req) => ssr.createWebRequestFromNodeRequest(req);
    writeResponse = ssr.writeResponseToNodeResponse;
  }
  const front = config.front ?? process.env.NFT_BFF_FRONT ?? 'web';
  const instanceHeader = { 'x-bff-instance': config.name ?? String(process.pid) };
  let origin = '';
  const reportRequests = config.reportRequests !== false;
  const server = createServer(async (req, res) => {
    if (reportRequests) report({ request: req.url });
    try {
      // NFT_BFF_FRONT=node (or config.front 'node'): bff.handleNode(req, res) first, node:http in and out.
      if (front === 'node') {
        for (const [name, value] of Object.entries(instanceHeader)) res.setHeader(name, value);
        if (await bff.handleNode(req, res)) return;
      }
      const request = await toRequest(req, origin);
      let response = await bff.handle(request, { clientAddress: req.socket.remoteAddress });
      if (response === null) {
        let session = null;
        try {
          session = await bff.session(request);
        } catch (err) {
          session = { error: err?.code ?? 'error' };
        }
        response = Response.json({ page: req.url, session });
      }
      for (const [name, value] of Object.entries(instanceHeader)) res.setHeader(name, value);
      await writeResponse(response, res);
    } catch (err) {
      res.statusCode = 599;
      res.end(`instance error: ${err?.name}`);
    }
  });
  server.keepAliveTimeout = 60_000;
  server.listen(config.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://localhost:${server.address().port}`;
  process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`);

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    server.closeAllConnections?.();
    server.close();
    await Promise.race([bff.close(), new Promise((r) => setTimeout(r, 1_000))]);
    closeClient();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('disconnect', shutdown); // the parent went away
}

if (process.argv[1] === SELF && process.env.NFT_BFF_INSTANCE) {
  runInstance(JSON.parse(process.env.NFT_BFF_INSTANCE)).catch((err) => {
    process.stderr.write(`bff-instance failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
