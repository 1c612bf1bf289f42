import { provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { AuthService, FRESH_TOKEN_CLOCK, FreshTokenError, FreshTokenFeature, withRefreshBuffer } from 'ngx-fresh-token';
import { FreshTokenTestingController, ManualClock, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { provideAmplifyFreshToken, AmplifyFreshToken } from './amplify-fresh-token';
import { connectFreshEvents } from './events-connection';
import { eventsRealtimeUrl } from './events-protocol';

type Sent = { type: string; id?: string; channel?: string; authorization?: Record<string, string> };

/** A scripted stand-in for the browser WebSocket, playing the AppSync Events server. */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Sent[] = [];
  closedByClient = false;
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.all.push(this);
  }

  /** The headers of the connect handshake (subprotocol `header-<base64url JSON>`). */
  get handshake(): Record<string, string> {
    const encoded = this.protocols[1].slice('header-'.length).replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(encoded + '='.repeat((4 - (encoded.length % 4)) % 4)));
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.readyState = 3;
    this.closedByClient = true;
  }

  /** Server side: accept the connection and the subscription. */
  accept(): void {
    this.readyState = 1;
    this.onopen?.();
    this.receive({ type: 'connection_ack', connectionTimeoutMs: 300_000 });
    const sub = this.sent.find((m) => m.type === 'subscribe')!;
    this.receive({ type: 'subscribe_success', id: sub.id });
  }

  receive(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  /** Server side: close, optionally saying the token is no longer accepted. */
  serverClose(auth: boolean): void {
    if (auth) this.receive({ type: 'error', errors: [{ errorType: 'UnauthorizedException', message: 'Token has expired.' }] });
    this.readyState = 3;
    this.onclose?.();
  }
}

const endpoint = 'https://events.example.test/event';

function setup(...features: FreshTokenFeature[]) {
  FakeSocket.all = [];
  TestBed.configureTestingModule({
    providers: [provideZonelessChangeDetection(), provideFreshTokenTesting(...features), provideAmplifyFreshToken({}, { graphqlHeaders: false })],
  });
  const auth = TestBed.inject(AuthService);
  const ctrl = TestBed.inject(FreshTokenTestingController);
  const clock = TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock;
  const received: unknown[] = [];
  const errors: unknown[] = [];
  const open = (options: { authMode?: 'lambda' | 'oidc' | 'userPool'; maxAuthFailures?: number; renewBeforeExpiryMs?: number } = {}) =>
    connectFreshEvents(auth, '/default/chat', { endpoint, ...options, webSocketFactory: (u, p) => new FakeSocket(u, p) as unknown as WebSocket }, clock).subscribe({
      next: (e) => received.push(e),
      error: (e) => errors.push(e),
    });
  /** Subscribes through `AmplifyFreshToken.events()`, the way an app does (it reads the app's refresh buffer). */
  const openViaService = () =>
    TestBed.inject(AmplifyFreshToken)
      .events('/default/chat', { endpoint, webSocketFactory: (u, p) => new FakeSocket(u, p) as unknown as WebSocket })
      .subscribe({ next: (e) => received.push(e), error: (e) => errors.push(e) });
  return { auth, ctrl, clock, received, errors, open, openViaService };
}

