import type { TokenState } from 'ngx-fresh-token';

/**
 * What happens next, in words, for each state the token can be in, so a signed-in user never sees a
 * bare "expired": when the refresh starts (`state.refreshAt`), that it runs, or what starts it.
 * Pure (no Angular), so the e2e stage can check every branch with Node alone.
 *
 * @example
 * nextStep(auth.state(), true, Date.now(), (ms) => new Date(ms).toLocaleTimeString()); // 'Fresh — refreshes automatically at …'
 */
export function nextStep(state: TokenState, autoRefresh: boolean, nowMs: number, format: (ms: number) => string): string {
  const error = state.error ? ` (last refresh failed: ${state.error.code})` : '';
  switch (state.status) {
    case 'signed-out':
      return 'Signed out — log in to get a token. Requests go without one meanwhile.';
    case 'fresh':
      if (state.refreshAt === null) return 'Fresh — this token does not expire.';
      return autoRefresh
        ? `Fresh — refreshes automatically at ${format(state.refreshAt)}, in the background.`
        : `Fresh — the first request after ${format(state.refreshAt)} refreshes it, in the background.`;
    case 'expiring':
      // A token that lives shorter than twice the buffer is `expiring` before its refresh starts, at half its life.
      if (!state.refreshing && !state.error && state.refreshAt !== null && state.refreshAt > nowMs) {
        return autoRefresh
          ? `Shorter-lived than twice the refresh buffer — refreshes automatically at ${format(state.refreshAt)} (half its life).`
          : `Shorter-lived than twice the refresh buffer — the first request after ${format(state.refreshAt)} (half its life) refreshes it.`;
      }
      if (state.refreshing) return 'Inside the buffer — refreshing in the background; requests go out at once with this token.';
      if (state.error) return `Inside the buffer${error} — requests use this token until it expires, then wait for a new one; the next try follows the cool-down.`;
      return autoRefresh
        ? 'Inside the buffer — refreshes automatically while the page is visible; requests go out at once with this token.'
        : 'Inside the buffer — the next request refreshes it in the background and goes out at once.';
    case 'expired':
      if (state.refreshing) return 'Expired — refreshing…; requests wait for the new token.';
      return `Expired${error} — the next request${autoRefresh ? ' (or the page becoming visible)' : ''} refreshes it first.`;
  }
}

