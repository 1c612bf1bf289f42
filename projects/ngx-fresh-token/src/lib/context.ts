import { HttpContextToken } from '@angular/common/http';

/**
 * Set on a request's `HttpContext` to send it without a token and without 401 handling.
 *
 * @example
 * http.get('/public/config', { context: new HttpContext().set(SKIP_FRESH_TOKEN, true) });
 */
export const SKIP_FRESH_TOKEN = /* @__PURE__ */ new HttpContextToken<boolean>(() => false);

/**
 * Set on a `GET` request's `HttpContext` to hand its response from the server render to the browser:
 * when the render sent it with the token, the response BODY (JSON or text; never a header, never the
 * token — a body that contains the token is not transferred) goes into `TransferState`, and the
 * browser's same request during hydration is answered from it once, without a token or a fetch.
 * Off by default. Safe only because a page rendered for a signed-in session is
 * `Cache-Control: private, no-store`: the body is in that user's HTML, and nowhere else.
 *
 * @example
 * http.get<Profile>('/api/profile', { context: new HttpContext().set(TRANSFER_AUTHENTICATED_RESPONSE, true) });
 */
export const TRANSFER_AUTHENTICATED_RESPONSE = /* @__PURE__ */ new HttpContextToken<boolean>(() => false);
