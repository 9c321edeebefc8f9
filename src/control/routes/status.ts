// GET /v1/status — what the daemon's status provider returns (node + peers); `tunmesh status` reads it,
// signed with the cluster secret as from=cli.
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function statusRoute(p: Pick<ControlProviders, 'status'>) {
  return defineRoute<undefined>({
    name: 'status',
    method: 'GET',
    path: '/v1/status',
    auth: true,
    // Read-only and still signed with the cluster secret: a joining node asks a bootstrap node whose id it
    // does not know yet which overlay addresses are held (daemon/addresses.ts).
    anyRecipient: true,
    async handle() {
      return { status: 200, body: await p.status() };
    },
  });
}
