import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, DestroyRef, afterNextRender, computed, inject, signal } from '@angular/core';
import { takeUntilDestroyed, toSignal } from '@angular/core/rxjs-interop';
import { FormsModule } from '@angular/forms';
import { RouterLink } from '@angular/router';
import { generateClient } from 'aws-amplify/api';
import { signIn } from 'aws-amplify/auth';
import { jwtDecode } from 'jwt-decode';
import { AuthService } from 'ngx-fresh-token';
import { AmplifyFreshToken, isGraphqlUnauthorized } from 'ngx-fresh-token/amplify';
import { Subscription } from 'rxjs';
import { HistoryEntry, recordTokenEvents } from '../request-log';
import { TokenCountdown } from '../token-countdown';
import { applyAmplifyConfig, loadAmplifyConfig } from './amplify-config';

/** Cognito access-token claims shown on the page (never the token itself). */
interface CognitoClaims {
  sub?: string;
  username?: string;
  jti?: string;
  iat?: number;
  exp?: number;
  token_use?: string;
}

/** One "Run query" click: each attempt's HTTP status and the generation of the token it carried. */
interface QueryRow {
  id: number;
  at: number;
  /** Why the row was run, when not by "Run query" (e.g. right after a revoke). */
  note?: string;
  attempts: { status: number | string; generation: number | null }[];
  result?: string;
}

/** A message as published by this page. */
interface DemoMessage {
  text: string;
  sentAt: number;
}

interface ReceivedMessage extends DemoMessage {
  receivedAt: number;
  /** The token generation the page had when the message arrived. */
  generation: number;
}

/** The part of Amplify's GraphQL client this page uses (its full generic type is too deep for the compiler here). */
interface GraphqlClient {
  graphql(options: { query: string }, headers?: Record<string, string>): Promise<{ data?: { me?: { sub?: string } } }>;
}

const CHANNEL = '/default/demo';
const QUERY = 'query Me { me { sub jti } }';
let configured = false;

