// Where the login returns to: only a path of this app, never another origin (open redirect).

/**
 * `returnUrl` as a same-origin path (`/x?y#z`), or `/` for anything else: absolute URLs,
 * scheme-relative `//host`, `/\host`, `javascript:`, control characters or backslashes anywhere,
 * and encoded forms of those that a server or router might decode.
 */
export function safeReturnUrl(returnUrl: string | null, origin: string): string {
  if (!returnUrl || returnUrl.length > 2048 || !returnUrl.startsWith('/')) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(returnUrl) || returnUrl.startsWith('//')) return '/';
  let decoded = returnUrl;
  try {
    decoded = decodeURIComponent(returnUrl);
  } catch {
    return '/';
  }
  // eslint-disable-next-line no-control-regex
  if (decoded.startsWith('//') || decoded.startsWith('/\\') || /[\u0000-\u001f\u007f\\]/.test(decoded)) return '/';
  try {
    const url = new URL(returnUrl, origin);
    if (url.origin !== origin) return '/';
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return '/';
  }
}
