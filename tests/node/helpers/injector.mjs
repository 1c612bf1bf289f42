// A root-scoped Angular injector for plain Node scripts (no platform, no DOM), as a server
// process or a CLI would create one. `ɵINJECTOR_SCOPE: 'root'` is what an application injector
// carries, so `providedIn: 'root'` services (HttpClient's internals) resolve in it.
import '@angular/compiler';
import { Injector, createEnvironmentInjector, provideZonelessChangeDetection, ɵINJECTOR_SCOPE } from '@angular/core';

export function createRootInjector(providers) {
  return createEnvironmentInjector(
    [{ provide: ɵINJECTOR_SCOPE, useValue: 'root' }, provideZonelessChangeDetection(), ...providers],
    Injector.NULL,
  );
}
