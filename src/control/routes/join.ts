// POST /v1/join — body: the caller's NodeRecord; reply: our record and every live record we know. The
// only route that accepts `to=*`, since a bootstrap URL does not say which node answers it.
import { TunmeshError } from '../../base/errors.js';
import { nodeRecordSchema, type NodeRecord } from '../../membership/record.js';
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function joinRoute(p: Pick<ControlProviders, 'membership'>) {
  return defineRoute<NodeRecord>({
    name: 'join',
    method: 'POST',
    path: '/v1/join',
    auth: true,
    anyRecipient: true,
    // One record: far below the 1 MiB a gossip push may need.
    maxBodyBytes: 64 * 1024,
    body: nodeRecordSchema,
    async handle({ from, body }) {
      if (body.id !== from) throw new TunmeshError('API_BAD_REQUEST', 'record id differs from the sender');
      return { status: 200, body: await p.membership.handleJoin(body, from) };
    },
  });
}
