import { inject } from '@angular/core';
import { AuthService } from 'ngx-fresh-token';
import type { Centrifuge } from 'centrifuge';
import { ɵauthOf, ɵnextToken } from './connection-token';
import { CentrifugoErrorCode, ɵforCentrifugo, ɵinvalidSetup, ɵsignedOut } from './errors';

/**
 * Options of {@link centrifugoHeaderMode}.
 *
 * @example
 * const headers = centrifugoHeaderMode({ headers: (token) => ({ Authorization: `Bearer ${token}`, 'X-Tenant': 'acme' }) });
 */
export interface CentrifugoHeaderModeOptions {
  /** Builds the headers for a token. Default: `{ Authorization: 'Bearer <token>' }`. */
  headers?: (token: string) => Record<string, string>;
  /** Connect data to send, as the client's own `getData` option would return it. */
  getData?: () => unknown;
  /**
   * Disconnect codes after which the next connect must not reuse the token the client sent last,
   * because the server found it expired. Default: 3005 (connection expired) and 4001 (the
   * "token expired" disconnect of the `ngx-fresh-token/centrifugo/server` proxy handlers).
   */
  expiredCodes?: readonly number[];
}

/**
 * Keeps a client's emulated `Authorization` header fresh; see {@link centrifugoHeaderMode}.
 *
 * @example
 * const mode: CentrifugoHeaderMode = centrifugoHeaderMode({}, 'realtime');
 * const centrifuge = mode.attach(new Centrifuge(url, { getData: mode.getData }));
 */
export interface CentrifugoHeaderMode {
  /** Pass as the client's `getData` option: it sets fresh headers before every (re)connect. */
  readonly getData: () => Promise<unknown>;
  /** Binds the client whose headers to set; returns it. */
  attach<T extends Centrifuge>(client: T): T;
}

/**
 * Header mode for proxy-connect setups: before every connect and reconnect it gets a fresh
 * token from {@link AuthService} and calls `client.setHeaders({ Authorization: 'Bearer …' })`,
 * so Centrifugo forwards a valid token to the connect proxy (since Centrifugo 6.9 only if
 * `Authorization` is listed in the proxy's `emulated_headers`, not `http_headers`). After a
 * disconnect saying the connection expired it forces one shared refresh. Signed out or a permanent failure stops the
 * client with `UnauthorizedError`; a transient failure makes it retry with backoff. Without
 * `auth`, or with the name of a token of `withApiToken()`, call it in an injection context.
 *
 * @example
 * const headers = centrifugoHeaderMode();
 * const centrifuge = headers.attach(new Centrifuge(url, { getData: headers.getData }));
 * centrifuge.connect();
 */
export function centrifugoHeaderMode(
  options: CentrifugoHeaderModeOptions = {},
  service: AuthService | string = inject(AuthService),
): CentrifugoHeaderMode {
  const auth = ɵauthOf(service);
  const format = options.headers ?? ((token: string) => ({ Authorization: `Bearer ${token}` }));
  const expiredCodes = options.expiredCodes ?? [3005, 4001];
  let client: Centrifuge | null = null;
  let last: string | null = null;
  let expired = false;
  return {
    attach(target) {
      client = target;
      target.on('connecting', (ctx) => {
        if (expiredCodes.includes(ctx.code)) expired = true;
      });
      target.on('disconnected', (ctx) => {
        if (expiredCodes.includes(ctx.code)) expired = true;
      });
      return target;
    },
    async getData() {
      if (!client) {
        throw ɵinvalidSetup('centrifugoHeaderMode(): call attach(client) with the Centrifuge client before connecting it.');
      }
      let token: string | null;
      try {
        token = expired ? await ɵnextToken(auth, last) : await auth.getValidToken();
      } catch (err) {
        throw ɵforCentrifugo(err, Date.now(), CentrifugoErrorCode.SignedOut);
      }
      if (!token) throw ɵsignedOut();
      expired = false;
      last = token;
      client.setHeaders(format(token));
      return options.getData ? await options.getData() : null;
    },
  };
}
