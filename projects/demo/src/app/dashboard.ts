import { DatePipe } from '@angular/common';
import { HttpClient, HttpContext } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, DestroyRef, afterNextRender, computed, inject, signal } from '@angular/core';
import { AuthService, SKIP_FRESH_TOKEN, TRANSFER_AUTHENTICATED_RESPONSE, TokenState, injectAuth } from 'ngx-fresh-token';
import { Subscription, filter, take } from 'rxjs';
import { LOG_ENTRY, LogEntry, RequestLog, SessionTokenAnswers, TokenGenerations, TokenHistory } from './request-log';
import { TokenEvents } from './token-events';
import { TokenPanel } from './token-panel';
import { TokenLifetime } from './token-lifetime';
import { reportsApiUrl } from './reports-api';
import { ProxyPanel } from './proxy-panel';

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

/** `GET /api/profile`: whose token the API saw. */
interface Profile {
  sub: string;
  scope?: string;
  generation: number;
  servedAt: number;
}

/** `GET /reports-api/summary`: what the reports API saw (its own token's audience and generation). */
interface ReportsAnswer {
  user: string;
  aud: string;
  scope: string;
  generation: number;
}

/** One burst of 50 calls, for the summary under the buttons. */
interface Burst {
  kind: 'now' | 'in-buffer';
  firedAt: number;
  calls: LogEntry[];
}

const BURST_SIZE = 50;

