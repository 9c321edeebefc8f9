// The daemon's side of route claims (routing/route-claims.ts): which of each member's advertised routes its
// peer is installed with, under this node's cluster.routePolicy. Refusals are counted
// (`routes_refused_total{reason}`), shown in status, and logged at most `logBurst` times a minute (a member
// flapping or a mesh of misconfigured nodes must not flood the log); the rest are summed in one line.
import type { Logger } from '../base/log.js';
import type { NodeRecord } from '../membership/record.js';
import type { Metrics } from '../metrics/registry.js';
import type { Clock } from '../platform/ports.js';
import { RouteClaims, refusalReasons, type RefusedRoute } from '../routing/route-claims.js';
import type { RouteGrant } from '../routing/route-policy.js';

const logWindowMs = 60_000;
const logBurst = 20;

export interface AdvertisedRoutesOptions {
  readonly self: NodeRecord;
  readonly policy: readonly RouteGrant[] | undefined;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly clock: Pick<Clock, 'now'>;
}

export class AdvertisedRoutes {
  readonly #claims: RouteClaims;
  readonly #records = new Map<string, NodeRecord>();
  readonly #self: string;
  readonly #log: Logger;
  readonly #clock: Pick<Clock, 'now'>;
  #windowStart = -Infinity;
  #logged = 0;
  #suppressed = 0;

  constructor(o: AdvertisedRoutesOptions) {
    this.#self = o.self.id;
    this.#log = o.log;
    this.#clock = o.clock;
    this.#claims = new RouteClaims({
      policy: o.policy,
      onRefused: (id, r) => {
        if (id === this.#self) this.#warnSelf(r);
        else {
          o.metrics.inc('routes_refused_total', { reason: r.reason });
          this.#warn(id, r);
        }
      },
    });
    this.#claims.set(o.self.id, o.self);
    o.metrics.collectFrom('routes_refused', () => this.#currentByReason());
    if (o.policy === undefined && o.self.routes.length > 0)
      o.log.warn(
        'cluster.routePolicy is not set: any member may advertise any route that covers no member address (docs/ADDRESSING.md)',
      );
  }

  /**
   * Records member `id`'s live record (undefined: it is down). Returns the records of other members whose
   * installed routes must change (a member joining under their routes, or leaving them).
   */
  member(id: string, record: NodeRecord | undefined): NodeRecord[] {
    if (record) this.#records.set(id, record);
    else this.#records.delete(id);
    return this.#recordsOf(this.#claims.set(id, record));
  }

  /** A new policy (reload): the records of members whose installed routes change. */
  setPolicy(grants: readonly RouteGrant[] | undefined): NodeRecord[] {
    return this.#recordsOf(this.#claims.setPolicy(grants).filter((id) => id !== this.#self));
  }

  accepted(id: string): readonly string[] {
    return this.#claims.accepted(id);
  }

  refused(id: string): readonly RefusedRoute[] {
    return this.#claims.decision(id).refused;
  }

  get policyGrants(): number | undefined {
    return this.#claims.policySize;
  }

  #recordsOf(ids: readonly string[]): NodeRecord[] {
    return ids.flatMap((id) => {
      const r = this.#records.get(id);
      return r ? [r] : [];
    });
  }

  *#currentByReason(): Generator<[{ reason: string }, number]> {
    const counts = new Map<string, number>(Object.keys(refusalReasons).map((k) => [k, 0]));
    for (const [id, list] of this.#claims.refused())
      if (id !== this.#self) for (const r of list) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
    for (const [reason, n] of counts) yield [{ reason }, n];
  }

  #allowLog(): boolean {
    const now = this.#clock.now();
    if (now - this.#windowStart >= logWindowMs) {
      if (this.#suppressed > 0)
        this.#log.warn({ suppressed: this.#suppressed }, `${this.#suppressed} more refused routes were not logged`);
      this.#windowStart = now;
      this.#logged = 0;
      this.#suppressed = 0;
    }
    if (this.#logged < logBurst) {
      this.#logged++;
      return true;
    }
    this.#suppressed++;
    return false;
  }

  #warn(peer: string, r: RefusedRoute): void {
    if (!this.#allowLog()) return;
    const over = r.member ? ` (${r.address} of ${r.member})` : '';
    this.#log.warn(
      { peer, route: r.route, reason: r.reason, ...(r.member && { member: r.member, address: r.address }) },
      `route ${r.route} advertised by ${peer} refused: ${refusalReasons[r.reason]}${over}`,
    );
  }

  #warnSelf(r: RefusedRoute): void {
    if (!this.#allowLog()) return;
    const over = r.member ? ` (${r.address} of ${r.member})` : '';
    this.#log.warn(
      { route: r.route, reason: r.reason },
      `this node's route ${r.route} is refused by nodes with this node's policy: ${refusalReasons[r.reason]}${over}`,
    );
  }
}