@Component({
  selector: 'app-amplify-page',
  imports: [DatePipe, FormsModule, RouterLink, TokenCountdown],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styles: `
    .intro { margin-bottom: 1.25rem; }
    .intro p { margin: 0.3rem 0 0; }
    .signin { display: flex; gap: 0.6rem; align-items: end; flex-wrap: wrap; margin-top: 0.6rem; }
    .signin label { display: flex; flex-direction: column; gap: 0.3rem; font-size: 0.85rem; color: var(--muted); }
    .signin input { font: inherit; padding: 0.45rem; border: 1px solid var(--line); border-radius: 8px; color: var(--ink); }
    .toggle { display: inline-flex; align-items: center; gap: 0.35rem; font-size: 0.9rem; }
    .messages { list-style: none; padding: 0; margin: 0.4rem 0 0; font-size: 0.85rem; max-height: 14rem; overflow: auto; }
    .messages li { padding: 0.2rem 0; border-bottom: 1px solid var(--line); }
    .messages time { color: var(--muted); font-family: ui-monospace, monospace; }
    .events-actions { margin: 0.9rem 0 0.6rem; }
    [data-testid='events-panel'] header + dl { margin-top: 0.8rem; }
    .token .buttons { margin-top: 0.9rem; }
    .note { display: block; font-size: 0.75rem; }
  `,
  template: `
    <article class="card intro">
      <header>
        <h2>Amplify mode</h2>
        <a routerLink="/" class="muted">← session-endpoint dashboard</a>
      </header>
      <p class="muted">
        Cognito tokens through Amplify (<code>withAmplifyTokenSource</code>), GraphQL with a fresh token and one retry
        on 401, and an AppSync Events subscription renewed before its token expires. Runs against cognito-local and a
        loopback AppSync that verifies every token against cognito-local's JWKS.
      </p>
    </article>

    @switch (phase()) {
      @case ('loading') {
        <article class="card"><p class="muted" data-testid="amplify-loading">Loading the Amplify configuration…</p></article>
      }
      @case ('missing') {
        <article class="card">
          <p class="error" data-testid="not-configured">{{ missingMessage() }}</p>
          <p class="muted">That command starts cognito-local and the loopback AppSync beside the demo, then prints the demo user's name and password.</p>
        </article>
      }
      @default {
        <section class="grid">
          <article class="card token" data-testid="token-panel">
            <header>
              <h2>Cognito access token</h2>
              <span [class]="'badge ' + state().status" data-testid="status">{{ state().status }}</span>
              @if (state().refreshing) {
                <span class="badge refreshing">refreshing…</span>
              }
            </header>
            @if (state().token) {
              <app-token-countdown [state]="state()" [expiresInMs]="expiresInMs()" [generation]="generation()" />
              <dl class="claims">
                <dt>username</dt><dd data-testid="username-claim">{{ claims()?.username }}</dd>
                <dt>token_use</dt><dd>{{ claims()?.token_use }}</dd>
                <dt>jti</dt><dd>{{ claims()?.jti?.slice(0, 12) }}…</dd>
                <dt>issued</dt><dd>{{ (claims()?.iat ?? 0) * 1000 | date: 'HH:mm:ss' }}</dd>
                <dt>expires</dt><dd>{{ (claims()?.exp ?? 0) * 1000 | date: 'HH:mm:ss' }}</dd>
              </dl>
              <div class="buttons">
                <button (click)="revokeAndQuery()" [disabled]="busy()" data-testid="amplify-revoke">Revoke token server-side, then query</button>
                <button class="secondary" (click)="signOut()" data-testid="amplify-signout">Sign out</button>
              </div>
              <p class="hint">
                The revoke button makes the loopback AppSync refuse the current token, then runs a GraphQL query: its row
                shows <code>401 · #n → 200 · #n+1</code>, one refresh and one retry.
              </p>
            } @else {
              <form class="signin" (ngSubmit)="signIn()">
                <label>User name <input name="username" [(ngModel)]="username" data-testid="amplify-username" autocomplete="username" /></label>
                <label>Password <input name="password" type="password" [(ngModel)]="password" data-testid="amplify-password" autocomplete="current-password" /></label>
                <button type="submit" [disabled]="busy()" data-testid="amplify-signin">Sign in with Cognito</button>
              </form>
              <p class="muted">The demo user's name and password are printed in the <code>npm run demo:amplify</code> console.</p>
            }
            @if (signInError(); as e) {
              <p class="error" data-testid="signin-error">{{ e }}</p>
            }
            @if (state().error; as error) {
              <p class="error">Last refresh error: {{ error.code }}</p>
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

          <article class="card" data-testid="events-panel">
            <header>
              <h2>AppSync Events <code>{{ channel }}</code></h2>
              <span [class]="'badge ' + (openSockets() > 0 ? 'fresh' : 'signed-out')" data-testid="events-status">
                {{ openSockets() > 0 ? 'connected' : 'not connected' }}
              </span>
            </header>
            <dl class="counters">
              <dt>connections opened</dt><dd data-testid="connections">{{ connections() }}</dd>
              <dt>renewals / reconnects</dt><dd data-testid="renewals">{{ connections() > 0 ? connections() - 1 : 0 }}</dd>
              <dt>messages received</dt><dd data-testid="message-count">{{ messages().length }}</dd>
            </dl>
            <div class="buttons events-actions">
              <button (click)="publish()" [disabled]="!state().token" data-testid="publish">Publish</button>
              @if (!subscribed() && state().token) {
                <button class="secondary" (click)="subscribe()" data-testid="resubscribe">Subscribe again</button>
              }
            </div>
            @if (eventsError(); as e) {
              <p class="error" data-testid="events-error">{{ e }}</p>
            }
            <ol class="messages" data-testid="messages">
              @for (m of messages(); track $index) {
                <li data-testid="message">
                  <time>{{ m.receivedAt | date: 'HH:mm:ss' }}</time> {{ m.text }}
                  <span class="muted">· sent {{ m.sentAt | date: 'HH:mm:ss' }} · token #{{ m.generation }}</span>
                </li>
              } @empty {
                <li class="muted">No messages yet: press Publish.</li>
              }
            </ol>
          </article>
        </section>

        <article class="card log">
          <header>
            <h2>GraphQL queries</h2>
            <button (click)="runQuery()" [disabled]="!state().token" data-testid="run-query">Run query</button>
            <label class="toggle">
              <input type="checkbox" [ngModel]="autoQuery()" (ngModelChange)="setAutoQuery($event)" data-testid="auto-query" />
              auto-query every 5 s
            </label>
            <button class="link" (click)="queries.set([])">clear</button>
          </header>
          <table data-testid="query-log">
            <thead><tr><th>#</th><th>time</th><th>attempts (status · token)</th><th>result</th><th></th></tr></thead>
            <tbody>
              @for (q of queries(); track q.id) {
                <tr [attr.data-testid]="'query-' + q.id">
                  <td>{{ q.id }}</td>
                  <td>{{ q.at | date: 'HH:mm:ss.SSS' }}@if (q.note) { <span class="muted note">{{ q.note }}</span> }</td>
                  <td>
                    @for (a of q.attempts; track $index) {
                      <span [class]="'attempt s' + a.status">{{ a.status }} · {{ a.generation ? '#' + a.generation : 'no token' }}</span>
                      @if (!$last) { → }
                    }
                  </td>
                  <td>{{ q.result }}</td>
                  <td>@if (q.attempts.length > 1) { <span class="badge retried">retried</span> }</td>
                </tr>
              } @empty {
                <tr><td colspan="5" class="muted">Sign in, then run a query.</td></tr>
              }
            </tbody>
          </table>
        </article>
      }
    }
  `,
})
export class AmplifyPage {
  private readonly auth = inject(AuthService);
  private readonly amplify = inject(AmplifyFreshToken);
  private readonly destroyRef = inject(DestroyRef);

