// GET /v1/peers — the peers table (`tunmesh peers`): an operator route (signature + operator token).
import type { OpsProvider } from './route.js';
import { defineRoute } from './route.js';

export function peersRoute(p: Pick<OpsProvider, 'peers'>) {
  return defineRoute<undefined>({
    name: 'peers',
    method: 'GET',
    path: '/v1/peers',
    auth: true,
    operator: true,
    async handle() {
      return { status: 200, body: p.peers() };
    },
  });
}
