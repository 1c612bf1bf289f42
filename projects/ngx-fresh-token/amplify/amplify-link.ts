import { InjectionToken } from '@angular/core';

/**
 * What `withAmplifyTokenSource()` and `provideAmplifyFreshToken()` in one injector tell each other:
 * whether the TokenProvider bridge is installed (then the source must read Cognito's own provider,
 * or `fetchAuthSession` would loop through the bridge), and whether the service's source is
 * Amplify's Cognito session (then Amplify's `signedIn` / `signedOut` events concern the service).
 */
export interface AmplifyLink {
  bridged: boolean;
  amplifySource: boolean;
}

/**
 * The link of the nearest `provideAmplifyFreshToken()`; without one, a root default nobody reads.
 *
 * @example
 * inject(AMPLIFY_LINK).bridged; // true when the TokenProvider bridge is installed
 */
export const AMPLIFY_LINK = new InjectionToken<AmplifyLink>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'AMPLIFY_LINK' : '', {
  providedIn: 'root',
  factory: () => ({ bridged: false, amplifySource: false }),
});
