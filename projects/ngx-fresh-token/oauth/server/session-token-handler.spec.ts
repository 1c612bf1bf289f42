import { SESSION_CSRF_HEADER, SESSION_FORCE_REFRESH_HEADER, createSessionTokenHandler } from './session-token-handler';

describe('createSessionTokenHandler', () => {
  it('tells issueAccessToken whether the browser forced a refresh', async () => {
    const seen: boolean[] = [];
    const handler = createSessionTokenHandler({
      getSession: () => ({ user: 'alice' }),
      issueAccessToken: (_session, _request, { forceRefresh }) => {
        seen.push(forceRefresh);
        return { accessToken: forceRefresh ? 'new' : 'cached', expiresIn: 60 };
      },
      now: () => 1_000_000,
    });
    const plain = await handler(new Request('https://app.test/session/token', { headers: { [SESSION_CSRF_HEADER]: '1' } }));
    const forced = await handler(new Request('https://app.test/session/token', { headers: { [SESSION_CSRF_HEADER]: '1', [SESSION_FORCE_REFRESH_HEADER]: '1' } }));
    expect(seen).toEqual([false, true]);
    expect(await plain.json()).toEqual({ accessToken: 'cached', expiresAt: 1_060_000, expiresIn: 60 });
    expect((await forced.json()).accessToken).toBe('new');
    expect(forced.headers.get('Cache-Control')).toBe('no-store');
  });

  // Attacker review: the handler answered any request a browser did not mark cross-site (an older browser without
  // Sec-Fetch-Site, a sibling subdomain, a text/plain form POST) and refreshed tokens for the cookie's session.
  it('refuses a request without X-CSRF: 1 (403) before it looks for a session, unless told not to', async () => {
    let sessionsRead = 0;
    const options = {
      getSession: () => (sessionsRead++, { user: 'alice' }),
      issueAccessToken: () => ({ accessToken: 'tok', expiresIn: 60 }),
    };
    const handler = createSessionTokenHandler(options);
    for (const headers of [{}, { [SESSION_CSRF_HEADER]: '0' }, { 'Sec-Fetch-Site': 'same-site' }, { 'Content-Type': 'text/plain' }] as Array<Record<string, string>>) {
      const res = await handler(new Request('https://app.test/session/token', { method: 'POST', headers, body: 'x=1' }));
      expect(res.status).withContext(JSON.stringify(headers)).toBe(403);
    }
    expect(sessionsRead).toBe(0);
    const own = createSessionTokenHandler({ ...options, requireCsrfHeader: false });
    expect((await own(new Request('https://app.test/session/token'))).status).toBe(200);
  });

  it('answers 500 for an expiry that is not a finite number (never a token that would never expire)', async () => {
    for (const issued of [{ expiresIn: NaN }, { expiresAt: Infinity }, { expiresIn: Infinity }]) {
      const handler = createSessionTokenHandler({ getSession: () => ({}), issueAccessToken: () => ({ accessToken: 'tok', ...issued }) });
      const res = await handler(new Request('https://app.test/session/token', { headers: { [SESSION_CSRF_HEADER]: '1' } }));
      expect(res.status).withContext(JSON.stringify(issued)).toBe(500);
    }
  });
});
