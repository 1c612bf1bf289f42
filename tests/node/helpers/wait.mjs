// How the Node integration tests wait: on an event where one exists (a status of AuthService.state$,
// a client's or server's event), else on a polled condition; to a deadline only when a real server's
// clock sets it (a token's `exp`); and for a fixed time only to show that something did NOT happen,
// where no event would announce its absence (each such wait says what would have come instead).
import { filter, firstValueFrom, throwError, timeout } from 'rxjs';

/** Resolves with the first value of `observable` that satisfies `predicate`; fails after `timeoutMs`. */
export function nextMatching(observable, predicate, timeoutMs, what) {
  return firstValueFrom(
    observable.pipe(
      filter(predicate),
      timeout({ first: timeoutMs, with: () => throwError(() => new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)) }),
    ),
  );
}

/**
 * Resolves when the token of `auth` has `status`: `'expiring'` once it is inside the refresh
 * buffer, `'expired'` at its expiry. `AuthService.state$` emits at each status change (it replays
 * the current state, so a status already reached resolves at once).
 */
export function untilStatus(auth, status, timeoutMs = 30_000) {
  return nextMatching(auth.state$, (s) => s.status === status, timeoutMs, `token status "${status}"`);
}

/**
 * Resolves when `condition()` holds, checking it now and each time one of `sources` (pairs of an
 * event emitter and an event name) emits; fails after `timeoutMs`. Listeners are removed either way.
 */
export function whenEvents(condition, sources, timeoutMs, what = 'condition') {
  return new Promise((resolve, reject) => {
    let timer;
    const stop = () => {
      clearTimeout(timer);
      for (const [emitter, name] of sources) emitter.removeListener(name, check);
    };
    function check() {
      let held;
      try {
        held = condition();
      } catch (err) {
        stop();
        return reject(err);
      }
      if (held) {
        stop();
        resolve();
      }
    }
    for (const [emitter, name] of sources) emitter.on(name, check);
    timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    check();
  });
}

/** Resolves when `condition()` holds, polling every 20 ms, for conditions that no event announces; fails after `timeoutMs`. */
export async function waitFor(condition, timeoutMs, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Resolves when the real clock reaches `epochMs`: for a point in time that a real server's tokens
 * set (an `exp` issued by cognito-local), which no event announces before it comes.
 */
export function untilRealTime(epochMs) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));
}

/**
 * Waits `ms` so that something that must NOT happen (a retry, a reconnect) would have happened by
 * then. Only where no event announces the absence; the caller says what would have come.
 */
export function quietPeriod(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
