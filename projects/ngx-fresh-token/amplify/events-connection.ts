import { Observable } from 'rxjs';
import { AuthService, DEFAULT_REFRESH_RETRY, FreshTokenError, backoffDelayMs, effectiveBufferMs, readJwtTimes } from 'ngx-fresh-token';
import { AmplifyFreshTokenErrorCode, eventsError } from './errors';
import { EventsClock, eventsClock, eventsRenewBeforeExpiryMs } from './events-context';
import {
  DEFAULT_EVENTS_CONNECTION_TIMEOUT_MS,
  connectionInitFrame,
  eventPayload,
  eventsAuthorization,
  eventsRealtimeUrl,
  eventsSubprotocols,
  isEventsAuthError,
  newSubscriptionId,
  parseEventsFrame,
  subscribeFrame,
  unsubscribeFrame,
} from './events-protocol';

// The connection state machine of an AppSync Events subscription: which socket is current, when
// it is renewed, how a close is answered (reconnect with a fresh token, back off, or give up).
// The wire format is in events-protocol.ts, HTTP publishing in events-publish.ts.

/**
 * Amplify auth modes in which an Events connection carries the service's token.
 *
 * @example
 * const authMode: FreshEventsAuthMode = 'lambda';
 * amplify.events<ChatMessage>('/default/chat', { authMode }).subscribe((m) => console.log(m));
 */
export type FreshEventsAuthMode = 'lambda' | 'oidc' | 'userPool';

/**
 * Options of an AppSync Events connection with fresh tokens.
 *
 * @example
 * const options: FreshEventsOptions = { authMode: 'lambda', endpoint: 'https://example.appsync-api.eu-west-1.amazonaws.com/event' };
 */
export interface FreshEventsOptions {
  /** How the token is presented; all three send it verbatim in `Authorization` (no `Bearer`). Default `userPool`. */
  authMode?: FreshEventsAuthMode;
  /** The Events HTTP endpoint (`…/event`); default Amplify's `API.Events.endpoint`. */
  endpoint?: string;
  /**
   * How long before the connect token expires the connection is renewed with a fresh one, capped at
   * half the token's lifetime. Default: the app's refresh buffer (`withRefreshBuffer()`) through
   * `AmplifyFreshToken.events()`, or when {@link connectFreshEvents} is called in an injection context;
   * 30 s when it is called outside one (pass your buffer then). When the service still calls the
   * token fresh at that point, one shared refresh is forced.
   */
  renewBeforeExpiryMs?: number;
  /** Consecutive authorization failures tolerated (each retried with a fresh token) before giving up with `NFT503`; default 2. */
  maxAuthFailures?: number;
  /** Creates the WebSocket (default `new WebSocket(url, protocols)`). */
  webSocketFactory?: (url: string, protocols: string[]) => WebSocket;
}

/**
 * Milliseconds from `nowMs` until a connection authorized with `token` is renewed:
 * `renewBeforeExpiryMs` before its `exp`, but never earlier than half its lifetime (`exp − iat`) —
 * the core's one rule, `effectiveBufferMs` — so short-lived tokens do not make the connection
 * reconnect right after connecting; `null` for a token without `exp`.
 */
function msUntilRenewal(token: string, renewBeforeExpiryMs: number, nowMs: number): number | null {
  const { expMs, iatMs } = readJwtTimes(token);
  if (expMs === undefined) return null;
  const before = effectiveBufferMs(renewBeforeExpiryMs, iatMs === undefined ? null : expMs - iatMs);
  return Math.max(0, expMs - before - nowMs);
}

/** One WebSocket with one subscription on it. */
interface Link {
  socket: WebSocket;
  /** The server's keep-alive timeout from `connection_ack`. */
  timeoutMs?: number;
  token: string;
  subscribed: boolean;
  /** Set when the server said the token was not accepted, so the close is an auth failure. */
  authFailed: boolean;
  kaTimer?: unknown;
  renewTimer?: unknown;
}

/**
 * Opens an AppSync Events subscription that always uses a fresh token from {@link AuthService}:
 * the connect handshake and the subscribe message carry it (verbatim, in `lambda`, `oidc` and
 * `userPool` modes). When the connect token enters the renewal window (`renewBeforeExpiryMs`) the
 * connection is renewed once with a fresh one (the new socket subscribes before the old one
 * closes); after an auth failure (rejected handshake, `subscribe_error`, or the server closing for
 * an expired token) it reconnects and resubscribes with a refreshed token, giving up with `NFT503`
 * when fresh tokens keep being refused; a dropped network connection is retried with backoff.
 * Sign-out (or a session that ends) closes it with `NFT502`. Emits each event's parsed JSON;
 * unsubscribing unsubscribes on the server and closes the socket. Timers run on `clock`, by default
 * the app's `FRESH_TOKEN_CLOCK` when called in an injection context (`AmplifyFreshToken.events()`
 * passes it), else `Date.now` and the global timers.
 *
 * @example
 * connectFreshEvents<Message>(inject(AuthService), '/default/chat', { authMode: 'lambda', endpoint })
 *   .subscribe((message) => console.log(message));
 */
