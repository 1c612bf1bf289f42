import { inject } from '@angular/core';
import { ɵREFRESH_BUFFER_MS } from 'ngx-fresh-token';

/**
 * The app's refresh buffer in ms (`withRefreshBuffer()`, 30 s by default), read in an injection
 * context. The only place this entry reads it: the core exposes it only as `ɵREFRESH_BUFFER_MS`
 * for now, so when it becomes a public token, this function is the one line to change.
 *
 * @example
 * const bufferMs = injectRefreshBufferMs();
 */
export function injectRefreshBufferMs(): number {
  return inject(ɵREFRESH_BUFFER_MS);
}
