import { FreshTokenError, toFreshTokenError } from 'ngx-fresh-token';
import { UnauthorizedError } from 'centrifuge';

/**
 * Stable error codes of `ngx-fresh-token/centrifugo`. They appear at the start of the message
 * of the `UnauthorizedError` handed to the Centrifugo client, or as the `code` of a
 * `FreshTokenError` for a configuration mistake.
 *
 * @example
 * client.on('disconnected', (ctx) => ctx.code === 1 && console.warn('signed out of Centrifugo'));
 */
export const CentrifugoErrorCode = {
  /** No one is signed in (or the session just ended): the client stops and does not retry. */
  SignedOut: 'NFT601',
  /** The subscription token fetcher returned no token, or the backend refused the subscription (401 twice, 403, other 4xx). */
  SubscriptionRefused: 'NFT602',
  /** Header mode used before `attach(client)`, or a fetcher that is not a function. */
  InvalidSetup: 'NFT603',
} as const;

const devMode = () => typeof ngDevMode === 'undefined' || !!ngDevMode;

/** @internal An `UnauthorizedError` whose message starts with `code` (and never holds a token). */
export function ɵunauthorized(code: string, message: string): UnauthorizedError {
  return new UnauthorizedError(devMode() && message ? `${code}: ${message}` : code);
}

/** @internal The client's `UnauthorizedError` for a signed-out user. */
export function ɵsignedOut(): UnauthorizedError {
  return ɵunauthorized(
    CentrifugoErrorCode.SignedOut,
    'No user is signed in, so the Centrifugo client has no token. Call centrifuge.connect() again after signing in.',
  );
}

/**
 * @internal Maps a failure to get a token to what the Centrifugo client understands: a
 * permanent one (session ended, 4xx) becomes `UnauthorizedError` (the client stops), a
 * transient one (network, 5xx, 429, timeout) stays an ordinary error (the client backs off).
 */
export function ɵforCentrifugo(err: unknown, nowMs: number, refusedCode: string): Error {
  if (err instanceof UnauthorizedError) return err;
  const error = toFreshTokenError(err, nowMs);
  if (error.transient) return error;
  return ɵunauthorized(
    err instanceof FreshTokenError ? error.code : refusedCode,
    err instanceof FreshTokenError ? textOf(error) : `The token request was refused${error.status ? ` (HTTP ${error.status})` : ''}.`,
  );
}

/** A `FreshTokenError`'s message without its `CODE: ` prefix (`''` when it is the bare code), so the code is not repeated. */
function textOf(error: FreshTokenError): string {
  const prefix = `${error.code}: `;
  if (error.message.startsWith(prefix)) return error.message.slice(prefix.length);
  return error.message === error.code ? '' : error.message;
}

/** @internal A configuration mistake, thrown synchronously to the app. */
export function ɵinvalidSetup(message: string): FreshTokenError {
  return new FreshTokenError(CentrifugoErrorCode.InvalidSetup, devMode() ? message : '');
}
