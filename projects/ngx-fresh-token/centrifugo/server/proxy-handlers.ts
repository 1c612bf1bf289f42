/**
 * Claims of a verified bearer token, as `verify` returns them (e.g. the `payload` of jose's
 * `jwtVerify`). `sub` becomes the Centrifugo user ("" is anonymous), `exp` (seconds) the
 * connection's `expire_at`.
 *
 * @example
 * const verify = async (token: string): Promise<CentrifugoTokenClaims> => (await jwtVerify(token, jwks)).payload;
 */
export interface CentrifugoTokenClaims {
  sub?: string;
  exp?: number;
  [claim: string]: unknown;
}

/**
 * Extra fields of a proxy-connect `result` (see Centrifugo's proxy docs).
 *
 * @example
 * const result = (claims: CentrifugoTokenClaims): CentrifugoConnectResultExtras => ({ info: { name: claims['name'] }, channels: [`user:${claims.sub}`] });
 * export const POST = centrifugoConnectHandler({ verify, result });
 */
export interface CentrifugoConnectResultExtras {
  info?: unknown;
  data?: unknown;
  meta?: unknown;
  channels?: string[];
  subs?: Record<string, unknown>;
}

/**
 * What a bearer token turned out to be when `verify` rejected it.
 *
 * @example
 * const classify = (err: unknown): CentrifugoTokenProblem => (err instanceof TokenExpiredError ? 'expired' : classifyTokenError(err));
 */
export type CentrifugoTokenProblem = 'expired' | 'invalid' | 'unavailable';

/**
 * Options of the proxy handlers.
 *
 * @example
 * const options: CentrifugoProxyOptions = { verify: async (t) => (await jwtVerify(t, jwks)).payload };
 * export const POST = centrifugoConnectHandler(options);
 */
export interface CentrifugoProxyOptions {
  /** Verifies the bearer token and returns its claims; throws when it is invalid or expired. */
  verify: (token: string) => Promise<CentrifugoTokenClaims> | CentrifugoTokenClaims;
  /**
   * Tells what a `verify` error means. Default: jose's `ERR_JWT_EXPIRED` and jsonwebtoken's
   * `TokenExpiredError` are `expired`; other jose `ERR_JW*` codes and `JsonWebTokenError` are
   * `invalid`; anything else (a JWKS endpoint down) is `unavailable` (HTTP 503, so Centrifugo
   * answers with a temporary internal error and the client retries).
   */
  classify?: (error: unknown) => CentrifugoTokenProblem;
  /** Extra `result` fields for a connection, from the verified claims (connect only). */
  result?: (claims: CentrifugoTokenClaims) => CentrifugoConnectResultExtras;
  /** Header that carries the token. Default `authorization` (`Bearer <token>`). */
  header?: string;
}

/**
 * The proxy-connect answer, exactly as Centrifugo reads it (never wrapped in `data`).
 *
 * @example
 * const reply: CentrifugoConnectReply = await answerCentrifugoConnect(req.headers, { verify });
 * if ('result' in reply) console.log('connected', reply.result.user);
 */
export type CentrifugoConnectReply =
  | { result: { user: string; expire_at?: number } & CentrifugoConnectResultExtras }
  | { error: { code: number; message: string } }
  | { disconnect: { code: number; reason: string } };

/**
 * The proxy-refresh answer, exactly as Centrifugo reads it.
 *
 * @example
 * const reply: CentrifugoRefreshReply = await answerCentrifugoRefresh(req.headers, { verify });
 * res.json(reply);
 */
export type CentrifugoRefreshReply =
  | { result: { expire_at?: number } }
  | { result: { expired: true } }
  | { disconnect: { code: number; reason: string } };

/**
 * Codes the handlers answer with. A connect with an expired token gets a reconnecting
 * disconnect (4000–4499), so the client comes back with a fresh token; a missing or invalid
 * token gets a non-temporary error (400–1999), so the client stops.
 *
 * @example
 * if (reply.disconnect?.code === CENTRIFUGO_PROXY_CODES.tokenExpired) { ... }
 */
