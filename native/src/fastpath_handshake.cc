// See fastpath_handshake.h. Byte-for-byte the rules of src/noise/cookie.ts and device.ts #admitHandshake;
// test/unit/native-handshake-gate.test.ts compares the two.
#include "fastpath_handshake.h"

#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>

namespace fp {

Blake2sMac::Blake2sMac() {
  mac_ = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
  if (mac_ != nullptr) ctx_ = EVP_MAC_CTX_new(mac_);
  if (ctx_ != nullptr) {
    size_t size = kMacLength;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(ctx_, params) != 1) {
      EVP_MAC_CTX_free(ctx_);
      ctx_ = nullptr;
    }
  }
}

Blake2sMac::~Blake2sMac() {
  EVP_MAC_CTX_free(ctx_);
  EVP_MAC_free(mac_);
}

bool Blake2sMac::Mac(const uint8_t* key, size_t keyLen, const uint8_t* data, size_t len, uint8_t out[kMacLength]) {
  if (ctx_ == nullptr) return false;
  size_t outl = 0;
  return EVP_MAC_init(ctx_, key, keyLen, nullptr) == 1 && EVP_MAC_update(ctx_, data, len) == 1 &&
         EVP_MAC_final(ctx_, out, &outl, kMacLength) == 1 && outl == kMacLength;
}

namespace {
inline uint32_t Rotl(uint32_t v, int n) { return v << n | v >> (32 - n); }
inline void QuarterRound(uint32_t* x, int a, int b, int c, int d) {
  x[a] += x[b];
  x[d] = Rotl(x[d] ^ x[a], 16);
  x[c] += x[d];
  x[b] = Rotl(x[b] ^ x[c], 12);
  x[a] += x[b];
  x[d] = Rotl(x[d] ^ x[a], 8);
  x[c] += x[d];
  x[b] = Rotl(x[b] ^ x[c], 7);
}
inline uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
inline void Store32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
}  // namespace

void HChaCha20(const uint8_t key[32], const uint8_t nonce[16], uint8_t out[32]) {
  uint32_t x[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; i++) x[4 + i] = Load32(key + 4 * i);
  for (int i = 0; i < 4; i++) x[12 + i] = Load32(nonce + 4 * i);
  for (int r = 0; r < 10; r++) {
    QuarterRound(x, 0, 4, 8, 12);
    QuarterRound(x, 1, 5, 9, 13);
    QuarterRound(x, 2, 6, 10, 14);
    QuarterRound(x, 3, 7, 11, 15);
    QuarterRound(x, 0, 5, 10, 15);
    QuarterRound(x, 1, 6, 11, 12);
    QuarterRound(x, 2, 7, 8, 13);
    QuarterRound(x, 3, 4, 9, 14);
  }
  for (int i = 0; i < 4; i++) Store32(out + 4 * i, x[i]);
  for (int i = 0; i < 4; i++) Store32(out + 16 + 4 * i, x[12 + i]);
  OPENSSL_cleanse(x, sizeof(x));
}

bool XSeal(EVP_CIPHER_CTX* ctx, const uint8_t key[32], const uint8_t nonce[24], const uint8_t* pt, size_t n,
           const uint8_t* ad, size_t adLen, uint8_t* out) {
  uint8_t subkey[32];
  HChaCha20(key, nonce, subkey);
  uint8_t iv[12] = {0, 0, 0, 0};
  memcpy(iv + 4, nonce + 16, 8);
  int outl = 0;
  bool ok = EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, subkey, iv) == 1 &&
            (adLen == 0 || EVP_EncryptUpdate(ctx, nullptr, &outl, ad, static_cast<int>(adLen)) == 1) &&
            (n == 0 || EVP_EncryptUpdate(ctx, out, &outl, pt, static_cast<int>(n)) == 1) &&
            EVP_EncryptFinal_ex(ctx, out + n, &outl) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + n) == 1;
  OPENSSL_cleanse(subkey, sizeof(subkey));
  return ok;
}

void LoadMeter::Note(int64_t now) {
  if (now - slotStart_ >= kSlotNs) {
    slotStart_ = now;
    count_ = 0;
  }
  if (++count_ > kPerSlot) until_ = now + kStickyNs;
}

HandshakeGate::HandshakeGate() : aead_(EVP_CIPHER_CTX_new()) {}

