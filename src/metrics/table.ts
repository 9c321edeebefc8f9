// One table of every metric tunmesh exports. The registry is built from it and docs/METRICS.md is
// generated from it; nothing registers a metric anywhere else.

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  readonly kind: MetricKind;
  readonly help: string;
  readonly labels: readonly string[];
  readonly buckets?: readonly number[];
}

/** Every reason a packet or datagram can be dropped; `packets_dropped_total{reason}` uses only these. */
export const dropReasons = {
  short_packet: 'datagram shorter than its message type requires',
  bad_length: 'datagram length does not match its message type',
  unknown_type: 'unknown WireGuard message type',
  bad_mac1: 'handshake message with a wrong mac1',
  bad_mac2: 'under load, handshake message without a valid cookie (mac2)',
  rate_limited: 'handshake message over the per-source rate limit',
  handshake_failed: 'handshake message that failed decryption or validation',
  replayed_handshake: 'handshake initiation whose timestamp is not newer than the last one',
  stale_handshake: 'handshake response or cookie for no pending handshake',
  handshake_crossed:
    'handshake initiation ignored because our own initiation to that peer is in flight and wins the tie-break',
  unknown_receiver: 'transport or response message for an unknown receiver index',
  decrypt_failed: 'transport message whose authentication tag did not verify',
  replayed: 'transport message whose counter was seen already or is below the replay window',
  expired_keypair: 'transport message for a keypair past its reject-after limits',
  source_not_allowed: 'decrypted inner packet whose source address is not in the peer’s allowed IPs',
  bad_inner_packet: 'decrypted inner packet that is not valid IPv4/IPv6',
  no_route: 'outbound packet to an address no peer is allowed for',
  no_session_queue_full: 'outbound packet dropped because the per-peer staging queue was full',
  no_session_timeout:
    'outbound packet dropped while waiting for a session: the handshake gave up after rekeyAttemptTime or keys were zeroed',
  no_common_method: 'outbound packet to a peer with no common transport method',
  stream_queue_full: 'message for a peer on the tls transport while its stream send buffer was full',
  stream_unavailable: 'message for a peer on the tls transport while its stream was not connected',
  null_unknown_sender: 'null-method datagram from a sender that is not a peer using the null method',
  probe_invalid: 'UDP path probe that failed authentication, came from an unknown peer or answered no ping',
  tun_write_failed: 'decrypted packet the TUN device refused',
  udp_send_failed: 'encrypted packet the UDP socket refused',
  queue_full: 'a bounded queue between stages was full',
  loopback: 'outbound packet addressed to this node itself',
  broadcast_disabled: 'broadcast packet while routing.broadcast is off',
  multicast_disabled: 'multicast packet while routing.multicast is off',
  multicast_scope: 'link-local multicast (224.0.0.0/24, ff02::/16) while routing.multicastLinkLocal is off',
  multicast_ttl: 'multicast packet whose TTL / hop limit would not survive the hop across the mesh',
} as const;
export type DropReason = keyof typeof dropReasons;

