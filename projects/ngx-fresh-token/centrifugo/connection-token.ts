import { inject } from '@angular/core';
import { AuthService, injectAuth } from 'ngx-fresh-token';
import { CentrifugoErrorCode, ɵforCentrifugo, ɵsignedOut } from './errors';

/**
 * The `getToken` option of a `Centrifuge` client.
 *
 * @example
 * const getToken: CentrifugoConnectionGetToken = centrifugoGetToken();
 * const centrifuge = new Centrifuge('wss://rt.example.com/connection/websocket', { getToken });
 */
export type CentrifugoConnectionGetToken = (ctx?: unknown) => Promise<string>;

/**
 * @internal A token for a client that already holds `last`: the fresh one from `AuthService`,
 * or, when that is still `last` (the server asked because it expires or expired), one shared
 * forced refresh. Never hands the same token back to a client asking for a new one.
 */
export async function ɵnextToken(auth: AuthService, last: string | null): Promise<string | null> {
  const token = await auth.getValidToken();
  if (token === null || last === null || token !== last) return token;
  return auth.tokenAfterUnauthorized(last);
}

/**
 * @internal The service a Centrifugo function works with: the one given, or the token of that name
 * in `withApiToken()` (looked up in the injection context; `NFT111` for an unknown name).
 */
export function ɵauthOf(auth: AuthService | string): AuthService {
  return typeof auth === 'string' ? injectAuth(auth) : auth;
}

/**
 * Creates the connection `getToken` for `new Centrifuge(url, { getToken })`, backed by
 * {@link AuthService}: it resolves to a fresh access token (refreshing first if needed, and
 * forcing one shared refresh when the client asks again for the token it already has, as at the
 * connection's `ttl` or after error 109); it rejects with Centrifugo's `UnauthorizedError` when
 * no one is signed in or the session ended (the client disconnects and does not retry), and with
 * an ordinary error for a transient failure (the client retries with backoff). Create one per
 * client. Without `auth`, or with the name of a token of `withApiToken()` (`centrifugoGetToken('realtime')`),
 * call it in an injection context.
 *
 * @example
 * const centrifuge = new Centrifuge('wss://rt.example.com/connection/websocket', {
 *   getToken: centrifugoGetToken(), // or centrifugoGetToken('realtime'): withApiToken('realtime', …)
 * });
 */
export function centrifugoGetToken(service: AuthService | string = inject(AuthService)): CentrifugoConnectionGetToken {
  const auth = ɵauthOf(service);
  let last: string | null = null;
  return async () => {
    let token: string | null;
    try {
      token = await ɵnextToken(auth, last);
    } catch (err) {
      throw ɵforCentrifugo(err, Date.now(), CentrifugoErrorCode.SignedOut);
    }
    if (!token) throw ɵsignedOut();
    last = token;
    return token;
  };
}
