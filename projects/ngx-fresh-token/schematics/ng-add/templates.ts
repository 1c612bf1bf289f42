import type { TokenPattern } from './schema';

const isBff = (p: TokenPattern) => p === 'bff-session' || p === 'bff-proxy';

/** src/app/auth/login.ts: where signedInGuard() sends signed-out users (with ?returnUrl=). */
export function loginComponent(pattern: TokenPattern): string {
  if (isBff(pattern)) {
    return `import { Component, DOCUMENT, inject } from '@angular/core';
import { ActivatedRoute } from '@angular/router';

/** The sign-in page (written by ng add ngx-fresh-token): signedInGuard() sends signed-out users here with ?returnUrl=. */
@Component({
  selector: 'app-login',
  template: \`
    <h1>Sign in</h1>
    <button type="button" (click)="signIn()">Sign in</button>
  \`,
})
export class Login {
  private readonly route = inject(ActivatedRoute);
  private readonly document = inject(DOCUMENT);

  signIn(): void {
    // A full page navigation: the BFF's /auth/login redirects to the identity provider, another site.
    const returnUrl = this.route.snapshot.queryParamMap.get('returnUrl') ?? '/';
    this.document.location.assign(\`/auth/login?returnUrl=\${encodeURIComponent(returnUrl)}\`);
  }
}
`;
  }
  const how: Record<string, string> = {
    'refresh-token':
      '// Sign in with your identity provider (authorization code + PKCE, with offline_access), then hand the\n    // token response over: await inject(OAuthSession).signIn(tokenResponse) (ngx-fresh-token/oauth).',
    amplify: "// Sign in with Amplify: await signIn({ username, password }) from 'aws-amplify/auth'.",
    custom: '// Sign in the way your TokenSource expects (see src/app/token-source.ts).',
  };
  return `import { Component, inject } from '@angular/core';
import { ActivatedRoute, Router } from '@angular/router';
import { AuthService } from 'ngx-fresh-token';

/** The sign-in page (written by ng add ngx-fresh-token): signedInGuard() sends signed-out users here with ?returnUrl=. */
@Component({
  selector: 'app-login',
  template: \`
    <h1>Sign in</h1>
    <button type="button" (click)="signIn()">Sign in</button>
  \`,
})
export class Login {
  private readonly auth = inject(AuthService);
  private readonly route = inject(ActivatedRoute);
  private readonly router = inject(Router);

  async signIn(): Promise<void> {
    ${how[pattern]}
    // Then load the new token from the source and go back where the user was going.
    await this.auth.refresh();
    await this.router.navigateByUrl(this.route.snapshot.queryParamMap.get('returnUrl') ?? '/');
  }
}
`;
}

/** src/app/auth/logout.ts: signs out in the browser, then shows the sign-in page. */
export function logoutComponent(): string {
  return `import { Component, afterNextRender, inject } from '@angular/core';
import { Router } from '@angular/router';
import { AuthService } from 'ngx-fresh-token';

/** Signs out (written by ng add ngx-fresh-token); in the browser only, never during a server render. */
@Component({
  selector: 'app-logout',
  template: '<p>Signing out…</p>',
})
export class Logout {
  constructor() {
    const auth = inject(AuthService);
    const router = inject(Router);
    afterNextRender(() => {
      void auth.signOut().then(() => router.navigateByUrl('/login'));
    });
  }
}
`;
}

/** src/app/auth/account.ts: a page behind signedInGuard(). */
export function accountComponent(): string {
  return `import { Component, inject } from '@angular/core';
import { RouterLink } from '@angular/router';
import { AuthService } from 'ngx-fresh-token';

/** A page behind signedInGuard() (written by ng add ngx-fresh-token). */
@Component({
  selector: 'app-account',
  imports: [RouterLink],
  template: \`
    <h1>Account</h1>
    <p>Session: {{ auth.state().status }}</p>
    <a routerLink="/logout">Sign out</a>
  \`,
})
export class Account {
  protected readonly auth = inject(AuthService);
}
`;
}

/** src/app/token-source.ts for the custom pattern. */
export function customTokenSource(): string {
  return `import { inject } from '@angular/core';
import { HttpBackend, HttpClient } from '@angular/common/http';
import { firstValueFrom } from 'rxjs';
import type { TokenGrant, TokenSource } from 'ngx-fresh-token';

/**
 * Where the app's access tokens come from (written by ng add ngx-fresh-token): replace the request with your own.
 * Runs in an injection context. Resolve null for "signed out"; reject for a failure (the core retries transient ones).
 *
 * @example provideFreshToken(withTokenSource(appTokenSource))
 */
export function appTokenSource(): TokenSource {
  // HttpBackend: this request skips the interceptors, so it never waits for the token it fetches.
  const http = new HttpClient(inject(HttpBackend));
  return {
    getToken: ({ forceRefresh }) => firstValueFrom(http.post<TokenGrant | null>('/auth/token', { forceRefresh })),
  };
}
`;
}

/** .env.example for the backend-for-frontend: names every variable server.ts reads; never a value of a secret. */
export function envExample(issuer: string, clientId: string, projectName: string, proxied: Array<{ name: string; env: string }> = []): string {
  const apis = proxied
    .map((a) => `# The API the BFF proxies as "${a.name}": its URL, and the resource (audience) its tokens are asked for.\n${a.env}_URL=https://${a.name}.example.com\n${a.env}_RESOURCE=https://${a.name}.example.com\n`)
    .join('');
  return `# ngx-fresh-token's backend-for-frontend (written by ng add ngx-fresh-token).
# Copy to .env (git-ignored), fill in, and start the server with it:
#   node --env-file=.env dist/${projectName}/server/server.mjs
# Secrets live in .env or your deployment's secret store, never in source files.
OIDC_ISSUER=${issuer}
OIDC_CLIENT_ID=${clientId}
OIDC_CLIENT_SECRET=
OIDC_SCOPE=openid profile offline_access
# Keys that seal the sessions: comma-separated, current first, then previous ones; each at least 32 characters.
# For example: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"
SESSION_SECRETS=
# The app's public origin: the identity provider must accept APP_ORIGIN/auth/callback as a redirect URI.
APP_ORIGIN=http://localhost:4000
# Angular's SSR server answers only requests for these hosts (comma-separated): your public host name(s).
NG_ALLOWED_HOSTS=localhost
${apis}`;
}
