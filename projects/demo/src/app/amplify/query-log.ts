import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { AuthService } from 'ngx-fresh-token';
import { GraphqlQueries } from './graphql-queries';

/** The Amplify page's GraphQL card: run a query, auto-query every 5 s, and each query's attempts. */
@Component({
  selector: 'app-query-log',
  imports: [DatePipe, FormsModule],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styles: `
    .toggle { display: inline-flex; align-items: center; gap: 0.35rem; font-size: 0.9rem; }
    .note { display: block; font-size: 0.75rem; }
  `,
  template: `
    <article class="card log">
      <header>
        <h2>GraphQL queries</h2>
        <button (click)="queries.run()" [disabled]="!state().token" data-testid="run-query">Run query</button>
        <label class="toggle">
          <input type="checkbox" [ngModel]="queries.autoQuery()" (ngModelChange)="queries.setAutoQuery($event)" data-testid="auto-query" />
          auto-query every 5 s
        </label>
        <button class="link" (click)="queries.clear()">clear</button>
      </header>
      <table data-testid="query-log">
        <thead><tr><th>#</th><th>time</th><th>attempts (status · token)</th><th>result</th><th></th></tr></thead>
        <tbody>
          @for (q of queries.rows(); track q.id) {
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
  `,
})
export class QueryLog {
  protected readonly queries = inject(GraphqlQueries);
  protected readonly state = inject(AuthService).state;
}
