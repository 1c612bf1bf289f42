import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { RouterLink, RouterOutlet } from '@angular/router';
import { TokenGenerations, TokenHistory } from './request-log';

@Component({
  selector: 'app-root',
  imports: [RouterOutlet, RouterLink],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <header class="top">
      <a routerLink="/" class="brand"><span class="logo">⟳</span> ngx-fresh-token <small>demo</small></a>
      <span class="tagline">refresh before expiry · exactly once · retry once on 401 · never loop · never leak</span>
      <nav><a routerLink="/">session endpoint</a> <a routerLink="/amplify">Amplify mode</a> <a routerLink="/dpop">DPoP</a></nav>
    </header>
    <main><router-outlet /></main>
  `,
})
export class App {
  // Started with the app, so they see every token and event, not only those after the dashboard opens.
  protected readonly history = inject(TokenHistory);
  protected readonly generations = inject(TokenGenerations);
}
