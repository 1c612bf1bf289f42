#!/usr/bin/env node
// `npm start` runs this after building the library and the demo: one process, one port.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer } from './app.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const port = Number(process.env.PORT ?? 4300);
const ttl = Number(process.env.DEMO_ACCESS_TOKEN_TTL ?? 60);
const demo = await startDemoServer({
  port,
  accessTokenTtlSeconds: ttl,
  angularServer: join(root, 'dist/demo/server/server.mjs'),
});
console.log(`\n  ngx-fresh-token demo: ${demo.url}\n  (access tokens live ${ttl} s; Ctrl+C to stop)\n`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => demo.close().then(() => process.exit(0)));
}
