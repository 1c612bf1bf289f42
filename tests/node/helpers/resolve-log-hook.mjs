// Loaded with `node --import` by oauth-server-entry.test.mjs: records every module the process
// resolves (ESM and CommonJS, through a synchronous in-thread module.registerHooks resolve hook)
// and prints them as one `RESOLVED [...]` line on stderr when the process exits.
import { registerHooks } from 'node:module';

const resolved = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    resolved.push({ specifier, url: result.url });
    return result;
  },
});
process.on('exit', () => process.stderr.write(`RESOLVED ${JSON.stringify(resolved)}\n`));
