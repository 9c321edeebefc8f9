// outsideToInside: UDP -> open -> source check -> TUN, on its own thread. recvmmsg takes a batch of
// datagrams (with UDP_GRO, each may be a train of same-size datagrams, split here); transport messages for
// installed keypairs are opened in place and queued for the TUN, where consecutive TCP segments of a
// flow are written as one super-packet. Handshakes, cookies, unknown indices and the first packet of a
// responder's unconfirmed keypair (verified; it confirms the keypair here) go to the slow queue; so do
// opened inner packets whose source the native table does not route to the sender, or whose destination
// is broadcast/multicast.
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "fastpath.h"
#include "fastpath_crypto.h"
#include "fastpath_offload.h"

namespace fp {

namespace {
struct Punted {
  const uint8_t* data;
  size_t len;
  int from;  // message index
  uint8_t kind;
  uint32_t peer;
};
}  // namespace

// The initiator sent on the responder's keypair: it is confirmed, and becomes the sending keypair unless
// a newer one already is (a handshake this node initiated since: wireguard-go has then moved this one to
// `previous`, which receives but never sends). JS rotates its own state when it sees the handed-up packet
// and its confirmKeypair then finds this done. Only the rx thread writes `confirmed` and `current` under the
// shared lock, and the keypair cannot go away while it is held.
void Core::ConfirmOnReceive(Keypair* kp, Peer* peer) {
  kp->confirmed.store(true, std::memory_order_relaxed);
  Keypair* cur = peer->current.load(std::memory_order_relaxed);
  if (cur == nullptr || cur->createdNs <= kp->createdNs) peer->current.store(kp, std::memory_order_relaxed);
}

void Core::RunRx() {
  pthread_setname_np(pthread_self(), opt.threads > 1 ? "tunmesh-rx" : "tunmesh-txrx");
  Aead aead;
  const int kMsgs = 32;
  const size_t bufSize = udpGro ? 65536 : 16384;
  std::vector<uint8_t> bufs(kMsgs * bufSize);
  std::vector<uint8_t> scratch(65536);
  mmsghdr msgs[kMsgs];
  iovec iovs[kMsgs];
  sockaddr_storage froms[kMsgs];
  alignas(cmsghdr) uint8_t cmsgs[kMsgs][CMSG_SPACE(sizeof(int))];
  std::vector<Punted> punts;
  punts.reserve(256);
  TunWriter writer(tunFd, vnetHdr, vnetHdr, uso, &stats);

  // One datagram: opened in place and queued for the TUN, dropped, or listed for the slow queue.
  auto handle = [&](uint8_t* d, size_t len, int mi, int64_t now) {
    stats.rxDatagrams.fetch_add(1, std::memory_order_relaxed);
    const sockaddr_storage& from = froms[mi];
    socklen_t fromLen = msgs[mi].msg_hdr.msg_namelen;
    if (len < 4) return stats.Drop(kDropShortPacket);
    if (d[0] != kWgMessageTransport || d[1] != 0 || d[2] != 0 || d[3] != 0) {
      uint8_t reply[kWgMessageCookieReplySize];
      switch (gate.Admit(d, len, from, now, reply)) {
        case HandshakeGate::kAdmitMac1:
          return punts.push_back({d, len, mi, kSlowHsMac1, 0});
        case HandshakeGate::kAdmitMac2:
          return punts.push_back({d, len, mi, kSlowHsMac2, 0});
        case HandshakeGate::kDropBadMac1:
          return stats.Drop(kDropBadMac1);
        case HandshakeGate::kCookie:
          // Counted like TypeScript counts it: the initiation is dropped for want of mac2, a reply goes back.
          stats.Drop(kDropBadMac2);
          if (sendto(udpFd, reply, sizeof(reply), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&from), fromLen) !=
              static_cast<ssize_t>(sizeof(reply)))
            return stats.Drop(kDropUdpSendFailed);
          stats.cookieReplies.fetch_add(1, std::memory_order_relaxed);
          return;
        case HandshakeGate::kPass:
          break;
      }
      return punts.push_back({d, len, mi, kSlowUdp, 0});
    }
    if (len < kWgMessageTransportMinSize) return stats.Drop(kDropShortPacket);
    auto it = byIndex_.find(Le32(d + 4));
    if (it == byIndex_.end()) return punts.push_back({d, len, mi, kSlowUdp, 0});
    Keypair* kp = it->second.get();
    if (now - kp->createdNs > opt.rejectAfterTimeNs) return stats.Drop(kDropExpiredKeypair);
    uint64_t counter = Le64(d + 8);
    if (!kp->replay.Check(counter, opt.rejectAfterMessages)) return stats.Drop(kDropReplayed);
    Peer* peer = peers.find(kp->peerId)->second.get();
    size_t n = len - kWgMessageTransportHeaderSize - kWgMessageAeadTagSize;
    // Key confirmation and roaming are protocol decisions: verify (so the replay window stays complete),
    // then hand the untouched datagram up.
    bool confirmed = kp->confirmed.load(std::memory_order_relaxed);
    if (!confirmed || !SameEndpoint(peer->endpoint, from, fromLen)) {
      memcpy(scratch.data(), d, len);
      if (!aead.Open(kp->recvKey, counter, scratch.data() + kWgMessageTransportHeaderSize, n))
        return stats.Drop(kDropDecryptFailed);
      kp->replay.Mark(counter);
      if (!confirmed) {
        // This packet (now marked in the window, so never opened here again) goes up alone; the
        // following ones are delivered here instead of queueing behind it in JS and being overtaken.
        ConfirmOnReceive(kp, peer);
        stats.puntedUnconfirmed.fetch_add(1, std::memory_order_relaxed);
      }
      return punts.push_back({d, len, mi, kSlowUdp, 0});
    }
    uint8_t* p = d + kWgMessageTransportHeaderSize;
    if (!aead.Open(kp->recvKey, counter, p, n)) return stats.Drop(kDropDecryptFailed);
    kp->replay.Mark(counter);
    peer->rx.lastAnyNs.store(now, std::memory_order_relaxed);
    if (n == 0) return;  // keepalive
    int version = p[0] >> 4;
    uint32_t total;
    const uint8_t* src;
    if (version == 4 && n >= 20) {
      total = Be16(p + 2);
      src = p + 12;
      if (total < 20 || total > n) return stats.Drop(kDropBadInnerPacket);
    } else if (version == 6 && n >= 40) {
      total = 40u + Be16(p + 4);
      src = p + 8;
      if (total > n) return stats.Drop(kDropBadInnerPacket);
    } else {
      return stats.Drop(kDropBadInnerPacket);
    }
    // Data received (wireguard-go counts it before the source check, for the keepalive timer).
    peer->rx.lastDataNs.store(now, std::memory_order_relaxed);
    // Crypto-key routing: a peer may send here only from addresses routed to it. Anything else — a
    // source JS may know as an exit's CIDR, or a broadcast/multicast destination (membership) — is
    // routing policy: the authenticated inner packet goes up (kind 2), not counted as delivered here.
    uint32_t owner;
    bool known = version == 4 ? routes_.Lookup4(src, &owner) : routes_.Lookup6(src, &owner);
    if (!known || owner != kp->peerId || IsMulticastOrBroadcast(p, version))
      return punts.push_back({p, total, mi, kSlowInner, kp->peerId});
    peer->rx.packets.fetch_add(1, std::memory_order_relaxed);
    peer->rx.bytes.fetch_add(total, std::memory_order_relaxed);
    stats.rxPackets.fetch_add(1, std::memory_order_relaxed);
    writer.Add(p, total);
  };

