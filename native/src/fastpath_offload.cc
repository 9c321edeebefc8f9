#include "fastpath_offload.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fp {

namespace {
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpCwr = 0x80;

void StoreL4Checksum(uint8_t* field, uint64_t acc, bool udp) {
  uint16_t c = static_cast<uint16_t>(~CsumFold(acc));
  if (udp && c == 0) c = 0xffff;  // 0 means "no checksum" in UDP
  memcpy(field, &c, 2);
}
}  // namespace

uint64_t CsumAdd(const uint8_t* p, size_t n, uint64_t acc) {
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    acc += (v & 0xffffffffu) + (v >> 32);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t v;
    memcpy(&v, p, 4);
    acc += v;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t v;
    memcpy(&v, p, 2);
    acc += v;
    p += 2;
    n -= 2;
  }
  if (n == 1) acc += p[0];  // the high byte of a big-endian word is the low byte in memory order
  return acc;
}

uint16_t CsumFold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

uint64_t PseudoSum(const uint8_t* ip, uint8_t proto, uint32_t l4len) {
  uint64_t acc = (ip[0] >> 4) == 4 ? CsumAdd(ip + 12, 8, 0) : CsumAdd(ip + 8, 32, 0);
  return acc + htons(proto) + htons(static_cast<uint16_t>(l4len)) + htons(static_cast<uint16_t>(l4len >> 16));
}

void SetIpv4Checksum(uint8_t* ip) {
  size_t ihl = (ip[0] & 15) * 4u;
  ip[10] = ip[11] = 0;
  uint16_t c = static_cast<uint16_t>(~CsumFold(CsumAdd(ip, ihl, 0)));
  memcpy(ip + 10, &c, 2);
}

bool FinishChecksum(const VnetHdr& h, uint8_t* pkt, size_t len) {
  size_t start = h.csumStart, off = h.csumOffset;
  if (start + off + 2 > len) return false;
  // The field holds the pseudo-header sum already (CHECKSUM_PARTIAL); sum the rest over it.
  StoreL4Checksum(pkt + start + off, CsumAdd(pkt + start, len - start, 0), off == 6);
  return true;
}

int SplitPacket(const VnetHdr& h, uint8_t* pkt, size_t len, uint8_t* const* outs, size_t cap, uint32_t* lens,
                int maxOut) {
  uint8_t type = h.gsoType & static_cast<uint8_t>(~kGsoEcn);
  if (type == kGsoNone) {
    if (len > cap || maxOut < 1) return 0;
    if ((h.flags & kVnetFlagNeedsCsum) && !FinishChecksum(h, pkt, len)) return 0;
    if (outs[0] != pkt) memcpy(outs[0], pkt, len);
    lens[0] = static_cast<uint32_t>(len);
    return 1;
  }
  if (type != kGsoTcpV4 && type != kGsoTcpV6 && type != kGsoUdpL4) return 0;
  if (len < 28) return 0;
  int version = pkt[0] >> 4;
  size_t l4 = h.csumStart;
  if (version == 4) {
    if (l4 != (pkt[0] & 15) * 4u || l4 < 20) return 0;
  } else if (version != 6 || l4 < 40) {
    return 0;
  }
  bool tcp = type != kGsoUdpL4;
  if (l4 + (tcp ? 20 : 8) > len) return 0;
  size_t hdr = tcp ? l4 + (pkt[l4 + 12] >> 4) * 4u : l4 + 8;
  if ((tcp && hdr < l4 + 20) || hdr > len) return 0;
  size_t gso = h.gsoSize;
  if (gso == 0 || hdr + gso > cap) return 0;
  size_t payload = len - hdr;
  int nseg = payload == 0 ? 1 : static_cast<int>((payload + gso - 1) / gso);
  if (nseg > maxOut) return -nseg;

  uint32_t seq0 = tcp ? Be32(pkt + l4 + 4) : 0;
  uint16_t id0 = Be16(pkt + 4);
  uint8_t flags0 = tcp ? pkt[l4 + 13] : 0;
  for (int i = 0; i < nseg; i++) {
    size_t off = static_cast<size_t>(i) * gso;
    size_t n = payload - off < gso ? payload - off : gso;
    uint8_t* o = outs[i];
    size_t total = hdr + n;
    memcpy(o, pkt, hdr);
    memcpy(o + hdr, pkt + hdr + off, n);
    if (version == 4) {
      PutBe16(o + 2, static_cast<uint16_t>(total));
      PutBe16(o + 4, static_cast<uint16_t>(id0 + i));
      SetIpv4Checksum(o);
    } else {
      PutBe16(o + 4, static_cast<uint16_t>(total - 40));
    }
    uint32_t l4len = static_cast<uint32_t>(total - l4);
    if (tcp) {
      PutBe32(o + l4 + 4, seq0 + static_cast<uint32_t>(off));
      uint8_t f = flags0;
      if (i != nseg - 1) f &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
      if (i != 0) f &= static_cast<uint8_t>(~kTcpCwr);
      o[l4 + 13] = f;
      o[l4 + 16] = o[l4 + 17] = 0;
      StoreL4Checksum(o + l4 + 16, PseudoSum(o, kProtoTcp, l4len) + CsumAdd(o + l4, l4len, 0), false);
    } else {
      PutBe16(o + l4 + 4, static_cast<uint16_t>(l4len));
      o[l4 + 6] = o[l4 + 7] = 0;
      StoreL4Checksum(o + l4 + 6, PseudoSum(o, kProtoUdp, l4len) + CsumAdd(o + l4, l4len, 0), true);
    }
    lens[i] = static_cast<uint32_t>(total);
  }
  return nseg;
}

