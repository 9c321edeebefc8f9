// insideToOutside: TUN -> route -> seal -> UDP, on its own thread. Reads until the TUN is empty (TCP
// super-packets are split into MTU-sized packets on the way), then seals the batch under the shared
// table lock and sends it with one sendmmsg: consecutive packets to the same endpoint become one
// UDP_SEGMENT (GSO) datagram train. Anything it cannot send itself goes to the slow queue.
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "fastpath.h"
#include "fastpath_crypto.h"
#include "fastpath_offload.h"

namespace fp {

namespace {
constexpr int kTxSlots = 512;
constexpr int kMaxGsoSegs = 64;
constexpr size_t kMaxGsoBytes = 65000;
constexpr size_t kMaxRead = 65535 + kVnetHdrLen;
}  // namespace

struct TxBatch {
  size_t slotSize;
  std::vector<uint8_t> slots;
  std::vector<uint8_t*> plain;  // packet start in each slot, after room for the WireGuard header
  uint32_t lens[kTxSlots];
  uint32_t msgLens[kTxSlots];  // 0: not sent (punted or dropped)
  int endpoint[kTxSlots];      // index into eps
  std::vector<Endpoint> eps;
  std::vector<int> punts;
  int n = 0;
  mmsghdr msgs[kTxSlots];
  iovec iovs[kTxSlots];
  alignas(cmsghdr) uint8_t cmsgs[kTxSlots][CMSG_SPACE(sizeof(uint16_t))];

  explicit TxBatch(uint32_t mtu) {
    slotSize = (kWgMessageTransportHeaderSize + mtu + 16 + kWgMessageAeadTagSize + 63) & ~size_t(63);
    slots.resize(slotSize * kTxSlots);
    plain.resize(kTxSlots);
    for (int i = 0; i < kTxSlots; i++) plain[i] = slots.data() + i * slotSize + kWgMessageTransportHeaderSize;
    eps.reserve(kTxSlots);
    punts.reserve(kTxSlots);
  }
};

// The tx state: one batch, one cipher context. Used by the tx thread, and by the rx thread right after
// it wrote to the TUN (a reply the kernel generated inside that write goes out without waking the tx
// thread: one thread wakeup less per round trip). txMu_ serialises the two, so packets of a flow are
// never read by both threads at once and never reordered.
class TxPath {
 public:
  explicit TxPath(Core& c) : c_(c), b_(c.opt.mtu), staging_(kMaxRead + b_.slotSize) {}
  // Reads the TUN until it is empty (or maxReads), sealing and sending as it goes.
  void Drain(int maxReads);

