import { DOCUMENT, JsonPipe } from '@angular/common';
import { HttpClient, HttpErrorResponse } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, afterNextRender, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { Router } from '@angular/router';
import { AuthService } from 'ngx-fresh-token';
import { injectDpop } from 'ngx-fresh-token/dpop';
import { OAuthSession } from 'ngx-fresh-token/oauth';
import { ProofLog } from './proof-log';

/** The public client of this page at the demo IdP (code + PKCE, DPoP-bound tokens). */
export const DPOP_CLIENT_ID = 'demo-spa-dpop';
/** Where withOAuthRefreshToken keeps this page's (DPoP-bound) refresh token. */
export const DPOP_REFRESH_TOKEN_KEY = 'demo.dpop.refresh-token';
const LOGIN_KEY = 'demo.dpop.login';
const USERNAME = /^[A-Za-z0-9._-]{1,32}$/;

const base64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

@Component({
  selector: 'app-dpop',
  imports: [FormsModule, JsonPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <article class="card">
      <h2>DPoP: a token that is useless without this browser's key</h2>
      <p class="muted">
        Here the browser itself is the OAuth client: code + PKCE against the demo IdP, the code exchange and every refresh
        signed with a non-extractable P-256 key kept in IndexedDB (<code>withDpop()</code>), so the access and refresh tokens
        are bound to it (<code>cnf.jkt</code>). Each API call carries <code>Authorization: DPoP …</code> and a fresh proof.
      </p>
      <p>Status: <strong data-testid="dpop-status">{{ auth.state().status }}</strong></p>
      @if (auth.state().status === 'signed-out') {
        <form (ngSubmit)="login()" [attr.data-ready]="ready() || null">
          <label>User name <input name="username" [(ngModel)]="username" data-testid="dpop-username" autocomplete="username" /></label>
          <button type="submit" data-testid="dpop-login" [disabled]="busy()">Log in (DPoP)</button>
        </form>
      } @else {
        <p>
          <button type="button" data-testid="dpop-call" (click)="call()">Call the DPoP API</button>
          <button type="button" data-testid="dpop-replay" (click)="replay()">Replay the token without the key</button>
          <button type="button" data-testid="dpop-signout" (click)="signOut()">Sign out (deletes the key)</button>
        </p>
      }
      @if (error()) {
        <p class="error" data-testid="dpop-error">{{ error() }}</p>
      }
      <h3>Last answer of the API</h3>
      <pre data-testid="dpop-result">{{ result() }}</pre>
      <h3>Last proof sent (decoded)</h3>
      <pre data-testid="dpop-proof">{{ proofs.last() | json }}</pre>
      <h3>The same token as a plain bearer token</h3>
      <pre data-testid="dpop-replay-result">{{ replayResult() }}</pre>
    </article>
  `,
})
export class DpopPage {
  protected readonly auth = inject(AuthService);
  protected readonly proofs = inject(ProofLog);
  private readonly session = inject(OAuthSession);
  private readonly dpop = injectDpop();
  private readonly http = inject(HttpClient);
  private readonly document = inject(DOCUMENT);
  private readonly router = inject(Router);
  protected username = 'alice';
  protected readonly ready = signal(false);
  protected readonly busy = signal(false);
  protected readonly error = signal('');
  protected readonly result = signal('');
  protected readonly replayResult = signal('');

  constructor() {
    afterNextRender(() => {
      this.ready.set(true);
      void this.finishLogin().catch((err: unknown) => this.error.set(`Login failed: ${String((err as Error)?.message ?? err)}`));
      // After a reload the refresh token (sessionStorage) is redeemed with the same key (IndexedDB).
      void this.session.hasRefreshToken().then((has) => (has ? this.auth.getValidToken() : null));
    });
  }

  private redirectUri(): string {
    return `${this.document.location.origin}/dpop`;
  }

  /** To the IdP's authorization endpoint: PKCE S256, the key's thumbprint as dpop_jkt, the name as login_hint. */
  protected async login(): Promise<void> {
    this.error.set('');
    if (!USERNAME.test(this.username)) return this.error.set('User name: 1–32 letters, digits, ".", "_" or "-".');
    this.busy.set(true);
    const verifier = randomString();
    const state = randomString();
    const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
    sessionStorage.setItem(LOGIN_KEY, JSON.stringify({ verifier, state }));
    const query = new URLSearchParams({
      client_id: DPOP_CLIENT_ID,
      response_type: 'code',
      redirect_uri: this.redirectUri(),
      scope: 'openid offline_access api',
      prompt: 'consent',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      login_hint: this.username,
      dpop_jkt: (await this.dpop.thumbprint()) ?? '',
    });
    this.document.location.assign(`/oidc/auth?${query}`);
  }

  /** Back from the IdP with ?code: the code exchange, with a proof of the same key (nonce dance included). */
  private async finishLogin(): Promise<void> {
    const params = new URLSearchParams(this.document.location.search);
    const code = params.get('code');
    const saved = sessionStorage.getItem(LOGIN_KEY);
    if (!code && !params.get('error')) return;
    sessionStorage.removeItem(LOGIN_KEY);
    await this.router.navigate([], { queryParams: {}, replaceUrl: true });
    if (!code) throw new Error(params.get('error_description') ?? params.get('error') ?? 'no code');
    const { verifier, state } = JSON.parse(saved ?? '{}') as { verifier?: string; state?: string };
    if (!verifier || params.get('state') !== state) throw new Error('state mismatch');
    const response = await this.dpop.fetch('/oidc/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: this.redirectUri(), client_id: DPOP_CLIENT_ID, code_verifier: verifier }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error_description ?? body.error ?? `HTTP ${response.status}`);
    if (String(body.token_type).toLowerCase() !== 'dpop') throw new Error(`the IdP issued a ${body.token_type} token`);
    await this.session.signIn(body);
  }

  protected call(): void {
    this.error.set('');
    this.http.get('/dpop-api/hello').subscribe({
      next: (body) => this.result.set(JSON.stringify(body, null, 2)),
      error: (err: unknown) => this.result.set(err instanceof HttpErrorResponse ? `${err.status} ${JSON.stringify(err.error)}` : String(err)),
    });
  }

  /** What a thief holding only the token can do: send it as a bearer token (no proof, no key). */
  protected async replay(): Promise<void> {
    const token = await this.auth.getValidToken();
    const response = await fetch('/dpop-api/hello', { headers: { Authorization: `Bearer ${token}` } });
    this.replayResult.set(`${response.status} ${await response.text()}`);
  }

  protected async signOut(): Promise<void> {
    await this.auth.signOut();
    this.result.set('');
    this.replayResult.set('');
    this.proofs.last.set(null);
  }
}
