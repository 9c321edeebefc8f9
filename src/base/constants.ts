// One table of protocol numbers. Units are in the names. Docs and tests read these; nothing else
// hard-codes them.

/** WireGuard protocol timers and limits (whitepaper §6, wireguard-go device/constants.go). */
export const wg = {
  rekeyAfterMessages: 2n ** 60n,
  rejectAfterMessages: 2n ** 64n - 2n ** 13n - 1n,
  rekeyAfterTimeMs: 120_000,
  rejectAfterTimeMs: 180_000,
  rekeyAttemptTimeMs: 90_000,
  rekeyTimeoutMs: 5_000,
  rekeyTimeoutJitterMaxMs: 333,
  keepaliveTimeoutMs: 10_000,
  cookieRefreshTimeMs: 120_000,
  handshakeInitationRateMs: 50,
  /** Replay window in packets; a multiple of 64 so the bitmap is whole words (RFC 6479 layout). */
  replayWindowSize: 8192,
  /** Queued outbound packets per peer while a handshake is pending. */
  stagedPacketsMax: 128,
  /** Size of the per-peer padding block for transport data. */
  paddingMultiple: 16,
} as const;

export const wgMessage = {
  initiation: 1,
  response: 2,
  cookieReply: 3,
  transport: 4,
  initiationSize: 148,
  responseSize: 92,
  cookieReplySize: 64,
  transportHeaderSize: 16,
  transportMinSize: 32,
  aeadTagSize: 16,
} as const;

/**
 * When the handshake path counts as under load (noise/load-meter.ts, and the native rx thread's gate): more
 * than `perSlot` handshake messages within one `slotMs` slot (16 per 125 ms = 128/s), sticky for `stickyMs`
 * after the last excess.
 */
export const handshakeLoad = {
  perSlot: 16,
  slotMs: 125,
  stickyMs: 1000,
} as const;

/** Underlay and tunnel sizes. */
export const net = {
  /**
   * Default tunnel MTU: 1500 (common underlay) - 20 (IPv4) or 40 (IPv6) - 8 (UDP) - 32 (WireGuard
   * header + tag) leaves 1420 on IPv6 underlays; that is what wg-quick picks and it survives Kubernetes
   * overlays that themselves run at 1450 only with IPv4 underlays. 1420 also fits TLS-stream framing.
   */
  defaultTunMtu: 1420,
  minTunMtu: 1280,
  maxTunMtu: 9000,
  maxDatagramSize: 65535,
  /** UDP port on each node's overlay addresses that echoes RTT probes sent through the mesh (daemon/rtt.ts). */
  rttEchoPort: 4568,
  /**
   * A member declared failed keeps its tunnel while traffic from it arrives (daemon/retention.ts). RTT
   * probes cross every tunnel once a second, so three quiet seconds mean the data path is gone too.
   */
  failedPeerQuietMs: 3000,
  /**
   * Persistent keepalive of a node with `node.reach: outbound` when wireguard.persistentKeepaliveSec is 0:
   * 25 s as wg(8) recommends, below the shortest common NAT UDP timeout (30 s).
   */
  natKeepaliveSec: 25,
  /**
   * A member whose record says it started less than this long ago (or one that restarted or changed its key
   * while we knew it) gets a handshake from us at once: its own first initiation may have reached us before
   * its record did and been dropped (unknown key), and it would retry only after REKEY_TIMEOUT (R38).
   */
  greetFreshMemberMs: 30_000,
} as const;

/** Control plane auth. */
export const auth = {
  /** A signed request or response is valid this long either side of its timestamp. */
  clockSkewMs: 30_000,
  nonceBytes: 16,
  /** Remembered nonces; beyond this the oldest are evicted (they are expired by then at sane rates). */
  nonceCacheMax: 100_000,
  maxBodyBytes: 1_048_576,
} as const;

/** Self-signed node records (membership/record-auth.ts, membership/core.ts). */
export const records = {
  /**
   * A record (or suspicion or death) whose epoch is further than this past the receiver's wall clock is
   * refused: epochs are start times, and one far in the future could never be outbid by a real restart.
   * Ten minutes is far beyond sane clock skew between hosts.
   */
  maxFutureEpochMs: 600_000,
  /**
   * A suspicion or death (unsigned: declared by another member) whose version is further than this past the
   * version we hold for that node at the same epoch is refused: real declarations name a version the
   * declarer saw, and one near 2^53 could never be refuted by the node bumping its version.
   */
  maxVersionLead: 2 ** 32,
  /** "Another instance" / "impostor" warnings about this node: at most one per interval, with a count. */
  conflictWarnIntervalMs: 30_000,
  /** Signature checks remembered (by signed bytes), so re-gossiped records are not verified again. */
  verifyCacheEntries: 8192,
  /** Refused new-key records kept per node until their old holder is known dead (then applied). */
  pendingRecordsMax: 64,
} as const;
