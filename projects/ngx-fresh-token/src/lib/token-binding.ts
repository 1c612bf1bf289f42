// Sender-constrained tokens (DPoP, RFC 9449): the one hook the core has for them. The core knows no
// proof, key or nonce: a binding (ngx-fresh-token/dpop's withDpop(), or your own) sends each request
// that carries the token, and the token sources that make token requests ask it too. An app without
// a binding ships only this file's few lines.
import type { HttpEvent, HttpHandlerFn, HttpRequest } from '@angular/common/http';
import { InjectionToken, Provider, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { ɵTOKEN_NAME } from './config';
import { FreshTokenFeature, FreshTokenFeatureKind, ɵfeature } from './feature';
import { ɵerror } from './errors';

/**
 * What binds a token to a key the browser holds (DPoP): sends a request that carries `token` — or,
 * with `token` `null`, a token request of a source — with the headers the binding needs
 * (`Authorization: DPoP <token>` and a fresh proof), retrying it itself when the server asks for a
 * nonce. `next` is below the interceptor, so nothing it sends is intercepted again.
 *
 * @example
 * const binding: TokenBinding = { send: (req, next, token) => next(req.clone({ setHeaders: { Authorization: `DPoP ${token}`, DPoP: proof } })) };
 */
export interface TokenBinding {
  /** Sends `req` with `token` (`null`: a token request, no `Authorization`), and any retry the binding's protocol calls for. */
  send(req: HttpRequest<unknown>, next: HttpHandlerFn, token: string | null): Observable<HttpEvent<unknown>>;
  /**
   * Whether a failed request's error means the server rejected the token — then, as for any 401, one shared
   * refresh and one retry. Default: an `HttpErrorResponse` with status 401. DPoP says no for a nonce challenge
   * (`use_dpop_nonce`): a nonce is no reason for a new token. Called as a plain function (no `this`).
   */
  rejectsToken?: (error: unknown) => boolean;
  /**
   * Checks a token endpoint's answer (RFC 6749 §5.1, parsed JSON) that did not pass through {@link TokenBinding.send}
   * — a login's answer the app hands to a source, such as `OAuthSession.signIn()` — and throws a coded
   * `FreshTokenError` for a token this binding cannot send (DPoP: a `token_type` other than `DPoP`,
   * `NFT703`). Sources call it before they keep anything of the answer. Called as a plain function (no `this`).
   *
   * @example
   * inject(FRESH_TOKEN_BINDING, { optional: true, self: true })?.checkTokenResponse?.(loginAnswer);
   */
  checkTokenResponse?: (response: unknown) => void;
}

/**
 * The {@link TokenBinding} of the token whose injector this is, set by {@link withTokenBinding} (read it
 * with `{ optional: true, self: true }`: a named token never uses the default token's binding). Token
 * sources read it to send their token requests through the binding.
 *
 * @example
 * const binding = inject(FRESH_TOKEN_BINDING, { optional: true, self: true });
 */
export const FRESH_TOKEN_BINDING = /* @__PURE__ */ new InjectionToken<TokenBinding>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_BINDING' : '');

/**
 * Binds the token to a key: every request that carries it is sent by the binding, not with the
 * `withAuthHeader()` headers. Use `withDpop()` from `ngx-fresh-token/dpop`; this is the hook it is
 * made with. `binding` runs in an injection context; `providers` are provided beside it.
 *
 * @example
 * provideFreshToken(withTokenSource(source), withTokenBinding(() => myBinding))
 */
export function withTokenBinding(binding: () => TokenBinding, providers: Provider[] = []): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenBinding> {
  if (typeof binding !== 'function') throw ɵerror('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withTokenBinding() takes a factory returning a TokenBinding.' : '');
  return ɵfeature(11 /* TokenBinding */, [{ provide: FRESH_TOKEN_BINDING, useFactory: binding }, ...providers]);
}

/**
 * The name of the token whose injector this is — a `withApiToken()` name — or `null` for the app's
 * default token. Call it in an injection context (a source or binding factory) to keep what belongs to
 * one token apart from another's (a key, a storage entry).
 *
 * @example
 * withTokenSource(() => { const name = injectTokenName() ?? 'default'; return mySource(name); })
 */
export function injectTokenName(): string | null {
  return inject(ɵTOKEN_NAME, { optional: true }) ?? null;
}
