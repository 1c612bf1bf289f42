import { SESSION_FORCE_REFRESH_HEADER, createSessionTokenHandler } from './session-token-handler';

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
    const plain = await handler(new Request('https://app.test/session/token'));
    const forced = await handler(new Request('https://app.test/session/token', { headers: { [SESSION_FORCE_REFRESH_HEADER]: '1' } }));
    expect(seen).toEqual([false, true]);
    expect(await plain.json()).toEqual({ accessToken: 'cached', expiresAt: 1_060_000, expiresIn: 60 });
    expect((await forced.json()).accessToken).toBe('new');
    expect(forced.headers.get('Cache-Control')).toBe('no-store');
  });
});
