// The JavaScript face of the fast path: class FastPath (setup, tables, slow-path I/O, counters) and
// three pure helpers the unit tests use to check the seal, the TSO split and the TUN coalescing.
#include <napi.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <memory>

#include "fastpath.h"
#include "fastpath_crypto.h"
#include "fastpath_offload.h"

namespace {

using fp::Core;

class FastPath;
void CallSlow(Napi::Env env, Napi::Function fn, FastPath* self, void*);
using Tsfn = Napi::TypedThreadSafeFunction<FastPath, void, CallSlow>;

uint32_t U32(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }

const uint8_t* Bytes(const Napi::Value& v, size_t* len) {
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  *len = ta.ByteLength();
  return static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

bool IsBytes(const Napi::Value& v) { return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array; }

// An integral JS number within [lo, hi] (both at most 2^53 - 1), into *out.
bool IntIn(const Napi::Value& v, double lo, double hi, uint64_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  *out = static_cast<uint64_t>(d);
  return true;
}
constexpr double kMaxSafe = 9007199254740991.0;

// (mac1Key, cookieKey, cookieRefreshMs) from JS into a handshake gate; anything but two 32-byte keys turns
// it off. Returns whether the keys were taken.
bool SetGateKeys(fp::HandshakeGate& gate, const Napi::CallbackInfo& info) {
  size_t l1 = 0, l2 = 0;
  const uint8_t* k1 = info.Length() > 1 && IsBytes(info[0]) ? Bytes(info[0], &l1) : nullptr;
  const uint8_t* k2 = info.Length() > 1 && IsBytes(info[1]) ? Bytes(info[1], &l2) : nullptr;
  int64_t refreshNs = info.Length() > 2 && info[2].IsNumber()
                          ? static_cast<int64_t>(info[2].As<Napi::Number>().DoubleValue() * 1e6)
                          : 0;
  bool ok = l1 == 32 && l2 == 32;
  gate.SetKeys(ok ? k1 : nullptr, ok ? k2 : nullptr, refreshNs);
  return ok;
}

class FastPath : public Napi::ObjectWrap<FastPath> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FastPath",
                       {
                           InstanceMethod("openTun", &FastPath::OpenTun),
                           InstanceMethod("bind", &FastPath::Bind),
                           InstanceMethod("start", &FastPath::Start),
                           InstanceMethod("stop", &FastPath::Stop),
                           InstanceMethod("close", &FastPath::Close),
                           InstanceMethod("setPeer", &FastPath::SetPeer),
                           InstanceMethod("removePeer", &FastPath::RemovePeer),
                           InstanceMethod("setRoutes", &FastPath::SetRoutes),
                           InstanceMethod("addKeypair", &FastPath::AddKeypair),
                           InstanceMethod("confirmKeypair", &FastPath::ConfirmKeypair),
                           InstanceMethod("removeKeypair", &FastPath::RemoveKeypair),
                           InstanceMethod("sendTo", &FastPath::SendTo),
                           InstanceMethod("sendTransport", &FastPath::SendTransport),
                           InstanceMethod("writeTun", &FastPath::WriteTun),
                           InstanceMethod("activity", &FastPath::Activity),
                           InstanceMethod("stats", &FastPath::Stats),
                           InstanceMethod("setPaddingMtu", &FastPath::SetPaddingMtu),
                           InstanceMethod("setHandshakeKeys", &FastPath::SetHandshakeKeys),
                       });
  }

  FastPath(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FastPath>(info) {
    fp::Options o;
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object a = info[0].As<Napi::Object>();
      if (a.Get("mtu").IsNumber()) o.mtu = U32(a.Get("mtu"));
      if (a.Get("offload").IsBoolean()) o.offload = a.Get("offload").As<Napi::Boolean>();
      if (a.Get("uso").IsBoolean()) o.uso = a.Get("uso").As<Napi::Boolean>();
      if (a.Get("puntIcmp").IsBoolean()) o.puntIcmp = a.Get("puntIcmp").As<Napi::Boolean>();
      if (a.Get("threads").IsNumber()) o.threads = a.Get("threads").As<Napi::Number>().Int32Value() == 1 ? 1 : 2;
    }
    // The config schema takes the same bounds (src/base/constants.ts net); outside them, the default.
    if (o.mtu < fp::kNetMinTunMtu || o.mtu > fp::kNetMaxTunMtu) o.mtu = fp::kNetDefaultTunMtu;
    core_ = std::make_unique<Core>(o);
    napi_add_env_cleanup_hook(info.Env(), &FastPath::OnEnvCleanup, this);
    hookActive_ = true;
  }

  ~FastPath() override {
    StopThreads();
    if (hookActive_) napi_remove_env_cleanup_hook(Env(), &FastPath::OnEnvCleanup, this);
  }

  void Drain(Napi::Env env, Napi::Function fn) {
    std::vector<fp::SlowItem> items = core_->slow.Take();
    if (env == nullptr || !running_ || items.empty()) return;
    Napi::Array arr = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); i++) {
      fp::SlowItem& it = items[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("kind", Napi::Number::New(env, it.kind));
      o.Set("data", Napi::Buffer<uint8_t>::Copy(env, it.data.data(), it.data.size()));
      if (it.kind == fp::kSlowInner) o.Set("peer", Napi::Number::New(env, it.peer));
      if (fp::HasSource(it.kind)) {
        int port = 0;
        o.Set("host", Napi::String::New(env, Core::FormatHost(it.from, it.fromLen, &port)));
        o.Set("port", Napi::Number::New(env, port));
      }
      arr.Set(static_cast<uint32_t>(i), o);
    }
    fn.Call({arr});
  }

 private:
  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<FastPath*>(arg);
    self->hookActive_ = false;
    self->StopThreads();
  }

  void StopThreads() {
    if (!running_) return;
    running_ = false;
    core_->Stop();
    tsfn_.Release();
  }

  Napi::Value Fail(Napi::Env env, const std::string& msg) {
    Napi::Error::New(env, msg).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  Napi::Value OpenTun(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) return Fail(env, "openTun(name: string)");
    std::string name;
    std::string err = core_->OpenTun(info[0].As<Napi::String>(), &name);
    if (!err.empty()) return Fail(env, err);
    Napi::Object out = Napi::Object::New(env);
    out.Set("fd", Napi::Number::New(env, core_->tunFd));
    out.Set("name", Napi::String::New(env, name));
    out.Set("vnetHdr", Napi::Boolean::New(env, core_->vnetHdr));
    out.Set("tso", Napi::Boolean::New(env, core_->tso));
    out.Set("uso", Napi::Boolean::New(env, core_->uso));
    return out;
  }

  Napi::Value Bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) return Fail(env, "bind(host, port)");
    std::string err = core_->Bind(info[0].As<Napi::String>(), info[1].As<Napi::Number>().Int32Value());
    if (!err.empty()) return Fail(env, err);
    Napi::Object out = Napi::Object::New(env);
    out.Set("port", Napi::Number::New(env, core_->LocalPort()));
    out.Set("gso", Napi::Boolean::New(env, core_->udpGso));
    out.Set("gro", Napi::Boolean::New(env, core_->udpGro));
    return out;
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (running_) return Fail(env, "already started");
    if (info.Length() < 1 || !info[0].IsFunction()) return Fail(env, "start(onSlow: function, limits?)");
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object l = info[1].As<Napi::Object>();
      if (l.Get("rejectAfterTimeMs").IsNumber())
        core_->opt.rejectAfterTimeNs =
            static_cast<int64_t>(l.Get("rejectAfterTimeMs").As<Napi::Number>().DoubleValue() * 1e6);
      if (l.Get("rejectAfterMessages").IsNumber()) {
        double m = l.Get("rejectAfterMessages").As<Napi::Number>().DoubleValue();
        // JS clamps the real limit (2^64 - 2^13 - 1) to 2^53 - 1: below that it is a test's lowered one.
        if (m > 0 && m < 9007199254740991.0) core_->opt.rejectAfterMessages = static_cast<uint64_t>(m);
      }
    }
    tsfn_ = Tsfn::New(env, info[0].As<Napi::Function>(), "tunmesh.FastPath", 0, 1, this);
    tsfn_.Unref(env);
    std::string err = core_->Start([this] { tsfn_.NonBlockingCall(); });
    if (!err.empty()) {
      tsfn_.Release();
      return Fail(env, err);
    }
    running_ = true;
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopThreads();
    return info.Env().Undefined();
  }

  // close(which?: 'tun' | 'udp'): stops the threads first, so no fd number can be reused under them.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopThreads();
    std::string which = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (which != "udp" && core_->tunFd >= 0) {
      close(core_->tunFd);
      core_->tunFd = -1;
    }
    if (which != "tun" && core_->udpFd >= 0) {
      close(core_->udpFd);
      core_->udpFd = -1;
    }
    return info.Env().Undefined();
  }

  bool Endpoint(const Napi::CallbackInfo& info, size_t at, fp::Endpoint* ep) {
    return info.Length() > at + 1 && info[at].IsString() && info[at + 1].IsNumber() &&
           core_->ParseEndpoint(info[at].As<Napi::String>(), info[at + 1].As<Napi::Number>().Int32Value(), ep);
  }

  // setPeer(id, host?, port?): creates the peer or changes its endpoint.
  Napi::Value SetPeer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) return Fail(env, "setPeer(id, host?, port?)");
    fp::Endpoint ep;
    bool has = Endpoint(info, 1, &ep);
    core_->SetPeer(U32(info[0]), has ? &ep : nullptr);
    return Napi::Boolean::New(env, has);
  }

  Napi::Value RemovePeer(const Napi::CallbackInfo& info) {
    if (info.Length() > 0 && info[0].IsNumber()) core_->RemovePeer(U32(info[0]));
    return info.Env().Undefined();
  }

  Napi::Value SetRoutes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !IsBytes(info[1])) return Fail(env, "setRoutes(id, packed)");
    size_t len;
    const uint8_t* p = Bytes(info[1], &len);
    return Napi::Boolean::New(env, core_->SetRoutes(U32(info[0]), p, len));
  }

  // addKeypair(peerId, localIndex, remoteIndex, sendKey, receiveKey, ageMs, confirmed)
  Napi::Value AddKeypair(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 7 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !IsBytes(info[3]) ||
        !IsBytes(info[4]) || !info[5].IsNumber() || !info[6].IsBoolean())
      return Fail(env, "addKeypair(peerId, localIndex, remoteIndex, sendKey, receiveKey, ageMs, confirmed)");
    size_t sl, rl;
    const uint8_t* sk = Bytes(info[3], &sl);
    const uint8_t* rk = Bytes(info[4], &rl);
    if (sl != fp::kKeyLength || rl != fp::kKeyLength) return Fail(env, "keys are 32 bytes");
    double ageMs = info[5].As<Napi::Number>().DoubleValue();
    bool ok = core_->AddKeypair(U32(info[0]), U32(info[1]), U32(info[2]), sk, rk,
                                static_cast<int64_t>(ageMs > 0 ? ageMs * 1e6 : 0), info[6].As<Napi::Boolean>());
    return Napi::Boolean::New(env, ok);
  }

  Napi::Value ConfirmKeypair(const Napi::CallbackInfo& info) {
    bool ok = info.Length() > 0 && info[0].IsNumber() && core_->ConfirmKeypair(U32(info[0]));
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value RemoveKeypair(const Napi::CallbackInfo& info) {
    if (info.Length() > 0 && info[0].IsNumber()) core_->RemoveKeypair(U32(info[0]));
    return info.Env().Undefined();
  }

  Napi::Value SendTo(const Napi::CallbackInfo& info) {
    fp::Endpoint ep;
    if (info.Length() < 3 || !IsBytes(info[0]) || !Endpoint(info, 1, &ep)) return Napi::Boolean::New(info.Env(), false);
    size_t len;
    const uint8_t* p = Bytes(info[0], &len);
    return Napi::Boolean::New(info.Env(), core_->SendTo(p, len, ep));
  }

  Napi::Value SendTransport(const Napi::CallbackInfo& info) {
    fp::Endpoint ep;
    if (info.Length() < 4 || !info[0].IsNumber() || !IsBytes(info[1]) || !Endpoint(info, 2, &ep))
      return Napi::Boolean::New(info.Env(), false);
    size_t len;
    const uint8_t* p = Bytes(info[1], &len);
    return Napi::Boolean::New(info.Env(), core_->SendTransport(U32(info[0]), p, len, ep));
  }

  // setPaddingMtu(n): padding stops at n bytes when n is below the MTU (0: the MTU bounds it). R28.
  Napi::Value SetPaddingMtu(const Napi::CallbackInfo& info) {
    uint32_t n = info.Length() > 0 && info[0].IsNumber() ? U32(info[0]) : 0;
    core_->paddingMtu.store(n, std::memory_order_relaxed);
    return info.Env().Undefined();
  }

  // setHandshakeKeys(mac1Key, cookieKey, cookieRefreshMs): the rx thread's handshake gate
  // (fastpath_handshake.h) checks mac1/mac2 and answers cookies with these; nulls turn it off.
  Napi::Value SetHandshakeKeys(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), SetGateKeys(core_->gate, info));
  }

  Napi::Value WriteTun(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !IsBytes(info[0])) return Napi::Boolean::New(info.Env(), false);
    size_t len;
    const uint8_t* p = Bytes(info[0], &len);
    return Napi::Boolean::New(info.Env(), core_->WriteTun(p, len));
  }

  // Rows of kActivityColumns numbers for each peer whose counters moved since the last call: id, tx packets,
  // tx bytes, rx packets, rx bytes (deltas), ms since the last data sent, data received, anything
  // authenticated received (-1: nothing new), current keypair's local index (-1: none) and its next send
  // counter.
  Napi::Value Activity(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t now = fp::NowNs();
    std::vector<double> rows;
    for (auto& [id, pp] : core_->peers) {  // JS thread: the only writer of the map
      fp::Peer& p = *pp;
      uint64_t txp = p.tx.packets.load(), txb = p.tx.bytes.load(), rxp = p.rx.packets.load(), rxb = p.rx.bytes.load();
      int64_t txNs = p.tx.lastDataNs.load(), rxNs = p.rx.lastDataNs.load(), anyNs = p.rx.lastAnyNs.load();
      if (txp == p.repTxPackets && rxp == p.repRxPackets && anyNs == p.repRxAnyNs) continue;
      auto ago = [&](int64_t at, int64_t rep) { return at != rep && at != 0 ? (now - at) / 1e6 : -1.0; };
      fp::Keypair* kp = p.current;
      double row[fp::kActivityColumns] = {static_cast<double>(id),
                        static_cast<double>(txp - p.repTxPackets),
                        static_cast<double>(txb - p.repTxBytes),
                        static_cast<double>(rxp - p.repRxPackets),
                        static_cast<double>(rxb - p.repRxBytes),
                        ago(txNs, p.repTxNs),
                        ago(rxNs, p.repRxDataNs),
                        ago(anyNs, p.repRxAnyNs),
                        kp != nullptr ? static_cast<double>(kp->localIndex) : -1.0,
                        kp != nullptr ? static_cast<double>(kp->sendCounter.load()) : 0.0};
      rows.insert(rows.end(), row, row + fp::kActivityColumns);
      p.repTxPackets = txp;
      p.repTxBytes = txb;
      p.repRxPackets = rxp;
      p.repRxBytes = rxb;
      p.repTxNs = txNs;
      p.repRxDataNs = rxNs;
      p.repRxAnyNs = anyNs;
    }
    Napi::Float64Array out = Napi::Float64Array::New(env, rows.size());
    if (!rows.empty()) memcpy(out.Data(), rows.data(), rows.size() * sizeof(double));
    return out;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    fp::Stats& s = core_->stats;
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char* k, const std::atomic<uint64_t>& v) {
      o.Set(k, Napi::Number::New(env, static_cast<double>(v.load())));
    };
    set("tunReads", s.tunReads);
    set("tunSuperPackets", s.tunSuperPackets);
    set("txPackets", s.txPackets);
    set("sendCalls", s.sendCalls);
    set("gsoSends", s.gsoSends);
    set("rxDatagrams", s.rxDatagrams);
    set("recvCalls", s.recvCalls);
    set("groDatagrams", s.groDatagrams);
    set("rxPackets", s.rxPackets);
    set("tunWrites", s.tunWrites);
    set("coalesced", s.coalesced);
    set("usoWrites", s.usoWrites);
    set("puntedTun", s.puntedTun);
    set("puntedUdp", s.puntedUdp);
    set("puntedInner", s.puntedInner);
    set("puntedUnconfirmed", s.puntedUnconfirmed);
    set("cookieReplies", s.cookieReplies);
    size_t queued = 0, peak = 0;
    core_->slow.Depth(&queued, &peak);
    o.Set("slowQueued", Napi::Number::New(env, static_cast<double>(queued)));
    o.Set("slowPeak", Napi::Number::New(env, static_cast<double>(peak)));
    set("resealed", s.resealed);
    Napi::Object drops = Napi::Object::New(env);
    for (int i = 0; i < fp::kDropCount; i++)
      drops.Set(fp::kDropNames[i], Napi::Number::New(env, static_cast<double>(s.drops[i].load())));
    o.Set("drops", drops);
    o.Set("running", Napi::Boolean::New(env, running_));
    return o;
  }

  std::unique_ptr<Core> core_;
  Tsfn tsfn_;
  bool running_ = false;
  bool hookActive_ = false;
};

