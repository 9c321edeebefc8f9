// GET /metrics — Prometheus text exposition. On the API port it needs `Authorization: Bearer <token>`
// (control.metricsTokenFile, or the operator token), checked by the server; with control.metricsListen
// it moves to its own plain-HTTP listener (control/metrics-listener.ts) and the API port answers 404.
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function metricsRoute(p: Pick<ControlProviders, 'metricsText'>) {
  return defineRoute<undefined>({
    name: 'metrics',
    method: 'GET',
    path: '/metrics',
    auth: false,
    scrape: true,
    async handle() {
      return { status: 200, body: await p.metricsText(), contentType: 'text/plain; version=0.0.4; charset=utf-8' };
    },
  });
}
