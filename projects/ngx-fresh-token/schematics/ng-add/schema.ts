/** Where access tokens come from: one `ng add ngx-fresh-token --pattern=…` choice. */
export type TokenPattern = 'bff-session' | 'bff-proxy' | 'refresh-token' | 'amplify' | 'custom';

/** Options of `ng add ngx-fresh-token` (see schema.json for their prompts and defaults). */
export interface NgAddOptions {
  project?: string;
  pattern?: TokenPattern;
  apiUrls?: string;
  issuer?: string;
  clientId?: string;
  tokenUrl?: string;
  routes?: boolean;
  skipInstall?: boolean;
}