void CallSlow(Napi::Env env, Napi::Function fn, FastPath* self, void*) {
  if (env == nullptr || self == nullptr) return;
  self->Drain(env, fn);
}

// fastPathSeal(sendKey, remoteIndex, counter, packet, mtu[, paddingMtu]) -> the transport message the tx thread sends.
Napi::Value Seal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !IsBytes(info[0]) || !info[1].IsNumber() || !info[2].IsNumber() || !IsBytes(info[3]) ||
      !info[4].IsNumber()) {
    Napi::TypeError::New(env, "fastPathSeal(key, remoteIndex, counter, packet, mtu)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t kl, pl;
  const uint8_t* key = Bytes(info[0], &kl);
  const uint8_t* pkt = Bytes(info[3], &pl);
  fp::Keypair kp;
  memcpy(kp.sendKey, key, kl < fp::kKeyLength ? kl : fp::kKeyLength);
  kp.remoteIndex = U32(info[1]);
  uint32_t bound = info.Length() > 5 && info[5].IsNumber() ? U32(info[5]) : 0;
  size_t padded = Core::PaddedLength(pl, U32(info[4]), bound);
  std::vector<uint8_t> msg(fp::kWgMessageTransportHeaderSize + padded + fp::kWgMessageAeadTagSize);
  memcpy(msg.data() + fp::kWgMessageTransportHeaderSize, pkt, pl);
  fp::Aead aead;
  size_t n = fp::SealTransport(aead, kp, static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue()), msg.data(),
                               pl, padded);
  return Napi::Buffer<uint8_t>::Copy(env, msg.data(), n);
}

