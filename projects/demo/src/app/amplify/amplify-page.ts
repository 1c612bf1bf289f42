import { ChangeDetectionStrategy, Component, afterNextRender, inject, signal } from '@angular/core';
import { RouterLink } from '@angular/router';
import { generateClient } from 'aws-amplify/api';
import { AuthService } from 'ngx-fresh-token';
import { AmplifyFreshToken } from 'ngx-fresh-token/amplify';
import { TokenGenerations, TokenHistory } from '../request-log';
import { TokenEvents } from '../token-events';
import { PanelClaim, TokenPanel } from '../token-panel';
import { applyAmplifyConfig, loadAmplifyConfig } from './amplify-config';
import { AmplifySignIn } from './amplify-sign-in';
import { EventsPanel } from './events-panel';
import { GraphqlClient, GraphqlQueries } from './graphql-queries';
import { QueryLog } from './query-log';

let configured = false;

/**
 * The `/amplify` page: loads the Amplify configuration (or says how to start Amplify mode), then
 * composes the shared token panel (with sign-in, revoke and sign-out), the AppSync Events card and
 * the GraphQL query log. Its providers give it its own token numbering, event history and queries,
 * all on the route's AuthService.
 */
@Component({
  selector: 'app-amplify-page',
  imports: [AmplifySignIn, EventsPanel, QueryLog, RouterLink, TokenEvents, TokenPanel],
  providers: [TokenGenerations, TokenHistory, GraphqlQueries],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styles: `
    .intro { margin-bottom: 1.25rem; }
    .intro p { margin: 0.3rem 0 0; }
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
          <app-token-panel heading="Cognito access token" [claims]="claims">
            @if (state().token) {
              <div class="buttons panel-actions">
                <button (click)="queries.revokeAndRun()" [disabled]="queries.busy()" data-testid="amplify-revoke">Revoke token server-side, then query</button>
                <button class="secondary" (click)="signOut()" data-testid="amplify-signout">Sign out</button>
              </div>
              <p class="hint">
                The revoke button makes the loopback AppSync refuse the current token, then runs a GraphQL query: its row
                shows <code>401 · #n → 200 · #n+1</code>, one refresh and one retry.
              </p>
              @if (queries.error(); as e) {
                <p class="error" data-testid="revoke-error">{{ e }}</p>
              }
            } @else {
              <app-amplify-sign-in />
            }
            <h3>Token events</h3>
            <app-token-events [events]="history()" />
          </app-token-panel>
          <app-events-panel />
        </section>
        <app-query-log />
      }
    }
  `,
})
export class AmplifyPage {
  private readonly auth = inject(AuthService);
  private readonly amplify = inject(AmplifyFreshToken);
  protected readonly queries = inject(GraphqlQueries);
  protected readonly history = inject(TokenHistory).events;
  protected readonly state = this.auth.state;
  protected readonly claims: PanelClaim[] = [
    { name: 'username', testId: 'username-claim' },
    { name: 'token_use' },
    { name: 'jti' },
    { name: 'iat' },
    { name: 'exp' },
  ];
  protected readonly phase = signal<'loading' | 'missing' | 'ready'>('loading');
  protected readonly missingMessage = signal('');

  constructor() {
    inject(TokenGenerations); // numbers every token from the first one on
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
    this.queries.use(generateClient() as unknown as GraphqlClient);
    this.phase.set('ready');
    // Pick up a session Amplify kept from an earlier visit (null when signed out); the Events card subscribes on it.
    await this.auth.getValidToken().catch(() => null);
  }

  protected async signOut(): Promise<void> {
    this.queries.setAutoQuery(false);
    await this.auth.signOut();
  }
}
