// Cross-tab sync (issue #13): several AuthServices ("tabs") sharing a Web Lock manager and a
// BroadcastChannel — faked here for determinism, and once with the browser's real ones.
import { EnvironmentInjector, PLATFORM_ID, createEnvironmentInjector, provideZonelessChangeDetection, runInInjectionContext } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { ManualClock, createTestJwt, flushMicrotasks } from 'ngx-fresh-token/testing';
import { AuthService } from './auth.service';
import { FRESH_TOKEN_CLOCK } from './clock';
import { CrossTabSyncOptions, ɵCROSS_TAB_APIS, ɵChannel, ɵCrossTabApis } from './cross-tab';
import { FreshTokenErrorCode } from './errors';
import { provideFreshToken, withAutoRefresh, withCrossTabSync, withRefreshRetry, withTokenSource } from './provider';
import { injectAuth, withApiToken } from './api-token';
import type { TokenEvent, TokenGrant } from './token';

/** Web Locks as the browser runs them: one holder per name, the rest wait in order; a signal aborts waiting. */
class FakeLocks {
  private readonly tails = new Map<string, Promise<unknown>>();
  held = 0;
  request<T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    const run = previous.then(() => {
      if (options.signal?.aborted) throw options.signal.reason;
      this.held++;
      return callback().finally(() => this.held--);
    });
    this.tails.set(name, run.catch(() => undefined));
    return run;
  }
}

/** BroadcastChannel as the browser runs it: delivered later, to every other channel of the name, never to the sender. */
class FakeChannels {
  readonly open = new Set<{ name: string; channel: ɵChannel }>();
  readonly sent: unknown[] = [];
  create = (name: string): ɵChannel => {
    const entry = { name, channel: null as unknown as ɵChannel };
    const channel: ɵChannel = {
      onmessage: null,
      postMessage: (message) => {
        this.sent.push(message);
        const data = structuredClone(message);
        for (const other of this.open) {
          if (other.name === name && other.channel !== channel) setTimeout(() => other.channel.onmessage?.({ data }), 0);
        }
      },
      close: () => this.open.delete(entry),
    };
    entry.channel = channel;
    this.open.add(entry);
    return channel;
  };
  /** Delivers `data` to every open channel of `name`, as another (unseen) tab would. */
  inject(name: string, data: unknown): void {
    for (const other of this.open) if (other.name === name) other.channel.onmessage?.({ data });
  }
}

interface Tab {
  auth: AuthService;
  injector: EnvironmentInjector;
  calls: Array<{ forceRefresh: boolean }>;
  signOuts: number;
  events: TokenEvent[];
  /** Makes the next source call fail with `error`. */
  failNext(error: unknown): void;
}

/** Lets channel deliveries (real macrotasks) and promise chains settle. */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await flushMicrotasks();
}

function world(apis?: ɵCrossTabApis, options: CrossTabSyncOptions = {}) {
  const locks = new FakeLocks();
  const channels = new FakeChannels();
  const shared: ɵCrossTabApis = apis ?? { locks, channel: channels.create };
  TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), { provide: FRESH_TOKEN_CLOCK, useValue: new ManualClock() }] });
  const clock = TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock;
  const tabs: Tab[] = [];
  const openTab = (extra: { platform?: string; latencyMs?: number } = {}): Tab => {
    const failures: unknown[] = [];
    const tab: Tab = {
      calls: [],
      signOuts: 0,
      events: [],
      failNext: (e: unknown) => failures.push(e),
    } as unknown as Tab;
    tab.injector = createEnvironmentInjector(
      [
        { provide: ɵCROSS_TAB_APIS, useValue: shared },
        ...(extra.platform ? [{ provide: PLATFORM_ID, useValue: extra.platform }] : []),
        provideFreshToken(
          withTokenSource({
            getToken: async (request): Promise<TokenGrant> => {
              tab.calls.push({ forceRefresh: request.forceRefresh });
              if (extra.latencyMs) await new Promise<void>((r) => clock.setTimeout(r, extra.latencyMs!));
              if (failures.length) throw failures.shift();
              return { accessToken: createTestJwt({ expiresInSeconds: 60, nowMs: clock.now() }) };
            },
            signOut: () => {
              tab.signOuts++;
            },
          }),
          withCrossTabSync(options),
          withRefreshRetry({ maxAttempts: 1 }),
        ),
      ],
      TestBed.inject(EnvironmentInjector),
    );
    tab.auth = tab.injector.get(AuthService);
    tab.auth.events$.subscribe((e) => tab.events.push(e));
    tabs.push(tab);
    return tab;
  };
  return { clock, locks, channels, openTab, tabs };
}

