// Nodes behind a NAT and nodes that move (roam), on the data-plane side. A node with `reach: outbound`
// announces no UDP endpoint unless wireguard.advertise names one (self-record.ts): its peers learn its
// translated endpoint from its first authenticated packet, which its persistent keepalive sends within
// natKeepaliveSec of start. Which endpoint a member's peer gets from its record:
//  - none when there is none (as above), and none when the record's endpoints did not change since the peer was installed: a record update
//    (a heartbeat, new groups...) must not overwrite the endpoint the peer roamed to, which WgDevice learned
//    from authenticated packets (the native and JS engines keep the current endpoint when given none);
//  - the record's first usable endpoint otherwise (new peer, restarted node, or it announced a new address).
// Two outbound nodes have no path to each other (no relay, no hole punching): reported, not silent.
import { net } from '../base/constants.js';
import type { Logger } from '../base/log.js';
import type { Config } from '../config/index.js';
import type { PeerSpec } from '../dataplane/engine.js';
import { isOutboundOnly } from '../membership/reachability.js';
import type { NodeRecord } from '../membership/record.js';

/** Keepalive for every mesh peer: the configured one, or natKeepaliveSec behind a NAT when unset (0). */
export function effectiveKeepaliveSec(config: Config): number {
  const set = config.wireguard.persistentKeepaliveSec;
  return set > 0 ? set : config.node.reach === 'outbound' ? net.natKeepaliveSec : 0;
}

/** Why there is no path between this node and `r`, or undefined when there can be one. */
export function noPathReason(self: NodeRecord | undefined, r: NodeRecord): string | undefined {
  if (isOutboundOnly(self) && isOutboundOnly(r))
    return 'no path: both nodes are behind NAT (reach: outbound) and tunmesh has no relay';
  return undefined;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export interface PeerPlan {
  readonly spec: PeerSpec;
  /** Nothing the engine holds would change: skip upsertPeer (heartbeats of NATed members every few s). */
  readonly unchanged: boolean;
}

/** Remembers what each member's peer was installed from, to apply the endpoint rules above. */
export class MemberEndpoints {
  readonly #installed = new Map<string, { record: NodeRecord; spec: PeerSpec }>();
  readonly #warned = new Set<string>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * The spec to install for record `r` (built by specFromRecord); `fresh` = the peer is being created
   * (first time, or replaced after a restart or key change).
   */
  plan(self: NodeRecord | undefined, r: NodeRecord, spec: PeerSpec, fresh: boolean): PeerPlan {
    const prev = fresh ? undefined : this.#installed.get(r.id);
    const keepEndpoint = prev !== undefined && sameList(prev.record.endpoints, r.endpoints);
    const out: PeerSpec = keepEndpoint ? { ...spec, endpoint: undefined } : spec;
    const unchanged =
      prev !== undefined &&
      out.endpoint === undefined &&
      sameList(prev.spec.allowedIps, out.allowedIps) &&
      prev.spec.persistentKeepaliveSec === out.persistentKeepaliveSec;
    this.#installed.set(r.id, { record: r, spec: out });
    const why = noPathReason(self, r);
    if (why && !this.#warned.has(r.id)) {
      this.#warned.add(r.id);
      this.#log.warn({ peer: r.id }, `${r.id}: ${why}; traffic between the two is dropped`);
    }
    return { spec: out, unchanged };
  }

  forget(id: string): void {
    this.#installed.delete(id);
    this.#warned.delete(id);
  }
}
