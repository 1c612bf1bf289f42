import { InjectionToken, inject } from '@angular/core';
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
  ɵREFRESH_BUFFER_MS,
} from 'ngx-fresh-token';

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
  shareSessionOnServer?: boolean;
}

/**
 * @internal Set by `provideAmplifyFreshToken({ tokenProvider: true })`: Amplify's `fetchAuthSession`
 * then asks AuthService, so the Amplify source must read Cognito's own provider to avoid a loop.
 *
 * @example
 * inject(ɵAMPLIFY_BRIDGED); // true when the TokenProvider bridge is installed
 */
export const ɵAMPLIFY_BRIDGED = new InjectionToken<boolean>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'ɵAMPLIFY_BRIDGED' : '', {
  providedIn: 'root',
  factory: () => false,
});

/** The Cognito JWT's lifetime: `exp − iat` in ms, `null` when a claim is missing. */
function lifetimeMs(payload: { exp?: number; iat?: number }): number | null {
  return typeof payload.exp === 'number' && typeof payload.iat === 'number' ? (payload.exp - payload.iat) * 1000 : null;
}

/**
 * Creates a {@link TokenSource} over Amplify's Cognito session (`fetchAuthSession`). A token that
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

/**
 * Takes tokens from Amplify's Cognito session: `fetchAuthSession`, forcing a refresh when the
 * token is inside the buffer. Call `auth.refresh()` after `signIn()` so the service picks up
 * the new session.
 *
 * @example
 * provideFreshToken(withAmplifyTokenSource({ token: 'access' }))
 */
export function withAmplifyTokenSource(options: AmplifyTokenSourceOptions = {}): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenSource> {
  // Validate at bootstrap rather than on the first refresh.
  createAmplifyTokenSource(options);
  return withTokenSource(() => {
    const clock = inject(FRESH_TOKEN_CLOCK);
    return createAmplifyTokenSource(
      { ...options, bufferMs: options.bufferMs ?? inject(ɵREFRESH_BUFFER_MS) },
      { now: () => clock.now(), bridged: inject(ɵAMPLIFY_BRIDGED) },
    );
  });
}
