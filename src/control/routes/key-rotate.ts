// POST /v1/key/rotate {privateKey, operatorToken} — swap this node's static WireGuard key live
// (`tunmesh keys rotate`); {check: true, operatorToken} only asks whether a rotation would be accepted.
// An operator route like status or reload (signature + the operator token's proof header, checked and
// rate limited by the server), and the body's token is compared once more by the daemon: every node
// holds the cluster secret, and a node that could hand another one a key it chose could impersonate it. Both secrets are wrapped at once and never echoed, logged or
// put in an error; the answer says ok with the new public key, or why the node kept its key.
import { z } from 'zod';
import { Secret } from '../../base/secret.js';
import { decodeKey } from '../../crypto/keys.js';
import type { OpsProvider } from './route.js';
import { defineRoute } from './route.js';

export const keyRotateRequestSchema = z
  .object({
    privateKey: z.string().min(1).max(64).optional(),
    operatorToken: z.string().min(1).max(1024),
    check: z.literal(true).optional(),
  })
  .strict()
  .refine((b) => (b.check === true) !== (b.privateKey !== undefined), 'either privateKey or check');
export type KeyRotateRequest = z.output<typeof keyRotateRequestSchema>;

export function keyRotateRoute(p: Required<Pick<OpsProvider, 'rotateKey'>>) {
  return defineRoute<KeyRotateRequest>({
    name: 'key_rotate',
    method: 'POST',
    path: '/v1/key/rotate',
    auth: true,
    operator: true,
    maxBodyBytes: 4096,
    body: keyRotateRequestSchema as z.ZodType<KeyRotateRequest>,
    async handle({ body }) {
      const token = new Secret(body.operatorToken);
      if (body.check) return { status: 200, body: await p.rotateKey(undefined, token) };
      const key = decodeKey(body.privateKey ?? '');
      if (!key)
        return {
          status: 200,
          body: {
            ok: false,
            code: 'KEY_ROTATION_REFUSED',
            error: 'the new private key is not 32 bytes of base64',
            hint: 'send a key `tunmesh keys generate` makes',
          },
        };
      return { status: 200, body: await p.rotateKey(new Secret(key), token) };
    },
  });
}
