import { createSessionTokenHandler as serverHandler } from 'ngx-fresh-token/oauth/server';
import { createSessionTokenHandler as deprecatedHandler } from './public-api';

describe('createSessionTokenHandler re-exported by ngx-fresh-token/oauth (deprecated)', () => {
  // (A browser drops a `Cookie` header from a `Request`, so the session travels in a header of its own here.)
  it('answers exactly like the handler of ngx-fresh-token/oauth/server', async () => {
    const options = {
      getSession: (request: Request) => (request.headers.get('x-session') === 's1' ? { user: 'ada' } : null),
      issueAccessToken: (session: { user: string }, _request: Request, { forceRefresh }: { forceRefresh: boolean }) => ({
        accessToken: `${forceRefresh ? 'new' : 'cached'}-${session.user}`,
        expiresIn: 60,
      }),
      now: () => 1_000_000,
    };
    const requests = () => [
      new Request('https://app.test/session/token', { headers: { 'x-session': 's1', 'X-CSRF': '1' } }),
      new Request('https://app.test/session/token', { headers: { 'x-session': 's1', 'X-CSRF': '1', 'X-Force-Refresh': '1' } }),
      new Request('https://app.test/session/token', { headers: { 'X-CSRF': '1' } }),
      new Request('https://app.test/session/token', { method: 'DELETE' }),
      new Request('https://app.test/session/token', { headers: { 'x-session': 's1' } }),
    ];
    const answer = async (handler: (request: Request) => Promise<Response>) =>
      Promise.all(requests().map(async (r) => { const res = await handler(r); return [res.status, await res.json(), res.headers.get('Cache-Control')]; }));
    const expected = await answer(serverHandler(options));
    expect(expected.map(([status]) => status)).toEqual([200, 200, 401, 405, 403]);
    expect(await answer(deprecatedHandler(options))).toEqual(expected);
  });

  it('still refuses options without the two callbacks', () => {
    expect(() => deprecatedHandler({ getSession: () => null } as never)).toThrowError(/NFT303/);
  });
});
