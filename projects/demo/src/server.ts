// The SSR request handler, mounted by the dev backend (projects/demo-server), which also serves
// the static browser files. Angular renders every page. With a render context (the BFF's
// `bff.renderContext(request)`) a render for a signed-in browser resolves the session in process:
// the page renders signed in, API calls made during the render carry the token, and nothing secret
// goes into the HTML; the response is private, no-store.
import { AngularNodeAppEngine, createNodeRequestHandler, createWebRequestFromNodeRequest, writeResponseToNodeResponse } from '@angular/ssr/node';

const angularApp = new AngularNodeAppEngine();

/** The `REQUEST_CONTEXT` of one render, from its Web request (`bff.renderContext`). */
export type RenderContextFn = (request: Request) => Promise<unknown>;

/** A Node handler that renders with the request's session from `renderContext` (none: signed out on the server). */
export function createSsrHandler(renderContext?: RenderContextFn) {
  return createNodeRequestHandler(async (req, res, next) => {
    try {
      const context = renderContext ? await renderContext(createWebRequestFromNodeRequest(req)) : undefined;
      const response = await angularApp.handle(req, context);
      if (response) await writeResponseToNodeResponse(response, res);
      else next?.();
    } catch (err) {
      next?.(err);
    }
  });
}

export const reqHandler = createSsrHandler();
