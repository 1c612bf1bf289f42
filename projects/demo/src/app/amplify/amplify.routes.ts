import { Routes } from '@angular/router';
import { provideFreshToken } from 'ngx-fresh-token';
import { provideAmplifyFreshToken, withAmplifyTokenSource } from 'ngx-fresh-token/amplify';
import { AMPLIFY_RESOURCES } from './amplify-config';
import { AmplifyPage } from './amplify-page';

/**
 * The `/amplify` route. Its `providers` make a child environment injector with its OWN
 * AuthService, fed by Amplify's Cognito session, separate from the app's session-endpoint one.
 * The app initializer of `provideAmplifyFreshToken()` does not run in a route injector, so the
 * page calls `AmplifyFreshToken.configure()` itself, in the browser, once the config is loaded;
 * `configureAmplify: false` says so (no NFT506 dev-mode warning).
 */
export const AMPLIFY_ROUTES: Routes = [
  {
    path: '',
    component: AmplifyPage,
    title: 'Amplify · ngx-fresh-token demo',
    providers: [
      provideFreshToken(withAmplifyTokenSource({ token: 'access' })),
      provideAmplifyFreshToken(AMPLIFY_RESOURCES, { configureAmplify: false }),
    ],
  },
];
