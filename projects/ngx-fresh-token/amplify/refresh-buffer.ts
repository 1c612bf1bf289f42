import { inject } from '@angular/core';
import { FRESH_TOKEN_REFRESH_BUFFER_MS } from 'ngx-fresh-token';

/**
 * The app's refresh buffer in ms (`withRefreshBuffer()`, 30 s by default), read in an injection
 * context from the core's public `FRESH_TOKEN_REFRESH_BUFFER_MS`.
 *
 * @example
 * const bufferMs = injectRefreshBufferMs();
 */
export function injectRefreshBufferMs(): number {
  return inject(FRESH_TOKEN_REFRESH_BUFFER_MS);
}
