// Cookie reading and writing for the BFF's two cookies (RFC 6265bis; RFC 10017 §6.1 attributes).

/** What the BFF reads of a request's headers: a Web `Request`, or the Node handler's view of an `IncomingMessage`. */
export interface HeaderSource {
  readonly headers: { get(name: string): string | null };
}

/** The value of cookie `name` in the request's `Cookie` header, or `null` (also when the name is sent more than once). */
export function readCookie(request: HeaderSource, name: string): string | null {
  return readCookies(request).get(name) ?? null;
}

/** `text[from, to)` without the spaces and tabs at its ends (RFC 6265bis §5.6: WSP), and nothing else; linear time. */
function trimWsp(text: string, from: number, to: number): string {
  const wsp = (i: number) => text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09;
  while (from < to && wsp(from)) from++;
  while (to > from && wsp(to - 1)) to--;
  return text.slice(from, to);
}

/**
 * Every cookie of the request, by its name exactly as the browser keeps it: only spaces and tabs around
 * it are dropped (a JavaScript `trim()` would also drop U+00A0 and other Unicode spaces, which a browser
 * keeps as part of the name, so a cookie named `\u00a0__Host-…` that any sibling host or plain-http page
 * can set would stand in for the `__Host-` one). A name sent more than once is left out: which of two
 * cookies of one name is the server's own cannot be told (a `__Host-` cookie is never sent twice).
 */
export function readCookies(request: HeaderSource): Map<string, string> {
  const cookies = new Map<string, string>();
  const repeated = new Set<string>();
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = trimWsp(part, 0, eq);
    if (!name || repeated.has(name)) continue;
    if (cookies.has(name)) {
      cookies.delete(name);
      repeated.add(name);
    } else cookies.set(name, trimWsp(part, eq + 1, part.length));
  }
  return cookies;
}

/** Attributes of a Set-Cookie line the BFF writes. */
export interface CookieAttributes {
  sameSite: 'Strict' | 'Lax';
  secure: boolean;
  /** Seconds; 0 deletes the cookie; absent: a session cookie (ends with the browser). */
  maxAgeSeconds?: number;
}

/** A `Set-Cookie` value: always `HttpOnly`, `Path=/` and no `Domain` (what `__Host-` requires). */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  let line = `${name}=${value}; Path=/; HttpOnly; SameSite=${attributes.sameSite}`;
  if (attributes.secure) line += '; Secure';
  if (attributes.maxAgeSeconds !== undefined) {
    line += `; Max-Age=${Math.max(0, Math.floor(attributes.maxAgeSeconds))}`;
    if (attributes.maxAgeSeconds <= 0) line += '; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
  }
  return line;
}
