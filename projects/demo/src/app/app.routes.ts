import { provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { Routes } from '@angular/router';
import { freshTokenInterceptor, provideFreshToken, signedInGuard, withBffProxy, withBffSession, withCrossTabSync } from 'ngx-fresh-token';
import { Dashboard } from './dashboard';
import { Login } from './login';

export const routes: Routes = [
  // Signed-out users go to /login?returnUrl=…; on the server the route renders and the browser decides.
  { path: '', component: Dashboard, title: 'ngx-fresh-token demo', canActivate: [signedInGuard()] },
  { path: 'login', component: Login, title: 'Log in · ngx-fresh-token demo' },
  // Proxy-only mode (#26): this route's own AuthService tracks the BFF session and holds no token; its own
  // HttpClient, so its interceptor reads this route's policy. Rendered in the browser only.
  {
    path: 'proxy',
    title: 'Proxy-only mode · ngx-fresh-token demo',
    providers: [
      provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor])),
      provideFreshToken(withBffSession({ signOutUrl: '/auth/logout' }), withBffProxy('/api/orders'), withCrossTabSync({ name: 'proxy-only' })),
    ],
    canActivate: [signedInGuard()],
    loadComponent: () => import('./proxy-page').then((m) => m.ProxyPage),
  },
  { path: 'amplify', loadChildren: () => import('./amplify/amplify.routes').then((m) => m.AMPLIFY_ROUTES) },
  { path: '**', redirectTo: '' },
];