const sourceCalls = (tabs: Tab[]) => tabs.reduce((n, t) => n + t.calls.length, 0);

describe('withCrossTabSync()', () => {
  it('a refresh in one tab is adopted by the others without calling their source', async () => {
    const { openTab } = world();
    const a = openTab();
    const b = openTab();
    const token = await a.auth.refresh();
    await settle();
    expect(b.auth.state().token).toBe(token);
    expect(b.calls).toEqual([]);
    expect(b.events).toEqual([{ type: 'refreshed', adopted: true }]);
    expect(a.events).toEqual([{ type: 'refreshed' }]);
    expect(await b.auth.getValidToken()).toBe(token);
    expect(b.calls).toEqual([]);
  });

  it('an adopted token brings the other tab\'s session user (sessionUser follows the session)', async () => {
    const { openTab } = world();
    const a = openTab();
    const b = openTab();
    a.auth.setGrant({ accessToken: createTestJwt({ expiresInSeconds: 60 }), user: { sub: 'bob' } } as TokenGrant);
    await settle();
    expect(b.auth.state().token).toBe(a.auth.state().token);
    expect(b.auth.sessionUser()).toEqual({ sub: 'bob' });
  });

  it('a provideFreshToken() in a child injector (a lazy route\'s) does not inherit the parent\'s cross-tab sync or auto refresh', async () => {
    const { channels, clock } = world();
    const apis: ɵCrossTabApis = { locks: new FakeLocks(), channel: channels.create };
    const jwt = () => createTestJwt({ expiresInSeconds: 60, nowMs: clock.now() });
    const root = createEnvironmentInjector(
      [{ provide: ɵCROSS_TAB_APIS, useValue: apis }, provideFreshToken(withTokenSource({ getToken: async () => ({ accessToken: jwt() }) }), withCrossTabSync(), withAutoRefresh())],
      TestBed.inject(EnvironmentInjector),
    );
    const rootAuth = root.get(AuthService);
    const route = createEnvironmentInjector([provideFreshToken(withTokenSource({ getToken: async () => ({ accessToken: jwt() }) }))], root);
    const routeAuth = route.get(AuthService);
    routeAuth.setGrant({ accessToken: jwt() });
    await settle();
    expect(channels.sent).withContext('the route\'s service says nothing on the root\'s channel').toEqual([]);
    expect(rootAuth.state().token).withContext('the root service adopts nothing of the route\'s').toBeNull();
    expect(clock.pendingTimers).withContext('no auto refresh armed for the route\'s token').toBe(0);
    route.destroy();
    root.destroy();
  });

  it('two tabs whose token expires at once make one source call between them', async () => {
    const { openTab, clock, tabs } = world();
    const a = openTab({ latencyMs: 100 });
    const b = openTab({ latencyMs: 100 });
    const c = openTab({ latencyMs: 100 });
    a.auth.setGrant({ accessToken: createTestJwt({ expiresInSeconds: 60, nowMs: clock.now() }) });
    await settle();
    expect(b.auth.state().token).toBe(a.auth.state().token);
    await clock.advance(55_000); // 5 s left: below min validity in every tab
    const answers = Promise.all(tabs.map((t) => t.auth.getValidToken()));
    await settle();
    await clock.advance(100);
    await settle();
    await clock.advance(100);
    await settle();
    const tokens = new Set(await answers);
    expect(sourceCalls(tabs)).toBe(1);
    expect(tokens.size).toBe(1);
    expect(tabs.every((t) => t.auth.state().status === 'fresh')).toBeTrue();
    expect(c.events.some((e) => e.adopted)).toBeTrue();
  });

  it('sign-out in one tab signs out every tab, without calling their source', async () => {
    const { openTab } = world();
    const a = openTab();
    const b = openTab();
    const c = openTab();
    await a.auth.refresh();
    await settle();
    await b.auth.signOut();
    await settle();
    for (const tab of [a, b, c]) expect(tab.auth.state().status).withContext('status').toBe('signed-out');
    expect(a.events.at(-1)).toEqual({ type: 'signed-out' });
    expect(c.events.at(-1)).toEqual({ type: 'signed-out' });
    expect([a.signOuts, b.signOuts, c.signOuts]).toEqual([0, 1, 0]);
  });

  it('a session that expires in one tab ends it in all, with the error code', async () => {
    const { openTab } = world();
    const a = openTab();
    const b = openTab();
    await a.auth.refresh();
    await settle();
    a.failNext(Object.assign(new Error('invalid_grant'), { status: 400 }));
    await a.auth.refresh().catch(() => null);
    await settle();
    expect(b.auth.state().status).toBe('signed-out');
    expect(b.auth.state().error?.code).toBe(FreshTokenErrorCode.SessionEnded);
    expect(b.events.at(-1)?.type).toBe('session-expired');
    expect(b.calls).toEqual([]);
  });

  it('a tab that opens later takes the running tabs’ token instead of calling its source', async () => {
    const { openTab } = world();
    const a = openTab();
    const token = await a.auth.refresh();
    await settle();
    const late = openTab();
    const got = late.auth.getValidToken();
    await settle();
    expect(await got).toBe(token);
    expect(late.calls).toEqual([]);
  });

  it('a tab alone asks, waits the short timeout, then calls its source as usual', async () => {
    const { openTab, clock } = world(undefined, { adoptTimeoutMs: 300 });
    const alone = openTab();
    let token: string | null | undefined;
    void alone.auth.getValidToken().then((t) => (token = t));
    await settle();
    expect(alone.calls).toEqual([]);
    await clock.advance(300);
    await settle();
    expect(alone.calls).toEqual([{ forceRefresh: false }]);
    expect(token).toBeTruthy();
  });

  it('ignores a token sent before a sign-out it has already seen', async () => {
    const { openTab, channels, clock } = world();
    const a = openTab();
    await a.auth.refresh();
    await a.auth.signOut();
    await settle();
    const stale = { token: createTestJwt({ expiresInSeconds: 60, nowMs: clock.now() }), expiresAt: clock.now() + 60_000, skewMs: 0, bufferMs: 30_000, refreshBufferMs: 30_000, minValidityMs: 10_000, idToken: null };
    channels.inject('ngx-fresh-token:default', { t: 'grant', s: 0, from: 'other-tab', v: stale });
    expect(a.auth.state().status).toBe('signed-out');
    channels.inject('ngx-fresh-token:default', { t: 'grant', s: 1, from: 'other-tab', v: stale });
    expect(a.auth.state().token).toBe(stale.token); // a sign-in after that sign-out is taken
  });

  it('a sign-out while the lock holder waits for a refresh another tab announced calls no source', async () => {
    const { openTab, channels, clock } = world();
    const b = openTab();
    b.auth.setGrant({ accessToken: createTestJwt({ expiresInSeconds: 8, nowMs: clock.now() }) }); // below min validity
    channels.inject('ngx-fresh-token:default', { t: 'busy', s: 0, from: 'other-tab' }); // its result never comes
    const pending = b.auth.getValidToken();
    await settle();
    await b.auth.signOut();
    await clock.advance(300); // the wait for the announced result times out
    await settle();
    expect(await pending).toBeNull();
    expect(b.calls).toEqual([]);
  });

  it('ignores malformed messages', async () => {
    const { openTab, channels } = world();
    const a = openTab();
    for (const data of [null, 'x', 42, { t: 'grant' }, { t: 'grant', s: 5, from: 'x', v: { token: '' } }, { t: 'out', s: 'x', from: 'x' }]) {
      channels.inject('ngx-fresh-token:default', data);
    }
    expect(a.auth.state().status).toBe('signed-out');
    expect(a.events).toEqual([]);
  });

  it('a message whose sign-out count is not a safe integer is ignored: a later sign-out still reaches every tab (attacker review)', async () => {
    const { openTab, channels } = world();
    const a = openTab();
    const b = openTab();
    await a.auth.refresh();
    await settle();
    for (const s of [2 ** 53, Number.MAX_SAFE_INTEGER, -1, 1e308]) channels.inject('ngx-fresh-token:default', { t: 'hello', s, from: 'intruder' });
    await settle();
    await b.auth.signOut();
    await settle();
    expect(a.auth.state().status).toBe('signed-out');
  });

  it('falls back to per-tab behaviour without Web Locks or BroadcastChannel, with no error', async () => {
    for (const apis of [
      { locks: null, channel: new FakeChannels().create },
      { locks: new FakeLocks(), channel: null },
    ] as ɵCrossTabApis[]) {
      TestBed.resetTestingModule();
      const { openTab } = world(apis);
      const a = openTab();
      const b = openTab();
      await a.auth.refresh();
      await settle();
      expect(b.auth.state().status).toBe('signed-out');
      expect(await b.auth.getValidToken()).toBeTruthy();
      expect(b.calls.length).toBe(1);
    }
  });

  it('is off on the server platform', async () => {
    const { openTab, channels } = world();
    openTab({ platform: 'server' });
    expect(channels.open.size).toBe(0);
  });

  it('closes its channel when the injector is destroyed', () => {
    const { openTab, channels } = world();
    const a = openTab();
    expect(channels.open.size).toBe(1);
    a.injector.destroy();
    expect(channels.open.size).toBe(0);
  });

  it('shares only the access token, its expiry, the ID token and the session user — never anything of the source', async () => {
    const { openTab, channels } = world();
    const a = openTab();
    openTab();
    await a.auth.refresh();
    await settle();
    const grants = channels.sent.filter((m) => (m as { t: string }).t === 'grant') as Array<{ v: Record<string, unknown> }>;
    expect(grants.length).toBeGreaterThan(0);
    for (const g of grants) expect(Object.keys(g.v).sort()).toEqual(['bufferMs', 'expiresAt', 'idToken', 'minValidityMs', 'refreshBufferMs', 'skewMs', 'token', 'user']);
  });

  it('with the browser’s real Web Locks and BroadcastChannel: one source call for two tabs', async () => {
    if (!('locks' in navigator) || typeof BroadcastChannel !== 'function') {
      fail('Chromium has Web Locks and BroadcastChannel');
      return;
    }
    const { openTab, clock, tabs } = world(
      { locks: navigator.locks as unknown as ɵCrossTabApis['locks'], channel: (n) => new BroadcastChannel(n) as unknown as ɵChannel },
      { name: `spec-${Math.random()}` },
    );
    // Sources answer after 50 ms (of fake time): a real token endpoint is a network round trip away, far
    // longer than a message takes between tabs, which is what lets the next lock holder hear of the refresh.
    const a = openTab({ latencyMs: 50 });
    const b = openTab({ latencyMs: 50 });
    a.auth.setGrant({ accessToken: createTestJwt({ expiresInSeconds: 60, nowMs: clock.now() }) });
    for (let i = 0; i < 50 && b.auth.state().token !== a.auth.state().token; i++) await flushMicrotasks();
    expect(b.auth.state().token).toBe(a.auth.state().token);
    await clock.advance(56_000);
    let tokens: Array<string | null> | undefined;
    void Promise.all([a.auth.getValidToken(), b.auth.getValidToken()]).then((t) => (tokens = t));
    for (let round = 0; round < 6 && !tokens; round++) {
      for (let i = 0; i < 10; i++) await flushMicrotasks(); // real channel messages and lock grants are tasks
      await clock.advance(50);
    }
    expect(tokens).toBeDefined();
    expect(tokens![0]).toBe(tokens![1]);
    expect(sourceCalls(tabs)).toBe(1);
  });

  describe('with tokens per API (withApiToken)', () => {
    /** A "tab" with a default token and a named token "reports", each with cross-tab sync; `calls` counts per token. */
    function openApiTab(apis: ɵCrossTabApis, clock: ManualClock) {
      const calls = { default: 0, reports: 0 };
      const source = (name: 'default' | 'reports') =>
        withTokenSource({
          getToken: async (): Promise<TokenGrant> => {
            calls[name]++;
            return { accessToken: createTestJwt({ expiresInSeconds: 60, claims: { aud: name }, nowMs: clock.now() }) };
          },
        });
      const injector = createEnvironmentInjector(
        [
          { provide: ɵCROSS_TAB_APIS, useValue: apis },
          provideFreshToken(source('default'), withCrossTabSync(), withApiToken('reports', ['https://reports.example.com'], source('reports'), withCrossTabSync())),
        ],
        TestBed.inject(EnvironmentInjector),
      );
      return { calls, auth: injector.get(AuthService), reports: runInInjectionContext(injector, () => injectAuth('reports')), injector };
    }

    it('each token keeps its own lock and channel: a named token\'s refresh is adopted by the same token in other tabs, never by another token', async () => {
      const { channels, locks, clock } = world();
      const apis: ɵCrossTabApis = { locks, channel: channels.create };
      const requested: string[] = [];
      const request = locks.request.bind(locks);
      locks.request = (name, options, callback) => (requested.push(name), request(name, options, callback));
      const a = openApiTab(apis, clock);
      const b = openApiTab(apis, clock);
      const names = [...channels.open].map((c) => c.name).sort();
      expect(names).toEqual(['ngx-fresh-token:default', 'ngx-fresh-token:default', 'ngx-fresh-token:default#reports', 'ngx-fresh-token:default#reports']);
      const reportsToken = await a.reports.refresh();
      await settle();
      expect(b.reports.state().token).toBe(reportsToken);
      expect(b.auth.state().token).withContext("the default token adopts nothing of the named one's").toBeNull();
      expect(requested).toEqual(['ngx-fresh-token:default#reports']);
      const defaultToken = await b.auth.refresh();
      await settle();
      expect(a.auth.state().token).toBe(defaultToken);
      expect(a.reports.state().token).toBe(reportsToken);
      expect(a.calls).toEqual({ default: 0, reports: 1 });
      expect(b.calls).toEqual({ default: 1, reports: 0 });
      expect(requested).toEqual(['ngx-fresh-token:default#reports', 'ngx-fresh-token:default']);
      a.injector.destroy();
      b.injector.destroy();
    });

    it("signing out in one tab signs every token out in every tab", async () => {
      const { channels, locks, clock } = world();
      const apis: ɵCrossTabApis = { locks, channel: channels.create };
      const a = openApiTab(apis, clock);
      const b = openApiTab(apis, clock);
      await a.auth.refresh();
      await a.reports.refresh();
      await settle();
      expect(b.reports.state().status).toBe('fresh');
      await a.auth.signOut();
      await settle();
      for (const tab of [a, b]) {
        expect(tab.auth.state().status).toBe('signed-out');
        expect(tab.reports.state().status).toBe('signed-out');
      }
      a.injector.destroy();
      b.injector.destroy();
    });
  });
});