// fastPathSplit(vnetHeaderAndPacket, mtu) -> the packets the tx thread would encrypt (null: dropped).
Napi::Value Split(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t len;
  if (info.Length() < 2 || !IsBytes(info[0]) || !info[1].IsNumber()) return env.Null();
  const uint8_t* in = Bytes(info[0], &len);
  if (len < fp::kVnetHdrLen) return env.Null();
  fp::VnetHdr h;
  memcpy(&h, in, fp::kVnetHdrLen);
  std::vector<uint8_t> pkt(in + fp::kVnetHdrLen, in + len);
  size_t cap = U32(info[1]);
  constexpr int kMax = 256;
  std::vector<uint8_t> out(kMax * cap);
  std::vector<uint8_t*> outs(kMax);
  for (int i = 0; i < kMax; i++) outs[i] = out.data() + i * cap;
  uint32_t lens[kMax];
  int n = fp::SplitPacket(h, pkt.data(), pkt.size(), outs.data(), cap, lens, kMax);
  if (n <= 0) return env.Null();
  Napi::Array arr = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) arr.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, outs[i], lens[i]));
  return arr;
}

// fastPathCoalesce(packets, { uso }?) -> what the rx thread writes to a vnet-hdr TUN (virtio header +
// packet per write), through a SOCK_SEQPACKET pair standing in for the TUN; uso: the TUN takes UDP GSO.
Napi::Value Coalesce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return env.Null();
  Napi::Array in = info[0].As<Napi::Array>();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return env.Null();
  int big = 8 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  std::vector<std::vector<uint8_t>> bufs(in.Length());
  fp::Stats stats;
  bool uso = info.Length() > 1 && info[1].IsObject() && info[1].As<Napi::Object>().Get("uso").ToBoolean();
  fp::TunWriter w(sv[0], true, true, uso, &stats);
  for (uint32_t i = 0; i < in.Length(); i++) {
    size_t len;
    Napi::Value v = in.Get(i);
    if (!IsBytes(v)) continue;
    const uint8_t* p = Bytes(v, &len);
    bufs[i].resize(len + fp::kVnetHdrLen);
    memcpy(bufs[i].data() + fp::kVnetHdrLen, p, len);
    w.Add(bufs[i].data() + fp::kVnetHdrLen, static_cast<uint32_t>(len));
  }
  w.Flush();
  close(sv[0]);
  Napi::Array out = Napi::Array::New(env);
  std::vector<uint8_t> rb(70000);
  for (uint32_t i = 0;; i++) {
    ssize_t r = recv(sv[1], rb.data(), rb.size(), MSG_DONTWAIT);
    if (r <= 0) break;
    out.Set(i, Napi::Buffer<uint8_t>::Copy(env, rb.data(), r));
  }
  close(sv[1]);
  return out;
}

