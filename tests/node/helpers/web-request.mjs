// Node request → Web Request for the test servers that mount bff.handle() (bff-idp's app server and
// bff-instance's per-process BFF).
import { Readable } from 'node:stream';

/**
 * Node request → Web Request. The body streams, as with `createWebRequestFromNodeRequest` of
 * `@angular/ssr/node`: the BFF decides how much of it to read (it caps what it reads itself).
 */
export async function toWebRequest(req, origin) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const init = { method: req.method, headers };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    init.body = Readable.toWeb(req);
    init.duplex = 'half';
  }
  return new Request(new URL(req.url, origin), init);
}

/**
 * Web Response → Node response, the body streamed chunk by chunk (as `writeResponseToNodeResponse` of
 * `@angular/ssr/node` does), every Set-Cookie line kept apart. A body that errors ends the response.
 */
export async function writeNodeResponse(response, res) {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader('set-cookie', cookies);
  if (!response.body) return void res.end();
  res.flushHeaders();
  const reader = response.body.getReader();
  res.on('close', () => reader.cancel().catch(() => undefined));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // Backpressure: wait for the socket to drain before reading on.
      if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  } catch {
    res.destroy();
  }
}