  // With one thread, this one also reads the TUN (fds[2]).
  pollfd fds[3] = {{udpFd, POLLIN, 0}, {wakeFd_, POLLIN, 0}, {tunFd, POLLIN, 0}};
  const nfds_t nfds = opt.threads > 1 ? 2 : 3;
  while (!stopping_.load(std::memory_order_relaxed)) {
    int pr = poll(fds, nfds, 1000);
    if (pr < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    if (pr <= 0) continue;
    if (nfds == 3 && fds[2].revents != 0) {
      std::lock_guard<std::mutex> g(txMu_);
      DrainTun(1 << 30);
    }
    if (fds[0].revents == 0) continue;
    for (int round = 0; round < 64; round++) {
      for (int i = 0; i < kMsgs; i++) {
        iovs[i] = {bufs.data() + i * bufSize, bufSize};
        msghdr& h = msgs[i].msg_hdr;
        h = msghdr{};
        h.msg_name = &froms[i];
        h.msg_namelen = sizeof(froms[i]);
        h.msg_iov = &iovs[i];
        h.msg_iovlen = 1;
        h.msg_control = cmsgs[i];
        h.msg_controllen = sizeof(cmsgs[i]);
      }
      int r = recvmmsg(udpFd, msgs, kMsgs, MSG_DONTWAIT, nullptr);
      if (r <= 0) break;
      stats.recvCalls.fetch_add(1, std::memory_order_relaxed);
      int64_t now = NowNs();
      punts.clear();
      lock_.ReadLock();
      for (int i = 0; i < r; i++) {
        msghdr& h = msgs[i].msg_hdr;
        size_t len = msgs[i].msg_len;
        // An empty datagram is input too: counted like the JS engine counts it, never silently skipped.
        if ((h.msg_flags & MSG_TRUNC) || len == 0) {
          stats.Drop(kDropShortPacket);
          continue;
        }
        size_t seg = len;
        for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
          if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int g;
            memcpy(&g, CMSG_DATA(c), sizeof(g));
            if (g > 0) seg = static_cast<size_t>(g);
          }
        }
        if (seg < len) stats.groDatagrams.fetch_add(1, std::memory_order_relaxed);
        uint8_t* d = static_cast<uint8_t*>(iovs[i].iov_base);
        for (size_t off = 0; off < len; off += seg) handle(d + off, len - off < seg ? len - off : seg, i, now);
      }
      lock_.Unlock();
      uint64_t written = stats.tunWrites.load(std::memory_order_relaxed);
      writer.Flush();
      // What the kernel answered inside those writes (an echo reply, a TCP ACK) is in the TUN now: send
      // it from here unless the tx thread is busy anyway.
      if (stats.tunWrites.load(std::memory_order_relaxed) != written && txMu_.try_lock()) {
        DrainTun(64);
        txMu_.unlock();
      }
      for (const Punted& p : punts) Punt(p.kind, p.data, p.len, &froms[p.from], msgs[p.from].msg_hdr.msg_namelen, p.peer);
      if (r < kMsgs) break;
    }
  }
}

}  // namespace fp
