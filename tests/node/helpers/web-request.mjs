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
