import { FreshTokenError, type FreshTokenErrorDetails } from 'ngx-fresh-token';

/**
 * Stable error codes of `ngx-fresh-token/amplify` (the NFT5xx range), carried by `FreshTokenError`.
 *
 * @example
 * events$.subscribe({ error: (e) => e.code === AmplifyFreshTokenErrorCode.EventsSignedOut && router.navigate(['/login']) });
 */
export const AmplifyFreshTokenErrorCode = {
  /** No AppSync Events endpoint (neither the option nor Amplify's `API.Events.endpoint`), or no `WebSocket` on this platform. */
  EventsNotConfigured: 'NFT501',
  /** An Events connection needs a token but the user is signed out (or the session just ended). */
  EventsSignedOut: 'NFT502',
  /** AppSync Events kept rejecting fresh tokens (connect or subscribe), so the connection gave up instead of looping. */
  EventsUnauthorized: 'NFT503',
  /** AppSync Events refused a subscribe or publish for another reason than authorization. */
  EventsRejected: 'NFT504',
  /**
   * Something would have put this render's token into the process-wide `Amplify` on the server
   * (`configure()`), or the server asked for a per-render context that the installed aws-amplify cannot
   * make (`createAmplifyContext`, aws-amplify ≥ 6.22). Use `generateClient(amplify.context)` on the server.
   */
  ServerConfigure: 'NFT505',
  /**
   * Dev-mode warning: `provideAmplifyFreshToken()` sits in a route's (or another child injector's)
   * providers, where app initializers never run, so it has not configured Amplify.
   */
  NotConfiguredInChildInjector: 'NFT506',
} as const;

/**
 * A `FreshTokenError` of this entry: the code always, the explanation in dev mode only.
 *
 * @example
 * throw eventsError(AmplifyFreshTokenErrorCode.EventsSignedOut, 'Sign in, then subscribe.');
 */
export function eventsError(code: string, devMessage: string, details: FreshTokenErrorDetails = {}): FreshTokenError {
  return new FreshTokenError(code, (typeof ngDevMode === 'undefined' || ngDevMode) ? devMessage : '', details);
}

/**
 * A `FreshTokenError` of this entry outside Events: the code always, the explanation in dev mode only.
 *
 * @example
 * throw amplifyError(AmplifyFreshTokenErrorCode.ServerConfigure, 'On the server, use generateClient(amplify.context).');
 */
export function amplifyError(code: string, devMessage: string): FreshTokenError {
  return new FreshTokenError(code, (typeof ngDevMode === 'undefined' || ngDevMode) ? devMessage : '');
}