// new HandshakeGate(mac1Key, cookieKey, cookieRefreshMs).admit(data, host, port, atMs) -> {verdict, reply?}:
// the rx thread's handshake gate, one datagram at a time (tests compare it with src/noise/cookie.ts).
class GateForTest : public Napi::ObjectWrap<GateForTest> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "HandshakeGate", {InstanceMethod("admit", &GateForTest::Admit)});
  }
  GateForTest(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GateForTest>(info) {
    SetGateKeys(gate_, info);
  }

 private:
  Napi::Value Admit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !IsBytes(info[0]) || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsNumber())
      return env.Null();
    size_t len;
    const uint8_t* d = Bytes(info[0], &len);
    std::string host = info[1].As<Napi::String>();
    uint16_t port = static_cast<uint16_t>(info[2].As<Napi::Number>().Uint32Value());
    sockaddr_storage ss{};
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) == 1) {
      ss.ss_family = AF_INET;
      s4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) == 1) {
      ss.ss_family = AF_INET6;
      s6->sin6_port = htons(port);
    } else {
      return env.Null();
    }
    int64_t now = static_cast<int64_t>(info[3].As<Napi::Number>().DoubleValue() * 1e6);
    uint8_t reply[fp::kWgMessageCookieReplySize];
    fp::HandshakeGate::Verdict v = gate_.Admit(d, len, ss, now, reply);
    static const char* const kNames[] = {"pass", "admit_mac1", "admit_mac2", "drop_bad_mac1", "cookie"};
    Napi::Object r = Napi::Object::New(env);
    r.Set("verdict", kNames[v]);
    if (v == fp::HandshakeGate::kCookie) r.Set("reply", Napi::Buffer<uint8_t>::Copy(env, reply, sizeof(reply)));
    return r;
  }

  fp::HandshakeGate gate_;
};

