import {
  createSessionTokenHandler as createServerSessionTokenHandler,
  type IssuedAccessToken as ServerIssuedAccessToken,
  type SessionTokenHandlerOptions as ServerSessionTokenHandlerOptions,
} from 'ngx-fresh-token/oauth/server';

// Deprecated aliases of `ngx-fresh-token/oauth/server`, kept for one minor version so that servers
// importing the handler from the browser entry keep working while they move to the new entry.

/**
 * What a session-token handler hands to the browser.
 *
 * @deprecated Import `IssuedAccessToken` from `ngx-fresh-token/oauth/server`; this alias will be removed in the next minor version.
 * @example
 * import type { IssuedAccessToken } from 'ngx-fresh-token/oauth/server';
 */
export type IssuedAccessToken = ServerIssuedAccessToken;

/**
 * Options of the session-token handler.
 *
 * @deprecated Import `SessionTokenHandlerOptions` from `ngx-fresh-token/oauth/server`; this alias will be removed in the next minor version.
 * @example
 * import type { SessionTokenHandlerOptions } from 'ngx-fresh-token/oauth/server';
 */
export type SessionTokenHandlerOptions<S> = ServerSessionTokenHandlerOptions<S>;

/**
 * Makes the server side of the session-endpoint pattern; the same function as
 * `createSessionTokenHandler` of `ngx-fresh-token/oauth/server`.
 *
 * @deprecated Import `createSessionTokenHandler` from `ngx-fresh-token/oauth/server`, which imports nothing from
 * Angular (importing it from here makes a Node server load Angular and @angular/compiler). This re-export will be
 * removed in the next minor version.
 * @example
 * import { createSessionTokenHandler } from 'ngx-fresh-token/oauth/server';
 */
export function createSessionTokenHandler<S>(options: SessionTokenHandlerOptions<S>): (request: Request) => Promise<Response> {
  return createServerSessionTokenHandler(options);
}
