// ChaCha20-Poly1305 with WireGuard's nonce (4 zero bytes, then the 64-bit little-endian counter) on
// Node's own OpenSSL: <openssl/evp.h> resolves to the headers under --nodedir and the symbols come from
// the node binary, so nothing is linked or downloaded. One instance per thread: the cipher contexts
// are initialised once and only re-keyed per packet.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>

#include "fastpath.h"

namespace fp {

class Aead {
 public:
  Aead() : enc_(EVP_CIPHER_CTX_new()), dec_(EVP_CIPHER_CTX_new()) {
    ok_ = enc_ != nullptr && dec_ != nullptr &&
          EVP_EncryptInit_ex(enc_, EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) == 1 &&
          EVP_DecryptInit_ex(dec_, EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) == 1;
  }
  ~Aead() {
    EVP_CIPHER_CTX_free(enc_);
    EVP_CIPHER_CTX_free(dec_);
  }
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;
  bool ok() const { return ok_; }

  // Encrypts p[0..n) in place and writes the tag at p + n.
  bool Seal(const uint8_t* key, uint64_t counter, uint8_t* p, size_t n) {
    uint8_t nonce[12];
    Nonce(counter, nonce);
    int outl = 0;
    if (EVP_EncryptInit_ex(enc_, nullptr, nullptr, key, nonce) != 1) return false;
    if (n > 0 && EVP_EncryptUpdate(enc_, p, &outl, p, static_cast<int>(n)) != 1) return false;
    if (EVP_EncryptFinal_ex(enc_, p + n, &outl) != 1) return false;
    return EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_AEAD_GET_TAG, kWgMessageAeadTagSize, p + n) == 1;
  }

  // Decrypts p[0..n) in place when the tag at p + n verifies; false (p undefined) otherwise.
  bool Open(const uint8_t* key, uint64_t counter, uint8_t* p, size_t n) {
    uint8_t nonce[12];
    Nonce(counter, nonce);
    int outl = 0;
    if (EVP_DecryptInit_ex(dec_, nullptr, nullptr, key, nonce) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_AEAD_SET_TAG, kWgMessageAeadTagSize, p + n) != 1) return false;
    if (n > 0 && EVP_DecryptUpdate(dec_, p, &outl, p, static_cast<int>(n)) != 1) return false;
    uint8_t scratch[16];
    return EVP_DecryptFinal_ex(dec_, scratch, &outl) == 1;
  }

 private:
  static void Nonce(uint64_t counter, uint8_t nonce[12]) {
    memset(nonce, 0, 4);
    memcpy(nonce + 4, &counter, 8);  // little-endian host
  }
  EVP_CIPHER_CTX* enc_;
  EVP_CIPHER_CTX* dec_;
  bool ok_ = false;
};

// Writes a transport message into `msg`: header, then packet[0..len) (already at msg + 16) padded to
// `padded` bytes with zeros, sealed. Returns the message length.
inline size_t SealTransport(Aead& aead, const Keypair& kp, uint64_t counter, uint8_t* msg, size_t len,
                            size_t padded) {
  msg[0] = kWgMessageTransport;
  msg[1] = msg[2] = msg[3] = 0;
  memcpy(msg + 4, &kp.remoteIndex, 4);
  memcpy(msg + 8, &counter, 8);
  if (padded > len) memset(msg + kWgMessageTransportHeaderSize + len, 0, padded - len);
  if (!aead.Seal(kp.sendKey, counter, msg + kWgMessageTransportHeaderSize, padded)) return 0;
  return kWgMessageTransportHeaderSize + padded + kWgMessageAeadTagSize;
}

}  // namespace fp