// ---- TunWriter ----

void TunWriter::WriteOne(uint8_t* p, uint32_t len) {
  ssize_t r;
  if (vnet_) {
    memset(p - kVnetHdrLen, 0, kVnetHdrLen);
    do r = write(fd_, p - kVnetHdrLen, len + kVnetHdrLen);
    while (r < 0 && errno == EINTR);
  } else {
    do r = write(fd_, p, len);
    while (r < 0 && errno == EINTR);
  }
  if (r < 0) stats_->Drop(kDropTunWriteFailed);
  stats_->tunWrites.fetch_add(1, std::memory_order_relaxed);
}

void TunWriter::Add(uint8_t* p, uint32_t len) {
  if (!vnet_ || !coalesce_) return WriteOne(p, len);
  if (n_ == kMaxGroups) Flush();
  int version = p[0] >> 4;
  uint16_t ipLen = version == 4 ? static_cast<uint16_t>((p[0] & 15) * 4) : 40;
  // What may join a group: TCP segments carrying data with only ACK (and PSH) set, and UDP datagrams
  // when the TUN takes USO; no IPv4 options or fragments, no IPv6 extension headers.
  uint8_t proto = 0;
  if (version == 4 && ipLen == 20 && (Be16(p + 6) & 0x3fff) == 0) proto = p[9];
  if (version == 6) proto = p[6];
  uint16_t hdrLen = 0;
  if (proto == kProtoTcp && len >= ipLen + 20u) {
    hdrLen = static_cast<uint16_t>(ipLen + (p[ipLen + 12] >> 4) * 4);
    uint8_t f = p[ipLen + 13];
    if (hdrLen < ipLen + 20 || hdrLen >= len || (f & ~kTcpPsh) != kTcpAck) proto = 0;
  } else if (proto == kProtoUdp && uso_ && len > ipLen + 8u && Be16(p + ipLen + 4) == len - ipLen) {
    hdrLen = static_cast<uint16_t>(ipLen + 8);
  } else {
    proto = 0;
  }
  if (proto != 0) {
    size_t addrOff = version == 4 ? 12 : 8, addrLen = version == 4 ? 8 : 32;
    for (int i = n_ - 1; i >= 0; i--) {
      Group& g = groups_[i];
      if (g.proto != proto || (g.head[0] >> 4) != version || memcmp(g.head + addrOff, p + addrOff, addrLen) != 0 ||
          memcmp(g.head + g.ipLen, p + ipLen, 4) != 0)
        continue;
      if (TryAppend(g, p, len, ipLen, hdrLen)) return;
      break;  // the flow's latest group cannot take it: start a new one after it (order kept)
    }
  }
  bool tcp = proto == kProtoTcp;
  Group& g = groups_[n_++];
  g.head = p;
  g.headLen = len;
  g.proto = proto;
  g.ipLen = ipLen;
  g.hdrLen = hdrLen;
  g.gsoSize = proto != 0 ? static_cast<uint16_t>(len - hdrLen) : 0;
  g.total = len;
  g.nextSeq = tcp ? Be32(p + ipLen + 4) + (len - hdrLen) : 0;
  g.closed = proto == 0 || (tcp && (p[ipLen + 13] & kTcpPsh) != 0);
  g.niov = 1;
  g.iov[0] = {p - kVnetHdrLen, len + kVnetHdrLen};
}

