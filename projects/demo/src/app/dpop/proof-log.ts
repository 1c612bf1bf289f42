import { HttpInterceptorFn } from '@angular/common/http';
import { Injectable, inject, signal } from '@angular/core';

/** The decoded DPoP proof of the last request that carried one (header and claims; never the token). */
@Injectable()
export class ProofLog {
  readonly last = signal<{ header: unknown; payload: unknown } | null>(null);
}

const decode = (part: string) => JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))));

/** Runs after freshTokenInterceptor (it sees each attempt, nonce retries included) and records the proof it added. */
export const proofLogInterceptor: HttpInterceptorFn = (req, next) => {
  const proof = req.headers.get('DPoP');
  if (proof) {
    const [header, payload] = proof.split('.');
    inject(ProofLog).last.set({ header: decode(header), payload: decode(payload) });
  }
  return next(req);
};
