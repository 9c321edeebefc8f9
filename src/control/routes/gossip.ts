// POST /v1/gossip — membership messages in (ping, ping-req, gossip, sync, push), replies out.
import { TunmeshError } from '../../base/errors.js';
import { gossipRequestSchema, type GossipRequest } from '../../membership/messages.js';
import type { ControlProviders } from './route.js';
import { defineRoute } from './route.js';

export function gossipRoute(p: Pick<ControlProviders, 'membership'>) {
  return defineRoute<GossipRequest>({
    name: 'gossip',
    method: 'POST',
    path: '/v1/gossip',
    auth: true,
    body: gossipRequestSchema,
    async handle({ from, body }) {
      if (body.from !== from) throw new TunmeshError('API_BAD_REQUEST', 'message sender differs from the signer');
      return { status: 200, body: await p.membership.handleGossip(body, from) };
    },
  });
}
