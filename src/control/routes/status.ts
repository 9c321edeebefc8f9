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
    async handle() {
      return { status: 200, body: await p.status() };
    },
  });
}
