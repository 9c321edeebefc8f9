// Handshake admission on the rx thread, in front of the bounded queue to TypeScript: wireguard-go's
// cookie checker and load detection (whitepaper §5.3, §5.4.7). A flood of initiations — even with a
// valid mac1, from an attacker who knows our public key — must not cost TypeScript work per message,
// or it takes the CPU the data plane needs (R22). So the rx thread meters handshake arrivals, checks
// mac1 and, under load, mac2, and answers a missing mac2 with a cookie reply itself. TypeScript sees
// only handshakes worth a Diffie-Hellman: mac1 verified (not under load) or mac1 and mac2 verified
// (under load; its per-source rate limit still applies), each marked so it does not check them again.
#pragma once

#include <openssl/evp.h>
#include <sys/socket.h>

#include <cstdint>
#include <mutex>

#include "generated/protocol.h"

namespace fp {

// Keyed BLAKE2s with a 16-byte output (WireGuard's MAC) on OpenSSL's BLAKE2SMAC. One per thread.
class Blake2sMac {
 public:
  Blake2sMac();
  ~Blake2sMac();
  Blake2sMac(const Blake2sMac&) = delete;
  Blake2sMac& operator=(const Blake2sMac&) = delete;
  bool ok() const { return ctx_ != nullptr; }
  bool Mac(const uint8_t* key, size_t keyLen, const uint8_t* data, size_t len, uint8_t out[kMacLength]);

 private:
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
};

// HChaCha20 (draft-irtf-cfrg-xchacha §2.2): the subkey step OpenSSL does not expose.
void HChaCha20(const uint8_t key[32], const uint8_t nonce[16], uint8_t out[32]);

// XChaCha20-Poly1305 seal of pt[0..n) with `ad`: writes n + 16 bytes to `out`. `ctx` is reused.
bool XSeal(EVP_CIPHER_CTX* ctx, const uint8_t key[32], const uint8_t nonce[24], const uint8_t* pt, size_t n,
           const uint8_t* ad, size_t adLen, uint8_t* out);

// Arrival-rate load meter with src/noise/load-meter.ts's rule (handshakeLoad in src/base/constants.ts):
// more than kHandshakeLoadPerSlot handshake messages in one slot engages it, and it stays on a while after
// the last excess.
class LoadMeter {
 public:
  void Note(int64_t now);
  bool UnderLoad(int64_t now) const { return now < until_; }

 private:
  static constexpr int kPerSlot = kHandshakeLoadPerSlot;
  static constexpr int64_t kSlotNs = kHandshakeLoadSlotMs * 1'000'000;
  static constexpr int64_t kStickyNs = kHandshakeLoadStickyMs * 1'000'000;
  int64_t slotStart_ = INT64_MIN / 2;
  int count_ = 0;
  int64_t until_ = INT64_MIN / 2;
};

class HandshakeGate {
 public:
  enum Verdict : uint8_t {
    kPass,         // not a handshake message the gate judges (or no keys yet): hand up unchecked
    kAdmitMac1,    // mac1 verified, not under load
    kAdmitMac2,    // under load: mac1 and mac2 verified
    kDropBadMac1,  // under load with a wrong mac1 (otherwise TypeScript counts it)
    kCookie,       // under load without a valid mac2: `reply` holds the cookie reply to send back
  };

  HandshakeGate();
  ~HandshakeGate();
  HandshakeGate(const HandshakeGate&) = delete;
  HandshakeGate& operator=(const HandshakeGate&) = delete;

  // JS thread, any time (a live key rotation changes them): the keys derived from our static public key,
  // and how long a cookie secret lives. Null keys turn the gate off.
  void SetKeys(const uint8_t* mac1Key, const uint8_t* cookieKey, int64_t refreshNs);

  // Rx thread.
  Verdict Admit(const uint8_t* d, size_t len, const sockaddr_storage& from, int64_t now,
                uint8_t reply[kWgMessageCookieReplySize]);

 private:
  bool CookieFor(const sockaddr_storage& from, int64_t now, bool rotate, uint8_t cookie[kMacLength]);

  std::mutex mu_;  // the keys below
  bool enabled_ = false;
  uint8_t mac1Key_[32] = {};
  uint8_t cookieKey_[32] = {};
  int64_t refreshNs_ = kWgCookieRefreshTimeMs * 1'000'000;

  // Rx thread only.
  LoadMeter load_;
  uint8_t secret_[32] = {};
  int64_t secretAt_ = INT64_MIN / 2;
  Blake2sMac mac_;
  EVP_CIPHER_CTX* aead_ = nullptr;
};

}  // namespace fp
