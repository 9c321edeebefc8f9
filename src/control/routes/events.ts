// GET /v1/events — the node's recent events (joins, leaves, handshakes, rekeys, fallbacks, reloads); an operator route.
import type { OpsProvider } from './route.js';
import { defineRoute } from './route.js';

export function eventsRoute(p: Pick<OpsProvider, 'events'>) {
  return defineRoute<undefined>({
    name: 'events',
    method: 'GET',
    path: '/v1/events',
    auth: true,
    operator: true,
    async handle() {
      return { status: 200, body: p.events(0) };
    },
  });
}
