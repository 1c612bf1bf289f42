// bff.renderContext(request): the request's session for an Angular SSR render (REQUEST_CONTEXT), built
// from the same in-process calls as the routes: bff.session() for the user, bff.accessToken() for
// tokens (one redemption per session, shared with /session/token and every other render).
import { createSessionRenderContext, type SessionRenderContext } from 'ngx-fresh-token/oauth/server';
import { sha256 } from './crypto';
import type { BffAccessToken, BffAccessTokenOptions, BffSession } from './bff';

/** What {@link createBffRenderContext} needs of the BFF. */
export interface BffRenderSource {
  session(request: Request): Promise<BffSession | null>;
  accessToken(request: Request, options?: BffAccessTokenOptions): Promise<BffAccessToken | null>;
  /** The app's origin: the redirect URI's. */
  origin: string;
}

/** The render context of one request: `{ freshToken: SessionRenderContext }`. */
export async function createBffRenderContext(bff: BffRenderSource, request: Request): Promise<{ freshToken: SessionRenderContext }> {
  const session = await bff.session(request);
  return createSessionRenderContext({
    origin: bff.origin,
    // `sub` always: the page shows whose session it is.
    user: session && { ...session.user, sub: session.sub },
    expiresAt: session?.expiresAt,
    // A forced call names the token it replaces (its SHA-256, as X-Replaces-Token does), so a render
    // whose token was already replaced by a tab or another render gets that one, redeeming nothing.
    // `api`: a named API of createBff's apis (its own token; unknown: NFT413), as /session/token?api= does.
    getToken: async ({ forceRefresh, currentToken, api }) => {
      const replacesToken = forceRefresh && currentToken ? await sha256(currentToken) : null;
      return bff.accessToken(request, { forceRefresh, replacesToken, ...(api !== undefined ? { api } : {}) });
    },
  });
}
