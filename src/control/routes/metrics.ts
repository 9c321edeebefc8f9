// GET /metrics — unauthenticated Prometheus text exposition.
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function metricsRoute(p: Pick<ControlProviders, 'metricsText'>) {
  return defineRoute<undefined>({
    name: 'metrics',
    method: 'GET',
    path: '/metrics',
    auth: false,
    async handle() {
      return { status: 200, body: await p.metricsText(), contentType: 'text/plain; version=0.0.4; charset=utf-8' };
    },
  });
}
