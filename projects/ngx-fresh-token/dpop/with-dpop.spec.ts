import { HttpClient, HttpErrorResponse, HttpHeaders, HttpResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, TestRequest, provideHttpClientTesting } from '@angular/common/http/testing';
import { EnvironmentInjector, PLATFORM_ID, Provider, createEnvironmentInjector, inject, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { EmbeddedJWK, base64url, calculateJwkThumbprint, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JWK } from 'jose';
import fc from 'fast-check';
import {
  AuthService,
  FRESH_TOKEN_CLOCK,
  FreshTokenError,
  FreshTokenFeature,
  freshTokenInterceptor,
  injectAuth,
  provideFreshToken,
  withApiToken,
  withAuthorizedUrls,
  withCrossTabSync,
  withRefreshRetry,
  withTokenSource,
} from 'ngx-fresh-token';
import type { TokenSource } from 'ngx-fresh-token';
import { OAuthSession, withOAuthRefreshToken } from 'ngx-fresh-token/oauth';
import { ManualClock, createTestJwt } from 'ngx-fresh-token/testing';
import { DpopErrorCode } from './errors';
import { DpopOptions, injectDpop, withDpop } from './with-dpop';

const API = 'https://api.example.com';
const OTHER = 'https://other.example.com';
const TOKEN_URL = 'https://idp.example.com/token';
const START = Date.UTC(2026, 0, 1, 12);

/** Waits (real time: WebCrypto and IndexedDB are real) until `find()` gives something. */
async function soon<T>(find: () => T | null | undefined | false, what = 'condition'): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const found = find();
    if (found) return found;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Settles `promise` while firing the fake clock's due (0 ms) timers: cross-tab waits run on the injected clock. */
async function pumped<T>(promise: Promise<T>, clock: ManualClock): Promise<T> {
  let done = false;
  const settled = promise.finally(() => (done = true));
  await soon(() => (done || void clock.advance(0), done), 'the promise');
  return settled;
}

const requestTo = (httpMock: HttpTestingController, url: string) => soon(() => httpMock.match((r) => r.url === url)[0], url);

/** A source with a fixed opaque token per call (`tok-1`, `tok-2`, …) and a call count. */
function countingSource(clock: ManualClock, prefix = 'tok') {
  const source = { calls: 0, signOuts: 0, getToken: async () => ({ accessToken: `${prefix}-${++source.calls}`, expiresAt: clock.now() + 3_600_000 }), signOut: () => void source.signOuts++ };
  return source as TokenSource & { calls: number; signOuts: number };
}

let databases: string[] = [];
let lastMock: HttpTestingController | undefined;

/** One app start ("page load") with its own injector; the IndexedDB database outlives it, as in a browser. */
function start(features: FreshTokenFeature[], providers: Provider[] = []) {
  TestBed.resetTestingModule();
  const clock = new ManualClock(START);
  TestBed.configureTestingModule({
    providers: [
      provideZonelessChangeDetection(),
      { provide: FRESH_TOKEN_CLOCK, useValue: clock },
      provideHttpClient(withInterceptors([freshTokenInterceptor])),
      provideHttpClientTesting(),
      provideFreshToken(...features),
      ...providers,
    ],
  });
  lastMock = TestBed.inject(HttpTestingController);
  return { clock, auth: TestBed.inject(AuthService), http: TestBed.inject(HttpClient), httpMock: lastMock };
}

function dbName(): string {
  const name = `nft-dpop-spec-${Math.random().toString(36).slice(2)}`;
  databases.push(name);
  return name;
}

async function verifyProof(proof: string) {
  const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
  return { payload, protectedHeader, jkt: await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256') };
}

const sha256 = async (text: string) => base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));

