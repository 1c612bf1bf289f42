/// <reference types="node" />
// The Node front end of the BFF (`bff.handleNode(req, res)`): a proxied call goes from node:http's request
// to node:http's response without a Web Request or Response in between (the hot path: those objects and
// the Node ⇄ Web adapter were a quarter of the proxy's CPU); every other route of the BFF is answered
// through a Web Request, made as @angular/ssr/node's adapter makes it. The checks, the token and the
// upstream call are the proxy's own (proxy.ts), the same for both front ends.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestAborted } from './http';
import { isWebStream, loadTransports, type BffRequestInfo, type ProxyAnswer, type ProxyBody, type ProxyCall } from './proxy';

/**
 * What `bff.handleNode()` may be told about a request beyond what node:http knows.
 *
 * @example
 * // Behind a proxy that terminates TLS (Node sees http): the origin the browser called
 * app.use((req, res, next) => bff.handleNode(req, res, { origin: 'https://app.example.com' }).then((done) => done || next(), next));
 */
export interface BffNodeRequestInfo extends BffRequestInfo {
  /**
   * The origin the browser called (`https://app.example.com`), for a server behind a proxy that terminates
   * TLS. Default: `https` when TLS reaches Node (else `http`) and the `Host` header — what
   * `createWebRequestFromNodeRequest` of `@angular/ssr/node` makes without trusted proxy headers. Proxied
   * calls are answered only for the BFF's allowed origins (else 400 `NFT415`).
   */
  origin?: string;
  /** Default: `req.socket.remoteAddress` (becomes the proxied call's `X-Forwarded-For`). */
  clientAddress?: string;
}

/** A request header as a Headers object gives it: `null` when absent, repeated lines joined by `, `. */
function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

/** node:http's request and response as a {@link ProxyCall}. */
export function nodeCall(req: IncomingMessage, res: ServerResponse): ProxyCall {
  const method = req.method ?? 'GET';
  return {
    headers: { get: (name) => header(req, name.toLowerCase()) },
    method,
    headersKept(keep) {
      const kept: Record<string, string> = {};
      for (const name in req.headers) {
        if (name[0] === ':' || !keep(name)) continue;
        const value = header(req, name);
        if (value !== null) kept[name] = value;
      }
      return kept;
    },
    hasBody: method !== 'GET' && method !== 'HEAD',
    readBytes: (maxBytes) => readBytes(req, maxBytes),
    stream: () => req,
    onAbort(abort) {
      // Gone already (while the token was read, or an async middleware in front waited): at once (attacker review:
      // a 'close' listener added after the close never runs, and the upstream call streamed on to nobody).
      if (res.destroyed) return abort();
      res.once('close', () => {
        if (!res.writableFinished) abort();
      });
    },
  };
}

/** The request body whole, `null` past `maxBytes`; rejects with {@link RequestAborted} when the browser is gone before it ends (already, or meanwhile). */
function readBytes(req: IncomingMessage, maxBytes: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    // Destroyed before this read began (an async middleware in front, the token lookup): 'close' has fired, 'end' never will.
    if (req.destroyed) return reject(new RequestAborted());
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = () => {
      req.off('data', data);
      req.off('end', end);
      req.off('error', failed);
      req.off('close', closed);
    };
    const data = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        stop();
        req.resume(); // the rest is read and dropped
        return resolve(null);
      }
      chunks.push(chunk);
    };
    const end = () => {
      stop();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    };
    const failed = () => {
      stop();
      reject(new RequestAborted());
    };
    // Closed before 'end' (even with every byte received: a destroyed stream drops what it had not handed out).
    const closed = () => {
      if (!req.readableEnded) failed();
    };
    req.on('data', data);
    req.on('end', end);
    req.on('error', failed);
    req.on('close', closed);
  });
}