export const CENTRIFUGO_PROXY_CODES = {
  /** `{"error":{"code":401,"message":"unauthorized"}}`: no token, or an invalid one. */
  unauthorized: 401,
  /** `{"disconnect":{"code":4001,"reason":"token expired"}}`: the client reconnects with a fresh token. */
  tokenExpired: 4001,
  /** `{"disconnect":{"code":4501,"reason":"invalid token"}}`: refresh with an invalid token; the client does not reconnect. */
  invalidToken: 4501,
} as const;

/**
 * Thrown by the plain handlers when the token could not be checked at all (e.g. JWKS down).
 *
 * @example
 * try { res.json(await answerCentrifugoConnect(req.headers, { verify })); }
 * catch (err) { res.sendStatus(err instanceof CentrifugoProxyUnavailableError ? 503 : 500); }
 */
export class CentrifugoProxyUnavailableError extends Error {
  constructor() {
    super('NFT604: The bearer token could not be verified right now (the key set is unreachable?). Centrifugo will retry.');
    this.name = 'CentrifugoProxyUnavailableError';
  }
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function readHeader(headers: HeaderBag | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : bag[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Reads the bearer token from request headers (a Web `Headers`, a Node `IncomingHttpHeaders` or
 * a plain object); `null` when there is none.
 *
 * @example
 * bearerToken({ authorization: 'Bearer abc' }); // 'abc'
 */
export function bearerToken(headers: HeaderBag | undefined, header = 'authorization'): string | null {
  const value = readHeader(headers, header)?.trim();
  const match = value ? /^Bearer\s+(\S+)$/i.exec(value) : null;
  return match ? match[1] : null;
}

/**
 * The default {@link CentrifugoProxyOptions.classify}: expired, invalid or unavailable.
 *
 * @example
 * classifyTokenError(new errors.JWTExpired('exp', {})); // 'expired'
 */
export function classifyTokenError(error: unknown): CentrifugoTokenProblem {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; name?: unknown };
  if (e.code === 'ERR_JWT_EXPIRED' || e.name === 'JWTExpired' || e.name === 'TokenExpiredError') return 'expired';
  // jose's verdicts on the token itself (its claims, signature, algorithm — `alg: none` or HS256 is ERR_JOSE_ALG_NOT_ALLOWED —,
  // a `crit` header it does not support, no key matching its `kid`) are 'invalid'; only a key set that could not be
  // loaded (a timeout, a garbled JWKS, a generic failure) says nothing about the token: 'unavailable'.
  if (typeof e.code === 'string' && /^ERR_(JWT|JWS|JWE|JWK|JWKS|JOSE)_/.test(e.code) && !['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC'].includes(e.code)) return 'invalid';
  if (e.name === 'JsonWebTokenError' || e.name === 'NotBeforeError') return 'invalid';
  return 'unavailable';
}

async function check(
  headers: HeaderBag | undefined,
  options: CentrifugoProxyOptions,
): Promise<{ claims: CentrifugoTokenClaims } | { problem: 'missing' | 'expired' | 'invalid' }> {
  const token = bearerToken(headers, options.header);
  if (!token) return { problem: 'missing' };
  try {
    const claims = await options.verify(token);
    if (typeof claims !== 'object' || claims === null) return { problem: 'invalid' };
    // A token whose exp passed is expired whatever verify() thinks (e.g. a clock tolerance).
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) return { problem: 'expired' };
    return { claims };
  } catch (err) {
    const problem = (options.classify ?? classifyTokenError)(err);
    if (problem === 'unavailable') throw new CentrifugoProxyUnavailableError();
    return { problem };
  }
}

function expireAt(claims: CentrifugoTokenClaims): { expire_at?: number } {
  return typeof claims.exp === 'number' ? { expire_at: Math.floor(claims.exp) } : {};
}

/**
 * Answers a Centrifugo proxy-connect request from its headers: `{"result":{"user","expire_at"}}`
 * for a valid bearer token, `{"disconnect":{"code":4001,"reason":"token expired"}}` for an
 * expired one (the client reconnects with a fresh token), `{"error":{"code":401,"message":
 * "unauthorized"}}` for a missing or invalid one. Throws {@link CentrifugoProxyUnavailableError}
 * when the token cannot be checked now. Framework-agnostic; see {@link centrifugoConnectHandler}
 * for a Web `Request` → `Response` handler.
 *
 * @example
 * app.post('/centrifugo/connect', async (req, res) => res.json(await answerCentrifugoConnect(req.headers, { verify })));
 */
export async function answerCentrifugoConnect(
  headers: HeaderBag | undefined,
  options: CentrifugoProxyOptions,
): Promise<CentrifugoConnectReply> {
  const checked = await check(headers, options);
  if ('problem' in checked) {
    return checked.problem === 'expired'
      ? { disconnect: { code: CENTRIFUGO_PROXY_CODES.tokenExpired, reason: 'token expired' } }
      : { error: { code: CENTRIFUGO_PROXY_CODES.unauthorized, message: 'unauthorized' } };
  }
  const { claims } = checked;
  const user = typeof claims.sub === 'string' ? claims.sub : claims.sub == null ? '' : String(claims.sub);
  return { result: { ...(options.result?.(claims) ?? {}), user, ...expireAt(claims) } };
}

/**
 * Answers a Centrifugo proxy-refresh request from the connection's headers:
 * `{"result":{"expire_at":…}}` while the bearer token is valid, `{"result":{"expired":true}}`
 * once it expired (Centrifugo then disconnects with 3005 and the client reconnects, sending a
 * fresh token in header mode), `{"disconnect":{"code":4501,"reason":"invalid token"}}` for a
 * missing or invalid one. Throws {@link CentrifugoProxyUnavailableError} when the token cannot
 * be checked now.
 *
 * @example
 * app.post('/centrifugo/refresh', async (req, res) => res.json(await answerCentrifugoRefresh(req.headers, { verify })));
 */
export async function answerCentrifugoRefresh(
  headers: HeaderBag | undefined,
  options: CentrifugoProxyOptions,
): Promise<CentrifugoRefreshReply> {
  const checked = await check(headers, options);
  if ('problem' in checked) {
    return checked.problem === 'expired'
      ? { result: { expired: true } }
      : { disconnect: { code: CENTRIFUGO_PROXY_CODES.invalidToken, reason: 'invalid token' } };
  }
  return { result: expireAt(checked.claims) };
}

function toResponse(answer: () => Promise<unknown>): Promise<Response> {
  return answer().then(
    (body) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }),
    (err: unknown) => {
      // Any other status makes Centrifugo answer the client with a temporary internal error.
      const status = err instanceof CentrifugoProxyUnavailableError ? 503 : 500;
      return new Response(JSON.stringify({ error: status === 503 ? 'unavailable' : 'internal' }), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    },
  );
}

/**
 * A Web `Request` → `Response` proxy-connect handler (Node ≥ 18, Deno, Bun, Hono, Next.js route
 * handlers…) around {@link answerCentrifugoConnect}; answers 503 when the token cannot be
 * checked now.
 *
 * @example
 * const connect = centrifugoConnectHandler({ verify: async (t) => (await jwtVerify(t, jwks)).payload });
 * export const POST = connect; // e.g. app/centrifugo/connect/route.ts
 */
export function centrifugoConnectHandler(options: CentrifugoProxyOptions): (request: Request) => Promise<Response> {
  return (request) => toResponse(() => answerCentrifugoConnect(request.headers, options));
}

/**
 * A Web `Request` → `Response` proxy-refresh handler around {@link answerCentrifugoRefresh}.
 *
 * @example
 * const refresh = centrifugoRefreshHandler({ verify: async (t) => (await jwtVerify(t, jwks)).payload });
 */
export function centrifugoRefreshHandler(options: CentrifugoProxyOptions): (request: Request) => Promise<Response> {
  return (request) => toResponse(() => answerCentrifugoRefresh(request.headers, options));
}