describe('withDpop', () => {
  let source: ReturnType<typeof countingSource>;
  let db: string;
  const dpop = (options: DpopOptions = {}) => withDpop({ databaseName: db, ...options });

  beforeEach(() => {
    db = dbName();
  });

  afterEach(async () => {
    lastMock?.verify();
    lastMock = undefined;
    TestBed.resetTestingModule();
    await Promise.all(databases.map((name) => new Promise((r) => { const d = indexedDB.deleteDatabase(name); d.onsuccess = d.onerror = d.onblocked = r; })));
    databases = [];
  });

  function app(options: DpopOptions = {}, extra: FreshTokenFeature[] = []) {
    const started = start([withTokenSource(() => (source ??= countingSource(inject(FRESH_TOKEN_CLOCK) as ManualClock))), dpop(options), withAuthorizedUrls(API), ...extra]);
    return started;
  }

  beforeEach(() => {
    source = undefined!;
  });

  it('sends Authorization: DPoP and a proof that jose verifies: htm, htu without query or fragment, iat from the clock, ath, a unique jti', async () => {
    const { http, httpMock, clock } = app();
    http.get(`${API}/orders?page=2#top`).subscribe();
    http.post(`${API}/orders?page=2`, {}).subscribe();
    const [get, post] = await soon(() => { const m = httpMock.match((r) => r.url.startsWith(`${API}/orders`)); return m.length === 2 && m; }, 'two requests');
    expect(get.request.headers.get('Authorization')).toBe('DPoP tok-1');
    const a = await verifyProof(get.request.headers.get('DPoP')!);
    const b = await verifyProof(post.request.headers.get('DPoP')!);
    expect(a.protectedHeader).toEqual(jasmine.objectContaining({ typ: 'dpop+jwt', alg: 'ES256' }));
    expect(Object.keys(a.protectedHeader.jwk!).sort()).toEqual(['crv', 'kty', 'x', 'y']); // the public key only
    expect(a.payload).toEqual(jasmine.objectContaining({ htm: 'GET', htu: `${API}/orders`, iat: clock.now() / 1000, ath: await sha256('tok-1') }));
    expect(b.payload).toEqual(jasmine.objectContaining({ htm: 'POST', htu: `${API}/orders` }));
    expect(a.payload.jti).toEqual(jasmine.any(String));
    expect(a.payload.jti).not.toBe(b.payload.jti);
    expect(a.jkt).toBe(b.jkt);
    get.flush({});
    post.flush({});
  });

  it('leaves bearer URLs alone: another token of the app keeps Authorization: Bearer and gets no proof, an unlisted URL gets nothing', async () => {
    const { http, httpMock } = app({}, [withApiToken('plain', [OTHER], withTokenSource({ getToken: async () => ({ accessToken: 'bearer-1' }) }))]);
    http.get(`${OTHER}/x`).subscribe();
    http.get('https://elsewhere.example.com/y').subscribe();
    const plain = await requestTo(httpMock, `${OTHER}/x`);
    expect(plain.request.headers.get('Authorization')).toBe('Bearer bearer-1');
    expect(plain.request.headers.has('DPoP')).toBeFalse();
    const none = httpMock.expectOne('https://elsewhere.example.com/y');
    expect(none.request.headers.has('Authorization')).toBeFalse();
    expect(none.request.headers.has('DPoP')).toBeFalse();
    plain.flush({});
    none.flush({});
  });

  it('retries once with the nonce of a 401 use_dpop_nonce, without a refresh, and uses that nonce next time for that origin only', async () => {
    const { http, httpMock } = app({}, [withApiToken('plain', [OTHER], withTokenSource({ getToken: async () => ({ accessToken: 'bearer-1' }) }))]);
    let result: unknown;
    http.get(`${API}/a`).subscribe((r) => (result = r));
    const first = await requestTo(httpMock, `${API}/a`);
    expect((await verifyProof(first.request.headers.get('DPoP')!)).payload['nonce']).toBeUndefined();
    first.flush({ error: 'use_dpop_nonce' }, { status: 401, statusText: 'Unauthorized', headers: { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce", error_description="nonce"', 'DPoP-Nonce': 'n-1' } });
    const second = await requestTo(httpMock, `${API}/a`);
    expect(second.request.headers.get('Authorization')).toBe('DPoP tok-1');
    expect((await verifyProof(second.request.headers.get('DPoP')!)).payload['nonce']).toBe('n-1');
    second.flush({ ok: true }, { headers: { 'DPoP-Nonce': 'n-2' } });
    await soon(() => result, 'the answer');
    expect(result).toEqual({ ok: true });
    expect(source.calls).toBe(1); // no refresh for a nonce
    http.get(`${API}/b`).subscribe();
    const next = await requestTo(httpMock, `${API}/b`);
    expect((await verifyProof(next.request.headers.get('DPoP')!)).payload['nonce']).toBe('n-2');
    next.flush({});
  });

  it('a second use_dpop_nonce after the nonce retry reaches the caller: no token refresh for a nonce, 2 requests in all', async () => {
    const { http, httpMock } = app();
    let error: unknown;
    http.get(`${API}/a`).subscribe({ error: (e) => (error = e) });
    const challenge = (n: string) => ({ status: 401, statusText: 'Unauthorized', headers: { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': n } });
    (await requestTo(httpMock, `${API}/a`)).flush({}, challenge('n-1'));
    (await requestTo(httpMock, `${API}/a`)).flush({}, challenge('n-2'));
    await soon(() => error, 'the error');
    expect((error as HttpErrorResponse).status).toBe(401);
    expect(source.calls).toBe(1);
    httpMock.expectNone(`${API}/a`);
  });

  it('ignores a DPoP-Nonce outside RFC 9449 syntax or over 1 KB: no retry with it (the 401 reaches the caller, no refresh), never put in a proof', async () => {
    const { http, httpMock } = app();
    for (const bad of ['has space', 'quote"d', 'x'.repeat(1025)]) {
      let error: unknown;
      http.get(`${API}/a`).subscribe({ error: (e) => (error = e) });
      const req = await requestTo(httpMock, `${API}/a`);
      expect((await verifyProof(req.request.headers.get('DPoP')!)).payload['nonce']).toBeUndefined();
      req.flush({}, { status: 401, statusText: 'Unauthorized', headers: { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': bad } });
      await soon(() => error, 'the error');
      expect((error as HttpErrorResponse).status).toBe(401);
      httpMock.expectNone(`${API}/a`);
    }
    expect(source.calls).toBe(1);
  });

  it('does not retry a 401 that asks for no nonce with a nonce: the usual one refresh and retry', async () => {
    const { http, httpMock } = app();
    let error: unknown;
    http.get(`${API}/a`).subscribe({ error: (e) => (error = e) });
    (await requestTo(httpMock, `${API}/a`)).flush({}, { status: 401, statusText: 'Unauthorized', headers: { 'WWW-Authenticate': 'DPoP error="invalid_token"' } });
    const retry = await requestTo(httpMock, `${API}/a`);
    expect(retry.request.headers.get('Authorization')).toBe('DPoP tok-2'); // the core's 401 rule: one refresh
    retry.flush({}, { status: 401, statusText: 'Unauthorized' });
    await soon(() => error, 'the error');
    expect((error as HttpErrorResponse).status).toBe(401);
    expect(source.calls).toBe(2);
  });

  it('keeps the key across a reload (a new injector) and per token name; deletes it at sign-out', async () => {
    const first = app({}, [withApiToken('reports', [OTHER], withTokenSource({ getToken: async () => ({ accessToken: 'r-1' }) }), dpop())]);
    const thumb1 = await TestBed.runInInjectionContext(() => injectDpop()).thumbprint();
    const reports1 = await TestBed.runInInjectionContext(() => injectDpop('reports')).thumbprint();
    expect(thumb1).toMatch(/^[\w-]{43}$/);
    expect(reports1).not.toBe(thumb1);
    first.http.get(`${OTHER}/r`).subscribe();
    const r = await requestTo(first.httpMock, `${OTHER}/r`);
    expect((await verifyProof(r.request.headers.get('DPoP')!)).jkt).toBe(reports1!);
    r.flush({});

    // Reload: a new app, the same database.
    const second = app({}, [withApiToken('reports', [OTHER], withTokenSource({ getToken: async () => ({ accessToken: 'r-1' }) }), dpop())]);
    expect(await TestBed.runInInjectionContext(() => injectDpop()).thumbprint()).toBe(thumb1);
    second.http.get(`${API}/x`).subscribe();
    const x = await requestTo(second.httpMock, `${API}/x`);
    expect((await verifyProof(x.request.headers.get('DPoP')!)).jkt).toBe(thumb1!);
    x.flush({});

    // Sign-out (the default token's ends every token): both keys are gone, here and after a reload.
    await second.auth.signOut();
    const after = await TestBed.runInInjectionContext(() => injectDpop()).thumbprint();
    expect(after).not.toBe(thumb1);
    app({}, [withApiToken('reports', [OTHER], withTokenSource({ getToken: async () => ({ accessToken: 'r-1' }) }), dpop())]);
    expect(await TestBed.runInInjectionContext(() => injectDpop()).thumbprint()).toBe(after);
    expect(await TestBed.runInInjectionContext(() => injectDpop('reports')).thumbprint()).not.toBe(reports1);
  });

  it('two tabs starting together end up with one key (the read and the write are one IndexedDB transaction)', async () => {
    app();
    // A second "tab": another app instance on the same origin, asking for its key at the same moment.
    const other = createEnvironmentInjector([provideFreshToken(withTokenSource({ getToken: async () => null }), dpop())], TestBed.inject(EnvironmentInjector));
    const [a, b] = await Promise.all([TestBed.runInInjectionContext(() => injectDpop()).thumbprint(), other.runInContext(() => injectDpop()).thumbprint()]);
    expect(a).toMatch(/^[\w-]{43}$/);
    expect(b).toBe(a);
    other.destroy();
  });

  it('a named token signing out deletes its own key only', async () => {
    app({}, [withApiToken('reports', [OTHER], withTokenSource({ getToken: async () => ({ accessToken: 'r-1' }) }), dpop())]);
    const main = await TestBed.runInInjectionContext(() => injectDpop()).thumbprint();
    const reports = await TestBed.runInInjectionContext(() => injectDpop('reports')).thumbprint();
    await TestBed.runInInjectionContext(() => injectAuth('reports')).signOut();
    app({}, [withApiToken('reports', [OTHER], withTokenSource({ getToken: async () => ({ accessToken: 'r-1' }) }), dpop())]);
    expect(await TestBed.runInInjectionContext(() => injectDpop()).thumbprint()).toBe(main);
    expect(await TestBed.runInInjectionContext(() => injectDpop('reports')).thumbprint()).not.toBe(reports);
  });

  describe('without a key (IndexedDB failing)', () => {
    beforeEach(() => {
      spyOn(indexedDB, 'open').and.throwError('IndexedDB is disabled');
    });

    it('fails the request with NFT701 by default, and sends nothing', async () => {
      const { http, httpMock } = app();
      let error: unknown;
      http.get(`${API}/a`).subscribe({ error: (e) => (error = e) });
      await soon(() => error, 'the error');
      expect(error).toEqual(jasmine.any(FreshTokenError));
      expect((error as FreshTokenError).code).toBe(DpopErrorCode.KeyUnavailable);
      httpMock.expectNone(`${API}/a`);
    });

    it("falls back to Authorization: Bearer with { unsupported: 'bearer' } for a token the IdP issued to a request without a proof", async () => {
      const { http, httpMock } = start([withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa' }), dpop({ unsupported: 'bearer' }), withAuthorizedUrls(API)]);
      const signIn = TestBed.inject(OAuthSession).signIn({ refreshToken: 'rt-1' });
      const tokenRequest = await requestTo(httpMock, TOKEN_URL);
      expect(tokenRequest.request.headers.has('DPoP')).toBeFalse();
      tokenRequest.flush(JSON.stringify({ access_token: 'plain-1', token_type: 'Bearer', expires_in: 300 }));
      await signIn;
      http.get(`${API}/a`).subscribe();
      const req = await requestTo(httpMock, `${API}/a`);
      expect(req.request.headers.get('Authorization')).toBe('Bearer plain-1');
      expect(req.request.headers.has('DPoP')).toBeFalse();
      req.flush({});
      expect(await TestBed.runInInjectionContext(() => injectDpop()).thumbprint()).toBeNull();
    });

    it("{ unsupported: 'bearer' } never sends a token it did not see issued as bearer as Bearer when the key cannot be loaded: NFT701, nothing sent", async () => {
      const { http, httpMock } = app({ unsupported: 'bearer' });
      let error: unknown;
      http.get(`${API}/a`).subscribe({ error: (e) => (error = e) });
      await soon(() => error || httpMock.match(`${API}/a`).length, 'the error or a request');
      expect((error as FreshTokenError | undefined)?.code).toBe(DpopErrorCode.KeyUnavailable);
      httpMock.expectNone(`${API}/a`);
    });
  });

  it("{ unsupported: 'bearer' }: a DPoP-bound token another tab refreshed is never sent as Bearer by a tab that cannot load the key (NFT701)", async () => {
    const name = `nft-dpop-spec-${Math.random().toString(36).slice(2)}`;
    const tabA = app({ unsupported: 'bearer' }, [withCrossTabSync({ name, adoptTimeoutMs: 0 })]);
    expect(await pumped(tabA.auth.getValidToken(), tabA.clock)).toBe('tok-1');
    expect(await TestBed.runInInjectionContext(() => injectDpop()).thumbprint()).toMatch(/^[\w-]{43}$/); // tab A has its key
    const tabB = createEnvironmentInjector(
      [provideFreshToken(withTokenSource({ getToken: async () => ({ accessToken: 'b-own' }) }), dpop({ unsupported: 'bearer' }), withAuthorizedUrls(API), withCrossTabSync({ name, adoptTimeoutMs: 0 }))],
      TestBed.inject(EnvironmentInjector),
    );
    const authB = tabB.get(AuthService);
    const clientB = tabB.runInContext(() => injectDpop());
    spyOn(indexedDB, 'open').and.throwError('IndexedDB is busy'); // tab B's key load fails
    await pumped(tabA.auth.refresh(), tabA.clock); // tok-2, sent to tab B
    await soon(() => authB.state().token === 'tok-2', 'tab B adopting tok-2');
    let headers: Record<string, string> | undefined;
    let error: unknown;
    await pumped(clientB.headers('GET', `${API}/x`).then((h) => (headers = h), (e) => (error = e)), tabA.clock);
    expect(headers).toBeUndefined();
    expect((error as FreshTokenError | undefined)?.code).toBe(DpopErrorCode.KeyUnavailable);
    tabB.destroy();
  });

  it('tries to load the key again after a failed load: one IndexedDB failure fails one request (NFT701), the next one gets a proof', async () => {
    let failures = 1;
    const open = indexedDB.open.bind(indexedDB);
    spyOn(indexedDB, 'open').and.callFake((name: string, version?: number) => {
      if (failures > 0) {
        failures--;
        throw new Error('IndexedDB is busy');
      }
      return open(name, version);
    });
    const { http, httpMock } = app();
    let error: unknown;
    http.get(`${API}/a`).subscribe({ error: (e) => (error = e) });
    await soon(() => error, 'the error');
    expect((error as FreshTokenError).code).toBe(DpopErrorCode.KeyUnavailable);
    httpMock.expectNone(`${API}/a`);
    let second: unknown;
    http.get(`${API}/b`).subscribe({ error: (e) => (second = e) });
    let req: TestRequest | undefined;
    await soon(() => second || (req = httpMock.match(`${API}/b`)[0]), 'the second request or its error');
    expect(second).toBeUndefined();
    if (!req) return;
    expect(req.request.headers.get('Authorization')).toBe('DPoP tok-1');
    expect((await verifyProof(req.request.headers.get('DPoP')!)).payload['htu']).toBe(`${API}/b`);
    expect(indexedDB.open).toHaveBeenCalledTimes(2); // one attempt per request, no loop
    req.flush({});
  });

  it('sends no DPoP token from a server render', async () => {
    const { http, httpMock } = start([withTokenSource({ getToken: async () => ({ accessToken: 'tok-1' }) }), dpop(), withAuthorizedUrls(API)], [{ provide: PLATFORM_ID, useValue: 'server' }]);
    http.get(`${API}/a`).subscribe();
    const req = await requestTo(httpMock, `${API}/a`);
    expect(req.request.headers.has('Authorization')).toBeFalse();
    expect(req.request.headers.has('DPoP')).toBeFalse();
    req.flush({});
  });

  it('a 401 in a server render goes back to the caller without a token refresh (the server binding sends no token)', async () => {
    const { http, httpMock } = start([withTokenSource(() => (source = countingSource(inject(FRESH_TOKEN_CLOCK) as ManualClock))), dpop(), withAuthorizedUrls(API)], [{ provide: PLATFORM_ID, useValue: 'server' }]);
    let error: unknown;
    http.get(`${API}/a`).subscribe({ error: (e) => (error = e) });
    (await requestTo(httpMock, `${API}/a`)).flush({}, { status: 401, statusText: 'Unauthorized' });
    await soon(() => error || httpMock.match(`${API}/a`).length, 'the error or a retry');
    expect((error as HttpErrorResponse | undefined)?.status).toBe(401);
    expect(source.calls).toBe(1);
  });

  it('injectDpop().fetch() does not retry a streamed body after use_dpop_nonce: the answer goes back, one request', async () => {
    app();
    const challenge = new Response(JSON.stringify({ error: 'use_dpop_nonce' }), { status: 400, headers: { 'Content-Type': 'application/json', 'DPoP-Nonce': 'idp-n1' } });
    const fetchSpy = spyOn(window, 'fetch').and.callFake(async () => challenge);
    const client = TestBed.runInInjectionContext(() => injectDpop());
    const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('grant_type=authorization_code&code=c')), c.close()) });
    const answer = await client.fetch(TOKEN_URL, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(answer.status).toBe(400);
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    // The nonce is still remembered for the caller's own retry with a new body.
    expect((await verifyProof((await client.proof('POST', TOKEN_URL))!)).payload['nonce']).toBe('idp-n1');
  });

  it('injectDpop().fetch() sends the method its proof names: "patch" goes as PATCH (fetch() leaves it lower-case) (attacker review)', async () => {
    app();
    const sent: Request[] = [];
    spyOn(window, 'fetch').and.callFake(async (input: RequestInfo | URL, init?: RequestInit) => (sent.push(new Request(input, init)), new Response('{}', { status: 200 })));
    const client = TestBed.runInInjectionContext(() => injectDpop());
    await client.fetch(`${API}/doc/1`, { method: 'patch', body: '{}', accessToken: 'at-1' });
    expect(sent[0].method).toBe('PATCH');
    expect((await verifyProof(sent[0].headers.get('DPoP')!)).payload['htm']).toBe('PATCH');
  });

  it('auth.headers() for code that sends the token itself: a valid token and a proof for that method and URL', async () => {
    app();
    const headers = await TestBed.runInInjectionContext(() => injectDpop()).headers('PUT', `${API}/doc/1?x=1`);
    expect(headers['Authorization']).toBe('DPoP tok-1');
    const { payload } = await verifyProof(headers['DPoP']);
    expect(payload).toEqual(jasmine.objectContaining({ htm: 'PUT', htu: `${API}/doc/1`, ath: await sha256('tok-1') }));
  });

  describe('withOAuthRefreshToken', () => {
    it('sends a proof (no ath, no Authorization) to the token endpoint and retries once with the IdP nonce (400 use_dpop_nonce)', async () => {
      const { auth, httpMock } = start([withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa' }), dpop(), withAuthorizedUrls(API)]);
      const session = TestBed.inject(OAuthSession);
      const signIn = session.signIn({ refreshToken: 'rt-1' });
      const first = await requestTo(httpMock, TOKEN_URL);
      expect(first.request.headers.has('Authorization')).toBeFalse();
      const p1 = await verifyProof(first.request.headers.get('DPoP')!);
      expect(p1.payload).toEqual(jasmine.objectContaining({ htm: 'POST', htu: TOKEN_URL }));
      expect(p1.payload['ath']).toBeUndefined();
      first.flush(JSON.stringify({ error: 'use_dpop_nonce', error_description: 'nonce required' }), { status: 400, statusText: 'Bad Request', headers: { 'DPoP-Nonce': 'idp-n1' } });
      const second = await requestTo(httpMock, TOKEN_URL);
      const p2 = await verifyProof(second.request.headers.get('DPoP')!);
      expect(p2.payload['nonce']).toBe('idp-n1');
      expect(p2.jkt).toBe(p1.jkt);
      expect(new URLSearchParams(second.request.body as string).get('refresh_token')).toBe('rt-1');
      second.flush(JSON.stringify({ access_token: 'dpop-at-1', token_type: 'DPoP', expires_in: 300, refresh_token: 'rt-2' }));
      await signIn;
      expect(await auth.getValidToken()).toBe('dpop-at-1');
    });
  });

  describe('a device clock 10 minutes ahead', () => {
    const SERVER_NOW = START - 600_000;
    const serverDate = () => new Date(SERVER_NOW).toUTCString();
    const iatOf = async (req: TestRequest) => (await verifyProof(req.request.headers.get('DPoP')!)).payload['iat'] as number;

    it("proof iat follows the skew the core estimated from the token's iat", async () => {
      const { http, httpMock } = start([withTokenSource({ getToken: async () => ({ accessToken: createTestJwt({ expiresInSeconds: 300, nowMs: SERVER_NOW }) }) }), dpop(), withAuthorizedUrls(API)]);
      http.get(`${API}/a`).subscribe();
      const req = await requestTo(httpMock, `${API}/a`);
      expect(await iatOf(req)).toBe(SERVER_NOW / 1000);
      req.flush({});
    });

    it("a token endpoint's invalid_dpop_proof with a Date header: one retry with iat on the server's clock, then the session goes on", async () => {
      const { auth, httpMock } = start([withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa' }), dpop(), withAuthorizedUrls(API)]);
      const signIn = TestBed.inject(OAuthSession).signIn({ refreshToken: 'rt-1' });
      const first = await requestTo(httpMock, TOKEN_URL);
      expect(await iatOf(first)).toBe(START / 1000);
      first.flush(JSON.stringify({ error: 'invalid_dpop_proof', error_description: 'iat out of range' }), { status: 400, statusText: 'Bad Request', headers: { Date: serverDate() } });
      const second = await requestTo(httpMock, TOKEN_URL);
      expect(Math.abs((await iatOf(second)) - SERVER_NOW / 1000)).toBeLessThanOrEqual(1);
      second.flush(JSON.stringify({ access_token: 'dpop-at-1', token_type: 'DPoP', expires_in: 300 }));
      await signIn;
      expect(await auth.getValidToken()).toBe('dpop-at-1');
    });

    it("a nonce answer's Date header corrects the retry's iat too", async () => {
      const { httpMock } = start([withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa' }), dpop(), withAuthorizedUrls(API)]);
      const signIn = TestBed.inject(OAuthSession).signIn({ refreshToken: 'rt-1' });
      (await requestTo(httpMock, TOKEN_URL)).flush(JSON.stringify({ error: 'use_dpop_nonce' }), { status: 400, statusText: 'Bad Request', headers: { 'DPoP-Nonce': 'n-1', Date: serverDate() } });
      const second = await requestTo(httpMock, TOKEN_URL);
      expect(Math.abs((await iatOf(second)) - SERVER_NOW / 1000)).toBeLessThanOrEqual(1);
      second.flush(JSON.stringify({ access_token: 'dpop-at-1', token_type: 'DPoP', expires_in: 300 }));
      await signIn;
    });

    /**
     * A sign-in whose token requests are answered by `answer(i)` (i = 1, 2; `null`: none comes, the binding made no
     * retry) must fail with the transient NFT704 and keep the session's refresh token and key, with no session-expired.
     */
    async function expectProofRejectedKeepingSession(answer: (i: number) => { body: string; headers: Record<string, string> }): Promise<number> {
      // One attempt of the core: the binding's own single retry is what is counted here.
      const { auth, httpMock } = start([withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa' }), dpop(), withAuthorizedUrls(API), withRefreshRetry({ maxAttempts: 1 })]);
      const session = TestBed.inject(OAuthSession);
      const client = TestBed.runInInjectionContext(() => injectDpop());
      const thumbprint = await client.thumbprint();
      const events: string[] = [];
      auth.events$.subscribe((e) => events.push(e.type));
      let error: unknown;
      const signIn = session.signIn({ refreshToken: 'rt-1' }).catch((e) => (error = e));
      let requests = 0;
      for (let i = 1; i <= 2; i++) {
        const request = await requestTo(httpMock, TOKEN_URL).catch(() => null);
        if (!request) break; // no usable nonce: no retry
        requests++;
        const { body, headers } = answer(i);
        request.flush(body, { status: 400, statusText: 'Bad Request', headers });
      }
      await pumped(signIn, TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock);
      expect((error as FreshTokenError | undefined)?.code).toBe(DpopErrorCode.ProofRejected);
      expect((error as FreshTokenError | undefined)?.transient).toBeTrue();
      httpMock.expectNone(TOKEN_URL);
      expect(await session.hasRefreshToken()).toBeTrue();
      expect(events).not.toContain('session-expired');
      expect(await client.thumbprint()).toBe(thumbprint);
      return requests;
    }

    for (const [label, nonceOf] of [
      ['a new nonce on every answer', (i: number) => `n-${i}`],
      ['a nonce too long to use', () => 'n'.repeat(2_000)],
      ['no nonce the browser may read', () => null],
    ] as const) {
      it(`use_dpop_nonce again after the retry (${label}): transient NFT704, the refresh token and the key kept, no session-expired (attacker review)`, async () => {
        await expectProofRejectedKeepingSession((i) => {
          const nonce = nonceOf(i);
          const headers: Record<string, string> = nonce === null ? {} : { 'DPoP-Nonce': nonce };
          return { body: JSON.stringify({ error: 'use_dpop_nonce' }), headers };
        });
      });
    }

    it('invalid_dpop_proof twice: a coded transient error (NFT704), 2 requests only, the refresh token and the key kept, no session-expired', async () => {
      expect(await expectProofRejectedKeepingSession(() => ({ body: JSON.stringify({ error: 'invalid_dpop_proof' }), headers: { Date: serverDate() } }))).toBe(2);
    });
  });

  it('a token request sent with a proof that comes back with a bearer token ends the session with NFT703, the bearer token never used', async () => {
    const { auth, httpMock } = start([withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa' }), dpop(), withAuthorizedUrls(API)]);
    const signIn = TestBed.inject(OAuthSession).signIn({ refreshToken: 'rt-1' });
    (await requestTo(httpMock, TOKEN_URL)).flush(JSON.stringify({ access_token: 'plain-at', token_type: 'Bearer', expires_in: 300 }));
    await signIn.catch(() => undefined);
    expect(auth.state().status).toBe('signed-out');
    expect(auth.state().error?.code).toBe(DpopErrorCode.UnboundToken);
  });

  it('OAuthSession.signIn() refuses a login answer whose token_type is Bearer with NFT703 (nothing stored, nothing sent); DPoP is taken', async () => {
    const { auth, http, httpMock } = start([withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa' }), dpop(), withAuthorizedUrls(API)]);
    const session = TestBed.inject(OAuthSession);
    await expectAsync(session.signIn({ access_token: 'plain-at', token_type: 'Bearer', expires_in: 300, refresh_token: 'rt-1' })).toBeRejectedWith(
      jasmine.objectContaining({ code: DpopErrorCode.UnboundToken }),
    );
    expect(auth.state().token).toBeNull();
    expect(await session.hasRefreshToken()).toBeFalse();
    await session.signIn({ access_token: 'dpop-at', token_type: 'DPoP', expires_in: 300, refresh_token: 'rt-1' });
    http.get(`${API}/a`).subscribe();
    const req = await requestTo(httpMock, `${API}/a`);
    expect(req.request.headers.get('Authorization')).toBe('DPoP dpop-at');
    req.flush({});
  });

  it('injectDpop().fetch() for a code exchange: a proof without ath, one retry with the IdP nonce, and NFT703 for a bearer answer', async () => {
    app();
    const json = { 'Content-Type': 'application/json' };
    const answers = [
      new Response(JSON.stringify({ error: 'use_dpop_nonce' }), { status: 400, headers: { ...json, 'DPoP-Nonce': 'idp-n9' } }),
      new Response(JSON.stringify({ access_token: 'at', token_type: 'DPoP' }), { headers: json }),
      new Response(JSON.stringify({ access_token: 'at', token_type: 'Bearer' }), { headers: json }),
    ];
    const sent: Request[] = [];
    spyOn(window, 'fetch').and.callFake(async (input: RequestInfo | URL, init?: RequestInit) => (sent.push(new Request(input, init)), answers.shift()!));
    const client = TestBed.runInInjectionContext(() => injectDpop());
    const body = () => new URLSearchParams({ grant_type: 'authorization_code', code: 'c' });
    const ok = await client.fetch(TOKEN_URL, { method: 'POST', body: body() });
    expect(await ok.json()).toEqual({ access_token: 'at', token_type: 'DPoP' });
    expect(sent.length).toBe(2);
    const [p1, p2] = await Promise.all(sent.map((r) => verifyProof(r.headers.get('DPoP')!)));
    expect(p1.payload).toEqual(jasmine.objectContaining({ htm: 'POST', htu: TOKEN_URL }));
    expect(p1.payload['ath']).toBeUndefined();
    expect(p2.payload['nonce']).toBe('idp-n9');
    expect(sent[1].headers.has('Authorization')).toBeFalse();
    await expectAsync(client.fetch(TOKEN_URL, { method: 'POST', body: body() })).toBeRejectedWith(jasmine.objectContaining({ code: DpopErrorCode.UnboundToken }));
  });

  it('injectDpop().fetch(): NFT703 for a bearer token answer whatever its Content-Type (text/plain, none)', async () => {
    app();
    const bearer = JSON.stringify({ access_token: 'at', token_type: 'Bearer' });
    const answers = [
      new Response(bearer, { headers: { 'Content-Type': 'text/plain' } }),
      new Response(new TextEncoder().encode(bearer)), // no Content-Type at all
      new Response(JSON.stringify({ access_token: 'at', token_type: 'DPoP' }), { headers: { 'Content-Type': 'text/plain' } }),
    ];
    spyOn(window, 'fetch').and.callFake(async () => answers.shift()!);
    const client = TestBed.runInInjectionContext(() => injectDpop());
    const post = () => client.fetch(TOKEN_URL, { method: 'POST', body: 'grant_type=authorization_code&code=c' });
    await expectAsync(post()).toBeRejectedWith(jasmine.objectContaining({ code: DpopErrorCode.UnboundToken }));
    await expectAsync(post()).toBeRejectedWith(jasmine.objectContaining({ code: DpopErrorCode.UnboundToken }));
    expect(await (await post()).json()).toEqual({ access_token: 'at', token_type: 'DPoP' });
  });

  it('notes a nonce under the origin of the URL that answered (a redirect target), not the request URL (HttpClient and fetch)', async () => {
    const { http, httpMock } = app();
    const client = TestBed.runInInjectionContext(() => injectDpop());
    const nonceIn = async (proof: string | null) => (await verifyProof(proof!)).payload['nonce'];
    http.get(`${API}/a`).subscribe();
    (await requestTo(httpMock, `${API}/a`)).event(new HttpResponse({ url: `${OTHER}/landing`, status: 200, body: {}, headers: new HttpHeaders({ 'DPoP-Nonce': 'n-other' }) }));
    expect(await nonceIn(await client.proof('GET', `${OTHER}/x`))).toBe('n-other');
    expect(await nonceIn(await client.proof('GET', `${API}/x`))).toBeUndefined();

    const redirected = new Response('{}', { headers: { 'DPoP-Nonce': 'n-idp2' } });
    Object.defineProperty(redirected, 'url', { value: 'https://idp2.example.com/token' });
    spyOn(window, 'fetch').and.callFake(async () => redirected);
    await client.fetch(`${API}/c`, { accessToken: 'tok-1' });
    expect(await nonceIn(await client.proof('POST', 'https://idp2.example.com/token'))).toBe('n-idp2');
    expect(await nonceIn(await client.proof('GET', `${API}/x`))).toBeUndefined();
  });

  it('htu carries no userinfo, query or fragment and no trailing dot of the host: the request URI as a verifier normalizes it (property)', async () => {
    app();
    const client = TestBed.runInInjectionContext(() => injectDpop());
    // The normalized request URI, written out independently of ɵhtu: scheme, host without userinfo or the FQDN's trailing dot, non-default port, path.
    const expected = (url: string) => {
      const u = new URL(url);
      return `${u.protocol}//${u.hostname.replace(/\.$/, '')}${u.port ? `:${u.port}` : ''}${u.pathname}`;
    };
    const urls = fc
      .tuple(fc.webUrl({ authoritySettings: { withUserInfo: true, withPort: true, withIPv4: true }, withQueryParameters: true, withFragments: true }), fc.boolean())
      .map(([url, trailingDot]) => {
        const u = new URL(url);
        if (trailingDot && /[a-z]$/i.test(u.hostname)) u.hostname = `${u.hostname}.`;
        return u.href;
      });
    await fc.assert(
      fc.asyncProperty(urls, async (url) => {
        const htu = String((await verifyProof((await client.proof('GET', url))!)).payload['htu']);
        const parsed = new URL(htu);
        expect(parsed.username).toBe('');
        expect(parsed.password).toBe('');
        expect(parsed.search).toBe('');
        expect(parsed.hash).toBe('');
        expect(parsed.hostname.endsWith('.')).toBeFalse();
        expect(htu).toBe(expected(url));
        return htu === expected(url);
      }),
      { numRuns: 60 },
    );
    // The example the review named: userinfo and a trailing dot.
    const { payload } = await verifyProof((await client.proof('POST', 'https://alice:secret@API.example.com.:443/a/b?x=1#f'))!);
    expect(payload['htu']).toBe('https://api.example.com/a/b');
  });

  it('rejects unusable options with NFT702', () => {
    expect(() => withDpop({ unsupported: 'maybe' as 'error' })).toThrowMatching((e) => e instanceof FreshTokenError && e.code === 'NFT702');
    expect(decodeProtectedHeader).toBeDefined();
  });
});