  protected readonly channel = CHANNEL;
  protected readonly phase = signal<'loading' | 'missing' | 'ready'>('loading');
  protected readonly missingMessage = signal('');
  protected readonly busy = signal(false);
  protected readonly signInError = signal('');
  protected username = '';
  protected password = '';

  protected readonly state = this.auth.state;
  protected readonly expiresInMs = toSignal(this.auth.expiresIn$, { initialValue: null });
  protected readonly history = signal<HistoryEntry[]>([]);

  /** Token generations: the page numbers each token it sees; tokens stay in memory only. */
  private readonly generations = new Map<string, number>();
  protected readonly generation = computed(() => this.generationOf(this.state().token));

  protected readonly claims = computed<CognitoClaims | null>(() => {
    const token = this.state().token;
    try {
      return token ? jwtDecode<CognitoClaims>(token) : null;
    } catch {
      return null;
    }
  });
  protected readonly queries = signal<QueryRow[]>([]);
  protected readonly autoQuery = signal(false);
  private autoTimer: ReturnType<typeof setInterval> | undefined;
  private nextQueryId = 1;
  private client: GraphqlClient | undefined;

  protected readonly messages = signal<ReceivedMessage[]>([]);
  protected readonly connections = signal(0);
  protected readonly openSockets = signal(0);
  protected readonly subscribed = signal(false);
  protected readonly eventsError = signal('');
  private subscription: Subscription | undefined;
  private published = 0;

  constructor() {
    const history = recordTokenEvents(this.auth, (entry) => this.history.update((all) => [entry, ...all].slice(0, 30)));
    this.destroyRef.onDestroy(() => history.unsubscribe());
    this.auth.token$.pipe(takeUntilDestroyed()).subscribe((token) => {
      this.generationOf(token);
      // Events need a signed-in user: subscribe on sign-in, drop the subscription on sign-out.
      if (token && !this.subscription && this.phase() === 'ready') this.subscribe();
      if (!token) this.unsubscribe();
    });
    this.destroyRef.onDestroy(() => {
      this.unsubscribe();
      this.setAutoQuery(false);
    });
    // Browser only: nothing Amplify runs on the server, so no token can reach the rendered HTML.
    afterNextRender(() => void this.start());
  }

  private async start(): Promise<void> {
    const result = await loadAmplifyConfig();
    if (!result.ok) {
      this.missingMessage.set(result.message);
      this.phase.set('missing');
      return;
    }
    if (!configured) {
      applyAmplifyConfig(result.config);
      this.amplify.configure();
      configured = true;
    }
    this.client = generateClient() as unknown as GraphqlClient;
    this.phase.set('ready');
    // Pick up a session Amplify kept from an earlier visit (null when signed out).
    const token = await this.auth.getValidToken().catch(() => null);
    if (token && !this.subscription) this.subscribe();
  }

