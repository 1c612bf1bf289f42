import { AuthService, retryOnUnauthorized } from 'ngx-fresh-token';
import { lastValueFrom } from 'rxjs';
import { GraphqlHeadersOptions, ɵheadersForToken } from './graphql-headers';

/**
 * Whether an error thrown by `client.graphql(...)` is an HTTP 401. Decided on the status code
 * (`errors[i].originalError.$metadata.httpStatusCode`), never on the message text.
 *
 * @example
 * try { await client.graphql({ query }); } catch (e) { if (isGraphqlUnauthorized(e)) signIn(); }
 */
export function isGraphqlUnauthorized(err: unknown): boolean {
  const status = (e: unknown): unknown =>
    (e as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode ??
    (e as { originalError?: { $metadata?: { httpStatusCode?: unknown } } } | null)?.originalError?.$metadata?.httpStatusCode;
  if (typeof err !== 'object' || err === null) return false;
  if (status(err) === 401) return true;
  const errors = (err as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.some((e) => status(e) === 401);
}

/**
 * Runs a GraphQL call with a fresh token and retries it once after a 401: with the current token
 * if it changed since the call left, else after one forced refresh shared with every other caller.
 * A second 401 reaches the caller unchanged and emits `unauthorized`; a refresh that fails
 * permanently ends the session (state `signed-out`, `session-expired`) and the caller gets the 401.
 * `send` receives the auth headers to pass as the call's own headers (they win over Amplify's).
 *
 * @example
 * const result = await graphqlWithRetry(auth, (headers) => client.graphql({ query: listTodos }, headers));
 */
export async function graphqlWithRetry<T>(
  auth: AuthService,
  send: (headers: Record<string, string>) => Promise<T>,
  options: GraphqlHeadersOptions = {},
): Promise<T> {
  const token = await auth.getValidToken();
  if (token === null) return send({}); // signed out: the call goes with Amplify's own auth, if any
  return lastValueFrom(retryOnUnauthorized(auth, token, (t) => send(ɵheadersForToken(auth, t, options).headers), isGraphqlUnauthorized));
}
