// Offloads between the fast path and the TUN device (IFF_VNET_HDR): splitting the kernel's TCP/UDP
// super-packets (TSO/USO) into MTU-sized packets before encryption, finishing partial checksums, and the
// reverse on the way in: coalescing consecutive TCP segments of one flow into one super-packet per TUN
// write (what GRO does for a NIC). The logic follows wireguard-go's tun/offload_linux.go.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "fastpath.h"

namespace fp {

// One's-complement sums in memory byte order (RFC 1071: the result is byte-order independent).
uint64_t CsumAdd(const uint8_t* p, size_t n, uint64_t acc);
uint16_t CsumFold(uint64_t acc);
// Sum of the IPv4/IPv6 pseudo header for an L4 segment of `l4len` bytes.
uint64_t PseudoSum(const uint8_t* ip, uint8_t proto, uint32_t l4len);
void SetIpv4Checksum(uint8_t* ip);

// Splits one packet read from a vnet-hdr TUN into plain packets (at most `maxOut`), each written to
// outs[i] (capacity `cap` bytes) with its length in lens[i]. Returns the count, 0 when the packet must
// be dropped (malformed, or a segment larger than `cap`), or -needed when maxOut is too small.
int SplitPacket(const VnetHdr& h, uint8_t* pkt, size_t len, uint8_t* const* outs, size_t cap, uint32_t* lens,
                int maxOut);

// Finishes a CHECKSUM_PARTIAL packet in place (h.flags & NEEDS_CSUM). False when the offsets are bad.
bool FinishChecksum(const VnetHdr& h, uint8_t* pkt, size_t len);

// Collects decrypted packets for the TUN and writes them at Flush(): with vnet headers, consecutive
// TCP segments of a flow go out as one GSO write, and so do consecutive UDP datagrams of a flow (same
// size, the last may be shorter) when the TUN accepts USO (`uso`, Linux >= 6.2). Packets must stay
// valid, with kVnetHdrLen writable bytes in front of them, until Flush().
class TunWriter {
 public:
  TunWriter(int fd, bool vnetHdr, bool coalesce, bool uso, Stats* stats)
      : fd_(fd), vnet_(vnetHdr), coalesce_(coalesce), uso_(uso), stats_(stats) {}
  void Add(uint8_t* p, uint32_t len);
  void Flush();

 private:
  static constexpr int kMaxGroups = 16;
  static constexpr int kMaxSegs = 64;
  struct Group {
    uint8_t* head;  // first packet; its headers become the super-packet's
    uint32_t headLen;
    uint16_t hdrLen;  // IP + TCP/UDP headers
    uint16_t ipLen;
    uint16_t gsoSize;  // payload of the first segment; the others are equal, the last may be shorter
    uint32_t total;    // bytes of the super-packet
    uint32_t nextSeq;
    bool closed;    // a shorter or PSH segment ended it
    uint8_t proto;  // 6 (TCP) or 17 (UDP): may grow; 0: a packet written alone
    int niov;
    iovec iov[kMaxSegs + 1];
  };
  bool TryAppend(Group& g, uint8_t* p, uint32_t len, uint16_t ipLen, uint16_t hdrLen);
  void Write(Group& g);
  void WriteOne(uint8_t* p, uint32_t len);

  int fd_;
  bool vnet_;
  bool coalesce_;
  bool uso_;
  Stats* stats_;
  int n_ = 0;
  Group groups_[kMaxGroups];
};

}  // namespace fp
