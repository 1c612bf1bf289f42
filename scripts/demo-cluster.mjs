#!/usr/bin/env node
// `npm run demo:cluster`: the demo as three instances sharing their sessions in Redis.
//   - Redis: REDIS_URL, else a redis-server of its own on a free loopback port (scripts/ensure-redis.mjs),
//     stopped at the end;
//   - instance 1 on PORT (default 4300) embeds the one IdP (oidc-provider under /oidc), instances 2 and 3
//     on PORT+1 and PORT+2 use it; each instance is its own process with the BFF, the API and Angular
//     SSR (startDemoServer with a redisSessionStore: node-redis for 1 and 3, ioredis for 2);
//   - every answer carries `X-Demo-Instance`; the dashboard shows which instance answered each
//     /session/token. The session cookie is per host, not per port: a session started on one
//     instance works on the others.
// `npm start` stays one process with the memory store and no Redis.
//   node scripts/demo-cluster.mjs [--no-build]
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureNode } from './ensure-node.mjs';

const SELF = fileURLToPath(import.meta.url);
const root = resolve(dirname(SELF), '..');
const INSTANCES = 3;
const PREFIX = 'nft-demo:';

await ensureNode();

if (process.env.NFT_DEMO_INSTANCE) await runInstance(JSON.parse(process.env.NFT_DEMO_INSTANCE));
else await runCluster();

/** One instance (a child process): the demo server with the shared Redis store. */
async function runInstance({ index, ports, redisUrl, secret, clientSecret, ttl }) {
  const { startDemoServer } = await import('../projects/demo-server/app.mjs');
  const { redisSessionStore } = await import('ngx-fresh-token/bff');
  let client;
  if (index === 1) {
    const { Redis } = await import('ioredis');
    client = new Redis(redisUrl);
  } else {
    const { createClient } = await import('redis');
    client = createClient({ url: redisUrl });
  }
  client.on('error', () => undefined); // Redis down: the BFF answers 503 + Retry-After; the process stays
  if (typeof client.connect === 'function' && index !== 1) await client.connect();
  const origins = ports.map((p) => `http://localhost:${p}`);
  const demo = await startDemoServer({
    port: ports[index],
    accessTokenTtlSeconds: ttl,
    angularServer: join(root, 'dist/demo/server/server.mjs'),
    store: redisSessionStore(client, { prefix: PREFIX }),
    secrets: [secret],
    instanceName: `instance ${index + 1}`,
    clusterOrigins: origins,
    oidcClientSecret: clientSecret,
    idp: index === 0 ? undefined : { issuer: `${origins[0]}/oidc`, clientSecret },
  });
  process.stdout.write(`${JSON.stringify({ url: demo.url })}\n`);
  const stop = async () => {
    await demo.close().catch(() => undefined);
    if (typeof client.destroy === 'function') client.destroy();
    else client.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', () => undefined); // the parent decides
  process.on('disconnect', stop);
}

async function runCluster() {
  if (!process.argv.includes('--no-build')) {
    const { buildDemo } = await import('./build-demo.mjs');
    buildDemo();
  }
  const { ensureRedis } = await import('./ensure-redis.mjs');
  const redis = await ensureRedis();
  const base = Number(process.env.PORT ?? 4300);
  const ports = Array.from({ length: INSTANCES }, (_, i) => base + i);
  const shared = {
    ports,
    redisUrl: redis.url,
    // One sealing key and one client secret for all three, fresh at each start.
    secret: randomBytes(32).toString('base64url'),
    clientSecret: randomBytes(24).toString('base64url'),
    ttl: Number(process.env.DEMO_ACCESS_TOKEN_TTL ?? 60),
  };
  const children = [];
  let stopping = false;
  const stopAll = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      children.map(
        (c) =>
          new Promise((done) => {
            if (c.exitCode !== null || c.signalCode !== null) return done();
            c.once('exit', done);
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 3_000).unref();
          }),
      ),
    );
    await redis.stop();
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void stopAll(0));

  const urls = [];
  // Instance 1 first: the others discover the IdP it embeds.
  for (let index = 0; index < INSTANCES; index++) {
    const child = fork(SELF, [], { env: { ...process.env, NFT_DEMO_INSTANCE: JSON.stringify({ ...shared, index }) }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    children.push(child);
    const url = await new Promise((ready, fail) => {
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        try {
          const msg = JSON.parse(line);
          if (msg.url) return ready(msg.url);
        } catch {
          // not the ready line
        }
        process.stdout.write(`[instance ${index + 1}] ${line}\n`);
      });
      child.once('exit', (code) => fail(new Error(`instance ${index + 1} exited (${code}) before listening`)));
    }).catch(async (err) => {
      console.error(err.message);
      await stopAll(1);
    });
    urls.push(url);
    child.on('exit', (code, signal) => {
      if (!stopping) console.error(`instance ${index + 1} stopped (${code ?? signal})`);
    });
  }
  console.log(`\n  ngx-fresh-token demo, ${INSTANCES} instances sharing sessions in Redis (${redis.url}):`);
  for (const [i, url] of urls.entries()) console.log(`    instance ${i + 1}: ${url}${i === 0 ? '   (also the IdP: /oidc)' : ''}`);
  console.log(`  Sign in on any of them; the session works on all three. (access tokens live ${shared.ttl} s; Ctrl+C to stop)\n`);
}
