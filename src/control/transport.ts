// Membership over the control API: join goes to POST /v1/join (to=* when only a URL is known), every
// other message to POST /v1/gossip of the member. Implements membership's transport interface.
import { TunmeshError } from '../base/errors.js';
import type { MembershipTransport, Peer, Reply, Request } from '../membership/messages.js';
import type { ControlClient } from './client.js';

export class HttpsTransport implements MembershipTransport {
  readonly #client: ControlClient;

  constructor(client: ControlClient) {
    this.#client = client;
  }

  async send(to: Peer, msg: Request, timeoutMs: number): Promise<Reply> {
    if (msg.type === 'join') {
      const url = typeof to === 'string' ? to : to.apiUrl;
      return this.#client.join(url, msg.record, timeoutMs);
    }
    if (typeof to === 'string') throw new TunmeshError('INTERNAL', 'gossip needs a member record, not a URL');
    return this.#client.gossip(to, msg, timeoutMs);
  }
}
