import { TestBed } from '@angular/core/testing';
import { HttpErrorResponse } from '@angular/common/http';
import { UnauthorizedError } from 'centrifuge';
import { FreshTokenError } from 'ngx-fresh-token';
import { CentrifugoSubscriptionTokenRequest, centrifugoSubscriptionGetToken } from 'ngx-fresh-token/centrifugo';
import { expectMessageShape, failure, setup } from './centrifugo-testbed.spec-helper';
import { of, throwError } from 'rxjs';

describe('centrifugoSubscriptionGetToken', () => {
  it('passes the channel and a fresh access token to the fetcher and returns its token', async () => {
    const { auth, ctrl } = setup();
    const access = ctrl.setToken();
    const seen: CentrifugoSubscriptionTokenRequest[] = [];
    const getToken = centrifugoSubscriptionGetToken(async (request) => {
      seen.push(request);
      return 'sub-token';
    }, auth);
    expect(await getToken({ channel: 'orders:42' })).toBe('sub-token');
    expect(seen).toEqual([{ channel: 'orders:42', accessToken: access }]);
  });

  it('accepts an Observable fetcher (HttpClient)', async () => {
    const { ctrl } = setup();
    ctrl.setToken();
    const getToken = TestBed.runInInjectionContext(() => centrifugoSubscriptionGetToken(() => of('from-http')));
    expect(await getToken({ channel: 'c' })).toBe('from-http');
  });

  it('retries a 401 once with a new access token', async () => {
    const { auth, ctrl } = setup();
    const first = ctrl.setToken();
    const seen: string[] = [];
    const getToken = centrifugoSubscriptionGetToken(({ accessToken }) => {
      seen.push(accessToken);
      return seen.length === 1 ? throwError(() => new HttpErrorResponse({ status: 401 })) : of('ok');
    }, auth);
    expect(await getToken({ channel: 'c' })).toBe('ok');
    expect(seen.length).toBe(2);
    expect(seen[0]).toBe(first);
    expect(seen[1]).not.toBe(first);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('a second 401 is UnauthorizedError; no third call', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken();
    let calls = 0;
    const getToken = centrifugoSubscriptionGetToken(() => {
      calls++;
      return throwError(() => new HttpErrorResponse({ status: 401 }));
    }, auth);
    const err = await failure(getToken({ channel: 'c' }));
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT602');
    expect(calls).toBe(2);
  });

  it('403 and an empty answer are UnauthorizedError (NFT602)', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken();
    const refused = await failure(centrifugoSubscriptionGetToken(() => throwError(() => new HttpErrorResponse({ status: 403 })), auth)({ channel: 'c' }));
    expect(refused).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(refused, 'NFT602');
    const empty = await failure(centrifugoSubscriptionGetToken(async () => '', auth)({ channel: 'c' }));
    expect(empty).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(empty, 'NFT602');
  });

  it('5xx and network errors are ordinary errors, so the client retries with backoff', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken();
    for (const status of [503, 0, 429]) {
      const err = await failure(centrifugoSubscriptionGetToken(() => throwError(() => new HttpErrorResponse({ status })), auth)({ channel: 'c' }));
      expect(err).not.toBeInstanceOf(UnauthorizedError);
      expect((err as FreshTokenError).transient).toBeTrue();
      expectMessageShape(err, 'NFT201');
    }
  });

  it('signed out: UnauthorizedError without calling the fetcher', async () => {
    const { auth, ctrl } = setup();
    ctrl.signedInAtSource = false;
    let called = false;
    const err = await failure(
      centrifugoSubscriptionGetToken(async () => {
        called = true;
        return 't';
      }, auth)({ channel: 'c' }),
    );
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT601');
    expect(called).toBeFalse();
  });

  it('a session that ended while getting the access token is UnauthorizedError with the core code once (NFT202)', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken({ expiresInSeconds: 10 });
    ctrl.failNextRefresh(new HttpErrorResponse({ status: 400, error: { error: 'invalid_grant' } }));
    const err = await failure(centrifugoSubscriptionGetToken(async () => 't', auth)({ channel: 'c' }));
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT202');
  });

  it('a signOut() during the refresh after a 401 leaves the subscription without a token (NFT601), no second fetch', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken();
    let calls = 0;
    const getToken = centrifugoSubscriptionGetToken(() => {
      calls++;
      return throwError(() => new HttpErrorResponse({ status: 401 }));
    }, auth);
    ctrl.latencyMs = 1_000;
    const pending = failure(getToken({ channel: 'c' }));
    await ctrl.advance(0);
    expect(ctrl.refreshCount).withContext('the forced refresh after the 401 is in flight').toBe(1);
    await auth.signOut();
    await ctrl.advance(1_000);
    const err = await pending;
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT601');
    expect(calls).toBe(1);
    expect(auth.state().token).toBeNull();
  });

  it('rejects a fetcher that is not a function (NFT603)', () => {
    const { auth } = setup();
    let err: unknown;
    try {
      centrifugoSubscriptionGetToken(null as never, auth);
    } catch (e) {
      err = e;
    }
    expect((err as FreshTokenError).code).toBe('NFT603');
    expectMessageShape(err, 'NFT603');
  });
});