/** A body to node:http's response: ended at once (bytes) or piped (a stream: its headers go out first, so server-sent events flow). */
async function writeBody(res: ServerResponse, body: ProxyBody | null): Promise<void> {
  if (body === null) return void res.end();
  if (body instanceof Uint8Array) return void res.end(body);
  const { stream } = await loadTransports();
  const source = isWebStream(body) ? stream.Readable.fromWeb(body as import('node:stream/web').ReadableStream) : body;
  if (res.destroyed) return void source.destroy(); // the browser is gone: so is the upstream's answer
  // The headers go out now (server-sent events: before the first event), as latin1 like every other header block
  // (flushHeaders() would write them as UTF-8 and change the bytes of a non-ASCII header value).
  res.write('', 'latin1');
  source.on('error', () => res.destroy());
  res.on('close', () => {
    if (!res.writableFinished) source.destroy();
  });
  source.pipe(res);
}

/**
 * The status and header lines to node:http's response, every line kept (a repeated name too). Headers the app
 * set before (`res.setHeader`) are kept unless a line of the same name replaces them (node:http's writeHead
 * with a list), as `writeResponseToNodeResponse` of `@angular/ssr/node` does — but for `Set-Cookie`, whose lines add up.
 */
function writeHead(res: ServerResponse, status: number, lines: readonly [string, string][]): void {
  const flat: string[] = [];
  // Cookies the app set before are kept next to the answer's own (writeHead with a list would replace them).
  const before = res.getHeader('set-cookie');
  if (before !== undefined && lines.some(([name]) => name === 'set-cookie')) for (const line of [before].flat()) flat.push('set-cookie', String(line));
  for (const [name, value] of lines) flat.push(name, value);
  res.writeHead(status, flat);
}

/**
 * The proxy's answer to node:http's response. (Its header lines passed node:http's parser on the way in; a line
 * node:http would still refuse makes writeHead throw before anything is sent: handleNode answers 500.)
 */
export async function writeNodeAnswer(res: ServerResponse, answer: ProxyAnswer): Promise<void> {
  if (answer instanceof Response) return writeWebResponse(res, answer);
  writeHead(res, answer.status, answer.headers);
  await writeBody(res, answer.body);
}

/** A Web Response to node:http's response, every Set-Cookie line apart. */
export async function writeWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const lines: [string, string][] = [];
  for (const entry of response.headers) if (entry[0] !== 'set-cookie') lines.push(entry);
  for (const line of response.headers.getSetCookie()) lines.push(['set-cookie', line]);
  writeHead(res, response.status, lines);
  await writeBody(res, response.body);
}

/** node:http's request as a Web Request for `url` (the body streams; the request is aborted when the browser goes away). */
export async function toWebRequest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name[0] === ':' || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.append(name, value);
  }
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return new Request(url, { method, headers, signal: controller.signal });
  const { stream } = await loadTransports();
  return new Request(url, { method, headers, signal: controller.signal, body: stream.Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>, duplex: 'half' } as RequestInit);
}

/** A `Host` header that names a host (and port) and nothing else: no path, userinfo, query or fragment to smuggle into the URL. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The URL of a node:http request, as `createWebRequestFromNodeRequest` of `@angular/ssr/node` makes it (the origin, then
 * the request target as it came: `//x/y` is a path): `info.origin`, else the socket's scheme and the `Host` header — one
 * that names a host and port only (any other is `host.invalid`, so a `Host` can never put a path or userinfo into the URL).
 * An absolute-form target (`http://host/path`) is taken as it is. `null`: not a URL.
 */
export function nodeRequestUrl(req: IncomingMessage, origin: string | undefined): URL | null {
  const target = req.url ?? '/';
  try {
    if (!target.startsWith('/')) return new URL(target);
    const host = req.headers.host;
    const base = origin ?? `${(req.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http'}://${host && HOST.test(host) ? host : 'host.invalid'}`;
    return new URL(`${base}${target}`);
  } catch {
    return null;
  }
}
