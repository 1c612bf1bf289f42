import { TestBed } from '@angular/core/testing';
import { HttpErrorResponse } from '@angular/common/http';
import { UnauthorizedError } from 'centrifuge';
import { provideZonelessChangeDetection } from '@angular/core';
import { FreshTokenError, injectAuth, withApiToken, withTokenSource } from 'ngx-fresh-token';
import { FreshTokenTestingController, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { centrifugoGetToken, centrifugoHeaderMode } from 'ngx-fresh-token/centrifugo';
import { expectMessageShape, failure, setup } from './centrifugo-testbed.spec-helper';

describe('centrifugoGetToken', () => {
  it('returns the fresh token from memory on the first call, without a refresh', async () => {
    const { ctrl } = setup();
    const token = ctrl.setToken({ expiresInSeconds: 3600 });
    const getToken = TestBed.runInInjectionContext(() => centrifugoGetToken());
    expect(await getToken({})).toBe(token);
    expect(ctrl.refreshCount).toBe(0);
  });

  it('never hands back the token the client already has: asking again forces one shared refresh', async () => {
    const { auth, ctrl } = setup();
    const first = ctrl.setToken({ expiresInSeconds: 3600 });
    const getToken = centrifugoGetToken(auth);
    expect(await getToken({})).toBe(first);
    const [a, b] = await Promise.all([getToken({}), auth.getValidToken()]);
    expect(a).not.toBe(first);
    expect(ctrl.requests).toEqual([{ forceRefresh: true }]);
    expect(b === a || b === first).toBeTrue();
  });

  it('uses a token refreshed meanwhile (e.g. by the HTTP interceptor) without another refresh', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken({ expiresInSeconds: 3600 });
    const getToken = centrifugoGetToken(auth);
    await getToken({});
    const newer = await auth.refresh();
    expect(await getToken({})).toBe(newer!);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('refreshes a token below min validity before handing it out', async () => {
    const { auth, ctrl } = setup();
    const old = ctrl.setToken({ expiresInSeconds: 8 });
    const token = await centrifugoGetToken(auth)({});
    expect(token).not.toBe(old);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('hands out a token inside the buffer but above min validity at once, refreshing in the background', async () => {
    const { auth, ctrl } = setup();
    ctrl.latencyMs = 500;
    const old = ctrl.setToken({ expiresInSeconds: 20 });
    expect(await centrifugoGetToken(auth)({})).toBe(old);
    expect(ctrl.refreshCount).toBe(1);
    await ctrl.advance(500);
    expect(await centrifugoGetToken(auth)({})).not.toBe(old);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('throws UnauthorizedError (NFT601) when signed out', async () => {
    const { auth, ctrl } = setup();
    ctrl.signedInAtSource = false;
    const err = await failure(centrifugoGetToken(auth)({}));
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT601');
  });

  it('throws UnauthorizedError after a permanent failure (session ended, NFT202)', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken({ expiresInSeconds: 10 });
    ctrl.failNextRefresh(new HttpErrorResponse({ status: 400, error: { error: 'invalid_grant' } }));
    const err = await failure(centrifugoGetToken(auth)({}));
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT202');
    expect(auth.state().status).toBe('signed-out');
  });

  it('throws UnauthorizedError with the core code once when the source hands out a malformed token (NFT204)', async () => {
    const { auth, ctrl } = setup();
    ctrl.respondNextWith({ accessToken: 'a.b.c' });
    const err = await failure(centrifugoGetToken(auth)({}));
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT204');
  });

  it('a signOut() during the refresh it is waiting for leaves the client without a token (UnauthorizedError NFT601)', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken({ expiresInSeconds: 8 }); // below min validity: getToken waits for a refresh
    ctrl.latencyMs = 1_000;
    const pending = failure(centrifugoGetToken(auth)({}));
    await ctrl.advance(0);
    expect(ctrl.refreshCount).toBe(1);
    await auth.signOut();
    await ctrl.advance(1_000);
    const err = await pending;
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT601');
    expect(auth.state().token).toBeNull();
  });

  it('a signOut() during the forced refresh for the token the client already has leaves it without a token', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken({ expiresInSeconds: 3600 });
    const getToken = centrifugoGetToken(auth);
    await getToken({});
    ctrl.latencyMs = 1_000;
    const pending = failure(getToken({})); // the client asks again (ttl, error 109): forced refresh
    await ctrl.advance(0);
    expect(ctrl.requests).toEqual([{ forceRefresh: true }]);
    await auth.signOut();
    await ctrl.advance(1_000);
    const err = await pending;
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT601');
    expect(auth.state().token).toBeNull();
  });

  it('rethrows a transient failure as an ordinary error (not UnauthorizedError), without the token in it', async () => {
    const { auth, ctrl } = setup();
    ctrl.failNextRefresh();
    const err = await failure(centrifugoGetToken(auth)({}));
    expect(err).not.toBeInstanceOf(UnauthorizedError);
    expect(err).toBeInstanceOf(FreshTokenError);
    expect((err as FreshTokenError).transient).toBeTrue();
    expectMessageShape(err, 'NFT201');
    await ctrl.advance(20_000); // the cool-down after a failed refresh
    expect(await centrifugoGetToken(auth)({})).toBeTruthy(); // the next attempt recovers
  });

  it('keeps handing out the current token while a refresh fails transiently and it has not expired', async () => {
    const { auth, ctrl } = setup();
    const token = ctrl.setToken({ expiresInSeconds: 20 });
    ctrl.failNextRefresh();
    expect(await centrifugoGetToken(auth)({})).toBe(token);
  });
});

describe('centrifugoGetToken(name) with tokens per API', () => {
  it('takes the token named in withApiToken() instead of the default one', async () => {
    let issued = 0;
    TestBed.configureTestingModule({
      providers: [
        provideZonelessChangeDetection(),
        provideFreshTokenTesting(withApiToken('realtime', [/^wss:\/\//], withTokenSource({ getToken: async () => ({ accessToken: `realtime-${++issued}` }) }))),
      ],
    });
    const defaultToken = TestBed.inject(FreshTokenTestingController).setToken();
    const getToken = TestBed.runInInjectionContext(() => centrifugoGetToken('realtime'));
    expect(await getToken()).toBe('realtime-1');
    expect(await getToken()).withContext('asked again for the token it holds: one forced refresh of the named token').toBe('realtime-2');
    expect(TestBed.runInInjectionContext(() => injectAuth()).state().token).toBe(defaultToken);
    const headers = TestBed.runInInjectionContext(() => centrifugoHeaderMode({}, 'realtime'));
    expect(headers).toBeDefined();
    expect(() => TestBed.runInInjectionContext(() => centrifugoGetToken('nope'))).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT111');
  });
});
