import { lastValueFrom } from 'rxjs';
import { AuthService, classifyHttpError, retryOnUnauthorized } from 'ngx-fresh-token';
import { AmplifyFreshTokenErrorCode, eventsError } from './errors';
import type { FreshEventsOptions } from './events-connection';
import { EventsClock, eventsClock } from './events-context';
import { publishRequestBody } from './events-protocol';

/**
 * Publishes events to an AppSync Events channel over HTTP (`POST /event`) with a fresh token,
 * retrying once with a refreshed token after a 401. Each event is sent as a JSON string. A refused
 * publish rejects with `NFT503` (401/403) or `NFT504`, `transient` (and `retryAfterMs`) as the
 * core's `classifyHttpError` decides: 408, 429 and 5xx are worth another try.
 *
 * @example
 * await publishFreshEvents(inject(AuthService), '/default/chat', [{ text: 'hi' }], { endpoint });
 */
export async function publishFreshEvents(
  auth: AuthService,
  channel: string,
  events: unknown[],
  options: Pick<FreshEventsOptions, 'authMode'> & { endpoint: string; fetch?: typeof fetch },
  clock?: EventsClock,
): Promise<void> {
  const time = eventsClock(clock);
  const doFetch = options.fetch ?? fetch;
  const body = publishRequestBody(channel, events);
  const send = (token: string) =>
    doFetch(options.endpoint, { method: 'POST', headers: { 'content-type': 'application/json', Authorization: token }, body });
  const token = await auth.getValidToken();
  if (token === null) {
    throw eventsError(AmplifyFreshTokenErrorCode.EventsSignedOut, 'Publishing to AppSync Events needs a token but the user is signed out.');
  }
  const isUnauthorized = (e: unknown) => (e as { status?: unknown } | null)?.status === 401;
  let res: Response;
  try {
    // A 401 answer is thrown so that the shared retry-once step can see it.
    res = await lastValueFrom(
      retryOnUnauthorized(auth, token, async (t) => {
        const answer = await send(t);
        if (answer.status === 401) throw answer;
        return answer;
      }, isUnauthorized),
    );
  } catch (err) {
    if (!isUnauthorized(err)) throw err;
    res = err as Response;
  }
  if (!res.ok) {
    const { transient, retryAfterMs } = classifyHttpError(res, time.now());
    throw eventsError(
      res.status === 401 || res.status === 403 ? AmplifyFreshTokenErrorCode.EventsUnauthorized : AmplifyFreshTokenErrorCode.EventsRejected,
      `AppSync Events refused the publish (HTTP ${res.status}).`,
      { status: res.status, transient, retryAfterMs },
    );
  }
}
