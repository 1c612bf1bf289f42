import { inject } from '@angular/core';
import { AuthService } from 'ngx-fresh-token';
import { ɵauthOf } from './connection-token';
import { Observable, firstValueFrom, isObservable } from 'rxjs';
import { CentrifugoErrorCode, ɵforCentrifugo, ɵinvalidSetup, ɵsignedOut, ɵunauthorized } from './errors';

/**
 * What a {@link CentrifugoSubscriptionTokenFetcher} is asked for.
 *
 * @example
 * const fetcher = ({ channel, accessToken }: CentrifugoSubscriptionTokenRequest) =>
 *   fetch('/centrifugo/subscription-token', { method: 'POST', headers: { Authorization: `Bearer ${accessToken}` }, body: JSON.stringify({ channel }) })
 *     .then((r) => (r.ok ? r.json() : Promise.reject(r))).then((body: { token: string }) => body.token);
 */
export interface CentrifugoSubscriptionTokenRequest {
  /** The channel to subscribe to. */
  channel: string;
  /** A fresh access token of the signed-in user, for a fetcher that does not go through `freshTokenInterceptor`. */
  accessToken: string;
}

/**
 * Gets a subscription token for one channel from the app's backend, e.g. `POST
 * /centrifugo/subscription-token`. Throw the HTTP error as it is (anything with a numeric
 * `status`): 401 is retried once with a new access token, other 4xx refuse the subscription,
 * 5xx/429/network errors are retried by the client with backoff.
 *
 * @example
 * const fetcher: CentrifugoSubscriptionTokenFetcher = ({ channel }) =>
 *   http.post<{ token: string }>('/centrifugo/subscription-token', { channel }).pipe(map((r) => r.token));
 */
export type CentrifugoSubscriptionTokenFetcher = (
  request: CentrifugoSubscriptionTokenRequest,
) => Promise<string | null> | Observable<string | null>;

/**
 * The `getToken` option of a Centrifuge subscription.
 *
 * @example
 * const getToken: CentrifugoSubscriptionGetToken = centrifugoSubscriptionGetToken(fetcher);
 * const sub = centrifuge.newSubscription('orders:42', { getToken });
 */
export type CentrifugoSubscriptionGetToken = (ctx: { channel: string }) => Promise<string>;

function isUnauthorizedStatus(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 401;
}

/**
 * Creates the `getToken` of `centrifuge.newSubscription(channel, { getToken })`: it gets a fresh
 * access token from {@link AuthService} and passes it with the channel to `fetcher`, which asks
 * the backend for a subscription token. A 401 from the fetcher is retried once with a new access
 * token; signed out, a refused subscription (4xx) or an empty answer reject with Centrifugo's
 * `UnauthorizedError` (the subscription stops), transient failures with an ordinary error (the
 * client retries with backoff). Without `auth`, or with the name of a token of `withApiToken()`,
 * call it in an injection context.
 *
 * @example
 * const http = inject(HttpClient);
 * const sub = centrifuge.newSubscription('orders:42', {
 *   getToken: centrifugoSubscriptionGetToken(({ channel }) =>
 *     http.post<{ token: string }>('/centrifugo/subscription-token', { channel }).pipe(map((r) => r.token)),
 *   ),
 * });
 */
export function centrifugoSubscriptionGetToken(
  fetcher: CentrifugoSubscriptionTokenFetcher,
  service: AuthService | string = inject(AuthService),
): CentrifugoSubscriptionGetToken {
  const auth = ɵauthOf(service);
  if (typeof fetcher !== 'function') {
    throw ɵinvalidSetup('centrifugoSubscriptionGetToken() needs a function that fetches a subscription token for a channel.');
  }
  const call = async (channel: string, accessToken: string): Promise<string | null> => {
    const answer = fetcher({ channel, accessToken });
    return isObservable(answer) ? firstValueFrom(answer, { defaultValue: null }) : answer;
  };
  return async (ctx) => {
    const channel = ctx.channel;
    try {
      let accessToken = await auth.getValidToken();
      if (!accessToken) throw ɵsignedOut();
      let token: string | null;
      try {
        token = await call(channel, accessToken);
      } catch (err) {
        if (!isUnauthorizedStatus(err)) throw err;
        // The access token was refused: retry once with a new one, as the HTTP interceptor does.
        accessToken = await auth.tokenAfterUnauthorized(accessToken);
        if (!accessToken) throw ɵsignedOut();
        token = await call(channel, accessToken);
      }
      if (typeof token !== 'string' || token === '') {
        throw ɵunauthorized(
          CentrifugoErrorCode.SubscriptionRefused,
          'The subscription token fetcher returned no token. Return a non-empty string, or throw the HTTP error.',
        );
      }
      return token;
    } catch (err) {
      throw ɵforCentrifugo(err, Date.now(), CentrifugoErrorCode.SubscriptionRefused);
    }
  };
}
