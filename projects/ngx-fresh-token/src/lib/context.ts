import { HttpContextToken } from '@angular/common/http';

/**
 * Set on a request's `HttpContext` to send it without a token and without 401 handling.
 *
 * @example
 * http.get('/public/config', { context: new HttpContext().set(SKIP_FRESH_TOKEN, true) });
 */
export const SKIP_FRESH_TOKEN = new HttpContextToken<boolean>(() => false);
