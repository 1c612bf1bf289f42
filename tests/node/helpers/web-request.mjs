// Node request → Web Request for the test servers that mount bff.handle() (bff-idp's app server and
// bff-instance's per-process BFF).

/** Node request → Web Request (the body read fully: the BFF's routes take small form/JSON bodies). */
export async function toWebRequest(req, origin) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const init = { method: req.method, headers };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    init.body = Buffer.concat(chunks);
  }
  return new Request(new URL(req.url, origin), init);
}
