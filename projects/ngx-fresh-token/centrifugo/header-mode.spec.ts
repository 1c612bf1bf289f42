import { TestBed } from '@angular/core/testing';
import { HttpErrorResponse } from '@angular/common/http';
import { Centrifuge, UnauthorizedError } from 'centrifuge';
import { FreshTokenError } from 'ngx-fresh-token';
import { centrifugoHeaderMode } from 'ngx-fresh-token/centrifugo';
import { expectMessageShape, failure, setup } from './centrifugo-testbed.spec-helper';

/** A real client that is never connected; only its headers are read. */
function client(): Centrifuge {
  return new Centrifuge('ws://127.0.0.1:9/connection/websocket', { websocket: class {} });
}

function headersOf(c: Centrifuge): Record<string, string> {
  return (c as unknown as { _config: { headers: Record<string, string> } })._config.headers;
}

describe('centrifugoHeaderMode', () => {
  it('sets Authorization: Bearer <fresh token> before a connect', async () => {
    const { ctrl } = setup();
    const token = ctrl.setToken();
    const mode = TestBed.runInInjectionContext(() => centrifugoHeaderMode());
    const c = mode.attach(client());
    expect(await mode.getData()).toBeNull();
    expect(headersOf(c)).toEqual({ Authorization: `Bearer ${token}` });
  });

  it('updates the header to the new token on the next (re)connect', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken({ expiresInSeconds: 100 });
    const mode = centrifugoHeaderMode({}, auth);
    const c = mode.attach(client());
    await mode.getData();
    await ctrl.advance(80_000); // inside the 30 s buffer
    await mode.getData();
    expect(headersOf(c)).toEqual({ Authorization: `Bearer ${auth.state().token}` });
    expect(ctrl.refreshCount).toBe(1);
  });

  it('after a disconnect saying the connection expired (3005), forces a new token', async () => {
    const { auth, ctrl } = setup();
    const first = ctrl.setToken({ expiresInSeconds: 3600 });
    const mode = centrifugoHeaderMode({}, auth);
    const c = mode.attach(client());
    await mode.getData();
    c.emit('connecting', { code: 3005, reason: 'connection expired' });
    await mode.getData();
    expect(headersOf(c)['Authorization']).not.toBe(`Bearer ${first}`);
    expect(ctrl.requests).toEqual([{ forceRefresh: true }]);
  });

  it('uses a custom header format and returns app connect data', async () => {
    const { auth, ctrl } = setup();
    const token = ctrl.setToken();
    const mode = centrifugoHeaderMode({ headers: (t) => ({ 'X-Access-Token': t }), getData: async () => ({ room: 1 }) }, auth);
    const c = mode.attach(client());
    expect(await mode.getData()).toEqual({ room: 1 });
    expect(headersOf(c)).toEqual({ 'X-Access-Token': token });
  });

  it('signed out: UnauthorizedError; transient failure: ordinary error', async () => {
    const { auth, ctrl } = setup();
    const mode = centrifugoHeaderMode({}, auth);
    mode.attach(client());
    ctrl.failNextRefresh();
    const transient = await failure(mode.getData());
    expect(transient).not.toBeInstanceOf(UnauthorizedError);
    expect((transient as FreshTokenError).transient).toBeTrue();
    expectMessageShape(transient, 'NFT201');
    ctrl.signedInAtSource = false;
    await ctrl.advance(20_000); // the cool-down after a failed refresh
    const signedOut = await failure(mode.getData());
    expect(signedOut).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(signedOut, 'NFT601');
  });

  it('a session that ended is UnauthorizedError with the core code once (NFT202)', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken({ expiresInSeconds: 10 });
    ctrl.failNextRefresh(new HttpErrorResponse({ status: 401 }));
    const mode = centrifugoHeaderMode({}, auth);
    mode.attach(client());
    const err = await failure(mode.getData());
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT202');
  });

  it('a signOut() during the refresh it is waiting for sets no header (UnauthorizedError NFT601)', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken({ expiresInSeconds: 8 }); // below min validity: getData waits for the refresh
    const mode = centrifugoHeaderMode({}, auth);
    const c = mode.attach(client());
    ctrl.latencyMs = 1_000;
    const pending = failure(mode.getData());
    await ctrl.advance(0);
    await auth.signOut();
    await ctrl.advance(1_000);
    const err = await pending;
    expect(err).toBeInstanceOf(UnauthorizedError);
    expectMessageShape(err, 'NFT601');
    expect(headersOf(c)).toEqual({});
  });

  it('refuses to run before attach() (NFT603)', async () => {
    const { auth, ctrl } = setup();
    ctrl.setToken();
    const err = await failure(centrifugoHeaderMode({}, auth).getData());
    expect((err as FreshTokenError).code).toBe('NFT603');
    expectMessageShape(err, 'NFT603');
  });
});
