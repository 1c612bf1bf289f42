/*
 * Public API of ngx-fresh-token/oauth/server: the server side of the session-endpoint
 * (backend-for-frontend) pattern, as a Web `Request` → `Response` handler, and the render context
 * that hands a server render (Angular SSR's `REQUEST_CONTEXT`) the request's session. Imports
 * nothing from Angular or the DOM, so a Node (or Deno, Bun, edge) server loads it without @angular/compiler.
 */
export { SESSION_CSRF_HEADER, SESSION_FORCE_REFRESH_HEADER, SESSION_REPLACES_TOKEN_HEADER, createSessionTokenHandler } from './session-token-handler';
export type { IssuedAccessToken, SessionTokenHandlerOptions } from './session-token-handler';
export { FRESH_TOKEN_RENDER_CONTEXT_KEY, createSessionRenderContext, readSessionRenderContext } from './render-context';
export type { SessionRenderContext, SessionRenderContextOptions } from './render-context';
