import { TestBed } from '@angular/core/testing';
import { HttpErrorResponse } from '@angular/common/http';
import { UnauthorizedError } from 'centrifuge';
import { FreshTokenError } from 'ngx-fresh-token';
import { CentrifugoSubscriptionTokenRequest, centrifugoSubscriptionGetToken } from 'ngx-fresh-token/centrifugo';
import { failure, setup } from './setup.spec';
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
    expect(await failure(getToken({ channel: 'c' }))).toBeInstanceOf(UnauthorizedError);
    expect(calls).toBe(2);
  });

  it('403 and an empty answer are UnauthorizedError (NFT602)', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken();
    const refused = await failure(centrifugoSubscriptionGetToken(() => throwError(() => new HttpErrorResponse({ status: 403 })), auth)({ channel: 'c' }));
    expect(refused).toBeInstanceOf(UnauthorizedError);
    expect((refused as Error).message).toMatch(/^NFT602/);
    const empty = await failure(centrifugoSubscriptionGetToken(async () => '', auth)({ channel: 'c' }));
    expect(empty).toBeInstanceOf(UnauthorizedError);
    expect((empty as Error).message).toMatch(/^NFT602/);
  });

  it('5xx and network errors are ordinary errors, so the client retries with backoff', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken();
    for (const status of [503, 0, 429]) {
      const err = await failure(centrifugoSubscriptionGetToken(() => throwError(() => new HttpErrorResponse({ status })), auth)({ channel: 'c' }));
      expect(err).not.toBeInstanceOf(UnauthorizedError);
      expect((err as FreshTokenError).transient).toBeTrue();
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
    expect(called).toBeFalse();
  });

  it('rejects a fetcher that is not a function (NFT603)', () => {
    const { auth } = setup();
    expect(() => centrifugoSubscriptionGetToken(null as never, auth)).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT603');
  });
});