describe('connectFreshEvents', () => {
  it('derives the realtime URL like Amplify', () => {
    expect(eventsRealtimeUrl('https://abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com/event')).toBe(
      'wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.us-east-1.amazonaws.com/event/realtime',
    );
  });

  for (const authMode of ['lambda', 'oidc', 'userPool'] as const) {
    it(`${authMode} mode: handshake and subscribe carry the fresh token verbatim`, async () => {
      const { ctrl, open } = setup();
      const token = ctrl.setToken({ expiresInSeconds: 3600 });
      open({ authMode });
      await ctrl.advance(0);
      const socket = FakeSocket.all[0];
      expect(socket.url).toBe('wss://events.example.test/event/realtime');
      expect(socket.protocols[0]).toBe('aws-appsync-event-ws');
      expect(socket.handshake).toEqual({ Authorization: token, host: 'events.example.test' });
      socket.accept();
      const sub = socket.sent.find((m) => m.type === 'subscribe')!;
      expect(sub.channel).toBe('/default/chat');
      expect(sub.authorization).toEqual({ Authorization: token, host: 'events.example.test' });
    });
  }

  it('emits parsed events and, on unsubscribe, unsubscribes and closes the socket', async () => {
    const { ctrl, open, received } = setup();
    ctrl.setToken();
    const subscription = open();
    await ctrl.advance(0);
    const socket = FakeSocket.all[0];
    socket.accept();
    const id = socket.sent.find((m) => m.type === 'subscribe')!.id;
    socket.receive({ type: 'data', id, event: JSON.stringify({ text: 'hi' }) });
    socket.receive({ type: 'data', id: 'someone-else', event: '{}' });
    expect(received).toEqual([{ text: 'hi' }]);
    subscription.unsubscribe();
    expect(socket.sent.at(-1)).toEqual({ type: 'unsubscribe', id });
    expect(socket.closedByClient).toBeTrue();
  });

  it('renews the connection with a fresh token before the connect token expires, subscribing before closing the old one', async () => {
    const { ctrl, clock, open, received } = setup();
    const first = ctrl.setToken({ expiresInSeconds: 120 });
    open();
    await ctrl.advance(0);
    FakeSocket.all[0].accept();
    await ctrl.advance(89_000);
    expect(FakeSocket.all.length).toBe(1);
    await ctrl.advance(1_000); // 30 s before expiry
    expect(FakeSocket.all.length).toBe(2);
    const [old, renewed] = FakeSocket.all;
    expect(renewed.handshake['Authorization']).not.toBe(first);
    expect(old.closedByClient).withContext('old socket still open until the new one subscribed').toBeFalse();
    renewed.accept();
    expect(old.closedByClient).toBeTrue();
    const id = renewed.sent.find((m) => m.type === 'subscribe')!.id;
    renewed.receive({ type: 'data', id, event: '{"n":1}' });
    expect(received).toEqual([{ n: 1 }]);
    expect(ctrl.refreshCount).toBe(1);
    expect(clock.now()).toBeLessThan(JSON.parse(atob(first.split('.')[1])).exp * 1000);
  });

  it('renews once at the app refresh buffer (withRefreshBuffer(5_000), 60 s tokens), without polling the service', async () => {
    const { auth, ctrl, clock, openViaService, errors } = setup(withRefreshBuffer(5_000));
    ctrl.tokenLifetimeSeconds = 60;
    const first = ctrl.setToken({ expiresInSeconds: 60 });
    const asked = spyOn(auth, 'getValidToken').and.callThrough();
    openViaService();
    await ctrl.advance(0);
    FakeSocket.all[0].accept();
    expect(asked).toHaveBeenCalledTimes(1);
    const timers = spyOn(clock, 'setTimeout').and.callThrough();
    await ctrl.advance(54_999);
    expect(FakeSocket.all.length).toBe(1);
    expect(asked).withContext('no early renewal, no polling of the service').toHaveBeenCalledTimes(1);
    expect(timers).withContext('no timer started while waiting for the renewal').not.toHaveBeenCalled();
    expect(ctrl.refreshCount).toBe(0);
    await ctrl.advance(1); // 5 s before expiry: inside the app's buffer
    expect(asked).toHaveBeenCalledTimes(2);
    expect(ctrl.refreshCount).toBe(1);
    expect(FakeSocket.all.length).toBe(2);
    expect(FakeSocket.all[1].handshake['Authorization']).not.toBe(first);
    FakeSocket.all[1].accept();
    expect(FakeSocket.all[0].closedByClient).toBeTrue();
    expect(errors).toEqual([]);
  });

  it("called in an injection context without a clock: runs on the app's FRESH_TOKEN_CLOCK and renews at its buffer", async () => {
    const { auth, ctrl, errors } = setup(withRefreshBuffer(5_000));
    ctrl.tokenLifetimeSeconds = 60;
    const first = ctrl.setToken({ expiresInSeconds: 60 });
    TestBed.runInInjectionContext(() =>
      connectFreshEvents(auth, '/default/chat', { endpoint, webSocketFactory: (u, p) => new FakeSocket(u, p) as unknown as WebSocket }),
    ).subscribe({ error: (e) => errors.push(e) });
    await ctrl.advance(0);
    FakeSocket.all[0].accept();
    await ctrl.advance(54_999);
    expect(FakeSocket.all.length).toBe(1);
    await ctrl.advance(1); // 5 s before expiry on the fake clock: the app's buffer, not the 30 s default
    expect(FakeSocket.all.length).toBe(2);
    expect(FakeSocket.all[1].handshake['Authorization']).not.toBe(first);
    expect(errors).toEqual([]);
  });

  it('caps the renewal at half the token lifetime: 40 s tokens with renewBeforeExpiryMs 30 s renew 20 s before expiry', async () => {
    const { ctrl, open } = setup();
    ctrl.tokenLifetimeSeconds = 40;
    ctrl.setToken({ expiresInSeconds: 40 });
    open({ renewBeforeExpiryMs: 30_000 });
    await ctrl.advance(0);
    FakeSocket.all[0].accept();
    await ctrl.advance(19_999);
    expect(FakeSocket.all.length).withContext('not at 30 s before expiry').toBe(1);
    await ctrl.advance(1);
    expect(FakeSocket.all.length).toBe(2);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('renewBeforeExpiryMs beyond the app buffer: forces one refresh at the renewal instead of polling until the buffer', async () => {
    const { auth, ctrl, open } = setup(withRefreshBuffer(5_000));
    ctrl.tokenLifetimeSeconds = 60;
    const first = ctrl.setToken({ expiresInSeconds: 60 });
    const asked = spyOn(auth, 'getValidToken').and.callThrough();
    open({ renewBeforeExpiryMs: 20_000 });
    await ctrl.advance(0);
    FakeSocket.all[0].accept();
    await ctrl.advance(40_000);
    expect(FakeSocket.all.length).toBe(2);
    expect(FakeSocket.all[1].handshake['Authorization']).not.toBe(first);
    expect(ctrl.requests).toEqual([{ forceRefresh: true }]);
    FakeSocket.all[1].accept();
    await ctrl.advance(10_000);
    expect(asked).withContext('asked at the start and at the renewal only').toHaveBeenCalledTimes(2);
    expect(FakeSocket.all.length).toBe(2);
  });

  it('a signOut() during the refresh for a renewal leaves the connection without a token: closed, NFT502, no reconnect', async () => {
    const { auth, ctrl, open, errors } = setup();
    ctrl.setToken({ expiresInSeconds: 60 });
    ctrl.latencyMs = 1_000;
    open();
    await ctrl.advance(0);
    FakeSocket.all[0].accept();
    await ctrl.advance(30_000); // renewal: the refresh is now in flight
    expect(ctrl.refreshCount).toBe(1);
    await auth.signOut();
    await ctrl.advance(1_000);
    await ctrl.advance(60_000);
    expect(FakeSocket.all.length).withContext('no socket opened with the answer from before signOut()').toBe(1);
    expect(FakeSocket.all[0].closedByClient).toBeTrue();
    expect(errors.map((e) => (e as FreshTokenError).code)).toEqual(['NFT502']);
    expect(auth.state().token).toBeNull();
  });

  it('signOut() closes an open connection at once (no more events for the signed-out user), with NFT502', async () => {
    const { auth, ctrl, open, errors, received } = setup();
    ctrl.setToken();
    open();
    await ctrl.advance(0);
    const socket = FakeSocket.all[0];
    socket.accept();
    await auth.signOut();
    expect(socket.closedByClient).toBeTrue();
    expect(socket.sent.at(-1)?.type).toBe('unsubscribe');
    const id = socket.sent.find((m) => m.type === 'subscribe')!.id;
    socket.receive({ type: 'data', id, event: '{"late":true}' });
    expect(received).toEqual([]);
    expect(errors.map((e) => (e as FreshTokenError).code)).toEqual(['NFT502']);
    await ctrl.advance(60_000);
    expect(FakeSocket.all.length).toBe(1);
  });

  it('reconnects with a refreshed token after a server-side auth close', async () => {
    const { ctrl, open, errors } = setup();
    const first = ctrl.setToken();
    open();
    await ctrl.advance(0);
    FakeSocket.all[0].accept();
    FakeSocket.all[0].serverClose(true);
    await ctrl.advance(0);
    expect(FakeSocket.all.length).toBe(2);
    expect(FakeSocket.all[1].handshake['Authorization']).not.toBe(first);
    expect(ctrl.refreshCount).toBe(1);
    FakeSocket.all[1].accept();
    expect(errors).toEqual([]);
  });

  it('gives up with NFT503 after maxAuthFailures rejected fresh tokens, instead of looping', async () => {
    const { ctrl, open, errors } = setup();
    ctrl.setToken();
    open({ maxAuthFailures: 2 });
    for (let i = 0; i < 5; i++) {
      await ctrl.advance(0);
      const socket = FakeSocket.all.at(-1)!;
      if (socket.readyState === 3) break;
      socket.readyState = 1;
      socket.onopen?.();
      socket.receive({ type: 'connection_error', errors: [{ errorType: 'UnauthorizedException', errorCode: 401 }] });
    }
    expect(FakeSocket.all.length).toBe(3);
    expect((errors[0] as FreshTokenError).code).toBe('NFT503');
    expect(ctrl.refreshCount).toBe(2);
  });

  it('reconnects with backoff after a network drop, and after a missed keep-alive', async () => {
    const { ctrl, open, errors } = setup();
    ctrl.setToken();
    open();
    await ctrl.advance(0);
    FakeSocket.all[0].accept();
    FakeSocket.all[0].serverClose(false);
    await ctrl.advance(0);
    expect(FakeSocket.all.length).withContext('waits before reconnecting').toBe(1);
    await ctrl.advance(2_000);
    expect(FakeSocket.all.length).toBe(2);
    FakeSocket.all[1].accept();
    await ctrl.advance(300_001); // no `ka` within connectionTimeoutMs
    await ctrl.advance(2_000);
    expect(FakeSocket.all.length).toBe(3);
    expect(FakeSocket.all[1].closedByClient).toBeTrue();
    expect(ctrl.refreshCount).withContext('a drop is not an auth failure').toBe(0);
    expect(errors).toEqual([]);
  });

  it('errors with NFT502 when signed out', async () => {
    const { ctrl, open, errors } = setup();
    ctrl.signedInAtSource = false;
    open();
    await ctrl.advance(0);
    expect(FakeSocket.all.length).toBe(0);
    expect((errors[0] as FreshTokenError).code).toBe('NFT502');
  });
});
