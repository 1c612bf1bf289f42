#!/usr/bin/env node
// `npm run demo:amplify`: builds the library and the demo (Angular SSR), then starts the demo in
// Amplify mode on http://localhost:4300/amplify: a real cognito-local (temp dir, 127.0.0.1) with
// a confirmed demo user, the GetTokensFromRefreshToken proxy, the loopback AppSync GraphQL +
// Events server (verifies every token against cognito-local's JWKS) and the demo backend.
// PORT (default 4300) and DEMO_AMPLIFY_TOKEN_TTL (token lifetime in seconds, default 60; the
// 30 s refresh buffer is capped at half the lifetime, so keep it at 45 or more) tune it.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ng = join(root, 'node_modules', '@angular', 'cli', 'bin', 'ng.js');
for (const project of ['ngx-fresh-token', 'demo']) {
  console.log(`Building ${project}…`);
  const res = spawnSync(process.execPath, [ng, 'build', project], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (res.status !== 0) {
    console.error(`Building ${project} failed (exit ${res.status}).`);
    process.exit(1);
  }
}

const { startAmplifyDemoStack } = await import('../projects/demo-server/amplify-stack.mjs');
const port = Number(process.env.PORT ?? 4300);
const tokenSeconds = Number(process.env.DEMO_AMPLIFY_TOKEN_TTL ?? 60);
console.log('Starting cognito-local, the loopback AppSync and the demo backend…');
const stack = await startAmplifyDemoStack({ port, tokenSeconds, angularServer: join(root, 'dist/demo/server/server.mjs') });
console.log(`
  ngx-fresh-token demo, Amplify mode: ${stack.url}/amplify

  Sign in with the local demo user (cognito-local, dev only):
    user name: ${stack.username}
    password:  ${stack.password}

  Cognito access tokens live ${tokenSeconds} s. cognito-local: ${stack.amplify.userPoolEndpoint} (pool ${stack.amplify.userPoolId})
  AppSync GraphQL: ${stack.amplify.graphqlEndpoint} · Events: ${stack.amplify.eventsEndpoint}
  Ctrl+C to stop.
`);
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    stack.close().then(() => process.exit(0));
  });
}
