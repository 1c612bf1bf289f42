import { PLATFORM_ID, Provider, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { Amplify } from 'aws-amplify';
import { decodeJWT } from 'aws-amplify/auth';
import { AuthService, provideFreshToken } from 'ngx-fresh-token';
import { createTestJwt } from 'ngx-fresh-token/testing';
import { AmplifyTokenSourceOptions, withAmplifyTokenSource } from './amplify-token-source';

/** Amplify configured with a stand-in Cognito session (one token for the whole page, as in a server process). */
function amplifySession() {
  const token = createTestJwt({ expiresInSeconds: 3600, claims: { token_use: 'access' } });
  const session = { token, reads: 0 };
  Amplify.configure(
    { Auth: { Cognito: { userPoolId: 'local_spec', userPoolClientId: 'spec-client' } } },
    {
      Auth: {
        tokenProvider: {
          getTokens: async () => {
            session.reads++;
            return { accessToken: decodeJWT(token) };
          },
        },
      },
    },
  );
  return session;
}

function setup(platform: 'browser' | 'server', options: AmplifyTokenSourceOptions = {}) {
  const providers: Provider[] = [{ provide: PLATFORM_ID, useValue: platform }];
  TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), ...providers, provideFreshToken(withAmplifyTokenSource(options))] });
  return TestBed.inject(AuthService);
}

describe('withAmplifyTokenSource', () => {
  afterEach(() => Amplify.configure({}));

  it("in the browser hands out Amplify's Cognito session", async () => {
    const session = amplifySession();
    const auth = setup('browser');
    expect(await auth.getValidToken()).toBe(session.token);
    expect(session.reads).toBe(1);
  });

  it("on the server platform answers signed out without reading Amplify's process-wide session", async () => {
    const session = amplifySession();
    const auth = setup('server');
    expect(await auth.getValidToken()).toBeNull();
    expect(await auth.refresh()).toBeNull();
    expect(auth.state().status).toBe('signed-out');
    expect(session.reads).withContext("one user's session would reach every SSR request").toBe(0);
  });

  it('on the server platform hands out the process session only with shareSessionOnServer: true', async () => {
    const session = amplifySession();
    const auth = setup('server', { shareSessionOnServer: true });
    expect(await auth.getValidToken()).toBe(session.token);
    expect(session.reads).toBe(1);
  });
});
