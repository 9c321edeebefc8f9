// GET /v1/status — what the daemon's status provider returns (node + peers); `tunmesh status` reads it.
// An operator route: the cluster-secret signature and the operator token's proof (every member holds the
// cluster secret; per-peer traffic and endpoints are the operator's to read). Members that need to know
// which overlay addresses are held ask GET /v1/addresses instead.
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function statusRoute(p: Pick<ControlProviders, 'status'>) {
  return defineRoute<undefined>({
    name: 'status',
    method: 'GET',
    path: '/v1/status',
    auth: true,
    operator: true,
    async handle() {
      return { status: 200, body: await p.status() };
    },
  });
}
