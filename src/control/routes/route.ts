// One route per file; each exports a factory taking the providers it needs. The server owns everything
// common: size limits, authentication, JSON decoding, response signing, metrics.
import type { z } from 'zod';
import type { Secret } from '../../base/secret.js';
import type { MembershipHandler } from '../../membership/messages.js';

export interface HealthReport {
  /** 200 when true, 503 otherwise; the rest is a breakdown for people. */
  readonly ok: boolean;
  readonly [part: string]: unknown;
}

/** What the daemon plugs into the server. */
export interface ControlProviders {
  health(): HealthReport | Promise<HealthReport>;
  metricsText(): string | Promise<string>;
  /** Whatever `tunmesh status` should show (the daemon fills node + peers). */
  status(): unknown;
  readonly membership: MembershipHandler;
  /** Operator commands (`tunmesh peers/ping/reload`, events); absent = those routes do not exist. */
  readonly ops?: OpsProvider;
}

/** What the operator routes ask the daemon. */
export interface OpsProvider {
  /** The peers table (same rows as status). */
  peers(): unknown;
  /** Round trips through the mesh to a node (by name or overlay address); rejects NOT_FOUND if unknown. */
  ping(node: string, count: number, timeoutMs: number): Promise<unknown>;
  /** Re-reads the config file and applies what reloads live. */
  reload(): Promise<unknown>;
  /** Recent events after a sequence number. */
  events(after: number): unknown;
  /**
   * Swaps this node's static key live when `operatorToken` is this node's operator token; the answer
   * says ok (with the new public key) or why not. Without a key it only checks that a rotation would be
   * accepted (token, engine), so the CLI writes no key file the node would refuse. Absent = no route.
   */
  rotateKey?(privateKey: Secret<Uint8Array> | undefined, operatorToken: Secret<string>): Promise<unknown>;
}

export interface RouteResult {
  readonly status: number;
  /** JSON-serialised unless a string with `contentType`. */
  readonly body: unknown;
  readonly contentType?: string;
}

export interface RouteContext<B> {
  /** The authenticated sender; '' on unauthenticated routes. */
  readonly from: string;
  readonly body: B;
  /** The caller showed the operator token (operator routes always; /health when a bearer token came). */
  readonly operator?: boolean;
}

export interface Route<B = unknown> {
  /** Label for metrics and logs. */
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly auth: boolean;
  /**
   * An operator action: besides the cluster-secret signature it needs the operator token's proof
   * (control/operator-auth.ts), since every member holds the cluster secret.
   */
  readonly operator?: boolean;
  /** Needs a scrape token (control.metricsTokenFile or the operator token) as a bearer: /metrics. */
  readonly scrape?: boolean;
  /** Largest request body (default auth.maxBodyBytes); GET routes take none. */
  readonly maxBodyBytes?: number;
  /** `to=*` accepted (only join: the caller does not know who is behind a bootstrap URL). */
  readonly anyRecipient?: boolean;
  /** Schema of the JSON body (POST routes). */
  readonly body?: z.ZodType<B>;
  handle(ctx: RouteContext<B>): Promise<RouteResult>;
}

/** Ties a route's body type to its handler while letting the server hold a list of routes. */
export function defineRoute<B>(r: Route<B>): Route<unknown> {
  return r as unknown as Route<unknown>;
}
