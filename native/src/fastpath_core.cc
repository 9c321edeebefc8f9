// Fast path setup and the JS-thread side: opening the TUN with offloads, binding the UDP socket, the peer,
// keypair and route tables, the slow-path queue, and the sends TypeScript asks for.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/udp.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "fastpath.h"
#include "fastpath_crypto.h"
#include "tun.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the fast path reads wire fields as little-endian");

namespace fp {

std::unique_ptr<TxPath, TxPathDeleter> NewTxPath(Core& c);

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Keypair::~Keypair() {
  OPENSSL_cleanse(sendKey, sizeof(sendKey));
  OPENSSL_cleanse(recvKey, sizeof(recvKey));
}

bool SameEndpoint(const Endpoint& e, const sockaddr_storage& a, socklen_t len) {
  if (e.len == 0 || e.addr.ss_family != a.ss_family) return false;
  if (a.ss_family == AF_INET) {
    auto x = reinterpret_cast<const sockaddr_in*>(&e.addr), y = reinterpret_cast<const sockaddr_in*>(&a);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  auto x = reinterpret_cast<const sockaddr_in6*>(&e.addr), y = reinterpret_cast<const sockaddr_in6*>(&a);
  (void)len;
  return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

RwLock::RwLock() {
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&l_, &a);
  pthread_rwlockattr_destroy(&a);
}
RwLock::~RwLock() { pthread_rwlock_destroy(&l_); }

bool SlowQueue::Push(SlowItem&& item, bool* wake) {
  std::lock_guard<std::mutex> g(mu_);
  if (items_.size() >= kMaxItems || bytes_ + item.data.size() > kMaxBytes) return false;
  bytes_ += item.data.size();
  items_.push_back(std::move(item));
  if (items_.size() > peak_) peak_ = items_.size();
  *wake = !scheduled_;
  scheduled_ = true;
  return true;
}

void SlowQueue::Depth(size_t* now, size_t* peak) {
  std::lock_guard<std::mutex> g(mu_);
  *now = items_.size();
  *peak = peak_;
}

std::vector<SlowItem> SlowQueue::Take() {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<SlowItem> out;
  out.swap(items_);
  bytes_ = 0;
  scheduled_ = false;
  return out;
}

Core::Core(const Options& o) : opt(o) {}

Core::~Core() {
  Stop();
  if (tunFd >= 0) close(tunFd);
  if (udpFd >= 0) close(udpFd);
}

std::string Core::OpenTun(const std::string& name, std::string* actualName) {
  auto attempt = [&](bool vnet, unsigned offloads, std::string* err) {
    return OpenTunDevice(name, vnet ? static_cast<int>(kVnetHdrLen) : 0, offloads, actualName, err);
  };
  std::string err;
  if (opt.offload) {
    // TSO: the kernel hands over TCP super-packets of up to 64 KB that we split after routing; that saves
    // the per-segment trip through its stack and our read() (the big win, reference §5.3).
    // USO (Linux >= 6.2) lets the rx thread write UDP trains as one packet too; older kernels reject the
    // flag with EINVAL, and the TUN is opened again without it.
    const unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    tunFd = opt.uso ? attempt(true, base | TUN_F_USO4 | TUN_F_USO6, &err) : -1;
    if (tunFd >= 0) {
      vnetHdr = tso = uso = true;
      return "";
    }
    tunFd = attempt(true, base, &err);
    if (tunFd >= 0) {
      vnetHdr = tso = true;
      return "";
    }
  }
  tunFd = attempt(false, 0, &err);
  return tunFd >= 0 ? "" : err;
}

bool Core::ParseEndpoint(const std::string& host, int port, Endpoint* out) const {
  *out = Endpoint{};
  in_addr a4;
  in6_addr a6;
  if (port < 0 || port > 65535) return false;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    if (family == AF_INET) {
      auto s = reinterpret_cast<sockaddr_in*>(&out->addr);
      s->sin_family = AF_INET;
      s->sin_port = htons(static_cast<uint16_t>(port));
      s->sin_addr = a4;
      out->len = sizeof(sockaddr_in);
      return true;
    }
    // Dual-stack socket: IPv4 peers as v4-mapped IPv6 (that is how recvmmsg reports them too).
    auto s = reinterpret_cast<sockaddr_in6*>(&out->addr);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(static_cast<uint16_t>(port));
    s->sin6_addr.s6_addr[10] = s->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s->sin6_addr.s6_addr[12], &a4, 4);
    out->len = sizeof(sockaddr_in6);
    return true;
  }
  if (family == AF_INET6 && inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    auto s = reinterpret_cast<sockaddr_in6*>(&out->addr);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(static_cast<uint16_t>(port));
    s->sin6_addr = a6;
    out->len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::string Core::FormatHost(const sockaddr_storage& a, socklen_t, int* port) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    auto s = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
    *port = ntohs(s->sin_port);
  } else {
    auto s = reinterpret_cast<const sockaddr_in6*>(&a);
    if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr))
      inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], buf, sizeof(buf));
    else
      inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
    *port = ntohs(s->sin6_port);
  }
  return buf;
}