// new ReplayWindow(): the rx thread's replay window (fp::Replay) on its own, check(counter, limit) and
// mark(counter) called as the rx thread calls them (tests run src/noise/replay.ts's model check on both).
// Counters are safe integers; a limit may also be Infinity (none). Anything else throws a TypeError.
class ReplayForTest : public Napi::ObjectWrap<ReplayForTest> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ReplayWindow",
                       {InstanceMethod("check", &ReplayForTest::Check), InstanceMethod("mark", &ReplayForTest::Mark)});
  }
  ReplayForTest(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReplayForTest>(info) {}

 private:
  Napi::Value Check(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t counter = 0, limit = ~0ull;
    bool unlimited = info.Length() > 1 && info[1].IsNumber() && info[1].As<Napi::Number>().DoubleValue() == INFINITY;
    if (info.Length() < 2 || !IntIn(info[0], 0, kMaxSafe, &counter) ||
        !(unlimited || IntIn(info[1], 0, kMaxSafe, &limit))) {
      Napi::TypeError::New(env, "check(counter, limit): safe non-negative integers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Boolean::New(env, replay_.Check(counter, limit));
  }
  Napi::Value Mark(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t counter = 0;
    if (info.Length() < 1 || !IntIn(info[0], 0, kMaxSafe, &counter))
      Napi::TypeError::New(env, "mark(counter): a safe non-negative integer").ThrowAsJavaScriptException();
    else
      replay_.Mark(counter);
    return env.Undefined();
  }

  fp::Replay replay_;
};

// new PrefixTable(): the fast path's crypto-key routing table (fp::Routes) on its own: insert(addr,
// prefixLength, peer), removePeer(peer), lookup(addr) -> peer | undefined, size(). Addresses are
// Uint8Arrays of 4 or 16 bytes; anything else throws a TypeError (tests compare it with allowed-ips.ts).
class PrefixTableForTest : public Napi::ObjectWrap<PrefixTableForTest> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PrefixTable",
                       {InstanceMethod("insert", &PrefixTableForTest::Insert),
                        InstanceMethod("removePeer", &PrefixTableForTest::RemovePeer),
                        InstanceMethod("lookup", &PrefixTableForTest::Lookup),
                        InstanceMethod("size", &PrefixTableForTest::Size)});
  }
  PrefixTableForTest(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PrefixTableForTest>(info) {}

 private:
  static const uint8_t* Address(const Napi::Value& v, size_t* len) {
    if (!IsBytes(v)) return nullptr;
    const uint8_t* p = Bytes(v, len);
    return *len == 4 || *len == 16 ? p : nullptr;
  }
  Napi::Value Fail(Napi::Env env, const char* usage) {
    Napi::TypeError::New(env, usage).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Value Insert(const Napi::CallbackInfo& info) {
    size_t len = 0;
    const uint8_t* a = info.Length() > 2 ? Address(info[0], &len) : nullptr;
    uint64_t plen = 0, peer = 0;
    if (a == nullptr || !IntIn(info[1], 0, len * 8.0, &plen) || !IntIn(info[2], 0, 4294967295.0, &peer))
      return Fail(info.Env(), "insert(addr: 4 or 16 bytes, prefixLength: 0..32|128, peer: uint32)");
    if (len == 4)
      routes_.Insert4(a, static_cast<int>(plen), static_cast<uint32_t>(peer));
    else
      routes_.Insert6(a, static_cast<int>(plen), static_cast<uint32_t>(peer));
    return info.Env().Undefined();
  }
  Napi::Value RemovePeer(const Napi::CallbackInfo& info) {
    uint64_t peer = 0;
    if (info.Length() < 1 || !IntIn(info[0], 0, 4294967295.0, &peer))
      return Fail(info.Env(), "removePeer(peer: uint32)");
    routes_.RemovePeer(static_cast<uint32_t>(peer));
    return info.Env().Undefined();
  }
  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    size_t len = 0;
    const uint8_t* a = info.Length() > 0 ? Address(info[0], &len) : nullptr;
    if (a == nullptr) return Fail(info.Env(), "lookup(addr: 4 or 16 bytes)");
    uint32_t peer = 0;
    bool found = len == 4 ? routes_.Lookup4(a, &peer) : routes_.Lookup6(a, &peer);
    return found ? Napi::Number::New(info.Env(), peer) : info.Env().Undefined();
  }
  Napi::Value Size(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(routes_.Size()));
  }

  fp::Routes routes_;
};

}  // namespace

void RegisterFastPath(Napi::Env env, Napi::Object exports) {
  exports.Set("FastPath", FastPath::Define(env));
  exports.Set("fastPathSeal", Napi::Function::New(env, Seal));
  // The Activity() row width, so the TypeScript reader (activityColumns) is checked against this one.
  exports.Set("fastPathActivityColumns", Napi::Number::New(env, fp::kActivityColumns));
  exports.Set("fastPathSplit", Napi::Function::New(env, Split));
  exports.Set("fastPathCoalesce", Napi::Function::New(env, Coalesce));
  exports.Set("HandshakeGate", GateForTest::Define(env));
  exports.Set("ReplayWindow", ReplayForTest::Define(env));
  exports.Set("PrefixTable", PrefixTableForTest::Define(env));
}