HandshakeGate::~HandshakeGate() {
  EVP_CIPHER_CTX_free(aead_);
  OPENSSL_cleanse(secret_, sizeof(secret_));
}

void HandshakeGate::SetKeys(const uint8_t* mac1Key, const uint8_t* cookieKey, int64_t refreshNs) {
  std::lock_guard<std::mutex> g(mu_);
  enabled_ = mac1Key != nullptr && cookieKey != nullptr && mac_.ok() && aead_ != nullptr;
  if (!enabled_) return;
  memcpy(mac1Key_, mac1Key, 32);
  memcpy(cookieKey_, cookieKey, 32);
  if (refreshNs > 0) refreshNs_ = refreshNs;
}

// cookie = MAC(secret, address bytes || port little-endian), wireguard-go's AddrPort form (an IPv4-mapped
// IPv6 source counts as its IPv4 address, as the JS side formats it).
bool HandshakeGate::CookieFor(const sockaddr_storage& from, int64_t now, bool rotate, uint8_t cookie[kMacLength]) {
  if (now - secretAt_ > refreshNs_) {
    if (!rotate || RAND_bytes(secret_, sizeof(secret_)) != 1) return false;
    secretAt_ = now;
  }
  uint8_t src[18];
  size_t n;
  uint16_t port;
  if (from.ss_family == AF_INET) {
    auto s = reinterpret_cast<const sockaddr_in*>(&from);
    memcpy(src, &s->sin_addr, 4);
    n = 4;
    port = ntohs(s->sin_port);
  } else {
    auto s = reinterpret_cast<const sockaddr_in6*>(&from);
    bool mapped = IN6_IS_ADDR_V4MAPPED(&s->sin6_addr);
    n = mapped ? 4 : 16;
    memcpy(src, s->sin6_addr.s6_addr + (mapped ? 12 : 0), n);
    port = ntohs(s->sin6_port);
  }
  src[n] = static_cast<uint8_t>(port);
  src[n + 1] = static_cast<uint8_t>(port >> 8);
  return mac_.Mac(secret_, sizeof(secret_), src, n + 2, cookie);
}

HandshakeGate::Verdict HandshakeGate::Admit(const uint8_t* d, size_t len, const sockaddr_storage& from, int64_t now,
                                            uint8_t reply[kWgMessageCookieReplySize]) {
  if (len < 4 || d[1] != 0 || d[2] != 0 || d[3] != 0) return kPass;
  if (!((d[0] == kWgMessageInitiation && len == kWgMessageInitiationSize) ||
        (d[0] == kWgMessageResponse && len == kWgMessageResponseSize)))
    return kPass;
  load_.Note(now);
  uint8_t mac1Key[32], cookieKey[32];
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!enabled_) return kPass;
    memcpy(mac1Key, mac1Key_, 32);
    memcpy(cookieKey, cookieKey_, 32);
  }
  const size_t mac2At = len - kMacLength;
  const size_t mac1At = mac2At - kMacLength;
  const bool loaded = load_.UnderLoad(now);
  uint8_t mac[kMacLength];
  if (!mac_.Mac(mac1Key, 32, d, mac1At, mac) || CRYPTO_memcmp(mac, d + mac1At, kMacLength) != 0)
    return loaded ? kDropBadMac1 : kPass;  // not under load: TypeScript counts it (and knows the newest key)
  if (!loaded) return kAdmitMac1;
  uint8_t cookie[kMacLength];
  if (CookieFor(from, now, false, cookie) && mac_.Mac(cookie, kMacLength, d, mac2At, mac) &&
      CRYPTO_memcmp(mac, d + mac2At, kMacLength) == 0)
    return kAdmitMac2;
  // The reply: type 3, the sender's index as receiver, a random 24-byte nonce, the sealed cookie, with
  // the message's mac1 as associated data.
  if (!CookieFor(from, now, true, cookie)) return kPass;
  memset(reply, 0, 4);
  reply[0] = kWgMessageCookieReply;
  memcpy(reply + 4, d + 4, 4);
  if (RAND_bytes(reply + 8, 24) != 1) return kPass;
  if (!XSeal(aead_, cookieKey, reply + 8, cookie, kMacLength, d + mac1At, kMacLength, reply + 32)) return kPass;
  return kCookie;
}

}  // namespace fp