 private:
  void Flush();
  Core& c_;
  Aead aead_;
  TxBatch b_;
  std::vector<uint8_t> staging_;
};

void Core::DrainTun(int maxReads) { txPath_->Drain(maxReads); }

std::unique_ptr<TxPath, TxPathDeleter> NewTxPath(Core& c) { return std::unique_ptr<TxPath, TxPathDeleter>(new TxPath(c)); }
void TxPathDeleter::operator()(TxPath* t) const { delete t; }

void Core::RunTx() {
  pthread_setname_np(pthread_self(), "tunmesh-tx");  // for perf and top -H
  pollfd fds[2] = {{tunFd, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
  while (!stopping_.load(std::memory_order_relaxed)) {
    int pr = poll(fds, 2, 1000);
    if (pr < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    if (pr <= 0) continue;
    std::lock_guard<std::mutex> g(txMu_);
    txPath_->Drain(1 << 30);
  }
}

// Seals what the batch holds and sends it.
void TxPath::Flush() {
  Core& c = c_;
  TxBatch& b = b_;
  Aead& aead = aead_;
  if (b.n == 0) return;
  int64_t now = NowNs();
  b.eps.clear();
  b.punts.clear();
  Peer* lastPeer = nullptr;
  c.lock_.ReadLock();
  for (int i = 0; i < b.n; i++) {
    uint8_t* p = b.plain[i];
    uint32_t len = b.lens[i];
    b.msgLens[i] = 0;
    int version = len >= 20 ? p[0] >> 4 : 0;
    if ((version == 4 && len < 20) || (version == 6 && len < 40) || (version != 4 && version != 6)) {
      c.stats.Drop(kDropBadInnerPacket);
      continue;
    }
    uint32_t id;
    bool routed = version == 4 ? c.routes_.Lookup4(p + 16, &id) : c.routes_.Lookup6(p + 24, &id);
    uint8_t proto = version == 4 ? p[9] : p[6];
    bool icmp = version == 4 ? proto == 1 : proto == 58;
    auto pit = routed && !IsMulticastOrBroadcast(p, version) && !(icmp && c.opt.puntIcmp) ? c.peers.find(id) : c.peers.end();
    Peer* peer = pit == c.peers.end() ? nullptr : pit->second.get();
    Keypair* kp = peer != nullptr ? peer->current.load(std::memory_order_relaxed) : nullptr;
    // No session, an expired one, or no endpoint: the protocol core decides (stage, handshake, drop).
    if (kp == nullptr || peer->endpoint.len == 0 || now - kp->createdNs >= c.opt.rejectAfterTimeNs) {
      b.punts.push_back(i);
      continue;
    }
    uint64_t counter = kp->sendCounter.fetch_add(1, std::memory_order_relaxed);
    if (counter >= c.opt.rejectAfterMessages) {
      b.punts.push_back(i);
      continue;
    }
    size_t msgLen = SealTransport(aead, *kp, counter, p - kWgMessageTransportHeaderSize, len,
                                  Core::PaddedLength(len, c.opt.mtu, c.paddingMtu.load(std::memory_order_relaxed)));
    if (msgLen == 0) {
      c.stats.Drop(kDropUdpSendFailed);
      continue;
    }
    if (peer != lastPeer) {
      b.eps.push_back(peer->endpoint);
      lastPeer = peer;
    }
    b.endpoint[i] = static_cast<int>(b.eps.size()) - 1;
    b.msgLens[i] = static_cast<uint32_t>(msgLen);
    peer->tx.packets.fetch_add(1, std::memory_order_relaxed);
    peer->tx.bytes.fetch_add(len, std::memory_order_relaxed);
    peer->tx.lastDataNs.store(now, std::memory_order_relaxed);
  }
  c.lock_.Unlock();
  for (int i : b.punts) c.Punt(kSlowTun, b.plain[i], b.lens[i], nullptr, 0);

  // Group consecutive messages to one endpoint into GSO trains: all segments but the last one of a
  // train have the train's segment size, and the last may be shorter.
  int m = 0, k = 0;
  for (int i = 0; i < b.n;) {
    if (b.msgLens[i] == 0) {
      i++;
      continue;
    }
    msghdr& h = b.msgs[m].msg_hdr;
    const Endpoint& ep = b.eps[b.endpoint[i]];
    h = msghdr{};
    h.msg_name = const_cast<sockaddr_storage*>(&ep.addr);
    h.msg_namelen = ep.len;
    h.msg_iov = &b.iovs[k];
    uint32_t seg = b.msgLens[i];
    size_t total = 0;
    int count = 0;
    uint32_t last = seg;
    int j = i;
    for (; j < b.n; j++) {
      uint32_t l = b.msgLens[j];
      if (l == 0) {
        if (count > 0 && c.udpGso) continue;  // a punted packet in between does not end the train
        break;
      }
      if (count > 0 && (!c.udpGso || b.endpoint[j] != b.endpoint[i] || last != seg || l > seg ||
                        count == kMaxGsoSegs || total + l > kMaxGsoBytes))
        break;
      b.iovs[k++] = {b.plain[j] - kWgMessageTransportHeaderSize, l};
      total += l;
      last = l;
      count++;
    }
    h.msg_iovlen = count;
    if (count > 1) {
      h.msg_control = b.cmsgs[m];
      h.msg_controllen = sizeof(b.cmsgs[m]);
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t s = static_cast<uint16_t>(seg);
      memcpy(CMSG_DATA(c), &s, sizeof(s));
    }
    m++;
    i = j;
  }
  for (int off = 0; off < m;) {
    int r = sendmmsg(c.udpFd, b.msgs + off, m - off, 0);
    c.stats.sendCalls.fetch_add(1, std::memory_order_relaxed);
    if (r > 0) {
      for (int x = off; x < off + r; x++) {
        size_t segs = b.msgs[x].msg_hdr.msg_iovlen;
        c.stats.txPackets.fetch_add(segs, std::memory_order_relaxed);
        if (segs > 1) c.stats.gsoSends.fetch_add(1, std::memory_order_relaxed);
      }
      off += r;
      continue;
    }
    if (errno == EINTR) continue;
    // The first message failed. A GSO train the kernel refuses (EIO: no segmentation on this route)
    // goes out one datagram at a time; anything else is dropped.
    msghdr& h = b.msgs[off].msg_hdr;
    if (h.msg_iovlen > 1 && (errno == EIO || errno == EINVAL)) {
      for (size_t s = 0; s < h.msg_iovlen; s++) {
        msghdr one{};
        one.msg_name = h.msg_name;
        one.msg_namelen = h.msg_namelen;
        one.msg_iov = &h.msg_iov[s];
        one.msg_iovlen = 1;
        if (sendmsg(c.udpFd, &one, 0) < 0)
          c.stats.Drop(kDropUdpSendFailed);
        else
          c.stats.txPackets.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      c.stats.Drop(kDropUdpSendFailed, h.msg_iovlen);
    }
    off++;
  }
  b.n = 0;
}

void TxPath::Drain(int maxReads) {
  Core& c = c_;
  TxBatch& b = b_;
  const size_t hdr = c.vnetHdr ? kVnetHdrLen : 0;
  const size_t cap = c.opt.mtu;
  for (int reads = 0; reads < maxReads; reads++) {
    if (b.n == kTxSlots) Flush();
    // The packet lands in the next slot (most are small enough); a super-packet spills into staging.
    uint8_t* base = b.plain[b.n] - hdr;
    size_t first = b.slotSize - kWgMessageTransportHeaderSize + hdr;
    iovec iov[2] = {{base, first}, {staging_.data() + first, kMaxRead - first}};
    ssize_t r = readv(c.tunFd, iov, 2);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: empty (other errors: poll reports them again)
    }
    c.stats.tunReads.fetch_add(1, std::memory_order_relaxed);
    if (static_cast<size_t>(r) <= hdr) continue;
    VnetHdr vh{};
    if (c.vnetHdr) memcpy(&vh, base, kVnetHdrLen);
    uint8_t* pkt = base + hdr;
    size_t len = r - hdr;
    if (static_cast<size_t>(r) > first) {
      memcpy(staging_.data(), base, first);
      pkt = staging_.data() + hdr;
    }
    if (!c.vnetHdr) {
      if (static_cast<size_t>(r) > first || len > cap) {
        c.stats.Drop(kDropBadInnerPacket);
        continue;
      }
      b.lens[b.n++] = static_cast<uint32_t>(len);
      continue;
    }
    if ((vh.gsoType & ~kGsoEcn) != kGsoNone) {
      c.stats.tunSuperPackets.fetch_add(1, std::memory_order_relaxed);
      // Segments are written into the slots from this one on: split from a copy.
      if (pkt != staging_.data() + hdr) {
        memcpy(staging_.data(), base, r);
        pkt = staging_.data() + hdr;
      }
    }
    int got = SplitPacket(vh, pkt, len, &b.plain[b.n], cap, &b.lens[b.n], kTxSlots - b.n);
    if (got < 0) {
      // Not enough free slots (only super-packets, which sit in staging): send, then split again.
      Flush();
      got = SplitPacket(vh, pkt, len, &b.plain[0], cap, &b.lens[0], kTxSlots);
    }
    if (got <= 0) {
      c.stats.Drop(kDropBadInnerPacket);
      continue;
    }
    b.n += got;
  }
  Flush();
}

}  // namespace fp
