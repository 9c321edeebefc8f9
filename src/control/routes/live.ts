// GET /live — liveness for probes: 200 {"ok":true} whenever the event loop answers, with no credentials
// and nothing else in it. Not /health (503 while a node has no one to join, which a restart would not
// fix) and not /metrics (it needs a bearer token).
import { defineRoute } from './route.js';

export function liveRoute() {
  return defineRoute<undefined>({
    name: 'live',
    method: 'GET',
    path: '/live',
    auth: false,
    async handle() {
      return { status: 200, body: { ok: true } };
    },
  });
}
