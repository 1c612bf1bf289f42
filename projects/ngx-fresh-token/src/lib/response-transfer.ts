import { HttpEvent, HttpRequest, HttpResponse } from '@angular/common/http';
import { TransferState, makeStateKey } from '@angular/core';
import { Observable, of } from 'rxjs';
import { TRANSFER_AUTHENTICATED_RESPONSE } from './context';

/** What goes into `TransferState` for one request: the body and the status, nothing else. */
interface TransferredBody {
  b: unknown;
  s: number;
}

function keyOf(req: HttpRequest<unknown>) {
  return makeStateKey<TransferredBody>(`ngx-fresh-token:body:${req.responseType}:${req.urlWithParams}`);
}

/** Whether `req` asks for its authenticated response to be handed to the browser. */
export function ɵwantsTransfer(req: HttpRequest<unknown>): boolean {
  return req.method === 'GET' && (req.responseType === 'json' || req.responseType === 'text') && req.context.get(TRANSFER_AUTHENTICATED_RESPONSE);
}

/** In the browser: the body the server render handed over for `req`, once (the entry is removed), or `null`. */
export function ɵtransferred(state: TransferState, req: HttpRequest<unknown>): Observable<HttpEvent<unknown>> | null {
  const key = keyOf(req);
  const entry = state.get(key, null);
  if (!entry || typeof entry.s !== 'number') return null;
  state.remove(key);
  return of(new HttpResponse({ body: entry.b, status: entry.s, url: req.urlWithParams }));
}

/** On the server: keeps the body of a successful response sent with `token`, unless the body holds the token. */
export function ɵkeepForBrowser(state: TransferState, req: HttpRequest<unknown>, event: HttpEvent<unknown>, token: string): void {
  if (!(event instanceof HttpResponse) || !event.ok) return;
  let text: string | undefined;
  try {
    text = typeof event.body === 'string' ? event.body : JSON.stringify(event.body);
  } catch {
    return;
  }
  if (text === undefined || text.includes(token)) return;
  state.set(keyOf(req), { b: event.body, s: event.status });
}
