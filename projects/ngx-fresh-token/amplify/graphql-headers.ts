import type { AuthService } from 'ngx-fresh-token';

/**
 * Options of the GraphQL `headers` function: which token, in which header.
 *
 * @example
 * const options: GraphqlHeadersOptions = { token: 'id', headerName: 'Authorization' };
 */
export interface GraphqlHeadersOptions {
  /** `'access'` (default): the service's token; `'id'`: the ID token of the same grant. */
  token?: 'access' | 'id';
  /** Header that carries the token, verbatim (AppSync expects no `Bearer`); default `Authorization`. */
  headerName?: string;
}

/**
 * The fresh token for a GraphQL call and the access token it belongs to (used to decide a retry).
 *
 * @internal
 */
export interface ɵGraphqlAuth {
  /** The access token the value was derived from, or `null` when signed out. */
  accessToken: string | null;
  /** The headers to send; empty when signed out or the grant has no ID token. */
  headers: Record<string, string>;
}

/** @internal Headers for `accessToken` according to `options`. */
export function ɵheadersForToken(auth: AuthService, accessToken: string | null, options: GraphqlHeadersOptions = {}): ɵGraphqlAuth {
  const value = accessToken === null ? null : options.token === 'id' ? auth.idToken : accessToken;
  return { accessToken, headers: value ? { [options.headerName ?? 'Authorization']: value } : {} };
}

/**
 * Creates the function to pass as Amplify's `API.GraphQL.headers`: every call gets a token with
 * more than the buffer left (refreshed first, shared by concurrent calls). Amplify merges it
 * after its auth-mode headers, so it wins over Amplify's own token, which Amplify refreshes only
 * 5 s before expiry. Signed out, it adds nothing.
 *
 * @example
 * Amplify.configure(config, { API: { GraphQL: { headers: createGraphqlHeaders(inject(AuthService)) } } });
 */
export function createGraphqlHeaders(auth: AuthService, options: GraphqlHeadersOptions = {}): () => Promise<Record<string, string>> {
  return async () => ɵheadersForToken(auth, await auth.getValidToken(), options).headers;
}
