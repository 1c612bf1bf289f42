import { provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { AuthService, FRESH_TOKEN_CLOCK, FreshTokenError, TokenEvent } from 'ngx-fresh-token';
import { FreshTokenTestingController, ManualClock, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { publishFreshEvents } from './events-publish';

const endpoint = 'https://events.example.test/event';

function setup(answers: Array<{ status: number; headers?: Record<string, string> }>) {
  TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), provideFreshTokenTesting()] });
  const auth = TestBed.inject(AuthService);
  const ctrl = TestBed.inject(FreshTokenTestingController);
  const clock = TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock;
  const events: TokenEvent['type'][] = [];
  auth.events$.subscribe((e) => events.push(e.type));
  const sent: Array<{ authorization: string | null; body: unknown }> = [];
  const fetch = (async (_url: string, init: RequestInit) => {
    sent.push({ authorization: new Headers(init.headers).get('Authorization'), body: JSON.parse(String(init.body)) });
    const answer = answers.shift() ?? { status: 200 };
    return new Response(answer.status === 204 ? null : '{}', { status: answer.status, headers: answer.headers });
  }) as typeof globalThis.fetch;
  const publish = () => publishFreshEvents(auth, '/default/chat', [{ text: 'hi' }], { endpoint, fetch }, clock);
  return { auth, ctrl, clock, events, sent, publish };
}

async function failure(promise: Promise<unknown>): Promise<FreshTokenError> {
  try {
    await promise;
  } catch (err) {
    return err as FreshTokenError;
  }
  throw new Error('expected a rejection');
}

describe('publishFreshEvents', () => {
  it('POSTs each event as a JSON string with the fresh token verbatim', async () => {
    const { ctrl, sent, publish } = setup([{ status: 200 }]);
    const token = ctrl.setToken();
    await publish();
    expect(sent).toEqual([{ authorization: token, body: { channel: '/default/chat', events: ['{"text":"hi"}'] } }]);
  });

  it('retries a 401 once with a refreshed token', async () => {
    const { ctrl, sent, publish, events } = setup([{ status: 401 }, { status: 200 }]);
    const first = ctrl.setToken();
    await publish();
    expect(sent.length).toBe(2);
    expect(sent[1].authorization).not.toBe(first);
    expect(ctrl.refreshCount).toBe(1);
    expect(events).not.toContain('unauthorized');
  });

  it('a second 401 rejects with NFT503 and emits unauthorized', async () => {
    const { ctrl, sent, publish, events } = setup([{ status: 401 }, { status: 401 }]);
    ctrl.setToken();
    const err = await failure(publish());
    expect(err.code).toBe('NFT503');
    expect(err.status).toBe(401);
    expect(sent.length).toBe(2);
    expect(events).toContain('unauthorized');
  });

  it('classifies a refused publish as the core does: 408, 429 (with Retry-After) and 5xx transient, 400 and 403 not', async () => {
    const cases: Array<[number, Record<string, string>, string, boolean, number | undefined]> = [
      [400, {}, 'NFT504', false, undefined],
      [403, {}, 'NFT503', false, undefined],
      [408, {}, 'NFT504', true, undefined],
      [429, { 'Retry-After': '2' }, 'NFT504', true, 2_000],
      [503, {}, 'NFT504', true, undefined],
    ];
    for (const [status, headers, code, transient, retryAfterMs] of cases) {
      TestBed.resetTestingModule();
      const { ctrl, publish } = setup([{ status, headers }]);
      ctrl.setToken();
      const err = await failure(publish());
      expect([err.code, err.status, err.transient, err.retryAfterMs]).withContext(String(status)).toEqual([code, status, transient, retryAfterMs]);
    }
  });

  it('rejects with NFT502 when signed out, sending nothing', async () => {
    const { ctrl, sent, publish } = setup([]);
    ctrl.signedInAtSource = false;
    const err = await failure(publish());
    expect(err.code).toBe('NFT502');
    expect(sent).toEqual([]);
  });
});
