// Membership messages and the two interfaces at the edge of this layer: the transport it sends through
// (implemented by control/ over HTTPS and by memory-transport.ts in simulations) and the handler the
// control server calls for incoming messages. Decoding never throws: parseRequest/parseReply return a
// value or undefined.
import { z } from 'zod';
import { nodeIdSchema, nodeRecordSchema, type NodeRecord } from './record.js';

/** Why a node was declared dead: it stopped answering, or it said goodbye. */
export type DeathReason = 'failed' | 'left';

/** A change to disseminate; piggybacked on probe traffic and gossip rounds. */
export type Update =
  | { readonly t: 'alive'; readonly r: NodeRecord }
  | {
      readonly t: 'suspect';
      readonly id: string;
      readonly epoch: number;
      readonly version: number;
      readonly by: string;
    }
  | {
      readonly t: 'dead';
      readonly id: string;
      readonly epoch: number;
      readonly version: number;
      readonly by: string;
      readonly reason: DeathReason;
    };

/** (id, epoch, version, dead?) of one record, for anti-entropy. */
export type DigestEntry = readonly [id: string, epoch: number, version: number, dead: 0 | 1];

export type Request =
  | { readonly type: 'join'; readonly record: NodeRecord }
  | {
      readonly type: 'ping';
      readonly from: string;
      readonly updates: readonly Update[];
      /**
       * Set only to check which instance answers at a held record's URL (core.ts: key continuity): a node
       * whose epoch differs answers `nack`, so a restarted instance does not keep its predecessor alive.
       */
      readonly epoch?: number;
    }
  | { readonly type: 'ping-req'; readonly from: string; readonly target: string; readonly updates: readonly Update[] }
  | { readonly type: 'gossip'; readonly from: string; readonly updates: readonly Update[] }
  | { readonly type: 'sync'; readonly from: string; readonly buckets: readonly string[] }
  | {
      readonly type: 'push';
      readonly from: string;
      readonly updates: readonly Update[];
      readonly want: readonly string[];
    };

export type Reply =
  | { readonly type: 'join-reply'; readonly self: NodeRecord; readonly members: readonly NodeRecord[] }
  | { readonly type: 'ack'; readonly from: string; readonly updates: readonly Update[] }
  /** ping-req: the intermediary could not reach the target. */
  | { readonly type: 'nack'; readonly from: string; readonly updates: readonly Update[] }
  /** `buckets`: indices whose hashes differed; `digest`: the replier's entries in them. */
  | {
      readonly type: 'sync-reply';
      readonly from: string;
      readonly buckets: readonly number[];
      readonly digest: readonly DigestEntry[];
    }
  | { readonly type: 'push-reply'; readonly from: string; readonly updates: readonly Update[] };

export type GossipRequest = Exclude<Request, { type: 'join' }>;
export type JoinReply = Extract<Reply, { type: 'join-reply' }>;

/** A destination: a known member, or a URL (bootstrap, before the id behind it is known). */
export type Peer = NodeRecord | string;

/**
 * How membership reaches other nodes. `send` resolves with the peer's reply or rejects (timeout, refused,
 * authentication failure, bad reply); a rejection is all the core needs to know.
 */
export interface MembershipTransport {
  send(to: Peer, msg: Request, timeoutMs: number): Promise<Reply>;
}

/** What the control server calls for authenticated membership requests; `from` is the authenticated id. */
export interface MembershipHandler {
  self(): NodeRecord;
  handleJoin(record: NodeRecord, from: string): Promise<JoinReply>;
  handleGossip(msg: GossipRequest, from: string): Promise<Reply>;
}

// Bounds keep one message from carrying unbounded work; senders respect them, receivers enforce them.
export const limits = {
  updatesPerMessage: 64,
  recordsPerJoin: 20_000,
  /** Records a join reply carries (a random sample of the live ones); the joiner syncs for the rest. */
  joinReplyRecords: 256,
  digestEntries: 20_000,
  /** Digest entries one sync reply carries at most (whole differing buckets up to this many; see sync-reply.ts). */
  syncReplyEntries: 1024,
  /** Records pushed or wanted in one anti-entropy round (and so updates in push / push-reply). */
  wantPerPush: 512,
  syncBuckets: 64,
} as const;

const counter = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const updateSchema: z.ZodType<Update> = z.discriminatedUnion('t', [
  z.object({ t: z.literal('alive'), r: nodeRecordSchema }).strict(),
  z.object({ t: z.literal('suspect'), id: nodeIdSchema, epoch: counter, version: counter, by: nodeIdSchema }).strict(),
  z
    .object({
      t: z.literal('dead'),
      id: nodeIdSchema,
      epoch: counter,
      version: counter,
      by: nodeIdSchema,
      reason: z.enum(['failed', 'left']),
    })
    .strict(),
]);

const updates = z.array(updateSchema).max(limits.updatesPerMessage);
const bulkUpdates = z.array(updateSchema).max(limits.wantPerPush);

export const gossipRequestSchema: z.ZodType<GossipRequest> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ping'), from: nodeIdSchema, updates, epoch: counter.optional() }).strict(),
  z.object({ type: z.literal('ping-req'), from: nodeIdSchema, target: nodeIdSchema, updates }).strict(),
  z.object({ type: z.literal('gossip'), from: nodeIdSchema, updates }).strict(),
  z
    .object({
      type: z.literal('sync'),
      from: nodeIdSchema,
      buckets: z.array(z.string().max(32)).length(limits.syncBuckets),
    })
    .strict(),
  z
    .object({
      type: z.literal('push'),
      from: nodeIdSchema,
      updates: bulkUpdates,
      want: z.array(nodeIdSchema).max(limits.wantPerPush),
    })
    .strict(),
]);

const digestEntrySchema = z.tuple([nodeIdSchema, counter, counter, z.union([z.literal(0), z.literal(1)])]);

const joinReplyObject = z
  .object({
    type: z.literal('join-reply'),
    self: nodeRecordSchema,
    members: z.array(nodeRecordSchema).max(limits.recordsPerJoin),
  })
  .strict();

export const joinReplySchema: z.ZodType<JoinReply> = joinReplyObject;

export const replySchema: z.ZodType<Reply> = z.discriminatedUnion('type', [
  joinReplyObject,
  z.object({ type: z.literal('ack'), from: nodeIdSchema, updates }).strict(),
  z.object({ type: z.literal('nack'), from: nodeIdSchema, updates }).strict(),
  z
    .object({
      type: z.literal('sync-reply'),
      from: nodeIdSchema,
      buckets: z
        .array(
          z
            .number()
            .int()
            .min(0)
            .max(limits.syncBuckets - 1),
        )
        .max(limits.syncBuckets),
      digest: z.array(digestEntrySchema).max(limits.digestEntries),
    })
    .strict(),
  z.object({ type: z.literal('push-reply'), from: nodeIdSchema, updates: bulkUpdates }).strict(),
]);

export function parseGossipRequest(input: unknown): GossipRequest | undefined {
  const r = gossipRequestSchema.safeParse(input);
  return r.success ? r.data : undefined;
}

export function parseReply(input: unknown): Reply | undefined {
  const r = replySchema.safeParse(input);
  return r.success ? r.data : undefined;
}
