// Builds an Angular injector in Node the way an app would bootstrap ngx-fresh-token/amplify,
// and runs its app initializers (Amplify.configure happens there).
import { APP_INITIALIZER, runInInjectionContext } from '@angular/core';
import { createRootInjector } from './injector.mjs';

export async function createAmplifyApp(providers) {
  const injector = createRootInjector(providers);
  for (const init of injector.get(APP_INITIALIZER, [])) {
    await runInInjectionContext(injector, init);
  }
  return injector;
}

/** Decodes a JWT payload without verifying it (the servers verify). */
export function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond()` is truthy, polling; fails after `timeoutMs`. */
export async function waitFor(cond, timeoutMs, what = 'condition') {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
