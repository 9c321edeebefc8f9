// GET /health — unauthenticated liveness/readiness for probes: 200 or 503 with a JSON breakdown.
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function healthRoute(p: Pick<ControlProviders, 'health'>) {
  return defineRoute<undefined>({
    name: 'health',
    method: 'GET',
    path: '/health',
    auth: false,
    async handle() {
      const report = await p.health();
      return { status: report.ok ? 200 : 503, body: report };
    },
  });
}
