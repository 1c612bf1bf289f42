// Where the login returns to: only a path of this app, never another origin (open redirect).
// The OUTPUT is what gets checked: `new URL()` resolves dot segments, so `/.//evil.test` comes out as
// `//evil.test`, a scheme-relative URL. Whatever the input, the value handed to the hop page must,
// resolved again by the browser, stay on the app's origin.

/** The longest return target kept (after normalization); a longer one falls back to `/`, so the sealed login-transaction cookie stays well under 4 KB. */
export const MAX_RETURN_URL_LENGTH = 1_024;

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f\\]/;

/**
 * `returnUrl` as a same-origin path (`/x?y#z`), or `/` for anything else. The result, resolved against
 * the app origin (and against any URL of it, as the hop page's navigation is), stays on that origin; it
 * never starts with `//` or `/\`, not even once a router or server decodes its percent-encodings; it
 * holds no control character or backslash; it is at most {@link MAX_RETURN_URL_LENGTH} characters; and
 * normalizing it again changes nothing. The BFF's login uses it; an app's own login route can too.
 *
 * @example
 * safeReturnUrl('/orders?page=2', 'https://app.example.com'); // '/orders?page=2'
 * safeReturnUrl('/.//evil.example', 'https://app.example.com'); // '/'
 */
export function safeReturnUrl(returnUrl: string | null | undefined, origin: string): string {
  // The input bound only limits work; the real length cap applies to the output (after percent-encoding).
  if (typeof returnUrl !== 'string' || !returnUrl.startsWith('/') || returnUrl.length > 4 * MAX_RETURN_URL_LENGTH || UNSAFE.test(returnUrl)) return '/';
  let appOrigin: string;
  let url: URL;
  try {
    appOrigin = new URL(origin).origin;
    url = new URL(returnUrl, `${appOrigin}/`);
  } catch {
    return '/';
  }
  if (url.origin !== appOrigin) return '/';
  const target = `${url.pathname}${url.search}${url.hash}`;
  return isSafeTarget(target, appOrigin) ? target : '/';
}

/** The check on the output: a path-absolute reference that resolves to itself on `origin`. */
function isSafeTarget(target: string, origin: string): boolean {
  if (target.length > MAX_RETURN_URL_LENGTH || !target.startsWith('/') || target.startsWith('//') || target.startsWith('/\\') || UNSAFE.test(target)) return false;
  // What a server or router that decodes percent-encodings once would see (`/%2F/evil`, `/%5Cevil`).
  let decoded: string;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    return false;
  }
  if (decoded.startsWith('//') || decoded.startsWith('/\\') || UNSAFE.test(decoded)) return false;
  // Resolved again, as the browser does with the hop page's target: same origin, and nothing left to normalize.
  for (const base of [`${origin}/`, `${origin}/auth/callback?code=x`]) {
    const again = new URL(target, base);
    if (again.origin !== origin || `${again.pathname}${again.search}${again.hash}` !== target) return false;
  }
  return true;
}
