import { provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { Routes } from '@angular/router';
import { freshTokenInterceptor, provideFreshToken, withAuthorizedUrls, withAutoRefresh } from 'ngx-fresh-token';
import { withDpop } from 'ngx-fresh-token/dpop';
import { withOAuthRefreshToken } from 'ngx-fresh-token/oauth';
import { DPOP_CLIENT_ID, DPOP_REFRESH_TOKEN_KEY, DpopPage } from './dpop-page';
import { ProofLog, proofLogInterceptor } from './proof-log';

/**
 * The `/dpop` route: the browser itself is the OAuth client (a public client, code + PKCE), and its
 * tokens — access and refresh — are bound to a key only this browser holds (withDpop()). A child
 * environment injector with its own AuthService and HttpClient, apart from the app's session-endpoint one.
 */
export const DPOP_ROUTES: Routes = [
  {
    path: '',
    component: DpopPage,
    title: 'DPoP · ngx-fresh-token demo',
    providers: [
      ProofLog,
      provideFreshToken(
        withOAuthRefreshToken({ tokenUrl: '/oidc/token', clientId: DPOP_CLIENT_ID, storage: 'sessionStorage', storageKey: DPOP_REFRESH_TOKEN_KEY }),
        withDpop(),
        withAuthorizedUrls('/dpop-api'),
        withAutoRefresh(),
      ),
      provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor, proofLogInterceptor])),
    ],
  },
];
