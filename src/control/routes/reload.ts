// POST /v1/reload — re-read the config file and apply what reloads live (`tunmesh reload`; SIGHUP does
// the same); an operator route. The answer lists what was applied, what needs a restart and what failed.
import { z } from 'zod';
import type { OpsProvider } from './route.js';
import { defineRoute } from './route.js';

export function reloadRoute(p: Pick<OpsProvider, 'reload'>) {
  return defineRoute<Record<string, never>>({
    name: 'reload',
    method: 'POST',
    path: '/v1/reload',
    auth: true,
    operator: true,
    maxBodyBytes: 1024,
    body: z.object({}).strict(),
    async handle() {
      return { status: 200, body: await p.reload() };
    },
  });
}
