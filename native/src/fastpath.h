// The data-plane fast path: WireGuard transport messages between a TUN device and a UDP socket on two
// native threads (tx: TUN -> seal -> UDP, rx: UDP -> open -> TUN). Only established sessions run here;
// TypeScript owns handshakes, timers and policy, installs keys and routes, and gets everything else
// through a bounded queue ("punted"). See docs/ARCHITECTURE.md and reference/node-dataplane.md §5.
#pragma once

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fastpath_handshake.h"
#include "fastpath_routes.h"
#include "generated/protocol.h"

namespace fp {

// Protocol numbers and drop reasons come from generated/protocol.h (the TypeScript tables own them).
constexpr size_t kVnetHdrLen = 10;

// struct virtio_net_hdr (linux/virtio_net.h does not compile as C++: a field is called `class`).
struct VnetHdr {
  uint8_t flags;
  uint8_t gsoType;
  uint16_t hdrLen;
  uint16_t gsoSize;
  uint16_t csumStart;
  uint16_t csumOffset;
} __attribute__((packed));
static_assert(sizeof(VnetHdr) == kVnetHdrLen, "virtio_net_hdr is 10 bytes");

constexpr uint8_t kVnetFlagNeedsCsum = 1;
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoTcpV4 = 1;
constexpr uint8_t kGsoUdp = 3;  // UFO, never requested
constexpr uint8_t kGsoTcpV6 = 4;
constexpr uint8_t kGsoUdpL4 = 5;  // USO (Debian's 6.1 uapi headers lack it)
constexpr uint8_t kGsoEcn = 0x80;

int64_t NowNs();

inline uint32_t Le32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;  // x86/arm64 little-endian hosts only (checked in fastpath_io.cc)
}
inline uint64_t Le64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Sliding replay window with the layout and semantics of src/noise/replay.ts (RFC 6479: a ring of
// kWgReplayWindowSize bits, window one 64-bit block less): Check() before opening, Mark() only after the tag
// verified. Used by the rx thread only; test/property/replay-window.compliance.test.ts runs the TypeScript
// window's model check against it.
class Replay {
 public:
  bool Check(uint64_t counter, uint64_t limit) const {
    if (counter >= limit) return false;
    if (counter > last_) return true;
    if (last_ - counter > kWindow) return false;
    return (ring_[(counter >> 6) & kMask] & (1ull << (counter & 63))) == 0;
  }
  void Mark(uint64_t counter) {
    if (counter > last_) {
      uint64_t current = last_ >> 6;
      uint64_t diff = (counter >> 6) - current;
      if (diff > kBlocks) diff = kBlocks;
      for (uint64_t i = 1; i <= diff; i++) ring_[(current + i) & kMask] = 0;
      last_ = counter;
    }
    ring_[(counter >> 6) & kMask] |= 1ull << (counter & 63);
  }

 private:
  static constexpr uint64_t kBlocks = kWgReplayWindowSize / 64;
  static_assert(kWgReplayWindowSize % 64 == 0 && (kBlocks & (kBlocks - 1)) == 0, "whole blocks, a power of two");
  static constexpr uint64_t kMask = kBlocks - 1;
  static constexpr uint64_t kWindow = (kBlocks - 1) * 64;
  uint64_t last_ = 0;
  uint64_t ring_[kBlocks] = {};
};

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
bool SameEndpoint(const Endpoint& e, const sockaddr_storage& a, socklen_t len);

struct Keypair {
  uint32_t localIndex = 0;
  uint32_t remoteIndex = 0;
  uint32_t peerId = 0;
  uint8_t sendKey[kKeyLength];
  uint8_t recvKey[kKeyLength];
  int64_t createdNs = 0;
  // False for a responder's keypair until the initiator used it (key confirmation). The rx thread confirms
  // it on the first authenticated packet (as wireguard-go's responder does) and hands that one packet up
  // so the protocol core rotates too; JS's later confirmKeypair finds it confirmed already. Written by the
  // rx thread under the shared lock, so atomic.
  std::atomic<bool> confirmed{false};
  std::atomic<uint64_t> sendCounter{0};
  Replay replay;  // rx thread only
  ~Keypair();
};

// Counters written by one data thread each, read by JS: on separate cache lines.
struct alignas(64) TxStats {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<int64_t> lastDataNs{0};
};
struct alignas(64) RxStats {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<int64_t> lastDataNs{0};
  std::atomic<int64_t> lastAnyNs{0};
};

struct Peer {
  uint32_t id = 0;
  Endpoint endpoint;
  // The sending keypair, if any: set by JS under the exclusive lock, and by the rx thread (under the shared
  // lock) when it confirms a responder's keypair, while the tx thread reads it.
  std::atomic<Keypair*> current{nullptr};
  std::vector<Keypair*> keypairs;
  TxStats tx;
  RxStats rx;
  // What activity() reported last (JS thread only).
  uint64_t repTxPackets = 0, repTxBytes = 0, repRxPackets = 0, repRxBytes = 0;
  int64_t repTxNs = 0, repRxDataNs = 0, repRxAnyNs = 0;
};

struct Stats {
  std::atomic<uint64_t> tunReads{0}, tunSuperPackets{0}, txPackets{0}, sendCalls{0}, gsoSends{0};
  std::atomic<uint64_t> rxDatagrams{0}, recvCalls{0}, groDatagrams{0}, rxPackets{0}, tunWrites{0}, coalesced{0}, usoWrites{0};
  std::atomic<uint64_t> puntedTun{0}, puntedUdp{0}, puntedInner{0}, resealed{0};
  // Datagrams handed up because their keypair was not confirmed yet (part of puntedUdp): one per
  // responder keypair, the one that confirms it.
  std::atomic<uint64_t> puntedUnconfirmed{0};
  // Cookie replies the rx thread sent (handshakes without a valid mac2 under load).
  std::atomic<uint64_t> cookieReplies{0};
  std::atomic<uint64_t> drops[kDropCount] = {};
  void Drop(int reason, uint64_t n = 1) { drops[reason].fetch_add(n, std::memory_order_relaxed); }
};

struct Options {
  uint32_t mtu = kNetDefaultTunMtu;
  int64_t rejectAfterTimeNs = kWgRejectAfterTimeMs * 1'000'000;
  uint64_t rejectAfterMessages = kWgRejectAfterMessages;
  bool offload = true;
  bool uso = true;  // with offload: ask the TUN for UDP GSO (false: measurements without it)
  bool puntIcmp = false;
  // 2: a tx and an rx thread; 1: one thread polls both the TUN and the socket (fewer wakeups).
  int threads = 2;
};

// Something TypeScript must handle: kind 0 = packet read from the TUN, 1 = datagram from the wire,
// 2 = a decrypted inner packet of peer `peer` that routing policy decides on (a source the native table
// does not route to that peer, or a broadcast/multicast destination), 3 = a handshake message whose mac1
// the rx thread verified (not under load), 4 = one whose mac1 and mac2 it verified (under load).
struct SlowItem {
  uint8_t kind = 0;
  uint32_t peer = 0;
  sockaddr_storage from{};
  socklen_t fromLen = 0;
  std::vector<uint8_t> data;
};
enum : uint8_t { kSlowTun = 0, kSlowUdp = 1, kSlowInner = 2, kSlowHsMac1 = 3, kSlowHsMac2 = 4 };
inline bool HasSource(uint8_t kind) { return kind == kSlowUdp || kind == kSlowHsMac1 || kind == kSlowHsMac2; }

// IPv4 limited broadcast or multicast, IPv6 multicast: the destination of an IP packet of `version`.
inline bool IsMulticastOrBroadcast(const uint8_t* p, int version) {
  if (version == 4) return (p[16] & 0xf0) == 0xe0 || (p[16] == 255 && p[17] == 255 && p[18] == 255 && p[19] == 255);
  return p[24] == 0xff;
}

// Bounded hand-over to JS: drops (and counts) when full; `notify` wakes the JS thread once per drain.
class SlowQueue {
 public:
  static constexpr size_t kMaxItems = 1024;
  static constexpr size_t kMaxBytes = 4u << 20;
  // Returns false when full (the caller counts the drop).
  bool Push(SlowItem&& item, bool* wake);
  std::vector<SlowItem> Take();
  // Items waiting now, and the most that ever waited (at most kMaxItems).
  void Depth(size_t* now, size_t* peak);

 private:
  std::mutex mu_;
  std::vector<SlowItem> items_;
  size_t bytes_ = 0;
  size_t peak_ = 0;
  bool scheduled_ = false;
};

// Reader/writer lock that prefers writers, so a busy data thread cannot starve a key installation.
class RwLock {
 public:
  RwLock();
  ~RwLock();
  void ReadLock() { pthread_rwlock_rdlock(&l_); }
  void WriteLock() { pthread_rwlock_wrlock(&l_); }
  void Unlock() { pthread_rwlock_unlock(&l_); }

 private:
  pthread_rwlock_t l_;
};

class Aead;
class TxPath;
struct TxPathDeleter {
  void operator()(TxPath* t) const;
};

class Core {
 public:
  explicit Core(const Options& o);
  ~Core();

  // Setup (JS thread, before Start).
  std::string OpenTun(const std::string& name, std::string* actualName);
  std::string Bind(const std::string& host, int port);
  int LocalPort() const;

  // Threads. `wakeJs` is called (from a data thread) when the slow queue became non-empty.
  std::string Start(std::function<void()> wakeJs);
  void Stop();

  // Tables (JS thread).
  void SetPeer(uint32_t id, const Endpoint* ep);
  void RemovePeer(uint32_t id);
  bool SetRoutes(uint32_t id, const uint8_t* packed, size_t len);
  bool AddKeypair(uint32_t peerId, uint32_t localIndex, uint32_t remoteIndex, const uint8_t* sendKey,
                  const uint8_t* recvKey, int64_t ageNs, bool confirmed);
  bool ConfirmKeypair(uint32_t localIndex);
  void RemoveKeypair(uint32_t localIndex);

  // Slow-path output (JS thread).
  bool SendTo(const uint8_t* data, size_t len, const Endpoint& to);
  bool SendTransport(uint32_t peerId, const uint8_t* data, size_t len, const Endpoint& to);
  bool WriteTun(const uint8_t* packet, size_t len);

  bool ParseEndpoint(const std::string& host, int port, Endpoint* out) const;
  static std::string FormatHost(const sockaddr_storage& a, socklen_t len, int* port);

  // Seal/open one transport message exactly as the threads do (tests and the reseal path).
  // `bound` (0: none) is the padding bound below the MTU: the smallest route MTU into the TUN (R28).
  static size_t PaddedLength(size_t packetLen, uint32_t mtu, uint32_t bound = 0);

  // Padding bound for the tx thread, set from JS when the routes into the TUN change (0: the MTU).
  std::atomic<uint32_t> paddingMtu{0};

  Options opt;
  Stats stats;
  SlowQueue slow;
  HandshakeGate gate;  // handshake admission on the rx thread (fastpath_handshake.h)
  std::unordered_map<uint32_t, std::unique_ptr<Peer>> peers;  // written by JS under lock
  int tunFd = -1;
  int udpFd = -1;
  bool vnetHdr = false;
  bool tso = false;
  bool uso = false;  // the TUN takes UDP GSO super-packets (TUN_F_USO4/6)
  bool udpGso = false;
  bool udpGro = false;
  int family = AF_INET;

 private:
  friend class TxPath;
  void RunTx();
  void RunRx();
  // Key confirmation by the rx thread (shared lock held): see Keypair::confirmed.
  void ConfirmOnReceive(Keypair* kp, Peer* peer);
  // Reads and sends what the TUN holds; the caller holds txMu_.
  void DrainTun(int maxReads);
  void Punt(uint8_t kind, const uint8_t* data, size_t len, const sockaddr_storage* from, socklen_t fromLen,
            uint32_t peer = 0);

  RwLock lock_;
  std::unordered_map<uint32_t, std::unique_ptr<Keypair>> byIndex_;
  Routes routes_;
  std::function<void()> wakeJs_;
  int wakeFd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread tx_, rx_;
  std::unique_ptr<Aead> jsAead_;  // for SendTransport on the JS thread
  std::mutex txMu_;
  std::unique_ptr<TxPath, TxPathDeleter> txPath_;
};

}  // namespace fp
