import { provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { AuthService, FreshTokenError, TokenEvent } from 'ngx-fresh-token';
import { FreshTokenTestingController, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { createGraphqlHeaders } from './graphql-headers';
import { graphqlWithRetry, isGraphqlUnauthorized } from './graphql-retry';

/** What `client.graphql(...)` rejects with on an HTTP 401 (aws-amplify 6). */
function amplify401(): unknown {
  return {
    data: {},
    errors: [{ message: 'Unauthorized', originalError: { name: 'UnauthorizedException', $metadata: { httpStatusCode: 401 } } }],
  };
}

function setup() {
  TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), provideFreshTokenTesting()] });
  const auth = TestBed.inject(AuthService);
  const events: TokenEvent[] = [];
  auth.events$.subscribe((e) => events.push(e));
  return { auth, events, ctrl: TestBed.inject(FreshTokenTestingController) };
}

describe('createGraphqlHeaders', () => {
  it('returns the fresh token verbatim in Authorization, from memory while it is fresh', async () => {
    const { auth, ctrl } = setup();
    const token = ctrl.setToken({ expiresInSeconds: 3600 });
    const headers = createGraphqlHeaders(auth);
    expect(await headers()).toEqual({ Authorization: token });
    expect(ctrl.refreshCount).toBe(0);
  });

  it('inside the 30 s buffer: sends the current token at once and refreshes in the background; below min validity it waits (Amplify alone waits until 5 s)', async () => {
    const { auth, ctrl } = setup();
    ctrl.latencyMs = 200;
    const old = ctrl.setToken({ expiresInSeconds: 60 });
    await ctrl.advance(31_000);
    expect((await createGraphqlHeaders(auth)())['Authorization']).toBe(old);
    expect(ctrl.refreshCount).toBe(1);
    await ctrl.advance(200);
    const renewed = auth.state().token!;
    expect(renewed).not.toBe(old);
    ctrl.setToken({ expiresInSeconds: 9 });
    const headers = createGraphqlHeaders(auth)();
    await ctrl.advance(200);
    const { Authorization } = await headers;
    expect(Authorization).not.toBe(old);
    expect(ctrl.refreshCount).toBe(2);
  });

  it('puts the ID token in a configurable header, and nothing when signed out', async () => {
    const { auth, ctrl } = setup();
    ctrl.signedInAtSource = false;
    expect(await createGraphqlHeaders(auth)()).withContext('signed out').toEqual({});
    ctrl.signedInAtSource = true;
    ctrl.respondNextWith({ accessToken: ctrl.createToken(), idToken: 'id-token-1' });
    await auth.refresh();
    expect(await createGraphqlHeaders(auth, { token: 'id', headerName: 'X-Id-Token' })()).toEqual({ 'X-Id-Token': 'id-token-1' });
  });
});

describe('graphqlWithRetry', () => {
  it('recognises a 401 by its status code only', () => {
    expect(isGraphqlUnauthorized(amplify401())).toBeTrue();
    expect(isGraphqlUnauthorized({ errors: [{ message: 'Unauthorized' }] })).toBeFalse();
    expect(isGraphqlUnauthorized({ errors: [{ originalError: { $metadata: { httpStatusCode: 403 } } }] })).toBeFalse();
    expect(isGraphqlUnauthorized(null)).toBeFalse();
  });

  it('retries a 401 exactly once, with a refreshed token', async () => {
    const { auth, ctrl } = setup();
    const old = ctrl.setToken();
    const sent: string[] = [];
    const result = await graphqlWithRetry(auth, async (headers) => {
      sent.push(headers['Authorization']);
      if (sent.length === 1) throw amplify401();
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(sent.length).toBe(2);
    expect(sent[0]).toBe(old);
    expect(sent[1]).not.toBe(old);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('hands a second 401 to the caller and emits unauthorized, without a third call', async () => {
    const { auth, ctrl, events } = setup();
    ctrl.setToken();
    let calls = 0;
    const err = await graphqlWithRetry(auth, async () => {
      calls++;
      throw amplify401();
    }).catch((e) => e);
    expect(isGraphqlUnauthorized(err)).toBeTrue();
    expect(calls).toBe(2);
    expect(events.filter((e) => e.type === 'unauthorized').length).toBe(1);
  });

  it('does not retry other errors', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken();
    let calls = 0;
    const boom = { errors: [{ message: 'Unauthorized', originalError: { $metadata: { httpStatusCode: 500 } } }] };
    await expectAsync(graphqlWithRetry(auth, async () => (calls++, Promise.reject(boom)))).toBeRejectedWith(boom);
    expect(calls).toBe(1);
    expect(ctrl.refreshCount).toBe(0);
  });

  it('shares one refresh among 50 concurrent calls rejected with the same token', async () => {
    const { auth, ctrl } = setup();
    const old = ctrl.setToken();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => graphqlWithRetry(auth, async (h) => (h['Authorization'] === old ? Promise.reject(amplify401()) : h['Authorization']))),
    );
    expect(new Set(results).size).toBe(1);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('retries with the token that changed meanwhile, without refreshing again', async () => {
    const { auth, ctrl } = setup();
    const old = ctrl.setToken();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const call = graphqlWithRetry(auth, async (h) => {
      if (h['Authorization'] === old) {
        await gate;
        throw amplify401();
      }
      return h['Authorization'];
    });
    await ctrl.advance(0);
    const newer = await auth.refresh();
    release();
    expect(await call).toBe(newer!);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('ends the session when the refresh after a 401 fails permanently, and the caller gets the 401', async () => {
    const { auth, ctrl, events } = setup();
    ctrl.setToken();
    ctrl.failNextRefresh(new FreshTokenError('NFT202', 'revoked'));
    let calls = 0;
    const err = await graphqlWithRetry(auth, async () => {
      calls++;
      throw amplify401();
    }).catch((e) => e);
    expect(isGraphqlUnauthorized(err)).toBeTrue();
    expect(calls).toBe(1);
    expect(auth.state().status).toBe('signed-out');
    expect(events.map((e) => e.type)).toContain('session-expired');
  });
});
