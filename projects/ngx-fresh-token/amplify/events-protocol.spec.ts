import {
  connectionInitFrame,
  eventPayload,
  eventsAuthorization,
  eventsRealtimeUrl,
  eventsSubprotocols,
  isEventsAuthError,
  parseEventsFrame,
  publishRequestBody,
  subscribeFrame,
  unsubscribeFrame,
} from './events-protocol';

/** Decodes the `header-<base64url JSON>` subprotocol the way the AppSync Events server does. */
function decodeHeaderProtocol(protocol: string): unknown {
  const encoded = protocol.slice('header-'.length).replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(encoded + '='.repeat((4 - (encoded.length % 4)) % 4)));
}

describe('AppSync Events protocol frames', () => {
  it('maps AWS and custom endpoints to their realtime URL (wss, or ws for plain http)', () => {
    expect(eventsRealtimeUrl('https://abc.appsync-api.eu-west-1.amazonaws.com/event')).toBe('wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime');
    expect(eventsRealtimeUrl('https://abc.appsync-api.cn-north-1.amazonaws.com.cn/event/')).toBe('wss://abc.appsync-realtime-api.cn-north-1.amazonaws.com.cn/event/realtime');
    expect(eventsRealtimeUrl('https://events.example.com/event')).toBe('wss://events.example.com/event/realtime');
    expect(eventsRealtimeUrl('http://127.0.0.1:8080/event')).toBe('ws://127.0.0.1:8080/event/realtime');
  });

  it('carries the token verbatim in the handshake subprotocol and the subscribe frame', () => {
    const authorization = eventsAuthorization('tok.en-_x', 'api.example.com');
    expect(authorization).toEqual({ Authorization: 'tok.en-_x', host: 'api.example.com' });
    const [protocol, header] = eventsSubprotocols(authorization);
    expect(protocol).toBe('aws-appsync-event-ws');
    expect(header).toMatch(/^header-[A-Za-z0-9_-]+$/);
    expect(decodeHeaderProtocol(header)).toEqual(authorization);
    expect(JSON.parse(subscribeFrame('id-1', '/default/chat', authorization))).toEqual({
      type: 'subscribe',
      id: 'id-1',
      channel: '/default/chat',
      authorization,
    });
    expect(JSON.parse(connectionInitFrame())).toEqual({ type: 'connection_init' });
    expect(JSON.parse(unsubscribeFrame('id-1'))).toEqual({ type: 'unsubscribe', id: 'id-1' });
  });

  it('parses received frames and ignores anything that is not a JSON object', () => {
    expect(parseEventsFrame('{"type":"ka"}')).toEqual({ type: 'ka' });
    for (const junk of ['not json', 'null', '42', '']) expect(parseEventsFrame(junk)).withContext(junk).toBeNull();
  });

  it('tells auth failures (by errorType or 401/403 errorCode) from other errors', () => {
    for (const errorType of ['UnauthorizedException', 'Unauthorized', 'NotAuthorizedException', 'ForbiddenException']) {
      expect(isEventsAuthError([{ errorType }])).withContext(errorType).toBeTrue();
    }
    expect(isEventsAuthError([{ errorCode: 401 }])).toBeTrue();
    expect(isEventsAuthError([{ errorType: 'BadRequestException', errorCode: 400 }, { errorCode: 403 }])).toBeTrue();
    expect(isEventsAuthError([{ errorType: 'BadRequestException', errorCode: 400 }])).toBeFalse();
    expect(isEventsAuthError(undefined)).toBeFalse();
    expect(isEventsAuthError([null])).toBeFalse();
  });

  it('hands out event payloads parsed when they are JSON, as they came otherwise', () => {
    expect(eventPayload('{"n":1}')).toEqual({ n: 1 });
    expect(eventPayload('plain text')).toBe('plain text');
  });

  it('sends each published event as a JSON string', () => {
    expect(JSON.parse(publishRequestBody('/default/chat', [{ text: 'hi' }, 2]))).toEqual({ channel: '/default/chat', events: ['{"text":"hi"}', '2'] });
  });
});
