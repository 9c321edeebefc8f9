// GET /v1/node — this node's own record.
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function nodeRoute(p: Pick<ControlProviders, 'membership'>) {
  return defineRoute<undefined>({
    name: 'node',
    method: 'GET',
    path: '/v1/node',
    auth: true,
    async handle() {
      return { status: 200, body: p.membership.self() };
    },
  });
}
