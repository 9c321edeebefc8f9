// POST /v1/ping {node, count, timeoutMs} — round trips through the mesh from this node to another
// (`tunmesh ping`); an operator route. 404 with a hint when the node is unknown.
import { z } from 'zod';
import { TunmeshError } from '../../base/errors.js';
import type { OpsProvider } from './route.js';
import { defineRoute } from './route.js';

export const pingRequestSchema = z
  .object({
    node: z.string().min(1).max(253),
    count: z.number().int().min(1).max(100).default(3),
    timeoutMs: z.number().int().min(50).max(10_000).default(1000),
  })
  .strict();
export type PingRequest = z.output<typeof pingRequestSchema>;

export function pingRoute(p: Pick<OpsProvider, 'ping'>) {
  return defineRoute<PingRequest>({
    name: 'ping',
    method: 'POST',
    path: '/v1/ping',
    auth: true,
    operator: true,
    maxBodyBytes: 4096,
    body: pingRequestSchema as z.ZodType<PingRequest>,
    async handle({ body }) {
      try {
        return { status: 200, body: await p.ping(body.node, body.count, body.timeoutMs) };
      } catch (e) {
        if (e instanceof TunmeshError && e.code === 'NOT_FOUND')
          return { status: 404, body: { error: 'NOT_FOUND', message: e.message, hint: e.hint } };
        throw e;
      }
    },
  });
}
