// Proxy-only mode (issue #26): withBffSession() + withBffProxy() — no token in the browser;
// AuthService tracks the BFF session (/session/user) and a 401 from the proxy ends it.
import { HttpClient, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { EnvironmentInjector, PLATFORM_ID, Provider, createEnvironmentInjector, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { Route, Router, UrlTree, provideRouter } from '@angular/router';
import { ManualClock, flushMicrotasks } from 'ngx-fresh-token/testing';
import { AuthService } from './auth.service';
import { withBffProxy } from './bff-proxy';
import { withBffSession } from './bff-session';
import { FRESH_TOKEN_CLOCK } from './clock';
import { ɵCROSS_TAB_APIS, ɵChannel } from './cross-tab';
import { FreshTokenError } from './errors';
import { signedInGuard } from './guard';
import { freshTokenInterceptor } from './interceptor';
import { FreshTokenFeature, provideFreshToken, withAutoRefresh, withCrossTabSync } from './provider';
import type { TokenEvent } from './token';
import { get as send } from './core-testbed.spec-helper';

const MIN = 60_000;
const USER = { sub: 'bob', name: 'Bob' };
const unauthorized = { status: 401, statusText: 'Unauthorized' };

async function settle(rounds = 4): Promise<void> {
  for (let i = 0; i < rounds; i++) await flushMicrotasks();
}

/** A proxy-only app ("tab") in an injector of its own: its HttpClient, testing backend and service. */
function openTab(parent: EnvironmentInjector, features: FreshTokenFeature[] = [], providers: Provider[] = []) {
  const injector = createEnvironmentInjector(
    [
      ...providers,
      provideFreshToken(withBffSession(), withBffProxy('/api/orders'), ...features),
      provideHttpClient(withInterceptors([freshTokenInterceptor])),
      provideHttpClientTesting(),
    ],
    parent,
  );
  const auth = injector.get(AuthService);
  const events: TokenEvent[] = [];
  auth.events$.subscribe((e) => events.push(e));
  return { injector, auth, events, http: injector.get(HttpClient), httpMock: injector.get(HttpTestingController) };
}

function setup(features: FreshTokenFeature[] = [], providers: Provider[] = []) {
  TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), provideRouter([]), { provide: FRESH_TOKEN_CLOCK, useFactory: () => new ManualClock() }] });
  const clock = TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock;
  return { clock, ...openTab(TestBed.inject(EnvironmentInjector), features, providers) };
}

type Tab = ReturnType<typeof openTab>;

/** Answers the pending session read. */
function answerSession(tab: Tab, body: object, init?: { status: number; statusText: string }) {
  const req = tab.httpMock.expectOne('/session/user');
  expect(req.request.method).toBe('GET');
  expect(req.request.headers.get('X-CSRF')).toBe('1');
  expect(req.request.headers.has('Authorization')).toBeFalse();
  req.flush(body, init);
}

/** Starts the service's first session read and answers it with a session (idle 10 min, absolute 1 h). */
async function signedIn(tab: Tab, body: Record<string, unknown> = { user: USER, expiresIn: 3600, idleMs: 10 * MIN }) {
  const loaded = tab.auth.getValidToken();
  answerSession(tab, body);
  expect(await loaded).toBeNull();
  await settle();
}

