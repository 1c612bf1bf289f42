import { decodeJWT, type JWT, type TokenProvider } from 'aws-amplify/auth';
import type { AuthService } from 'ngx-fresh-token';

/**
 * Options of {@link createFreshTokenProvider}.
 *
 * @example
 * const options: FreshTokenProviderOptions = { whenSignedOut: cognitoUserPoolsTokenProvider };
 */
export interface FreshTokenProviderOptions {
  /**
   * Answers Amplify while the service holds no token, typically Amplify's own
   * `cognitoUserPoolsTokenProvider`. Cognito `signIn()` reads the new session through the
   * TokenProvider before it returns, and fails with `UnexpectedSignInInterruptionException` when
   * that answer is "no tokens". Default: none (signed out answers `null`). Never pass a provider
   * holding a process-wide session on the server.
   */
  whenSignedOut?: TokenProvider;
}

/** Amplify's `JWT` for `token`; an opaque (non-JWT) token gets an empty payload and passes through verbatim. */
function toJwt(token: string): JWT {
  try {
    return decodeJWT(token);
  } catch {
    return { payload: {}, toString: () => token };
  }
}

/**
 * Creates an Amplify `TokenProvider` backed by {@link AuthService}, whatever its source (a session
 * endpoint, OAuth, Cognito): `fetchAuthSession()` — and so GraphQL and AppSync Events in `userPool`
 * and `oidc` modes — gets the service's fresh token. `forceRefresh` forces one shared refresh.
 * While the service holds no token (signed out, or the session ended) it answers with
 * `whenSignedOut` if given, else `null`.
 *
 * @example
 * Amplify.configure(config, {
 *   Auth: { tokenProvider: createFreshTokenProvider(inject(AuthService), { whenSignedOut: cognitoUserPoolsTokenProvider }) },
 * });
 */
export function createFreshTokenProvider(auth: AuthService, options: FreshTokenProviderOptions = {}): TokenProvider {
  return {
    async getTokens(request) {
      let token: string | null;
      try {
        token = request?.forceRefresh ? await auth.refresh() : await auth.getValidToken();
      } catch (err) {
        // A session that ended is "no tokens" to Amplify; a transient failure stays an error.
        if ((err as { transient?: unknown }).transient !== false) throw err;
        token = null;
      }
      if (token === null) return options.whenSignedOut ? options.whenSignedOut.getTokens(request) : null;
      const idToken = auth.idToken;
      return { accessToken: toJwt(token), ...(idToken ? { idToken: toJwt(idToken) } : {}) };
    },
  };
}
