// The built package works from a plain Node script: public names exactly as in DESIGN.md, used
// with a real HttpClient (fetch backend) against a real loopback server.
import { createRootInjector } from './helpers/injector.mjs';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { HttpClient, provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { firstValueFrom } from 'rxjs';
import {
  AuthService,
  freshTokenInterceptor,
  provideFreshToken,
  withAuthorizedUrls,
  withTokenSource,
} from 'ngx-fresh-token';

let server;
let origin;
const seen = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? null);
    const ok = req.headers.authorization === 'Bearer token-2';
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

test('imports the core names from the built package and uses them with HttpClient', async () => {
  let issued = 0;
  const injector = createRootInjector(
    [
      provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor])),
      provideFreshToken(
        withTokenSource({ getToken: async () => ({ accessToken: `token-${++issued}`, expiresAt: Date.now() + 3_600_000 }) }),
        withAuthorizedUrls(origin),
      ),
    ],
  );
  const http = injector.get(HttpClient);
  const auth = injector.get(AuthService);
  // token-1 is refused by the server: one 401, one refresh, one retry with token-2.
  const body = await firstValueFrom(http.get(`${origin}/api`));
  assert.deepEqual(body, { ok: true });
  assert.deepEqual(seen, ['Bearer token-1', 'Bearer token-2']);
  assert.equal(issued, 2);
  assert.equal(auth.state().status, 'fresh');
  injector.destroy();
});
