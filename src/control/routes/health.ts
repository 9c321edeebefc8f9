// GET /health — liveness/readiness for probes: 200 or 503. Without credentials the body is only
// {"ok": true|false}; the breakdown (members, engine, ...) needs `Authorization: Bearer <operator token>`,
// so a stranger learns nothing about the mesh from it.
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function healthRoute(p: Pick<ControlProviders, 'health'>) {
  return defineRoute<undefined>({
    name: 'health',
    method: 'GET',
    path: '/health',
    auth: false,
    async handle({ operator }) {
      const report = await p.health();
      return { status: report.ok ? 200 : 503, body: operator ? report : { ok: report.ok } };
    },
  });
}
