import { isPlatformServer } from '@angular/common';
import { PLATFORM_ID, inject } from '@angular/core';
import { fetchAuthSession, signOut, type AuthTokens } from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import {
  DEFAULT_REFRESH_BUFFER_MS,
  FRESH_TOKEN_CLOCK,
  FreshTokenError,
  FreshTokenErrorCode,
  FreshTokenFeature,
  FreshTokenFeatureKind,
  TokenGrant,
  TokenSource,
  effectiveBufferMs,
  withTokenSource,
} from 'ngx-fresh-token';
import { AMPLIFY_LINK } from './amplify-link';
import { injectRefreshBufferMs } from './refresh-buffer';

/**
 * Options of {@link withAmplifyTokenSource}.
 *
 * @example
 * const options: AmplifyTokenSourceOptions = { token: 'id', bufferMs: 30_000 };
 */
export interface AmplifyTokenSourceOptions {
  /** Which Cognito token becomes the service's access token: `'access'` (default) or `'id'`. */
  token?: 'access' | 'id';
  /**
   * How long before expiry a token from Amplify's cache counts as expiring and is force-refreshed
   * (default 30 000 ms, capped at half the token's lifetime). Keep it equal to `withRefreshBuffer()`.
   */
  bufferMs?: number;
  /** Whether `AuthService.signOut()` also signs out of Amplify (default `true`). */
  signOutOfAmplify?: boolean;
  /**
   * On the server platform (SSR), hand out the Amplify session of the server process (default
   * `false`: signed out on the server, like `withSessionEndpoint()`). Amplify keeps one session per
   * process, so with `true` every request the server renders gets that one session's token: opt in
   * only when it is a service identity, never a user's.
   */
  shareSessionOnServer?: boolean;
}

/** The Cognito JWT's lifetime: `exp − iat` in ms, `null` when a claim is missing. */
function lifetimeMs(payload: { exp?: number; iat?: number }): number | null {
  return typeof payload.exp === 'number' && typeof payload.iat === 'number' ? (payload.exp - payload.iat) * 1000 : null;
}

/**
 * Creates a {@link TokenSource} over Amplify's Cognito session (`fetchAuthSession`), on any
 * platform (it does not check for SSR: {@link withAmplifyTokenSource} does). A token that
 * Amplify hands out from its cache while it is inside the buffer is refreshed at once with
 * `forceRefresh: true` (Amplify itself refreshes only 5 s before expiry). A forced refresh that
 * finds no session (refresh token revoked or expired) ends the session with `NFT202`.
 *
 * @example
 * const source = createAmplifyTokenSource({ token: 'id' });
 * provideFreshToken(withTokenSource(source));
 */
export function createAmplifyTokenSource(
  options: AmplifyTokenSourceOptions = {},
  deps: { now?: () => number; bridged?: boolean } = {},
): TokenSource {
  const which = options.token ?? 'access';
  if (which !== 'access' && which !== 'id') {
    throw new FreshTokenError(
      FreshTokenErrorCode.InvalidOption,
      (typeof ngDevMode === 'undefined' || ngDevMode) ? "withAmplifyTokenSource() takes { token: 'access' } or { token: 'id' }." : '',
    );
  }
  const bufferMs = options.bufferMs ?? DEFAULT_REFRESH_BUFFER_MS;
  const now = deps.now ?? (() => Date.now());

  const read = async (forceRefresh: boolean): Promise<AuthTokens | undefined> => {
    if (deps.bridged) {
      // Amplify's tokenProvider is our bridge to AuthService: ask Cognito's provider directly.
      return (await cognitoUserPoolsTokenProvider.getTokens({ forceRefresh })) ?? undefined;
    }
    return (await fetchAuthSession({ forceRefresh })).tokens;
  };

  const toGrant = (tokens: AuthTokens): TokenGrant | null => {
    const jwt = which === 'id' ? tokens.idToken : tokens.accessToken;
    if (!jwt) return null;
    const exp = jwt.payload.exp;
    return {
      accessToken: jwt.toString(),
      ...(typeof exp === 'number' ? { expiresAt: exp * 1000 } : {}),
      ...(tokens.idToken ? { idToken: tokens.idToken.toString() } : {}),
    };
  };

  const insideBuffer = (tokens: AuthTokens): boolean => {
    const jwt = which === 'id' ? tokens.idToken : tokens.accessToken;
    const exp = jwt?.payload.exp;
    if (!jwt || typeof exp !== 'number') return false;
    return exp * 1000 - now() <= effectiveBufferMs(bufferMs, lifetimeMs(jwt.payload));
  };

  return {
    async getToken({ forceRefresh }) {
      let tokens = await read(forceRefresh);
      if (!forceRefresh && tokens && insideBuffer(tokens)) tokens = await read(true);
      if (!tokens) {
        if (forceRefresh) {
          throw new FreshTokenError(
            FreshTokenErrorCode.SessionEnded,
            (typeof ngDevMode === 'undefined' || ngDevMode) ? 'Amplify could not refresh the Cognito session (refresh token expired or revoked). Sign in again.' : '',
          );
        }
        return null;
      }
      return toGrant(tokens);
    },
    async signOut() {
      if (options.signOutOfAmplify !== false) await signOut();
    },
  };
}

/** The source on the server platform: Amplify's session there belongs to the process, not to the request. */
const SIGNED_OUT_ON_SERVER: TokenSource = { getToken: async () => null };

/**
 * Takes tokens from Amplify's Cognito session: `fetchAuthSession`, forcing a refresh when the
 * token is inside the buffer. With `provideAmplifyFreshToken()` the service loads the session by
 * itself when Amplify signs in (its `signedIn` event) and signs out when Amplify signs out; without
 * it, call `auth.refresh()` after `signIn()`. On the server platform (SSR) it answers signed out
 * unless `shareSessionOnServer: true`, because Amplify's session there is the whole process's.
 *
 * @example
 * provideFreshToken(withAmplifyTokenSource({ token: 'access' }))
 */
export function withAmplifyTokenSource(options: AmplifyTokenSourceOptions = {}): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenSource> {
  // Validate at bootstrap rather than on the first refresh.
  createAmplifyTokenSource(options);
  return withTokenSource(() => {
    const isServer = isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown');
    if (isServer && options.shareSessionOnServer !== true) return SIGNED_OUT_ON_SERVER;
    const clock = inject(FRESH_TOKEN_CLOCK);
    const link = inject(AMPLIFY_LINK);
    link.amplifySource = true;
    return createAmplifyTokenSource(
      { ...options, bufferMs: options.bufferMs ?? injectRefreshBufferMs() },
      { now: () => clock.now(), bridged: link.bridged },
    );
  });
}
