import { isPlatformServer } from '@angular/common';
import { HttpBackend, HttpContextToken, HttpErrorResponse, HttpEvent, HttpInterceptorFn, HttpRequest, HttpResponse } from '@angular/common/http';
import { DestroyRef, Injectable, PLATFORM_ID, computed, inject, signal } from '@angular/core';
import { AuthService, TokenEvent, injectAuth } from 'ngx-fresh-token';
import { Observable, Subscription, tap } from 'rxjs';

/** One attempt of a request as it left the app (a retry is a second attempt). */
export interface Attempt {
  status: number;
  /** Which token the attempt carried: 1 for the first token this page saw, 2 for the next… 0 for none. */
  generation: number;
  /** Whose token it was: the default token's, or the reports API's (`withApiToken('reports', …)`). */
  token: 'default' | 'reports';
}

/** One logical request in the demo's log. */
export interface LogEntry {
  id: number;
  at: number;
  method: string;
  url: string;
  attempts: Attempt[];
  done: boolean;
  /** When the first attempt left (after the fresh-token interceptor), and with which token generation. */
  sentAt?: number;
  sentGeneration?: number;
  finishedAt?: number;
}

/** A new token between the requests of the log: from this tab's source, or adopted from another tab. */
export interface TokenRow {
  key: string;
  at: number;
  adopted: boolean;
  generation: number;
}

/**
 * Numbers the tokens the page sees, so the log can say which one a request carried without showing
 * it. Root for the dashboard; the Amplify page provides its own (its AuthService is the route's).
 */
@Injectable({ providedIn: 'root' })
export class TokenGenerations {
  private readonly numbers = new Map<string, number>();
  readonly current = signal(0);

  constructor() {
    const subscription = this.watched().token$.subscribe((token) => {
      if (token && !this.numbers.has(token)) {
        this.numbers.set(token, this.numbers.size + 1);
        this.current.set(this.numbers.size);
      }
    });
    inject(DestroyRef).onDestroy(() => subscription.unsubscribe());
  }

  /** The generation of a `Bearer` header's token; 0 for none or a token this page never held. */
  of(authorization: string | null): number {
    return this.ofToken(authorization?.startsWith('Bearer ') ? authorization.slice(7) : null);
  }

  /** The generation of a token; 0 for none or a token this page never held. */
  ofToken(token: string | null | undefined): number {
    return token ? (this.numbers.get(token) ?? 0) : 0;
  }

  /** The service whose tokens are numbered (called in the constructor, in an injection context). */
  protected watched(): AuthService {
    return inject(AuthService);
  }
}

/** Numbers the reports API's tokens (`withApiToken('reports', …)`) apart: reports #1, #2… */
@Injectable({ providedIn: 'root' })
export class ReportsGenerations extends TokenGenerations {
  protected override watched(): AuthService {
    return injectAuth('reports');
  }
}

/** Marks a request for the log; the interceptor records its attempts in the entry. */
export const LOG_ENTRY = new HttpContextToken<LogEntry | null>(() => null);

@Injectable({ providedIn: 'root' })
export class RequestLog {
  private nextId = 1;
  readonly entries = signal<LogEntry[]>([]);
  /** New tokens, shown between the requests (a refresh by this tab, or one adopted from another). */
  readonly tokens = signal<TokenRow[]>([]);
  /** Requests and new tokens, newest first. */
  readonly rows = computed<Array<{ call: LogEntry } | { token: TokenRow }>>(() =>
    [...this.entries().map((call) => ({ call, at: call.at })), ...this.tokens().map((token) => ({ token, at: token.at }))]
      .sort((a, b) => b.at - a.at)
      .slice(0, 150),
  );

  constructor() {
    const generations = inject(TokenGenerations);
    const subscription = recordTokenEvents(inject(AuthService), (e) => {
      if (e.type !== 'refreshed') return;
      const row: TokenRow = { key: `t${this.nextId}-${e.at}`, at: e.at, adopted: e.adopted === true, generation: generations.current() };
      this.tokens.update((list) => [row, ...list].slice(0, 30));
    });
    inject(DestroyRef).onDestroy(() => subscription.unsubscribe());
  }

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
    this.tokens.set([]);
  }
}

