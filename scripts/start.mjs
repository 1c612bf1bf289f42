#!/usr/bin/env node
// `npm start`: builds the library and the demo (Angular SSR), then starts the dev backend, which
// serves the demo, a real OpenID Connect provider and the protected API on http://localhost:4300.
import { buildDemo } from './build-demo.mjs';

buildDemo();
await import('../projects/demo-server/main.mjs');
