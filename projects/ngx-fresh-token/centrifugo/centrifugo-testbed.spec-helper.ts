// The one TestBed harness of the centrifugo specs (a `.spec-helper.ts` file: imported by specs,
// left out of the library build by tsconfig.lib.json, and no spec file of its own).
import { provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { AuthService, withRefreshRetry } from 'ngx-fresh-token';
import { FreshTokenTestingController, provideFreshTokenTesting } from 'ngx-fresh-token/testing';

/** A zoneless TestBed with the testing source and no retries; returns the service and controller. */
export function setup() {
  TestBed.configureTestingModule({
    providers: [provideZonelessChangeDetection(), provideFreshTokenTesting(withRefreshRetry({ maxAttempts: 1 }))],
  });
  return { auth: TestBed.inject(AuthService), ctrl: TestBed.inject(FreshTokenTestingController) };
}

/** The rejection reason of `promise`; throws when it resolves. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/**
 * Asserts the shape of an error message from this entry: the code once, then the text
 * (`NFT601: No user is signed in…`), never a second code (`NFT202: NFT202: …`).
 */
export function expectMessageShape(err: unknown, code: string): void {
  const message = (err as Error).message;
  expect(message.match(/NFT\d{3}/g)).withContext(message).toEqual([code]);
  expect(message).toMatch(new RegExp(`^${code}: \\S`));
}
