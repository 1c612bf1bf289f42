import { decodeJWT, type JWT, type TokenProvider } from 'aws-amplify/auth';
import type { AuthService } from 'ngx-fresh-token';

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
 * Signed out, or after the session ended, it returns `null`.
 *
 * @example
 * Amplify.configure(config, { Auth: { tokenProvider: createFreshTokenProvider(inject(AuthService)) } });
 */
export function createFreshTokenProvider(auth: AuthService): TokenProvider {
  return {
    async getTokens(options) {
      let token: string | null;
      try {
        token = options?.forceRefresh ? await auth.refresh() : await auth.getValidToken();
      } catch (err) {
        // A session that ended is "no tokens" to Amplify; a transient failure stays an error.
        if ((err as { transient?: unknown }).transient === false) return null;
        throw err;
      }
      if (token === null) return null;
      const idToken = auth.idToken;
      return { accessToken: toJwt(token), ...(idToken ? { idToken: toJwt(idToken) } : {}) };
    },
  };
}