export const metricTable = {
  peer_transport: {
    kind: 'gauge',
    help: 'Transport of each peer: 1 for the method it uses now (wireguard, tls, null or none: no common method)',
    labels: ['peer', 'method'],
  },
  transport_switches_total: {
    kind: 'counter',
    help: 'Automatic path switches of peers between wireguard (UDP) and the tls stream',
    labels: ['from', 'to'],
  },
  transport_probes_total: {
    kind: 'counter',
    help: 'Authenticated UDP path probes: pings sent, pings answered, pongs received',
    labels: ['kind'],
  },
  transport_streams_total: {
    kind: 'counter',
    help: 'tls transport streams opened (dialed or accepted) and failed dial attempts',
    labels: ['event'],
  },
  fanout_packets_total: {
    kind: 'counter',
    help: 'Copies of broadcast and multicast packets sent to peers, by kind',
    labels: ['kind'],
  },
  packets_dropped_total: {
    kind: 'counter',
    help: 'Packets and datagrams dropped, by reason (see docs/METRICS.md for the reasons)',
    labels: ['reason'],
  },
  peer_rx_bytes_total: { kind: 'counter', help: 'Inner bytes received from a peer', labels: ['peer'] },
  peer_tx_bytes_total: { kind: 'counter', help: 'Inner bytes sent to a peer', labels: ['peer'] },
  peer_rx_packets_total: { kind: 'counter', help: 'Inner packets received from a peer', labels: ['peer'] },
  peer_tx_packets_total: { kind: 'counter', help: 'Inner packets sent to a peer', labels: ['peer'] },
  handshakes_total: {
    kind: 'counter',
    help: 'Completed WireGuard handshakes, by role (initiator or responder)',
    labels: ['peer', 'role'],
  },
  handshake_messages_total: {
    kind: 'counter',
    help: 'Handshake messages sent and received, by type and direction',
    labels: ['type', 'direction'],
  },
  peers: { kind: 'gauge', help: 'Known peers, by state (alive, suspect, dead)', labels: ['state'] },
  control_requests_total: {
    kind: 'counter',
    help: 'Control API requests served, by route and status code',
    labels: ['route', 'status'],
  },
  control_auth_failures_total: {
    kind: 'counter',
    help: 'Control requests or responses that failed authentication, by reason (a request for another node id counts as bad_signature)',
    labels: ['reason'],
  },
  control_connections: {
    kind: 'gauge',
    help: 'Control-port connections held now (upgraded tls streams included)',
    labels: [],
  },
  control_connections_refused_total: {
    kind: 'counter',
    help: 'Control-port connections closed at accept: per_source (the source holds its share) or full (only sources that authenticated before may use the reserve)',
    labels: ['reason'],
  },
  control_body_bytes_in_flight: {
    kind: 'gauge',
    help: 'Request-body bytes the control server has reserved for reading now (beyond control.maxBodyBytesInFlight: 503)',
    labels: [],
  },
  control_operator_failures_total: {
    kind: 'counter',
    help: 'Operator-token checks that failed (API operator routes, dashboard, /health, /metrics), by outcome: wrong, rate_limited, no_token',
    labels: ['outcome'],
  },
  membership_messages_total: {
    kind: 'counter',
    help: 'Membership (gossip) messages, by type and direction',
    labels: ['type', 'direction'],
  },
  membership_events_total: {
    kind: 'counter',
    help: 'Membership changes: joins, updates, failures, leaves',
    labels: ['event'],
  },
  membership_records_refused_total: {
    kind: 'counter',
    help: "Node records refused before they were applied or relayed: malformed or bad signature, a new key for a live node without the old key's statement (key_change), an epoch far in the future (future_epoch), a suspicion or death at a version far past the one held (implausible_version)",
    labels: ['reason'],
  },
  address_conflicts_total: {
    kind: 'counter',
    help: 'Node records refused because an overlay address was already claimed',
    labels: [],
  },
  routes_refused_total: {
    kind: 'counter',
    help: 'Advertised subnet routes refused (not installed) when they became refused, by reason: covers_member (equals or covers another live member’s overlay address), not_granted (cluster.routePolicy grants it to no pattern matching the node), exit_not_granted (covers member addresses without an exit grant)',
    labels: ['reason'],
  },
  routes_refused: {
    kind: 'gauge',
    help: 'Advertised subnet routes of live members refused now, by reason (as routes_refused_total)',
    labels: ['reason'],
  },
  dns_queries_refused_total: {
    kind: 'counter',
    help: 'DNS queries from sources outside dns.allow, refused without an answer',
    labels: [],
  },
  dns_replies_ignored_total: {
    kind: 'counter',
    help: 'Datagrams on a DNS forwarding socket that were not the upstream’s answer (wrong address, port, id or question), ignored',
    labels: [],
  },
  endpoints_refused_total: {
    kind: 'counter',
    help: 'Peer endpoints refused because this node routes them into its own tunnel (a routing loop)',
    labels: [],
  },
  build_info: { kind: 'gauge', help: 'Build information (always 1)', labels: ['version', 'engine'] },
  padding_mtu_bytes: {
    kind: 'gauge',
    help: 'Bound on the padding of transport messages: the tunnel MTU, or the smallest MTU of a route into the TUN when lower (as the kernel bounds it by the route MTU)',
    labels: [],
  },
  fastpath_packets_total: {
    kind: 'counter',
    help: 'Packets the native fast path carried: tx (sealed and sent), rx (opened and written to the TUN), rx_datagrams (transport datagrams received), cookie_replies (sent by the rx thread to handshakes without a valid mac2 under load)',
    labels: ['path'],
  },
  fastpath_syscalls_total: {
    kind: 'counter',
    help: 'System calls of the native fast path threads, by call (tun_read, tun_write, udp_send, udp_recv): packets per call show the batching',
    labels: ['call'],
  },
  fastpath_offload_total: {
    kind: 'counter',
    help: 'Offload use of the native fast path, by kind: tso_reads (super-packets read from the TUN), gso_sends (UDP_SEGMENT trains sent), gro_datagrams (UDP_GRO trains received), coalesced_packets (packets written to the TUN inside a GSO write), uso_writes (UDP GSO writes to the TUN)',
    labels: ['kind'],
  },
  fastpath_punted_total: {
    kind: 'counter',
    help: 'Items the native fast path handed to TypeScript through its bounded queue, by kind (tun, udp, inner) and re-sealed transport messages (resealed); unconfirmed: the datagrams among udp that confirmed a keypair this node responded to (one per keypair)',
    labels: ['kind'],
  },
  fastpath_slow_queue_items: {
    kind: 'gauge',
    help: 'Items in the bounded queue from the native threads to TypeScript (capacity 1024; beyond it they are dropped as queue_full): now, and the peak since start',
    labels: ['stat'],
  },
  fastpath_running: { kind: 'gauge', help: 'Whether the native fast path threads run (1) or not (0)', labels: [] },
} as const satisfies Record<string, MetricDef>;

export type MetricName = keyof typeof metricTable;
export const metricPrefix = 'tunmesh_';
