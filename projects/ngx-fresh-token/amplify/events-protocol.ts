// The AppSync Events wire protocol, and nothing else: the realtime URL, the WebSocket
// subprotocols that carry the connect authorization, the frames a client sends and receives,
// and the body of an HTTP publish. No state, no timers, no tokens of its own.

/** The server's keep-alive timeout when `connection_ack` names none (AppSync's default, 5 min). */
export const DEFAULT_EVENTS_CONNECTION_TIMEOUT_MS = 300_000;

const AUTH_ERROR_TYPES = ['UnauthorizedException', 'Unauthorized', 'NotAuthorizedException', 'ForbiddenException'];

/** One entry of a frame's `errors` array. */
interface EventsErrorEntry {
  errorType?: string;
  errorCode?: number;
  message?: string;
}

/**
 * A frame received on an Events WebSocket (`connection_ack`, `ka`, `connection_error`,
 * `subscribe_success`, `subscribe_error`, `data`, `error`), as far as a client reads it.
 *
 * @example
 * const frame: EventsFrame = { type: 'data', id, event: '{"text":"hi"}' };
 */
export interface EventsFrame {
  type?: string;
  id?: string;
  event?: unknown;
  errors?: unknown;
  connectionTimeoutMs?: number;
}

/**
 * The headers that authorize a connection or a subscription: the token verbatim (no `Bearer`),
 * in `lambda`, `oidc` and `userPool` modes alike, with the API's host.
 *
 * @example
 * eventsAuthorization(token, 'abc.appsync-api.eu-west-1.amazonaws.com'); // { Authorization: token, host: '…' }
 */
export function eventsAuthorization(token: string, host: string): Record<string, string> {
  return { Authorization: token, host };
}

/**
 * The realtime URL for an Events endpoint, as Amplify derives it: AWS domains map
 * `appsync-api` to `appsync-realtime-api`, custom domains append `/realtime`; `https` becomes `wss`
 * (and plain `http`, for a local server, `ws`).
 *
 * @example
 * eventsRealtimeUrl('https://abc.appsync-api.eu-west-1.amazonaws.com/event'); // 'wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime'
 */
export function eventsRealtimeUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (/\.appsync-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/i.test(url.hostname)) {
    url.hostname = url.hostname.replace('appsync-api', 'appsync-realtime-api');
  }
  url.pathname = url.pathname.replace(/\/$/, '') + '/realtime';
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  return url.toString();
}

function base64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  bytes.forEach((b) => (binary += String.fromCharCode(b)));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The WebSocket subprotocols of the connect handshake: `aws-appsync-event-ws` and the
 * authorization headers as `header-<base64url JSON>` (a browser WebSocket cannot send headers).
 *
 * @example
 * new WebSocket(eventsRealtimeUrl(endpoint), eventsSubprotocols(eventsAuthorization(token, host)));
 */
export function eventsSubprotocols(authorization: Record<string, string>): string[] {
  return ['aws-appsync-event-ws', `header-${base64Url(JSON.stringify(authorization))}`];
}

/**
 * A new subscription id (a UUID where the platform has one).
 *
 * @example
 * const id = newSubscriptionId();
 */
export function newSubscriptionId(): string {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * The first frame after the socket opens.
 *
 * @example
 * socket.send(connectionInitFrame());
 */
export function connectionInitFrame(): string {
  return JSON.stringify({ type: 'connection_init' });
}

/**
 * Subscribes `id` to `channel`, authorized by `authorization` (see {@link eventsAuthorization}).
 *
 * @example
 * socket.send(subscribeFrame(id, '/default/chat', eventsAuthorization(token, host)));
 */
export function subscribeFrame(id: string, channel: string, authorization: Record<string, string>): string {
  return JSON.stringify({ type: 'subscribe', id, channel, authorization });
}

/**
 * Ends the subscription `id` on the server.
 *
 * @example
 * socket.send(unsubscribeFrame(id));
 */
export function unsubscribeFrame(id: string): string {
  return JSON.stringify({ type: 'unsubscribe', id });
}

/**
 * Parses a received frame; `null` for anything that is not a JSON object (ignored by the client).
 *
 * @example
 * const frame = parseEventsFrame(message.data);
 */
export function parseEventsFrame(data: unknown): EventsFrame | null {
  try {
    const frame: unknown = JSON.parse(String(data));
    return typeof frame === 'object' && frame !== null ? (frame as EventsFrame) : null;
  } catch {
    return null;
  }
}

/**
 * Whether a frame's `errors` say the token was not accepted (an auth failure, retried with a
 * fresh token) rather than something else.
 *
 * @example
 * if (isEventsAuthError(frame.errors)) reconnectWithFreshToken();
 */
export function isEventsAuthError(errors: unknown): boolean {
  return (
    Array.isArray(errors) &&
    errors.some((e: EventsErrorEntry) => AUTH_ERROR_TYPES.includes(String(e?.errorType)) || e?.errorCode === 401 || e?.errorCode === 403)
  );
}

/**
 * The payload of a `data` frame: its `event` parsed as JSON, or as it came when it is not JSON.
 *
 * @example
 * subscriber.next(eventPayload<Message>(frame.event));
 */
export function eventPayload<T>(event: unknown): T {
  try {
    return JSON.parse(String(event)) as T;
  } catch {
    return event as T;
  }
}

/**
 * The body of an HTTP publish (`POST /event`): each event as a JSON string.
 *
 * @example
 * fetch(endpoint, { method: 'POST', body: publishRequestBody('/default/chat', [{ text: 'hi' }]) });
 */
export function publishRequestBody(channel: string, events: unknown[]): string {
  return JSON.stringify({ channel, events: events.map((e) => JSON.stringify(e)) });
}