bool TunWriter::TryAppend(Group& g, uint8_t* p, uint32_t len, uint16_t ipLen, uint16_t hdrLen) {
  bool tcp = g.proto == kProtoTcp;
  // The kernel segments at most 64 UDP datagrams per GSO packet (UDP_MAX_SEGMENTS).
  if (g.closed || g.niov > (tcp ? kMaxSegs : kMaxSegs - 1) || hdrLen != g.hdrLen || ipLen != g.ipLen) return false;
  uint32_t payload = len - hdrLen;
  if (payload == 0 || payload > g.gsoSize || g.total + payload > 65535) return false;
  const uint8_t* h = g.head;
  if ((p[0] >> 4) == 4) {
    if (p[1] != h[1] || p[6] != h[6] || p[7] != h[7] || p[8] != h[8]) return false;  // TOS, flags, TTL
  } else if (memcmp(p, h, 4) != 0 || p[7] != h[7]) {  // traffic class, flow label, hop limit
    return false;
  }
  const uint8_t* t = p + ipLen;
  uint8_t* ht = g.head + ipLen;
  if (tcp) {
    if (Be32(t + 4) != g.nextSeq || memcmp(t + 8, ht + 8, 4) != 0) return false;  // seq follows, same ack
    if (memcmp(t + 20, ht + 20, hdrLen - ipLen - 20) != 0) return false;         // same options (timestamps)
  }
  g.iov[g.niov++] = {p + hdrLen, payload};
  g.total += payload;
  if (tcp) {
    g.nextSeq += payload;
    memcpy(ht + 14, t + 14, 2);  // the latest window
    if (t[13] & kTcpPsh) {
      ht[13] |= kTcpPsh;
      g.closed = true;
    }
  }
  if (payload < g.gsoSize) g.closed = true;
  return true;
}

void TunWriter::Write(Group& g) {
  if (g.niov == 1) return WriteOne(g.head, g.headLen);
  uint8_t* h = g.head;
  bool v4 = (h[0] >> 4) == 4, udp = g.proto == kProtoUdp;
  if (v4) {
    PutBe16(h + 2, static_cast<uint16_t>(g.total));
    SetIpv4Checksum(h);
  } else {
    PutBe16(h + 4, static_cast<uint16_t>(g.total - 40));
  }
  uint32_t l4len = g.total - g.ipLen;
  if (udp) PutBe16(h + g.ipLen + 4, static_cast<uint16_t>(l4len));
  // CHECKSUM_PARTIAL: the field holds the pseudo-header sum and the kernel treats the payload as verified
  // (it was authenticated by the AEAD) exactly as for a GRO'd skb from a NIC; for UDP the kernel's
  // segmentation rewrites each datagram's length and checksum from it.
  uint16_t pseudo = CsumFold(PseudoSum(h, g.proto, l4len));
  memcpy(h + g.ipLen + (udp ? 6 : 16), &pseudo, 2);
  VnetHdr vh{};
  vh.flags = kVnetFlagNeedsCsum;
  vh.gsoType = udp ? kGsoUdpL4 : v4 ? kGsoTcpV4 : kGsoTcpV6;
  vh.hdrLen = g.hdrLen;
  vh.gsoSize = g.gsoSize;
  vh.csumStart = g.ipLen;
  vh.csumOffset = udp ? 6 : 16;
  memcpy(h - kVnetHdrLen, &vh, kVnetHdrLen);
  ssize_t r;
  do r = writev(fd_, g.iov, g.niov);
  while (r < 0 && errno == EINTR);
  if (r < 0) stats_->Drop(kDropTunWriteFailed, g.niov);
  stats_->tunWrites.fetch_add(1, std::memory_order_relaxed);
  stats_->coalesced.fetch_add(g.niov, std::memory_order_relaxed);
  if (udp) stats_->usoWrites.fetch_add(1, std::memory_order_relaxed);
}

void TunWriter::Flush() {
  for (int i = 0; i < n_; i++) Write(groups_[i]);
  n_ = 0;
}

}  // namespace fp
