#!/usr/bin/env node
// `npm start`: builds the library and the demo (Angular SSR), then starts the dev backend, which
// serves the demo, a real OpenID Connect provider and the protected API on http://localhost:4300.
// On a Node older than Angular 22 needs, it first re-runs itself under Node 24 (scripts/ensure-node.mjs).
import { ensureNode } from './ensure-node.mjs';

await ensureNode();

const { buildDemo } = await import('./build-demo.mjs');
buildDemo();
await import('../projects/demo-server/main.mjs');
