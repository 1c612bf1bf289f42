// The SSR request handler, mounted by the dev backend (projects/demo-server), which also serves
// the static browser files. Angular renders every page; the server holds no user token.
import { AngularNodeAppEngine, createNodeRequestHandler, writeResponseToNodeResponse } from '@angular/ssr/node';

const angularApp = new AngularNodeAppEngine();

export const reqHandler = createNodeRequestHandler(async (req, res, next) => {
  try {
    const response = await angularApp.handle(req);
    if (response) await writeResponseToNodeResponse(response, res);
    else next?.();
  } catch (err) {
    next?.(err);
  }
});