export function connectFreshEvents<T = unknown>(
  auth: AuthService,
  channel: string,
  options: FreshEventsOptions & { endpoint: string },
  clock?: EventsClock,
): Observable<T> {
  // Read now: the caller's injection context is gone by the time someone subscribes.
  const time = eventsClock(clock);
  const renewBeforeExpiryMs = eventsRenewBeforeExpiryMs(options.renewBeforeExpiryMs);
  return new Observable<T>((subscriber) => {
    const factory =
      options.webSocketFactory ??
      (typeof WebSocket === 'function' ? (url: string, protocols: string[]) => new WebSocket(url, protocols) : null);
    if (!factory) {
      subscriber.error(eventsError(AmplifyFreshTokenErrorCode.EventsNotConfigured, 'No WebSocket on this platform. To fix the problem, pass webSocketFactory, or connect only in the browser.'));
      return;
    }
    const realtimeUrl = eventsRealtimeUrl(options.endpoint);
    const host = new URL(options.endpoint).host;
    const maxAuthFailures = options.maxAuthFailures ?? 2;
    const subscriptionId = newSubscriptionId();
    let current: Link | null = null;
    let pending: Link | null = null;
    let stopped = false;
    let authFailures = 0;
    let dropAttempt = 0;
    let retryTimer: unknown;

    const clearLinkTimers = (link: Link) => {
      if (link.kaTimer !== undefined) time.clearTimeout(link.kaTimer);
      if (link.renewTimer !== undefined) time.clearTimeout(link.renewTimer);
      link.kaTimer = link.renewTimer = undefined;
    };

    const closeLink = (link: Link | null) => {
      if (!link) return;
      clearLinkTimers(link);
      const socket = link.socket;
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
      try {
        if (socket.readyState === 1 && link.subscribed) socket.send(unsubscribeFrame(subscriptionId));
        socket.close(1000);
      } catch {
        // Already closing: nothing left to release.
      }
    };

    const stop = (err?: unknown) => {
      if (stopped) return;
      stopped = true;
      if (retryTimer !== undefined) time.clearTimeout(retryTimer);
      closeLink(current);
      closeLink(pending);
      current = pending = null;
      if (err !== undefined) subscriber.error(err);
    };

    const scheduleRenew = (link: Link) => {
      const delayMs = msUntilRenewal(link.token, renewBeforeExpiryMs, time.now());
      if (delayMs !== null) link.renewTimer = time.setTimeout(() => void open('renew'), delayMs);
    };

    const watchKeepAlive = (link: Link, timeoutMs: number) => {
      if (link.kaTimer !== undefined) time.clearTimeout(link.kaTimer);
      link.kaTimer = time.setTimeout(() => {
        // No keep-alive within the server's timeout: the connection is dead even if not closed.
        if (link === current) lost(link);
        else closeLink(link);
      }, timeoutMs);
    };

    /** The link closed or failed: reconnect with a fresh token (auth) or after backoff (network). */
    const lost = (link: Link) => {
      if (stopped) return;
      const wasCurrent = link === current;
      if (link === pending) pending = null;
      if (wasCurrent) current = null;
      closeLink(link);
      if (!wasCurrent && current) {
        // A renewal attempt failed while the old connection still works: retry on the next tick of backoff.
        if (link.authFailed) authFailures++;
        if (authFailures > maxAuthFailures) return stop(eventsError(AmplifyFreshTokenErrorCode.EventsUnauthorized, 'AppSync Events rejected fresh tokens repeatedly. Check the API authorization mode and the token it expects.'));
        retryTimer = time.setTimeout(() => void open('renew'), backoffDelayMs(++dropAttempt, DEFAULT_REFRESH_RETRY, Math.random()));
        return;
      }
      if (link.authFailed) {
        authFailures++;
        if (authFailures > maxAuthFailures) {
          return stop(eventsError(AmplifyFreshTokenErrorCode.EventsUnauthorized, 'AppSync Events rejected fresh tokens repeatedly. Check the API authorization mode and the token it expects.'));
        }
        void open('auth', link.token);
        return;
      }
      retryTimer = time.setTimeout(() => void open('drop'), backoffDelayMs(++dropAttempt, DEFAULT_REFRESH_RETRY, Math.random()));
    };

    /** The token to connect with; for a renewal, a new one even if the service still calls the current one fresh. */
    const tokenFor = async (reason: 'start' | 'renew' | 'auth' | 'drop', rejectedToken?: string): Promise<string | null> => {
      if (reason === 'auth' && rejectedToken) return auth.tokenAfterUnauthorized(rejectedToken);
      const token = await auth.getValidToken();
      if (reason !== 'renew' || token === null || token !== current?.token) return token;
      // Inside the buffer the service hands back the current token while its background refresh runs,
      // and past the buffer (renewBeforeExpiryMs) it has none: either way a renewal needs the next
      // token, so join (or start) the one shared forced refresh rather than asking again and again.
      return auth.tokenAfterUnauthorized(token);
    };

    const open = async (reason: 'start' | 'renew' | 'auth' | 'drop', rejectedToken?: string): Promise<void> => {
      if (stopped || pending) return;
      retryTimer = undefined;
      let token: string | null;
      try {
        token = await tokenFor(reason, rejectedToken);
      } catch (err) {
        if (stopped) return;
        if (err instanceof FreshTokenError && err.transient) {
          retryTimer = time.setTimeout(() => void open(reason, rejectedToken), backoffDelayMs(++dropAttempt, DEFAULT_REFRESH_RETRY, Math.random()));
          return;
        }
        return stop(eventsError(AmplifyFreshTokenErrorCode.EventsSignedOut, 'The session ended, so AppSync Events cannot be authorized. Sign in again and resubscribe.'));
      }
      if (stopped || pending) return;
      if (token === null) {
        return stop(eventsError(AmplifyFreshTokenErrorCode.EventsSignedOut, 'AppSync Events needs a token but the user is signed out. Sign in, then subscribe.'));
      }
      if (reason === 'renew' && current && current.token === token) {
        // The source handed the same token back even when forced: keep this connection; when the
        // server closes it for the expired token, the auth path reconnects with a refreshed one.
        return;
      }
      const authorization = eventsAuthorization(token, host);
      const socket = factory(realtimeUrl, eventsSubprotocols(authorization));
      const link: Link = { socket, token, subscribed: false, authFailed: false };
      pending = link;
      socket.onopen = () => socket.send(connectionInitFrame());
      socket.onerror = () => undefined; // a close event always follows
      socket.onclose = () => lost(link);
      socket.onmessage = (message: MessageEvent) => {
        const data = parseEventsFrame(message.data);
        if (!data) return;
        switch (data.type) {
          case 'connection_ack':
            link.timeoutMs = data.connectionTimeoutMs ?? DEFAULT_EVENTS_CONNECTION_TIMEOUT_MS;
            watchKeepAlive(link, link.timeoutMs);
            socket.send(subscribeFrame(subscriptionId, channel, authorization));
            return;
          case 'ka':
            watchKeepAlive(link, link.timeoutMs ?? DEFAULT_EVENTS_CONNECTION_TIMEOUT_MS);
            return;
          case 'connection_error':
            link.authFailed = isEventsAuthError(data.errors);
            lost(link);
            return;
          case 'subscribe_success': {
            if (data.id !== subscriptionId) return;
            link.subscribed = true;
            authFailures = 0;
            dropAttempt = 0;
            const previous = current;
            current = link;
            pending = null;
            // Make before break: the new subscription is live, so the old socket can go.
            closeLink(previous);
            scheduleRenew(link);
            return;
          }
          case 'subscribe_error':
            if (data.id !== subscriptionId) return;
            if (isEventsAuthError(data.errors)) {
              link.authFailed = true;
              lost(link);
            } else {
              stop(eventsError(AmplifyFreshTokenErrorCode.EventsRejected, 'AppSync Events refused the subscription. Check the channel name and namespace.'));
            }
            return;
          case 'data':
            if (data.id !== subscriptionId || link !== current) return;
            subscriber.next(eventPayload<T>(data.event));
            return;
          case 'error':
            // AppSync sends an error before closing a connection whose token expired or was revoked.
            if (isEventsAuthError(data.errors)) link.authFailed = true;
            return;
        }
      };
    };

    // Sign-out is final: no more events for the user who signed out, and no reconnect.
    const session = auth.events$.subscribe((event) => {
      if (event.type === 'signed-out' || event.type === 'session-expired') {
        stop(eventsError(AmplifyFreshTokenErrorCode.EventsSignedOut, 'The user signed out (or the session ended), so the AppSync Events connection was closed. Sign in, then subscribe again.'));
      }
    });

    void open('start');
    return () => {
      session.unsubscribe();
      stop();
    };
  });
}