  protected async signIn(): Promise<void> {
    this.busy.set(true);
    this.signInError.set('');
    try {
      const result = await signIn({ username: this.username, password: this.password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
      if (!result.isSignedIn) throw new Error(`Sign-in needs another step: ${result.nextStep.signInStep}`);
      this.password = '';
      await this.auth.refresh(); // load the new Cognito session's token now
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'UserAlreadyAuthenticatedException') {
        await this.auth.refresh().catch(() => null);
      } else {
        this.signInError.set(`Sign-in failed: ${name ?? 'error'}${(err as Error).message ? ' – ' + (err as Error).message : ''}`);
      }
    } finally {
      this.busy.set(false);
    }
  }

  protected async signOut(): Promise<void> {
    this.setAutoQuery(false);
    await this.auth.signOut();
  }

  /**
   * Has the dev backend revoke the current access token at the loopback AppSync, then runs a
   * query: the first attempt gets a 401, and `amplify.graphql()` retries once with a refreshed token.
   */
  protected async revokeAndQuery(): Promise<void> {
    this.busy.set(true);
    try {
      const token = await this.auth.getValidToken().catch(() => null);
      if (!token) return;
      const res = await fetch('/amplify/revoke', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      if (!res.ok) {
        this.signInError.set(`Revoke failed: HTTP ${res.status}`);
        return;
      }
      await this.runQuery('after revoke');
    } finally {
      this.busy.set(false);
    }
  }

  protected async runQuery(note?: string): Promise<void> {
    const client = this.client;
    if (!client) return;
    const row: QueryRow = { id: this.nextQueryId++, at: Date.now(), note, attempts: [] };
    this.queries.update((all) => [row, ...all].slice(0, 50));
    const record = (status: number | string, token: string | undefined) => {
      row.attempts = [...row.attempts, { status, generation: token ? this.generationOf(token) : null }];
      this.queries.update((all) => [...all]);
    };
    try {
      const result = await this.amplify.graphql(async (headers) => {
        try {
          const answer = await client.graphql({ query: QUERY }, headers);
          record(200, headers['Authorization']);
          return answer;
        } catch (err) {
          record(isGraphqlUnauthorized(err) ? 401 : 'error', headers['Authorization']);
          throw err;
        }
      });
      row.result = `me.sub = ${result.data?.me?.sub?.slice(0, 8) ?? '?'}…`;
    } catch (err) {
      row.result = isGraphqlUnauthorized(err) ? 'unauthorized' : 'failed';
    }
    this.queries.update((all) => [...all]);
  }

  protected setAutoQuery(on: boolean): void {
    this.autoQuery.set(on);
    clearInterval(this.autoTimer);
    this.autoTimer = on ? setInterval(() => void this.runQuery(), 5_000) : undefined;
    if (on) void this.runQuery();
  }

  protected subscribe(): void {
    this.unsubscribe();
    this.eventsError.set('');
    this.subscribed.set(true);
    this.subscription = this.amplify
      .events<DemoMessage>(CHANNEL, {
        // Counts the sockets the connection opens: one at first, one more for each renewal
        // before the token expires and each reconnect after an auth close.
        webSocketFactory: (url, protocols) => {
          const socket = new WebSocket(url, protocols);
          this.connections.update((n) => n + 1);
          let opened = false;
          socket.addEventListener('open', () => {
            opened = true;
            this.openSockets.update((n) => n + 1);
          });
          socket.addEventListener('close', () => {
            if (opened) this.openSockets.update((n) => Math.max(0, n - 1));
            opened = false;
          });
          return socket;
        },
      })
      .subscribe({
        next: (m) =>
          this.messages.update((all) => [
            { text: String(m?.text ?? JSON.stringify(m)), sentAt: Number(m?.sentAt ?? 0), receivedAt: Date.now(), generation: this.generation() },
            ...all,
          ].slice(0, 100)),
        error: (err) => {
          this.subscribed.set(false);
          this.subscription = undefined;
          this.eventsError.set(`Subscription ended: ${(err as { code?: string }).code ?? 'error'}`);
        },
      });
  }

  private unsubscribe(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.subscribed.set(false);
  }

  protected async publish(): Promise<void> {
    const n = ++this.published;
    try {
      await this.amplify.publish(CHANNEL, [{ text: `hello #${n}`, sentAt: Date.now() } satisfies DemoMessage]);
    } catch (err) {
      this.eventsError.set(`Publish failed: ${(err as { code?: string }).code ?? 'error'}`);
    }
  }

  private generationOf(token: string | null | undefined): number {
    if (!token) return 0;
    let n = this.generations.get(token);
    if (n === undefined) {
      n = this.generations.size + 1;
      this.generations.set(token, n);
    }
    return n;
  }
}
