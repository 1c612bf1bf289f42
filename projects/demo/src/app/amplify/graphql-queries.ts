import { DestroyRef, Injectable, inject, signal } from '@angular/core';
import { AuthService } from 'ngx-fresh-token';
import { AmplifyFreshToken, isGraphqlUnauthorized } from 'ngx-fresh-token/amplify';
import { TokenGenerations } from '../request-log';

/** One query run: each attempt's HTTP status and the generation of the token it carried. */
export interface QueryRow {
  id: number;
  at: number;
  /** Why the row was run, when not by "Run query" (e.g. right after a revoke). */
  note?: string;
  attempts: { status: number | string; generation: number | null }[];
  result?: string;
}

/** The part of Amplify's GraphQL client the page uses (its full generic type is too deep for the compiler here). */
export interface GraphqlClient {
  graphql(options: { query: string }, headers?: Record<string, string>): Promise<{ data?: { me?: { sub?: string } } }>;
}

const QUERY = 'query Me { me { sub jti } }';

/**
 * The Amplify page's GraphQL queries through `amplify.graphql(...)` (fresh token, one retry on
 * 401): by hand, every 5 s, or right after the dev backend revoked the current token. Provided
 * by the page, so it uses the route's AuthService.
 */
@Injectable()
export class GraphqlQueries {
  private readonly auth = inject(AuthService);
  private readonly amplify = inject(AmplifyFreshToken);
  private readonly generations = inject(TokenGenerations);
  private client: GraphqlClient | undefined;
  private nextId = 1;
  private autoTimer: ReturnType<typeof setInterval> | undefined;

  readonly rows = signal<QueryRow[]>([]);
  readonly autoQuery = signal(false);
  readonly busy = signal(false);
  /** Why the last revoke failed, if it did. */
  readonly error = signal('');

  constructor() {
    inject(DestroyRef).onDestroy(() => this.setAutoQuery(false));
  }

  /** Starts answering queries with Amplify's client (created once Amplify is configured). */
  use(client: GraphqlClient): void {
    this.client = client;
  }

  async run(note?: string): Promise<void> {
    const client = this.client;
    if (!client) return;
    const row: QueryRow = { id: this.nextId++, at: Date.now(), note, attempts: [] };
    this.rows.update((all) => [row, ...all].slice(0, 50));
    const record = (status: number | string, token: string | undefined) => {
      row.attempts = [...row.attempts, { status, generation: token ? this.generations.ofToken(token) : null }];
      this.rows.update((all) => [...all]);
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
    this.rows.update((all) => [...all]);
  }

  /**
   * Has the dev backend revoke the current access token at the loopback AppSync, then runs a
   * query: the first attempt gets a 401, and `amplify.graphql()` retries once with a refreshed token.
   */
  async revokeAndRun(): Promise<void> {
    this.busy.set(true);
    this.error.set('');
    try {
      const token = await this.auth.getValidToken().catch(() => null);
      if (!token) return;
      const res = await fetch('/amplify/revoke', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      if (!res.ok) {
        this.error.set(`Revoke failed: HTTP ${res.status}`);
        return;
      }
      await this.run('after revoke');
    } finally {
      this.busy.set(false);
    }
  }

  setAutoQuery(on: boolean): void {
    this.autoQuery.set(on);
    clearInterval(this.autoTimer);
    this.autoTimer = on ? setInterval(() => void this.run(), 5_000) : undefined;
    if (on) void this.run();
  }

  clear(): void {
    this.rows.set([]);
  }
}
