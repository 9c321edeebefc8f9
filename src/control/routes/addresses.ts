// GET /v1/addresses — which overlay addresses the mesh holds, by node: what a joining node asks a
// bootstrap node (whose id it does not know yet, so `to=*`) before it picks a pool address
// (daemon/addresses.ts). Signed with the cluster secret; names and addresses only, which every member
// learns from join and gossip anyway (the rest of status is the operator's: /v1/status).
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

interface StatusShape {
  node?: { name?: unknown; addresses?: unknown };
  peers?: { name?: unknown; kind?: unknown; addresses?: unknown }[];
}

export function addressesRoute(p: Pick<ControlProviders, 'status'>) {
  return defineRoute<undefined>({
    name: 'addresses',
    method: 'GET',
    path: '/v1/addresses',
    auth: true,
    anyRecipient: true,
    async handle() {
      const s = (await p.status()) as StatusShape;
      return {
        status: 200,
        body: {
          node: { name: s.node?.name, addresses: s.node?.addresses },
          peers: (s.peers ?? [])
            .filter((r) => r.kind === 'mesh')
            .map((r) => ({ name: r.name, kind: r.kind, addresses: r.addresses })),
        },
      };
    },
  });
}
