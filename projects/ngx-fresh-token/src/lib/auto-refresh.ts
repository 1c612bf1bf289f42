import { DOCUMENT } from '@angular/common';
import { inject } from '@angular/core';
import type { AuthService } from './auth.service';
import { FRESH_TOKEN_CLOCK, ɵstartTimer } from './clock';
import { ɵOPTIONAL, ɵonServer } from './config';
import { refreshAt } from './lifetime';

/** Whether the page counts as visible: `visible`, or no `visibilityState` at all (`hidden`/`prerender` are not). */
function isVisible(doc: Document): boolean {
  const v = doc.visibilityState as string | undefined;
  return v === undefined || v === 'visible';
}

/**
 * The code behind `withAutoRefresh()`, handed to the service through DI so that apps without the
 * feature do not ship it: one timer at `refreshAt` (or the cool-down's end), re-armed at every
 * change of what the service holds; none while the page is hidden, and becoming visible re-arms it
 * (firing at once when the token is then inside the buffer or expired). Never on the server.
 */
export function ɵautoRefreshFactory(): ((auth: AuthService) => void) | null {
  const doc = inject(DOCUMENT, ɵOPTIONAL);
  const clock = inject(FRESH_TOKEN_CLOCK);
  if (!doc || ɵonServer()) return null;
  return (auth) => {
    let cancel: (() => void) | undefined;
    const arm = () => {
      cancel?.();
      cancel = undefined;
      const { life, coolDownUntil } = auth.ɵheld;
      const at = life && refreshAt(life);
      if (at === null || !isVisible(doc)) return;
      cancel = ɵstartTimer(clock, Math.max(at, coolDownUntil) - clock.now(), () => {
        cancel = undefined;
        auth.ɵrefreshInBackground();
      });
    };
    doc.addEventListener?.('visibilitychange', arm);
    // Re-armed at every change; the stream completes when the service is destroyed.
    auth.ɵchanges.subscribe({
      next: arm,
      complete: () => {
        doc.removeEventListener?.('visibilitychange', arm);
        cancel?.();
      },
    });
  };
}