/** Records each attempt of a logged request: status and token generation. */
export const requestLogInterceptor: HttpInterceptorFn = (req, next) => {
  const entry = req.context.get(LOG_ENTRY);
  if (!entry) return next(req);
  const log = inject(RequestLog);
  const authorization = req.headers.get('Authorization');
  // Which token the attempt carried: the default token's, or else the reports API's.
  let generation = inject(TokenGenerations).of(authorization);
  let token: Attempt['token'] = 'default';
  if (!generation && authorization) {
    generation = inject(ReportsGenerations).of(authorization);
    if (generation) token = 'reports';
  }
  if (entry.sentAt === undefined) {
    entry.sentAt = Date.now();
    entry.sentGeneration = token === 'default' ? generation : 0;
  }
  const record = (status: number) => {
    entry.attempts.push({ status, generation, token });
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
  /** On `refreshed` / `loaded`: `true` when the token came from another tab (`withCrossTabSync()`), `false` when from this tab's source. */
  adopted?: boolean;
}

/**
 * Reports `auth`'s events as history entries. A `refreshed` event that brought the first token
 * after none (the session's token loaded at login or page load) is reported as `loaded`: it is not
 * a refresh. `adopted` says whether the token came from another tab.
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
      const entry: HistoryEntry = { at: Date.now(), type: e.type === 'refreshed' && previous === null ? 'loaded' : e.type, code: e.error?.code };
      if (e.type === 'refreshed') entry.adopted = e.adopted === true;
      record(entry);
      previous = current;
    }),
  );
  return subscription;
}

/**
 * Token events since the page loaded, newest first, and how many tokens this tab got from its own
 * source (refreshes) and from other tabs (adoptions). Root for the dashboard (started with the app,
 * so it sees the first token); the Amplify page provides its own.
 */
@Injectable({ providedIn: 'root' })
export class TokenHistory {
  readonly events = signal<HistoryEntry[]>([]);
  /** `refreshed` events from this tab's own source (the first token, `loaded`, is no refresh). */
  readonly refreshes = signal(0);
  /** Tokens that came from another tab (`refreshed` with `adopted`), the first one included. */
  readonly adoptions = signal(0);

  constructor() {
    // This tab's history: what a server render did (its token load) happened in no tab.
    if (isPlatformServer(inject(PLATFORM_ID))) return;
    const subscription = recordTokenEvents(inject(AuthService), (entry) => {
      if (entry.adopted) this.adoptions.update((n) => n + 1);
      else if (entry.type === 'refreshed') this.refreshes.update((n) => n + 1);
      this.events.update((list) => [entry, ...list].slice(0, 30));
    });
    inject(DestroyRef).onDestroy(() => subscription.unsubscribe());
  }
}

/** One answer of the BFF's `/session/token` and which demo instance gave it (`npm run demo:cluster`). */
export interface SessionTokenAnswer {
  id: number;
  at: number;
  status: number;
  /** The `X-Demo-Instance` header; `null` from a single demo server (`npm start`). */
  instance: string | null;
}

/**
 * The last `/session/token` answers with the instance that gave them. The session endpoint's source
 * calls the HttpBackend directly (no interceptor sees it), so this records at the backend.
 */
@Injectable({ providedIn: 'root' })
export class SessionTokenAnswers {
  private nextId = 1;
  readonly entries = signal<SessionTokenAnswer[]>([]);
  /** Only a cluster's instances name themselves. */
  readonly fromCluster = computed(() => this.entries().some((e) => e.instance !== null));

  record(status: number, instance: string | null): void {
    this.entries.update((list) => [{ id: this.nextId++, at: Date.now(), status, instance }, ...list].slice(0, 12));
  }
}

/** Wraps the app's HttpBackend: every request passes through unchanged; `/session/token` answers are recorded. */
export function recordingBackend(inner: HttpBackend, answers: SessionTokenAnswers): HttpBackend {
  return {
    handle(request: HttpRequest<unknown>): Observable<HttpEvent<unknown>> {
      if (!request.url.endsWith('/session/token')) return inner.handle(request);
      return inner.handle(request).pipe(
        tap({
          next: (event) => {
            if (event instanceof HttpResponse) answers.record(event.status, event.headers.get('X-Demo-Instance'));
          },
          error: (err: unknown) => {
            if (err instanceof HttpErrorResponse) answers.record(err.status, err.headers?.get('X-Demo-Instance') ?? null);
          },
        }),
      );
    },
  };
}
