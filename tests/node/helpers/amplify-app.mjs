// Builds an Angular injector in Node the way an app would bootstrap ngx-fresh-token/amplify,
// and runs its app initializers (Amplify.configure happens there).
import { APP_INITIALIZER, runInInjectionContext } from '@angular/core';
import { createRootInjector } from './injector.mjs';
export { waitFor } from './wait.mjs';

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
