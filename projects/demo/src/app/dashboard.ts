import { DatePipe } from '@angular/common';
import { HttpClient, HttpContext } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, DestroyRef, afterNextRender, computed, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { RouterLink } from '@angular/router';
import { jwtDecode } from 'jwt-decode';
import { AuthService, SKIP_FRESH_TOKEN } from 'ngx-fresh-token';
import { TokenCountdown } from './token-countdown';
import { LOG_ENTRY, LogEntry, RequestLog, TokenGenerations, TokenHistory } from './request-log';

/** What one session (or the whole server) counted. */
interface Counters {
  logins: number;
  refreshes: number;
  requests: number;
  unauthorized: number;
  revocations: number;
}

/** `GET /api/stats`: every session since the server started, and the caller's own (`null` without one). */
interface ServerStats extends Counters {
  requestsByGeneration: Record<string, number>;
  accessTokenTtlSeconds: number;
  session: Counters | null;
}

interface Claims {
  sub?: string;
  jti?: string;
  iat?: number;
  exp?: number;
  aud?: string | string[];
  scope?: string;
}

@Component({
  selector: 'app-dashboard',
  imports: [DatePipe, RouterLink, TokenCountdown],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <section class="grid">
      <article class="card token" data-testid="token-panel">
        <header>
          <h2>Access token</h2>
          <span class="badge" [class]="'badge ' + state().status" data-testid="status">{{ state().status }}</span>
          @if (state().refreshing) {
            <span class="badge refreshing">refreshing…</span>
          }
        </header>
        @if (state().token) {
          <app-token-countdown [state]="state()" [expiresInMs]="expiresInMs()" [generation]="generation()" />
          <dl class="claims">
            <dt>sub</dt><dd data-testid="sub">{{ claims()?.sub }}</dd>
            <dt>jti</dt><dd>{{ claims()?.jti?.slice(0, 12) }}…</dd>
            <dt>issued</dt><dd>{{ (claims()?.iat ?? 0) * 1000 | date: 'HH:mm:ss' }}</dd>
            <dt>expires</dt><dd>{{ (claims()?.exp ?? 0) * 1000 | date: 'HH:mm:ss' }}</dd>
            <dt>scope</dt><dd>{{ claims()?.scope }}</dd>
          </dl>
        } @else {
          <p class="muted">Signed out. Requests go without a token. <a routerLink="/login" data-testid="login-link">Log in</a></p>
        }
        @if (state().error; as error) {
          <p class="error">Last refresh error: {{ error.code }}</p>
        }
      </article>

      <article class="card actions">
        <h2>Try it</h2>
        <div class="buttons">
          <button (click)="callApi()" data-testid="call">Call API</button>
          <button (click)="burst()" data-testid="burst">Burst of 50 parallel calls</button>
          <button (click)="revoke()" [disabled]="!state().token" data-testid="revoke">Revoke token server-side</button>
          <button class="secondary" (click)="signOut()" [disabled]="!state().token" data-testid="signout">Sign out</button>
        </div>
        <p class="hint" data-testid="burst-hint">
          A burst shows a refresh only while the token is <strong>expiring</strong>, inside the striped refresh buffer
          of the bar: then all 50 calls wait for one refresh and go out with the new token. With a fresh token they
          all carry the current one, and no refresh is needed.
        </p>
        <h3 data-testid="stats-scope">Server counters · this session</h3>
        @if (stats(); as s) {
          @if (s.session; as c) {
            <dl class="counters" data-testid="stats">
              <dt>token refreshes</dt><dd data-testid="stat-refreshes">{{ c.refreshes }}</dd>
              <dt>API requests</dt><dd data-testid="stat-requests">{{ c.requests }}</dd>
              <dt>401 answers</dt><dd data-testid="stat-401">{{ c.unauthorized }}</dd>
              <dt>revoked tokens</dt><dd>{{ c.revocations }}</dd>
            </dl>
          } @else {
            <p class="muted" data-testid="stats-no-session">No session: its counters start at zero when you log in.</p>
          }
          <p class="muted small" data-testid="stats-global">
            All sessions since the server started: <span class="nowrap">refreshes {{ s.refreshes }}</span> ·
            <span class="nowrap">API requests {{ s.requests }}</span> · <span class="nowrap">401 answers {{ s.unauthorized }}</span>
          </p>
        }
        <h3>Token events</h3>
        <ol class="events" data-testid="events">
          @for (e of history(); track $index) {
            <li><time>{{ e.at | date: 'HH:mm:ss' }}</time> <span [class]="'event ' + e.type">{{ e.type }}</span> {{ e.code }}</li>
          } @empty {
            <li class="muted">No events yet.</li>
          }
        </ol>
      </article>
    </section>

    <article class="card log">
      <header>
        <h2>Requests</h2>
        <span class="muted">this page · {{ log.entries().length }} shown · newest first</span>
        <button class="link" (click)="log.clear()">clear</button>
      </header>
      <table data-testid="log">
        <thead><tr><th>#</th><th>time</th><th>request</th><th>attempts (status · token)</th><th></th></tr></thead>
        <tbody>
          @for (entry of log.entries(); track entry.id) {
            <tr [attr.data-testid]="'log-' + entry.id" [attr.data-done]="entry.done">
              <td>{{ entry.id }}</td>
              <td>{{ entry.at | date: 'HH:mm:ss.SSS' }}</td>
              <td>{{ entry.method }} {{ entry.url }}</td>
              <td>
                @for (a of entry.attempts; track $index) {
                  <span [class]="'attempt s' + a.status">{{ a.status }} · {{ a.generation ? '#' + a.generation : 'no token' }}</span>
                  @if (!$last) { → }
                }
              </td>
              <td>@if (entry.attempts.length > 1) { <span class="badge retried">retried</span> }</td>
            </tr>
          } @empty {
            <tr><td colspan="5" class="muted">Press a button above.</td></tr>
          }
        </tbody>
      </table>
    </article>
  `,
})
export class Dashboard {
  private readonly auth = inject(AuthService);
  private readonly http = inject(HttpClient);
  private readonly generations = inject(TokenGenerations);
  protected readonly log = inject(RequestLog);

  protected readonly state = this.auth.state;
  protected readonly generation = this.generations.current;
  protected readonly history = inject(TokenHistory).events;
  protected readonly stats = signal<ServerStats | null>(null);
  protected readonly expiresInMs = toSignal(this.auth.expiresIn$, { initialValue: null });

  protected readonly claims = computed<Claims | null>(() => {
    const token = this.state().token;
    try {
      return token ? jwtDecode<Claims>(token) : null;
    } catch {
      return null;
    }
  });

  constructor() {
    const destroyRef = inject(DestroyRef);
    // Browser only: load the session's token and keep the server counters current.
    afterNextRender(() => {
      void this.auth.getValidToken().catch(() => undefined);
      this.loadStats();
      const timer = setInterval(() => this.loadStats(), 2_000);
      destroyRef.onDestroy(() => clearInterval(timer));
    });
  }

  protected callApi(): void {
    this.send('GET', '/api/data');
  }

  protected burst(): void {
    for (let i = 0; i < 50; i++) this.send('GET', '/api/data');
  }

  protected revoke(): void {
    this.send('POST', '/api/revoke');
  }

  protected async signOut(): Promise<void> {
    await this.auth.signOut();
    this.loadStats();
  }

  private send(method: 'GET' | 'POST', url: string): void {
    const entry: LogEntry = this.log.start(method, url);
    const context = new HttpContext().set(LOG_ENTRY, entry);
    this.http.request(method, url, { context }).subscribe({
      next: () => this.finish(entry),
      error: () => this.finish(entry),
    });
  }

  private finish(entry: LogEntry): void {
    entry.done = true;
    this.log.touch();
    this.loadStats();
  }

  private statsQueued = false;

  private loadStats(): void {
    if (this.statsQueued) return;
    this.statsQueued = true;
    queueMicrotask(() => {
      this.statsQueued = false;
      this.fetchStats();
    });
  }

  private fetchStats(): void {
    // The counters endpoint needs no token; SKIP_FRESH_TOKEN keeps it from ever causing a refresh.
    const context = new HttpContext().set(SKIP_FRESH_TOKEN, true);
    this.http.get<ServerStats>('/api/stats', { context }).subscribe({ next: (s) => this.stats.set(s), error: () => undefined });
  }
}