describe('withBffSession() (proxy-only mode)', () => {
  it('tracks the session from /session/user: signed in, its user and its end (idle first), and no token anywhere', async () => {
    const tab = setup();
    const tokens: Array<string | null> = [];
    tab.auth.token$.subscribe((t) => tokens.push(t));
    await signedIn(tab);
    const state = tab.auth.state();
    expect(state.status).toBe('fresh');
    expect(state.token).toBeNull();
    expect(state.expiresAt).toBe(tab.clock.now() + 10 * MIN);
    expect(tab.auth.sessionUser()).toEqual(USER);
    expect(tokens.every((t) => t === null)).toBeTrue();
    expect(await tab.auth.getValidToken()).toBeNull();
    tab.httpMock.verify(); // from memory: no second read
  });

  it('uses the absolute end when it comes first, and no end at all when the BFF names none', async () => {
    const tab = setup();
    await signedIn(tab, { user: USER, expiresIn: 120, idleMs: 10 * MIN });
    expect(tab.auth.state().expiresAt).toBe(tab.clock.now() + 120_000);
    const again = tab.auth.refresh();
    tab.httpMock.expectOne('/session/user').flush({ user: USER });
    expect(await again).toBeNull();
    expect(tab.auth.state().expiresAt).toBeNull();
    expect(tab.auth.state().status).toBe('fresh');
  });

  it('a first 401 from /session/user means signed out (no session-expired)', async () => {
    const tab = setup();
    const loaded = tab.auth.getValidToken();
    answerSession(tab, { user: null }, unauthorized);
    expect(await loaded).toBeNull();
    expect(tab.auth.state().status).toBe('signed-out');
    expect(tab.events.map((e) => e.type)).not.toContain('session-expired');
  });

  it('a 401 from the proxy ends the session: signed-out and session-expired, no retry, no session read', async () => {
    const tab = setup();
    await signedIn(tab);
    const out = send(tab.http, '/api/orders/1');
    const first = tab.httpMock.expectOne('/api/orders/1');
    expect(first.request.headers.get('X-CSRF')).toBe('1');
    expect(first.request.headers.has('Authorization')).toBeFalse();
    first.flush({ error: 'unauthenticated' }, unauthorized);
    await settle();
    await tab.clock.advance(60_000);
    tab.httpMock.verify(); // no retry of the call, no /session/user, nothing looping
    expect((out.error as { status: number }).status).toBe(401);
    expect(tab.auth.state().status).toBe('signed-out');
    expect(tab.auth.sessionUser()).toBeNull();
    const expired = tab.events.filter((e) => e.type === 'session-expired');
    expect(expired.length).toBe(1);
    expect((expired[0].error as FreshTokenError).code).toBe('NFT202');
    // A second 401 (another call in flight) tells nothing new.
    send(tab.http, '/api/orders/2');
    tab.httpMock.expectOne('/api/orders/2').flush({}, unauthorized);
    await settle();
    expect(tab.events.filter((e) => e.type === 'session-expired').length).toBe(1);
  });

  it('a 2xx that comes right after a proxied 401 does not keep the ending session alive', async () => {
    const tab = setup();
    await signedIn(tab);
    send(tab.http, '/api/orders/a');
    send(tab.http, '/api/orders/b');
    await tab.clock.advance(2 * MIN); // b's answer would move the idle end
    tab.httpMock.expectOne('/api/orders/a').flush({}, unauthorized);
    tab.httpMock.expectOne('/api/orders/b').flush([]);
    await settle();
    expect(tab.auth.state().status).toBe('signed-out');
    expect(tab.events.filter((e) => e.type === 'session-expired').length).toBe(1);
    tab.httpMock.verify();
  });

  it('a successful proxied call moves the idle end, never past the absolute end', async () => {
    const tab = setup();
    await signedIn(tab, { user: USER, expiresIn: 15 * 60, idleMs: 10 * MIN });
    const start = tab.clock.now();
    await tab.clock.advance(4 * MIN);
    send(tab.http, '/api/orders');
    tab.httpMock.expectOne('/api/orders').flush([]);
    await settle();
    expect(tab.auth.state().expiresAt).toBe(start + 14 * MIN);
    expect(tab.auth.sessionUser()).toEqual(USER);
    await tab.clock.advance(4 * MIN);
    send(tab.http, '/api/orders');
    tab.httpMock.expectOne('/api/orders').flush([]);
    await settle();
    expect(tab.auth.state().expiresAt).toBe(start + 15 * MIN); // the absolute end
    // A failed call (other than 401) is no sign of the session.
    await tab.clock.advance(MIN);
    send(tab.http, '/api/orders');
    tab.httpMock.expectOne('/api/orders').flush({}, { status: 404, statusText: 'Not Found' });
    await settle();
    expect(tab.auth.state().status).not.toBe('signed-out');
    tab.httpMock.verify();
  });

  it('a successful proxied answer after the absolute end still reaches the caller (no end in the past is set)', async () => {
    const tab = setup();
    // Idle end at 1 min, absolute end at 2 min; the answer comes after both (a device clock that runs ahead, another tab's activity).
    await signedIn(tab, { user: USER, expiresIn: 120, idleMs: MIN });
    await tab.clock.advance(121_000);
    expect(tab.auth.state().status).toBe('expired');
    const out = send(tab.http, '/api/orders');
    tab.httpMock.expectOne('/api/orders').flush(['late']);
    await settle();
    expect(out.error).toBeUndefined();
    expect(out.body).toEqual(['late']);
  });

  it('once its end has passed the session is expired, and the next question re-reads it (401: session-expired)', async () => {
    const tab = setup();
    await signedIn(tab);
    const states: string[] = [];
    tab.auth.state$.subscribe((s) => states.push(s.status));
    await tab.clock.advance(10 * MIN);
    expect(tab.auth.state().status).toBe('expired');
    expect(states).toEqual(['fresh', 'expiring', 'expired']);
    tab.httpMock.verify(); // time alone reads nothing
    const asked = tab.auth.getValidToken().catch((e: unknown) => e);
    answerSession(tab, { user: null }, unauthorized);
    expect(((await asked) as FreshTokenError).code).toBe('NFT202');
    expect(tab.auth.state().status).toBe('signed-out');
    expect(tab.events.map((e) => e.type)).toContain('session-expired');
  });

  it('withAutoRefresh() reads nothing on a timer (that would keep an idle session alive)', async () => {
    const tab = setup([withAutoRefresh()]);
    await signedIn(tab);
    await tab.clock.advance(11 * MIN);
    expect(tab.auth.state().status).toBe('expired');
    tab.httpMock.verify();
  });

  it('other URLs of the origin get no token and cost no session read', async () => {
    const tab = setup();
    await signedIn(tab);
    send(tab.http, '/api/me');
    const req = tab.httpMock.expectOne('/api/me');
    expect(req.request.headers.has('Authorization')).toBeFalse();
    expect(req.request.headers.has('X-CSRF')).toBeFalse();
    req.flush({});
    tab.httpMock.verify();
  });

  it('signOut() POSTs /auth/logout with X-CSRF and emits signed-out', async () => {
    const tab = setup();
    await signedIn(tab);
    const done = tab.auth.signOut();
    const req = tab.httpMock.expectOne('/auth/logout');
    expect(req.request.method).toBe('POST');
    expect(req.request.headers.get('X-CSRF')).toBe('1');
    req.flush({ endSessionUrl: null });
    await done;
    expect(tab.auth.state().status).toBe('signed-out');
    expect(tab.events.at(-1)).toEqual({ type: 'signed-out' });
  });

  it('signedInGuard() lets a session through and sends a signed-out user to /login', async () => {
    const tab = setup();
    const guard = signedInGuard();
    const run = () => TestBed.runInInjectionContext(() => tab.injector.runInContext(() => guard({} as Route, [], undefined as never)) as Promise<boolean | UrlTree>);
    const first = run();
    answerSession(tab, { user: USER, expiresIn: 3600, idleMs: 10 * MIN });
    expect(await first).toBeTrue();
    expect(await run()).toBeTrue();
    tab.httpMock.verify();

    const other = openTab(TestBed.inject(EnvironmentInjector));
    const denied = TestBed.runInInjectionContext(() => other.injector.runInContext(() => guard({} as Route, [], undefined as never)) as Promise<boolean | UrlTree>);
    other.httpMock.expectOne('/session/user').flush({}, unauthorized);
    const tree = (await denied) as UrlTree;
    expect(TestBed.inject(Router).serializeUrl(tree)).toMatch(/^\/login/);
  });

  it('signedInGuard() reads the session again once its end has passed (a 401 then sends the user to /login)', async () => {
    const tab = setup();
    await signedIn(tab);
    const guard = signedInGuard();
    const run = () => TestBed.runInInjectionContext(() => tab.injector.runInContext(() => guard({} as Route, [], undefined as never)) as Promise<boolean | UrlTree>);
    expect(await run()).toBeTrue();
    tab.httpMock.verify(); // from memory
    await tab.clock.advance(10 * MIN);
    const again = run();
    answerSession(tab, {}, unauthorized);
    expect(TestBed.inject(Router).serializeUrl((await again) as UrlTree)).toMatch(/^\/login/);
    expect(tab.auth.state().status).toBe('signed-out');
  });

  it('with withCrossTabSync(), a proxied 401 in one tab signs every tab out', async () => {
    TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), { provide: FRESH_TOKEN_CLOCK, useFactory: () => new ManualClock() }] });
    const channels: ɵChannel[] = [];
    const apis = {
      locks: { request: <T>(_: string, __: unknown, callback: () => Promise<T>) => callback() },
      channel: () => {
        const channel: ɵChannel = {
          onmessage: null,
          postMessage: (data) => channels.filter((c) => c !== channel).forEach((c) => setTimeout(() => c.onmessage?.({ data: structuredClone(data) }))),
          close: () => channels.splice(channels.indexOf(channel), 1),
        };
        channels.push(channel);
        return channel;
      },
    };
    const parent = TestBed.inject(EnvironmentInjector);
    const a = openTab(parent, [withCrossTabSync({ adoptTimeoutMs: 0 })], [{ provide: ɵCROSS_TAB_APIS, useValue: apis }]);
    const b = openTab(parent, [withCrossTabSync({ adoptTimeoutMs: 0 })], [{ provide: ɵCROSS_TAB_APIS, useValue: apis }]);
    const clock = TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock;
    for (const tab of [a, b]) {
      const loaded = tab.auth.getValidToken();
      await clock.advance(0);
      await settle();
      answerSession(tab, { user: USER, expiresIn: 3600, idleMs: 10 * MIN });
      await loaded;
    }
    expect(b.auth.state().status).toBe('fresh');
    send(a.http, '/api/orders');
    a.httpMock.expectOne('/api/orders').flush({}, unauthorized);
    await settle();
    expect(a.auth.state().status).toBe('signed-out');
    expect(b.auth.state().status).toBe('signed-out');
    expect(b.events.map((e) => e.type)).toContain('session-expired');
    b.httpMock.verify();
  });

  it('with withCrossTabSync(), one tab\'s session read does not hold up another tab\'s next read', async () => {
    TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), { provide: FRESH_TOKEN_CLOCK, useFactory: () => new ManualClock() }] });
    const channels: ɵChannel[] = [];
    const apis = {
      locks: { request: <T>(_: string, __: unknown, callback: () => Promise<T>) => callback() },
      channel: () => {
        const channel: ɵChannel = {
          onmessage: null,
          postMessage: (data) => channels.filter((c) => c !== channel).forEach((c) => setTimeout(() => c.onmessage?.({ data: structuredClone(data) }))),
          close: () => channels.splice(channels.indexOf(channel), 1),
        };
        channels.push(channel);
        return channel;
      },
    };
    const parent = TestBed.inject(EnvironmentInjector);
    const clock = TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock;
    const a = openTab(parent, [withCrossTabSync({ adoptTimeoutMs: 300 })], [{ provide: ɵCROSS_TAB_APIS, useValue: apis }]);
    const b = openTab(parent, [withCrossTabSync({ adoptTimeoutMs: 300 })], [{ provide: ɵCROSS_TAB_APIS, useValue: apis }]);
    for (const tab of [a, b]) {
      const loaded = tab.auth.getValidToken();
      await settle();
      await clock.advance(300); // a first load asks the other tabs first
      await settle();
      answerSession(tab, { user: USER, expiresIn: 3600, idleMs: 10 * MIN });
      await loaded;
      await settle();
    }
    // A reads the session again (announced to the other tabs as "busy")...
    const again = a.auth.refresh();
    await settle();
    answerSession(a, { user: USER, expiresIn: 3600, idleMs: 10 * MIN });
    await again;
    await settle();
    // ... and B's next read goes out at once, without waiting for a result A has no token to send.
    const next = b.auth.refresh();
    await settle();
    answerSession(b, { user: USER, expiresIn: 3600, idleMs: 10 * MIN });
    expect(await next).toBeNull();
  });

  it('with withCrossTabSync(), a tab that opens reads its session at once (no other tab has a token to hand it)', async () => {
    const apis = {
      locks: { request: <T>(_: string, __: unknown, callback: () => Promise<T>) => callback() },
      channel: (): ɵChannel => ({ onmessage: null, postMessage: () => undefined, close: () => undefined }),
    };
    const tab = setup([withCrossTabSync()], [{ provide: ɵCROSS_TAB_APIS, useValue: apis }]);
    const loaded = tab.auth.getValidToken();
    await settle();
    answerSession(tab, { user: USER, expiresIn: 3600, idleMs: 10 * MIN }); // no 300 ms wait for an answer that cannot come
    expect(await loaded).toBeNull();
    expect(tab.auth.state().status).toBe('fresh');
  });

  it('in a server render it reads nothing and knows no session', async () => {
    const tab = setup([], [{ provide: PLATFORM_ID, useValue: 'server' }]);
    expect(await tab.auth.getValidToken()).toBeNull();
    expect(tab.auth.state().status).toBe('signed-out');
    tab.httpMock.verify();
  });

  it('refuses options that are not paths on the app origin with NFT115', () => {
    for (const options of [{ url: 'session/user' }, { url: '//evil.test/u' }, { signOutUrl: 'https://evil.test/logout' }, { url: 42 }]) {
      expect(() => withBffSession(options as never)).withContext(JSON.stringify(options)).toThrowMatching((e) => e instanceof FreshTokenError && e.code === 'NFT115');
    }
    expect(() => withBffSession({ signOutUrl: null })).not.toThrow();
  });
});