@Component({
  selector: 'app-dashboard',
  imports: [DatePipe, TokenEvents, TokenLifetime, TokenPanel, ProxyPanel],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <section class="grid">
      <app-token-panel heading="Access token" [claims]="claims" [autoRefresh]="true" loginLink="/login">
        @if (auth.sessionUser(); as user) {
          <p class="session-user" data-testid="session-user">
            Signed in as <strong data-testid="session-user-name">{{ user['name'] ?? user['sub'] }}</strong>
            (sub <span data-testid="session-user-sub">{{ user['sub'] }}</span>)
          </p>
        }
        @if (profile(); as p) {
          <p class="profile small" data-testid="profile">
            <code>GET /api/profile</code> answered for <span data-testid="profile-sub">{{ p.sub }}</span> with token
            <span data-testid="profile-generation">#{{ p.generation }}</span> at {{ p.servedAt | date: 'HH:mm:ss' }}
            <span class="muted">(called during the server render; the browser got the body from the page, not by fetching it again)</span>
          </p>
        }
        <ul class="features">
          <li data-testid="auto-refresh"><strong>Auto refresh</strong> on: the token is renewed as it enters the buffer while this page is visible, with no request needed.</li>
          <li data-testid="cross-tab">
            <strong>Cross-tab sync</strong> on: one refresh per browser; other tabs adopt the new token.
            This tab: <span class="nowrap"><span data-testid="tab-refreshes">{{ tabRefreshes() }}</span> refreshed ·
            <span data-testid="tab-adoptions">{{ tabAdoptions() }}</span> adopted</span>
          </li>
        </ul>
      </app-token-panel>

      <article class="card actions">
        <h2>Try it</h2>
        <div class="buttons">
          <button (click)="callApi()" data-testid="call">Call API</button>
          <button (click)="burst()" data-testid="burst">Burst of 50 parallel calls</button>
          <button (click)="burstInBuffer()" [disabled]="!state().token || burstWaiting()" data-testid="burst-in-buffer">
            {{ burstWaiting() ? 'Waiting for the buffer…' : 'Burst of 50 inside the buffer' }}
          </button>
          <button (click)="revoke()" [disabled]="!state().token" data-testid="revoke">Revoke token server-side</button>
          <button class="secondary" (click)="signOut()" [disabled]="!state().token" data-testid="signout">Sign out</button>
        </div>
        @if (burstWaiting()) {
          <p class="hint" data-testid="burst-wait">
            The burst fires when the token enters the buffer (at {{ state().refreshAt | date: 'HH:mm:ss' }}), the moment
            the refresh starts. <button class="link inline" (click)="cancelBurst()" data-testid="burst-cancel">cancel</button>
          </p>
        }
        @if (burstSummary(); as b) {
          <p class="burst-summary" data-testid="burst-summary">
            {{ b.label }}: <span data-testid="burst-sent">{{ b.sent }}</span> calls went out within {{ b.spreadMs }} ms, carrying token
            <span data-testid="burst-generations">{{ b.generations }}</span> · {{ b.done }}/{{ b.sent }} answered,
            <span data-testid="burst-ok">{{ b.ok }}</span> with 200 · refreshes meanwhile:
            <span data-testid="burst-refreshes">{{ b.refreshes }}</span>{{ b.refreshNote }}
          </p>
        }
        <p class="hint" data-testid="burst-hint">
          Inside the striped refresh buffer (token <strong>expiring</strong>) requests do not wait: all 50 go out at once
          with the current token while <strong>one refresh</strong> runs in the background for all of them. Only in the
          last 10 s (below the min validity) or once expired would they wait for it. Auto refresh renews the token as it
          enters the buffer, so use <em>Burst of 50 inside the buffer</em> to catch that moment; with a fresh token a
          burst needs no refresh.
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
        <h3>Token events · this tab</h3>
        <app-token-events [events]="history()" [showOrigin]="true" />
      </article>
    </section>

    <article class="card apis" data-testid="api-tokens">
      <header>
        <h2>Tokens per API</h2>
        <span class="muted small"><code>withApiToken('reports', [REPORTS_API_RULE], withSessionEndpoint({{ '{' }} api: 'reports' {{ '}' }}))</code></span>
      </header>
      <p class="hint">
        Two APIs, two tokens, each kept fresh on its own: this app's API (same origin) takes the default token, the
        reports API (another origin, 127.0.0.1) takes only tokens for its own audience, with <code>reports:read</code>
        and nothing more. Each request carries the token of the API it goes to — the request log says which.
      </p>
      <div class="lifetimes">
        <app-token-lifetime name="default" label="Default token → this app's API" />
        <app-token-lifetime name="reports" label="reports token → the reports API" />
      </div>
      <div class="buttons">
        <button (click)="callReports()" [disabled]="!reportsUrl" data-testid="call-reports">Call reports API</button>
        <button class="secondary" (click)="callBoth()" [disabled]="!reportsUrl" data-testid="call-both">Call both APIs</button>
      </div>
      @if (reportsAnswer(); as r) {
        <p class="small" data-testid="reports-answer">
          The reports API answered for <strong data-testid="reports-answer-user">{{ r.user }}</strong>: token
          <span data-testid="reports-answer-generation">reports #{{ r.generation }}</span>, audience
          <code data-testid="reports-answer-aud">{{ r.aud }}</code>, scope <code>{{ r.scope }}</code>.
        </p>
      }
    </article>

    <app-proxy-panel />

    <article class="card log">
      <header>
        <h2>Requests</h2>
        <span class="muted">this page · {{ log.entries().length }} shown · newest first</span>
        <button class="link" (click)="log.clear()">clear</button>
      </header>
      @if (tokenAnswers.fromCluster()) {
        <p class="muted small" data-testid="session-token-answers">
          /session/token answered by (newest first):
          @for (a of tokenAnswers.entries(); track a.id) {
            <span class="nowrap" data-testid="session-token-answer" [attr.data-instance]="a.instance">{{ a.instance ?? '?' }} · {{ a.status }}</span>
            @if (!$last) { · }
          }
        </p>
      }
      <table data-testid="log">
        <thead><tr><th>#</th><th>time</th><th>request</th><th>attempts (status · token)</th><th></th></tr></thead>
        <tbody>
          @for (row of log.rows(); track rowKey(row)) {
            @if ('call' in row) {
              <tr [attr.data-testid]="'log-' + row.call.id" [attr.data-done]="row.call.done">
                <td>{{ row.call.id }}</td>
                <td>{{ row.call.at | date: 'HH:mm:ss.SSS' }}</td>
                <td>{{ row.call.method }} {{ row.call.url }}</td>
                <td>
                  @for (a of row.call.attempts; track $index) {
                    <span [class]="'attempt s' + a.status" [attr.data-token]="a.generation ? a.token : 'none'">{{ a.status }} · {{ a.generation ? (a.token === 'reports' ? 'reports #' : '#') + a.generation : 'no token' }}</span>
                    @if (!$last) { → }
                  }
                </td>
                <td>@if (row.call.attempts.length > 1) { <span class="badge retried">retried</span> }</td>
              </tr>
            } @else {
              <tr class="token-row" data-testid="token-row" [attr.data-origin]="row.token.adopted ? 'other-tab' : 'this-tab'">
                <td></td>
                <td>{{ row.token.at | date: 'HH:mm:ss.SSS' }}</td>
                <td colspan="3">⟳ {{ row.token.adopted ? 'adopted from another tab' : 'refreshed (this tab)' }} → token #{{ row.token.generation }}</td>
              </tr>
            }
          } @empty {
            <tr><td colspan="5" class="muted">Press a button above.</td></tr>
          }
        </tbody>
      </table>
    </article>
  `,
})
export class Dashboard {
  protected readonly auth = inject(AuthService);
  /** The reports API's token (`withApiToken('reports', …)`): an AuthService of its own. */
  private readonly reports = injectAuth('reports');
  /** Where the reports API is (another origin); `null` in the server render. */
  protected readonly reportsUrl = reportsApiUrl();
  protected readonly reportsAnswer = signal<ReportsAnswer | null>(null);
  protected readonly tokenAnswers = inject(SessionTokenAnswers);
  private readonly http = inject(HttpClient);
  private readonly generations = inject(TokenGenerations);
  private readonly tokenHistory = inject(TokenHistory);
  protected readonly log = inject(RequestLog);

  protected readonly claims = [{ name: 'sub', testId: 'sub' }, { name: 'jti' }, { name: 'iat' }, { name: 'exp' }, { name: 'scope' }];
  protected readonly state = this.auth.state;
  protected readonly history = this.tokenHistory.events;
  protected readonly tabRefreshes = this.tokenHistory.refreshes;
  protected readonly tabAdoptions = this.tokenHistory.adoptions;
  protected readonly stats = signal<ServerStats | null>(null);
  protected readonly profile = signal<Profile | null>(null);

  protected readonly burstWaiting = signal(false);
  private readonly lastBurst = signal<Burst | null>(null);
  private burstWait: Subscription | undefined;

  /** What the last burst did: how fast its calls left, which tokens they carried, how many refreshes ran meanwhile. */
  protected readonly burstSummary = computed(() => {
    const burst = this.lastBurst();
    if (!burst) return null;
    this.log.entries(); // re-read as answers come in
    const calls = burst.calls;
    const sent = calls.filter((c) => c.sentAt !== undefined);
    const times = sent.map((c) => c.sentAt!);
    const generations = [...new Set(sent.map((c) => c.sentGeneration ?? 0))].sort((a, b) => a - b);
    // New tokens from the burst until 5 s after its last answer (later ones are the next refresh cycle).
    const done = calls.every((c) => c.done);
    const until = done ? Math.max(...calls.map((c) => c.finishedAt ?? 0)) + 5_000 : Infinity;
    const tokens = this.history().filter((e) => e.type === 'refreshed' && e.at >= burst.firedAt && e.at <= until);
    const own = tokens.filter((e) => !e.adopted).length;
    const adopted = tokens.length - own;
    return {
      label: burst.kind === 'in-buffer' ? 'Burst inside the buffer' : 'Burst',
      sent: sent.length,
      spreadMs: times.length ? Math.max(...times) - Math.min(...times) : 0,
      generations: generations.map((g) => (g ? `#${g}` : 'none')).join(', '),
      done: calls.filter((c) => c.done).length,
      ok: calls.filter((c) => c.attempts.at(-1)?.status === 200).length,
      refreshes: own + adopted,
      refreshNote: own + adopted ? ` (${own ? 'this tab' : 'adopted from another tab'}) → now token #${this.generations.current()}` : '',
    };
  });

  constructor() {
    const destroyRef = inject(DestroyRef);
    destroyRef.onDestroy(() => this.burstWait?.unsubscribe());
    // Rendered for a signed-in session (on the server, or hydrating what it rendered): the profile is
    // fetched during the server render with the token, and its body handed to the browser in the page.
    if (this.state().status !== 'signed-out') this.loadProfile();
    // Browser only: load the session's token and keep the server counters current.
    afterNextRender(() => {
      void this.auth
        .getValidToken()
        .then((token) => token && !this.profile() && this.loadProfile())
        .catch(() => undefined);
      // The reports token too, so both lifetimes show side by side (each refreshes on its own).
      void this.reports.getValidToken().catch(() => undefined);
      this.loadStats();
      const timer = setInterval(() => this.loadStats(), 2_000);
      destroyRef.onDestroy(() => clearInterval(timer));
    });
  }

  private loadProfile(): void {
    const context = new HttpContext().set(TRANSFER_AUTHENTICATED_RESPONSE, true);
    this.http.get<Profile>('/api/profile', { context }).subscribe({ next: (p) => this.profile.set(p), error: () => undefined });
  }

  protected rowKey(row: { call: LogEntry } | { token: { key: string } }): string {
    return 'call' in row ? `c${row.call.id}` : row.token.key;
  }

  protected callApi(): void {
    this.send('GET', '/api/data');
  }

  protected burst(): void {
    this.fireBurst('now');
  }

  /**
   * Waits until the refresh starts (at `state.refreshAt`: the buffer, or half the token's life for a
   * token shorter than twice the buffer; auto refresh starts it then), then fires the burst: all 50
   * go out at once with the current token while one refresh runs.
   */
  protected burstInBuffer(): void {
    this.cancelBurst();
    this.burstWaiting.set(true);
    const started = (s: TokenState) => s.status === 'signed-out' || s.status === 'expired' || s.refreshing || (s.refreshAt !== null && Date.now() >= s.refreshAt);
    this.burstWait = this.auth.state$.pipe(filter(started), take(1)).subscribe((s) => {
      this.burstWaiting.set(false);
      if (s.status === 'signed-out') return;
      // A microtask later, so the refresh whose start changed the status (auto refresh) is in
      // flight and the 50 calls share it rather than each asking for one.
      queueMicrotask(() => this.fireBurst('in-buffer'));
    });
  }

  protected cancelBurst(): void {
    this.burstWait?.unsubscribe();
    this.burstWait = undefined;
    this.burstWaiting.set(false);
  }

  protected callReports(): void {
    if (this.reportsUrl) this.send('GET', `${this.reportsUrl}/summary`, (body) => this.reportsAnswer.set(body as ReportsAnswer));
  }

  protected callBoth(): void {
    this.callApi();
    this.callReports();
  }

  protected revoke(): void {
    this.send('POST', '/api/revoke');
  }

  protected async signOut(): Promise<void> {
    this.cancelBurst();
    await this.auth.signOut();
    this.loadStats();
  }

  private fireBurst(kind: Burst['kind']): void {
    const burst: Burst = { kind, firedAt: Date.now(), calls: [] };
    for (let i = 0; i < BURST_SIZE; i++) burst.calls.push(this.send('GET', '/api/data'));
    this.lastBurst.set(burst);
  }

  private send(method: 'GET' | 'POST', url: string, onBody?: (body: unknown) => void): LogEntry {
    const entry: LogEntry = this.log.start(method, url);
    const context = new HttpContext().set(LOG_ENTRY, entry);
    this.http.request(method, url, { context }).subscribe({
      next: (body) => (onBody?.(body), this.finish(entry)),
      error: () => this.finish(entry),
    });
    return entry;
  }

  private finish(entry: LogEntry): void {
    entry.done = true;
    entry.finishedAt = Date.now();
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
