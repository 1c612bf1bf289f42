import { HttpContextToken, HttpErrorResponse, HttpInterceptorFn, HttpResponse } from '@angular/common/http';
import { Injectable, inject, signal } from '@angular/core';
import { AuthService, TokenEvent } from 'ngx-fresh-token';
import { Subscription, tap } from 'rxjs';

/** One attempt of a request as it left the app (a retry is a second attempt). */
export interface Attempt {
  status: number;
  /** Which token the attempt carried: 1 for the first token this page saw, 2 for the next… 0 for none. */
  generation: number;
}

/** One logical request in the demo's log. */
export interface LogEntry {
  id: number;
  at: number;
  method: string;
  url: string;
  attempts: Attempt[];
  done: boolean;
}

/** Numbers the tokens the page sees, so the log can say which one a request carried without showing it. */
@Injectable({ providedIn: 'root' })
export class TokenGenerations {
  private readonly numbers = new Map<string, number>();
  readonly current = signal(0);

  constructor() {
    inject(AuthService).token$.subscribe((token) => {
      if (token && !this.numbers.has(token)) {
        this.numbers.set(token, this.numbers.size + 1);
        this.current.set(this.numbers.size);
      }
    });
  }

  of(authorization: string | null): number {
    const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : null;
    return token ? (this.numbers.get(token) ?? 0) : 0;
  }
}

/** Marks a request for the log; the interceptor records its attempts in the entry. */
export const LOG_ENTRY = new HttpContextToken<LogEntry | null>(() => null);

@Injectable({ providedIn: 'root' })
export class RequestLog {
  private nextId = 1;
  readonly entries = signal<LogEntry[]>([]);

  start(method: string, url: string): LogEntry {
    const entry: LogEntry = { id: this.nextId++, at: Date.now(), method, url, attempts: [], done: false };
    this.entries.update((list) => [entry, ...list].slice(0, 120));
    return entry;
  }

  touch(): void {
    this.entries.update((list) => [...list]);
  }

  clear(): void {
    this.entries.set([]);
  }
}

/** Records each attempt of a logged request: status and token generation. */
export const requestLogInterceptor: HttpInterceptorFn = (req, next) => {
  const entry = req.context.get(LOG_ENTRY);
  if (!entry) return next(req);
  const log = inject(RequestLog);
  const generation = inject(TokenGenerations).of(req.headers.get('Authorization'));
  const record = (status: number) => {
    entry.attempts.push({ status, generation });
    log.touch();
  };
  return next(req).pipe(
    tap({
      next: (event) => event instanceof HttpResponse && record(event.status),
      error: (err: unknown) => record(err instanceof HttpErrorResponse ? err.status : -1),
    }),
  );
};

/** One line of a page's token-event list. */
export interface HistoryEntry {
  at: number;
  type: TokenEvent['type'] | 'loaded';
  code?: string;
}

/**
 * Reports `auth`'s events as history entries. A `refreshed` event that brought the first token
 * after none (the session's token loaded at login or page load) is reported as `loaded`: it is not
 * a refresh.
 */
export function recordTokenEvents(auth: AuthService, record: (entry: HistoryEntry) => void): Subscription {
  // token$ emits before the event that reports the same change, so keep the token before it.
  let current: string | null = null;
  let previous: string | null = null;
  const subscription = auth.token$.subscribe((token) => {
    previous = current;
    current = token;
  });
  subscription.add(
    auth.events$.subscribe((e) => {
      record({ at: Date.now(), type: e.type === 'refreshed' && previous === null ? 'loaded' : e.type, code: e.error?.code });
      previous = current;
    }),
  );
  return subscription;
}

/** Token events since the app started, newest first. */
@Injectable({ providedIn: 'root' })
export class TokenHistory {
  readonly events = signal<HistoryEntry[]>([]);

  constructor() {
    recordTokenEvents(inject(AuthService), (entry) => this.events.update((list) => [entry, ...list].slice(0, 20)));
  }
}
