import type { FreshTokenClock, FreshTokenTimerHandle } from 'ngx-fresh-token';

interface PendingTimer {
  id: number;
  dueMs: number;
  callback: () => void;
}

// Captured at load, so flushing still works while jasmine.clock() is installed.
const realSetTimeout = globalThis.setTimeout.bind(globalThis);

/**
 * Lets every pending promise callback run: one real macrotask drains the microtask queue.
 *
 * @example
 * const token = auth.getValidToken();
 * await flushMicrotasks(); // the refresh request has gone out
 * httpMock.expectOne(TOKEN_URL);
 */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, 0));
}

/**
 * A {@link FreshTokenClock} that only moves when told to, for tests: `advance(ms)` runs due
 * timers in order and lets promises settle between them.
 *
 * @example
 * const clock = new ManualClock(Date.UTC(2026, 0, 1));
 * await clock.advance(30_000);
 */
export class ManualClock implements FreshTokenClock {
  private nowMs: number;
  private nextId = 1;
  private readonly timers: PendingTimer[] = [];

  /** Starts at `startMs`, by default the current time rounded down to a whole second (JWT times are in seconds). */
  constructor(startMs = Math.floor(Date.now() / 1000) * 1000) {
    this.nowMs = startMs;
  }

  /** Current fake time in epoch ms. */
  now(): number {
    return this.nowMs;
  }

  /** Schedules `callback` at now + `delayMs` of fake time. */
  setTimeout(callback: () => void, delayMs: number): FreshTokenTimerHandle {
    const timer = { id: this.nextId++, dueMs: this.nowMs + Math.max(0, delayMs), callback };
    this.timers.push(timer);
    return timer.id;
  }

  /** Cancels a pending timer. */
  clearTimeout(handle: FreshTokenTimerHandle): void {
    const index = this.timers.findIndex((t) => t.id === handle);
    if (index >= 0) this.timers.splice(index, 1);
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing each due timer at its own time, settling promises in between. */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await flushMicrotasks();
    for (;;) {
      const due = this.timers.filter((t) => t.dueMs <= target).sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.nowMs = Math.max(this.nowMs, due.dueMs);
      due.callback();
      await flushMicrotasks();
    }
    this.nowMs = target;
    await flushMicrotasks();
  }
}