std::string Core::Bind(const std::string& host, int port) {
  in_addr a4;
  in6_addr a6;
  sockaddr_storage ss{};
  socklen_t len;
  bool v6only = true;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    family = AF_INET;
    auto s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(static_cast<uint16_t>(port));
    s->sin_addr = a4;
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    family = AF_INET6;
    v6only = host != "::";
    auto s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(static_cast<uint16_t>(port));
    s->sin6_addr = a6;
    len = sizeof(sockaddr_in6);
  } else {
    return "not an IP literal: " + host;
  }
  // Blocking for the tx thread's sendmmsg (a full send buffer holds the TUN reader back, and the kernel
  // drops at the TUN queue like for any slow reader); receives and JS-thread sends use MSG_DONTWAIT.
  udpFd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (udpFd < 0) return std::string("socket: ") + strerror(errno);
  int one = 1, off = 0;
  if (family == AF_INET6) setsockopt(udpFd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &off, sizeof(int));
  int size = 4 << 20;
  // FORCE works as root (we are, before the privilege drop); the plain option is capped by rmem_max.
  if (setsockopt(udpFd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
    setsockopt(udpFd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  if (setsockopt(udpFd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
    setsockopt(udpFd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  if (bind(udpFd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    std::string e = "bind " + host + " port " + std::to_string(port) + ": " + strerror(errno);
    close(udpFd);
    udpFd = -1;
    return e;
  }
  if (opt.offload) {
    int seg = 1280;
    udpGso = setsockopt(udpFd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) == 0;
    if (udpGso) {
      seg = 0;
      setsockopt(udpFd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg));
    }
    udpGro = setsockopt(udpFd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  }
  return "";
}

int Core::LocalPort() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (udpFd < 0 || getsockname(udpFd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return -1;
  int port = 0;
  FormatHost(ss, len, &port);
  return port;
}

std::string Core::Start(std::function<void()> wakeJs) {
  if (tunFd < 0 || udpFd < 0) return "openTun and bind first";
  if (tx_.joinable()) return "already started";
  jsAead_ = std::make_unique<Aead>();
  if (!jsAead_->ok()) return "OpenSSL ChaCha20-Poly1305 unavailable";
  wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd_ < 0) return std::string("eventfd: ") + strerror(errno);
  wakeJs_ = std::move(wakeJs);
  stopping_ = false;
  txPath_ = NewTxPath(*this);
  if (opt.threads > 1) tx_ = std::thread([this] { RunTx(); });
  rx_ = std::thread([this] { RunRx(); });
  return "";
}

void Core::Stop() {
  if (!tx_.joinable() && !rx_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  if (write(wakeFd_, &one, sizeof(one)) < 0) {
    // cannot fail for an eventfd below its maximum; the threads also poll with a timeout
  }
  if (tx_.joinable()) tx_.join();
  if (rx_.joinable()) rx_.join();
  close(wakeFd_);
  wakeFd_ = -1;
}

void Core::Punt(uint8_t kind, const uint8_t* data, size_t len, const sockaddr_storage* from, socklen_t fromLen,
                uint32_t peer) {
  SlowItem it;
  it.kind = kind;
  it.peer = peer;
  it.data.assign(data, data + len);
  if (from != nullptr) {
    it.from = *from;
    it.fromLen = fromLen;
  }
  bool wake = false;
  if (!slow.Push(std::move(it), &wake)) {
    stats.Drop(kDropQueueFull);
    return;
  }
  (kind == kSlowTun ? stats.puntedTun : HasSource(kind) ? stats.puntedUdp : stats.puntedInner)
      .fetch_add(1, std::memory_order_relaxed);
  if (wake && wakeJs_) wakeJs_();
}

// ---- tables (JS thread; data threads read them under the shared lock) ----

void Core::SetPeer(uint32_t id, const Endpoint* ep) {
  lock_.WriteLock();
  auto& p = peers[id];
  if (!p) {
    p = std::make_unique<Peer>();
    p->id = id;
  }
  if (ep != nullptr) p->endpoint = *ep;
  lock_.Unlock();
}

void Core::RemovePeer(uint32_t id) {
  lock_.WriteLock();
  auto it = peers.find(id);
  if (it != peers.end()) {
    for (Keypair* kp : it->second->keypairs) byIndex_.erase(kp->localIndex);
    routes_.RemovePeer(id);
    peers.erase(it);
  }
  lock_.Unlock();
}

bool Core::SetRoutes(uint32_t id, const uint8_t* packed, size_t len) {
  // Records: family (4|6), prefix length, address (4|16 bytes). Validated before anything changes.
  for (size_t at = 0; at < len;) {
    if (at + 2 > len) return false;
    int fam = packed[at], plen = packed[at + 1];
    size_t alen = fam == 4 ? 4 : fam == 6 ? 16 : 0;
    if (alen == 0 || plen > static_cast<int>(alen * 8) || at + 2 + alen > len) return false;
    at += 2 + alen;
  }
  lock_.WriteLock();
  routes_.RemovePeer(id);
  for (size_t at = 0; at < len;) {
    int fam = packed[at], plen = packed[at + 1];
    if (fam == 4) {
      routes_.Insert4(packed + at + 2, plen, id);
      at += 6;
    } else {
      routes_.Insert6(packed + at + 2, plen, id);
      at += 18;
    }
  }
  lock_.Unlock();
  return true;
}

bool Core::AddKeypair(uint32_t peerId, uint32_t localIndex, uint32_t remoteIndex, const uint8_t* sendKey,
                      const uint8_t* recvKey, int64_t ageNs, bool confirmed) {
  auto kp = std::make_unique<Keypair>();
  kp->localIndex = localIndex;
  kp->remoteIndex = remoteIndex;
  kp->peerId = peerId;
  memcpy(kp->sendKey, sendKey, kKeyLength);
  memcpy(kp->recvKey, recvKey, kKeyLength);
  kp->createdNs = NowNs() - ageNs;
  kp->confirmed = confirmed;
  bool ok = false;
  lock_.WriteLock();
  auto it = peers.find(peerId);
  if (it != peers.end() && byIndex_.find(localIndex) == byIndex_.end()) {
    Peer* p = it->second.get();
    p->keypairs.push_back(kp.get());
    if (confirmed) p->current = kp.get();
    byIndex_[localIndex] = std::move(kp);
    ok = true;
  }
  lock_.Unlock();
  return ok;
}

bool Core::ConfirmKeypair(uint32_t localIndex) {
  bool ok = false;
  lock_.WriteLock();
  auto it = byIndex_.find(localIndex);
  if (it != byIndex_.end()) {
    Keypair* kp = it->second.get();
    kp->confirmed = true;
    auto p = peers.find(kp->peerId);
    if (p != peers.end()) p->second->current = kp;
    ok = true;
  }
  lock_.Unlock();
  return ok;
}

void Core::RemoveKeypair(uint32_t localIndex) {
  lock_.WriteLock();
  auto it = byIndex_.find(localIndex);
  if (it != byIndex_.end()) {
    Keypair* kp = it->second.get();
    auto p = peers.find(kp->peerId);
    if (p != peers.end()) {
      auto& v = p->second->keypairs;
      v.erase(std::remove(v.begin(), v.end(), kp), v.end());
      if (p->second->current == kp) p->second->current = nullptr;
    }
    byIndex_.erase(it);
  }
  lock_.Unlock();
}

// ---- slow-path output (JS thread) ----

bool Core::SendTo(const uint8_t* data, size_t len, const Endpoint& to) {
  if (udpFd < 0 || to.len == 0) return false;
  ssize_t r;
  do r = sendto(udpFd, data, len, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to.addr), to.len);
  while (r < 0 && errno == EINTR);
  if (r < 0) stats.Drop(kDropUdpSendFailed);
  return r >= 0;
}

// A transport message the protocol core sealed itself (keepalives, packets that waited for a handshake)
// used its own counter, which the tx thread does not know: re-seal it under the shared counter so no
// nonce is ever used twice. Opened with the send key, which also proves it is ours.
bool Core::SendTransport(uint32_t peerId, const uint8_t* data, size_t len, const Endpoint& to) {
  if (len < kWgMessageTransportMinSize || data[0] != kWgMessageTransport) return false;
  std::vector<uint8_t> msg(data, data + len);
  uint32_t receiver = Le32(data + 4);
  uint64_t oldCounter = Le64(data + 8);
  Keypair* kp = nullptr;
  auto it = peers.find(peerId);  // JS thread: the only writer, no lock needed to read
  if (it != peers.end()) {
    for (Keypair* k : it->second->keypairs)
      if (k->remoteIndex == receiver) kp = k;
  }
  // Unknown to the fast path (never installed or already retired): its counters were never used here.
  if (kp == nullptr) return SendTo(data, len, to);
  size_t n = len - kWgMessageTransportHeaderSize - kWgMessageAeadTagSize;
  if (!jsAead_->Open(kp->sendKey, oldCounter, msg.data() + kWgMessageTransportHeaderSize, n)) return false;
  uint64_t counter = kp->sendCounter.fetch_add(1, std::memory_order_relaxed);
  if (counter >= opt.rejectAfterMessages) return false;
  if (SealTransport(*jsAead_, *kp, counter, msg.data(), n, n) == 0) return false;
  stats.resealed.fetch_add(1, std::memory_order_relaxed);
  return SendTo(msg.data(), len, to);
}

bool Core::WriteTun(const uint8_t* packet, size_t len) {
  if (tunFd < 0) return false;
  static const uint8_t zero[kVnetHdrLen] = {};
  iovec iov[2] = {{const_cast<uint8_t*>(zero), kVnetHdrLen}, {const_cast<uint8_t*>(packet), len}};
  ssize_t r;
  do r = vnetHdr ? writev(tunFd, iov, 2) : write(tunFd, packet, len);
  while (r < 0 && errno == EINTR);
  if (r < 0) stats.Drop(kDropTunWriteFailed);
  return r >= 0;
}

// Up to the next multiple of the padding block (a power of two).
static size_t PadUp(size_t n) {
  static_assert((kWgPaddingMultiple & (kWgPaddingMultiple - 1)) == 0, "padding block is a power of two");
  return (n + kWgPaddingMultiple - 1) & ~(kWgPaddingMultiple - 1);
}

size_t Core::PaddedLength(size_t packetLen, uint32_t mtu, uint32_t bound) {
  // A route MTU below the tunnel MTU bounds padding, as the kernel's dst_mtu does; a packet already at or
  // past it stays as it is (it fit some larger route). Same rule as paddingSize in src/noise/outbound.ts.
  if (bound != 0 && (mtu == 0 || bound < mtu)) {
    if (packetLen >= bound) return packetLen;
    size_t padded = PadUp(packetLen);
    return padded > bound ? bound : padded;
  }
  // wireguard-go calculatePaddingSize: a multiple of 16, never past the MTU.
  if (mtu == 0) return PadUp(packetLen);
  size_t lastUnit = packetLen > mtu ? packetLen % mtu : packetLen;
  size_t padded = PadUp(lastUnit);
  if (padded > mtu) padded = mtu;
  return packetLen + (padded > lastUnit ? padded - lastUnit : 0);
}

}  // namespace fp
