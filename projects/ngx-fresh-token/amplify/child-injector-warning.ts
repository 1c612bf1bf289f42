import { isPlatformServer } from '@angular/common';
import { ApplicationRef, EnvironmentInjector, PLATFORM_ID, inject } from '@angular/core';
import { AmplifyFreshTokenErrorCode } from './errors';

let warned = false;

/**
 * Dev mode, browser: warns once per page (`NFT506`) when `provideAmplifyFreshToken()` is in the
 * providers of a route or another child injector. App initializers run only in the application's
 * injector, so there it never calls `Amplify.configure`, and Amplify's clients silently go without
 * the fresh token. Run by the environment initializer of `provideAmplifyFreshToken()`.
 *
 * @example
 * provideEnvironmentInitializer(() => ngDevMode && warnIfInChildInjector());
 */
export function warnIfInChildInjector(): void {
  if (warned || isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown')) return;
  let child = false;
  try {
    // The application's injector is ApplicationRef's; a route's is a child of it.
    child = inject(ApplicationRef).injector !== inject(EnvironmentInjector);
  } catch {
    // No application around this injector (a bare Node injector): nothing to compare with.
  }
  if (!child) return;
  warned = true;
  console.warn(
    `${AmplifyFreshTokenErrorCode.NotConfiguredInChildInjector}: provideAmplifyFreshToken() is in the providers of a route (or another ` +
      'child injector), where app initializers never run, so it has not configured Amplify: generateClient() clients get no fresh ' +
      'token from it. To fix the problem, move it to the application providers (app.config.ts), or keep it here with ' +
      '{ configureAmplify: false } and call inject(AmplifyFreshToken).configure() yourself, or use generateClient(amplify.context).',
  );
}

/** @internal For specs: lets the next child injector warn again. */
export function ɵresetChildInjectorWarning(): void {
  warned = false;
}
