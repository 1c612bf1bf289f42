import { isPlatformBrowser } from '@angular/common';
import { HttpBackend, HttpClient } from '@angular/common/http';
import { PLATFORM_ID, inject } from '@angular/core';
import { FRESH_TOKEN_CLOCK, FRESH_TOKEN_REFRESH_BUFFER_MS, FreshTokenError, withTokenSource } from 'ngx-fresh-token';
import type { FreshTokenFeature, FreshTokenFeatureKind, TokenGrant, TokenSource } from 'ngx-fresh-token';
import { OAuthErrorCode } from './errors';
import {
  TokenRequestTimeoutOptions,
  ɵgrantFromTokenResponse,
  ɵrequestToken,
  ɵrequireString,
  ɵtokenRequestTimeoutMs,
} from './token-endpoint';
import { ɵserviceTokenKey, ɵsharedServiceToken } from './service-token-cache';

/**
 * Options of {@link withClientCredentials}: an OAuth 2 client-credentials grant (RFC 6749 §4.4).
 *
 * @example
 * const options: ClientCredentialsOptions = { tokenUrl: 'https://auth.example.com/oauth2/token', clientId: 'svc', clientSecret: process.env['CLIENT_SECRET']! };
 */
export interface ClientCredentialsOptions extends TokenRequestTimeoutOptions {
  /** The token endpoint, e.g. Cognito's `https://<domain>/oauth2/token`. */
  tokenUrl: string;
  /** The client id. */
  clientId: string;
  /** The client secret: read it from the server's environment, never from code that reaches a browser. */
  clientSecret: string;
  /** Scopes to request, as a space-separated string or a list. */
  scope?: string | string[];
  /** An RFC 8707 resource indicator (the API the token is for), when the server needs one. */
  resource?: string;
  /** How the client authenticates: HTTP Basic (default, RFC 6749 §2.3.1) or form fields. */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
}

// RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
function basicCredentials(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${btoa(`${encode(clientId)}:${encode(clientSecret)}`)}`;
}

function runsInBrowser(): boolean {
  const platformId = inject(PLATFORM_ID, { optional: true });
  // Without a platform (plain Node) fall back to the globals a browser has and a server has not.
  if (platformId != null && platformId !== 'unknown') return isPlatformBrowser(platformId);
  return typeof window !== 'undefined' && typeof document !== 'undefined';
}

/**
 * Gets access tokens with the OAuth 2 client-credentials grant, for a server (Angular SSR server,
 * Node) calling an API as itself. The token is cached once per process for its lifetime, per token
 * URL, client id, scopes, resource and secret — shared by every server render and injector, with one
 * request in flight at a time — and renewed inside the refresh buffer; a 401 from the API replaces it
 * once for all; 429/5xx back off; a failure is never cached; a rejected secret ends the session at once
 * (exactly one token request). Refuses to run in a browser (`NFT301`). The secret
 * never appears in a log, an error message or an error property.
 *
 * @example
 * // app.config.server.ts, or a plain Node injector
 * provideFreshToken(
 *   withClientCredentials({ tokenUrl: process.env['TOKEN_URL']!, clientId: process.env['CLIENT_ID']!, clientSecret: process.env['CLIENT_SECRET']!, scope: 'api/read' }),
 *   withAuthorizedUrls('https://api.example.com'),
 * )
 */
export function withClientCredentials(options: ClientCredentialsOptions): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenSource> {
  const fn = 'withClientCredentials';
  ɵrequireString(fn, 'tokenUrl', options?.tokenUrl);
  ɵrequireString(fn, 'clientId', options.clientId);
  ɵrequireString(fn, 'clientSecret', options.clientSecret);
  const timeoutMs = ɵtokenRequestTimeoutMs(fn, options);
  if (options.authMethod !== undefined && options.authMethod !== 'client_secret_basic' && options.authMethod !== 'client_secret_post') {
    throw new FreshTokenError(
      OAuthErrorCode.InvalidOAuthOption,
      typeof ngDevMode === 'undefined' || ngDevMode ? `${fn}() takes authMethod 'client_secret_basic' or 'client_secret_post'.` : '',
    );
  }
  const scope = Array.isArray(options.scope) ? options.scope.join(' ') : options.scope;
  const post = options.authMethod === 'client_secret_post';
  // The process cache's key, worked out once per configuration (a render's injector runs the factory below each time).
  const key = ɵserviceTokenKey({ ...options, scope, authMethod: post ? 'client_secret_post' : 'client_secret_basic' });
  return withTokenSource(() => {
    if (runsInBrowser()) {
      throw new FreshTokenError(
        OAuthErrorCode.ClientSecretInBrowser,
        typeof ngDevMode === 'undefined' || ngDevMode
          ? 'withClientCredentials() refuses to run in a browser: a client secret shipped to a browser is public. ' +
              'To fix the problem, provide it only on the server (app.config.server.ts or a Node injector) and use ' +
              'withSessionEndpoint() or withOAuthRefreshToken() in the browser.'
          : '',
      );
    }
    const http = new HttpClient(inject(HttpBackend));
    const clock = inject(FRESH_TOKEN_CLOCK);
    const { tokenUrl, clientId, clientSecret, resource } = options;
    const fetchToken = async (): Promise<TokenGrant> => {
      const response = await ɵrequestToken(
        http,
        clock,
        tokenUrl,
        { grant_type: 'client_credentials', scope, resource, ...(post ? { client_id: clientId, client_secret: clientSecret } : {}) },
        post ? {} : { Authorization: basicCredentials(clientId, clientSecret) },
        timeoutMs,
      );
      return ɵgrantFromTokenResponse(response, clock.now());
    };
    // The token is the server's own identity, not a user's: one per process and identity, shared by
    // every render (each has its own injector) and every other injector asking for the same one.
    const bufferMs = inject(FRESH_TOKEN_REFRESH_BUFFER_MS);
    const source: TokenSource = {
      // A call that outlives the core's attempt timeout is joined, never doubled.
      getToken: (request) => ɵsharedServiceToken(key, request, () => clock.now(), bufferMs, fetchToken),
    };
    return source;
  });
}
