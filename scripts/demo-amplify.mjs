#!/usr/bin/env node
// `npm run demo:amplify`: builds the library and the demo (Angular SSR), then starts the demo in
// Amplify mode on http://localhost:4300/amplify: a real cognito-local (temp dir, 127.0.0.1) with
// a confirmed demo user, the GetTokensFromRefreshToken proxy, the loopback AppSync GraphQL +
// Events server (verifies every token against cognito-local's JWKS) and the demo backend.
// PORT (default 4300) and DEMO_AMPLIFY_TOKEN_TTL (token lifetime in seconds, default 60; keep it
// above the 30 s refresh buffer, or tokens are refreshed at half their life) tune it.
// On a Node older than Angular 22 needs, it first re-runs itself under Node 24 (scripts/ensure-node.mjs).
import { join } from 'node:path';
import { ensureNode } from './ensure-node.mjs';

await ensureNode();

const { buildDemo, root } = await import('./build-demo.mjs');

buildDemo();

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
