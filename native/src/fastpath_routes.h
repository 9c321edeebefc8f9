// Crypto-key routing table for the fast path: which peer owns an inner address, longest prefix wins.
// One hash map per prefix length in use, probed from the longest: a mesh uses one or two lengths
// (/32 and /128 per node, maybe a subnet), so a lookup is one or two hash probes whatever the peer
// count. Written by the JS thread under the core's lock, read by the data threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace fp {

struct Addr6 {
  uint64_t hi, lo;
  bool operator==(const Addr6& o) const { return hi == o.hi && lo == o.lo; }
};
struct Addr6Hash {
  size_t operator()(const Addr6& a) const { return std::hash<uint64_t>()(a.hi * 0x9e3779b97f4a7c15ull ^ a.lo); }
};

template <typename K, typename H>
class PrefixTable {
 public:
  // Inserts masked `key`/len -> peer, replacing an equal prefix's owner.
  void Insert(K key, int len, uint32_t peer) {
    auto it = std::find_if(levels_.begin(), levels_.end(), [&](const Level& l) { return l.len == len; });
    if (it == levels_.end()) {
      levels_.push_back(Level{len, {}});
      std::sort(levels_.begin(), levels_.end(), [](const Level& a, const Level& b) { return a.len > b.len; });
      it = std::find_if(levels_.begin(), levels_.end(), [&](const Level& l) { return l.len == len; });
    }
    it->map[key] = peer;
  }
  void RemovePeer(uint32_t peer) {
    for (auto& l : levels_) {
      for (auto it = l.map.begin(); it != l.map.end();) it = it->second == peer ? l.map.erase(it) : std::next(it);
    }
    levels_.erase(std::remove_if(levels_.begin(), levels_.end(), [](const Level& l) { return l.map.empty(); }),
                  levels_.end());
  }
  size_t Size() const {
    size_t n = 0;
    for (const auto& l : levels_) n += l.map.size();
    return n;
  }
  template <typename Mask>
  bool Lookup(const K& addr, Mask mask, uint32_t* peer) const {
    for (const auto& l : levels_) {
      auto it = l.map.find(mask(addr, l.len));
      if (it != l.map.end()) {
        *peer = it->second;
        return true;
      }
    }
    return false;
  }

 private:
  struct Level {
    int len;
    std::unordered_map<K, uint32_t, H> map;
  };
  std::vector<Level> levels_;
};

inline uint32_t Mask4(const uint32_t& a, int len) { return len == 0 ? 0 : a & (~0u << (32 - len)); }
inline Addr6 Mask6(const Addr6& a, int len) {
  if (len == 0) return {0, 0};
  if (len <= 64) return {a.hi & (~0ull << (64 - len)), 0};
  if (len == 128) return a;
  return {a.hi, a.lo & (~0ull << (128 - len))};
}

inline uint32_t Read4(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline Addr6 Read6(const uint8_t* p) {
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; i++) hi = hi << 8 | p[i];
  for (int i = 8; i < 16; i++) lo = lo << 8 | p[i];
  return {hi, lo};
}

class Routes {
 public:
  void Insert4(const uint8_t* addr, int len, uint32_t peer) { v4_.Insert(Mask4(Read4(addr), len), len, peer); }
  void Insert6(const uint8_t* addr, int len, uint32_t peer) { v6_.Insert(Mask6(Read6(addr), len), len, peer); }
  void RemovePeer(uint32_t peer) {
    v4_.RemovePeer(peer);
    v6_.RemovePeer(peer);
  }
  size_t Size() const { return v4_.Size() + v6_.Size(); }
  bool Lookup4(const uint8_t* addr, uint32_t* peer) const { return v4_.Lookup(Read4(addr), Mask4, peer); }
  bool Lookup6(const uint8_t* addr, uint32_t* peer) const { return v6_.Lookup(Read6(addr), Mask6, peer); }

 private:
  PrefixTable<uint32_t, std::hash<uint32_t>> v4_;
  PrefixTable<Addr6, Addr6Hash> v6_;
};

}  // namespace fp
