// Cookie reading and writing for the BFF's two cookies (RFC 6265bis; RFC 10017 §6.1 attributes).

/** The value of cookie `name` in the request's `Cookie` header, or `null`. */
export function readCookie(request: Request, name: string): string | null {
  return readCookies(request).get(name) ?? null;
}

/** Every cookie of the request (first value wins, as browsers send the most specific first). */
export function readCookies(request: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
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
