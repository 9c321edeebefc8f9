// TunReader: a thread that reads packets from a nonblocking TUN fd and hands them to JavaScript in
// batches. Why a thread: a read() per packet through libuv's threadpool is ~10x slower and a blocked
// read there keeps the process from exiting (reference/node-dataplane.md §4.3, §10).
//
// Flow control: at most kMaxInflightPackets packets (and kMaxInflightBytes bytes) wait for JS; beyond that
// the thread stops reading
// and the kernel's TUN queue (txqueuelen) drops, which is where Linux drops for any slow reader.
// Exit: the thread-safe function is unref'd (it never keeps the loop alive) and an env cleanup hook
// stops and joins the thread, so neither a forgotten stop() nor process exit can hang.
#include <napi.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kBatchMax = 64;
constexpr size_t kSlotSize = 65536;  // any packet a TUN can hold without vnet headers
constexpr int kMaxInflightPackets = 4096;
constexpr size_t kMaxInflightBytes = 32u << 20;

struct ReaderState {
  int fd = -1;
  int wakeFd = -1;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0;  // packets handed to JS and not yet delivered
  size_t inflightBytes = 0;
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> batches{0};
  ~ReaderState() {
    if (wakeFd >= 0) close(wakeFd);
  }
};

// One batch: packets copied back to back into `bytes`; JS gets one Buffer over it plus the lengths.
// `error` set (and no packets) means the thread hit a fatal read error and stopped.
struct Batch {
  std::shared_ptr<ReaderState> state;
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> lengths;
  std::string error;
};

void CallJs(Napi::Env env, Napi::Function fn, std::nullptr_t*, Batch* raw);
using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Batch, CallJs>;

void AddInflight(ReaderState& st, int packets, size_t bytes) {
  std::lock_guard<std::mutex> lock(st.mu);
  st.inflight += packets;
  st.inflightBytes += bytes;
}

void FinishBatch(ReaderState& st, int packets, size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(st.mu);
    st.inflight -= packets;
    st.inflightBytes -= bytes;
  }
  st.cv.notify_one();
}

void CallJs(Napi::Env env, Napi::Function fn, std::nullptr_t*, Batch* raw) {
  std::unique_ptr<Batch> batch(raw);
  if (batch == nullptr) return;
  std::shared_ptr<ReaderState> st = batch->state;
  FinishBatch(*st, static_cast<int>(batch->lengths.size()), batch->bytes.size());
  if (env == nullptr || st->stopping.load()) return;  // torn down or stopped: drop silently
  if (!batch->error.empty()) {
    Napi::String message = Napi::String::New(env, batch->error);
    if (!message.IsEmpty()) fn.Call({env.Null(), env.Null(), message});
    return;
  }
  // Every value creation can fail while Node tears the environment down; then the batch is dropped.
  Napi::Uint32Array lengths = Napi::Uint32Array::New(env, batch->lengths.size());
  if (lengths.IsEmpty()) return;
  memcpy(lengths.Data(), batch->lengths.data(), batch->lengths.size() * sizeof(uint32_t));
  // The JS Buffer borrows the batch's bytes; the finalizer frees them when the last slice is collected.
  Batch* owned = batch.release();
  Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::New(
      env, owned->bytes.data(), owned->bytes.size(), [](Napi::Env, uint8_t*, Batch* b) { delete b; }, owned);
  if (data.IsEmpty()) {
    delete owned;
    return;
  }
  fn.Call({data, lengths});
}

class TunReader : public Napi::ObjectWrap<TunReader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TunReader",
                       {InstanceMethod("stop", &TunReader::Stop), InstanceMethod("stats", &TunReader::Stats)});
  }

  TunReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunReader>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "new TunReader(fd: number, onBatch: function)").ThrowAsJavaScriptException();
      return;
    }
    state_ = std::make_shared<ReaderState>();
    state_->fd = info[0].As<Napi::Number>().Int32Value();
    state_->wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (state_->wakeFd < 0) {
      Napi::Error::New(env, std::string("eventfd: ") + strerror(errno)).ThrowAsJavaScriptException();
      return;
    }
    tsfn_ = Tsfn::New(env, info[1].As<Napi::Function>(), "tunmesh.TunReader", 0, 1);
    tsfn_.Unref(env);
    napi_add_env_cleanup_hook(env, &TunReader::OnEnvCleanup, this);
    hookActive_ = true;
    thread_ = std::thread(&TunReader::Run, state_, tsfn_);
    running_ = true;
    Ref();  // the handle stays alive while the thread runs, even if JS drops it
  }

  ~TunReader() override {
    StopThread();
    if (hookActive_) napi_remove_env_cleanup_hook(Env(), &TunReader::OnEnvCleanup, this);
  }

 private:
  static void Run(std::shared_ptr<ReaderState> st, Tsfn tsfn) {
    std::vector<uint8_t> slots(kBatchMax * kSlotSize);  // preallocated; pages are touched only as used
    uint32_t lens[kBatchMax];
    std::string fatal;
    while (!st->stopping.load()) {
      {
        std::unique_lock<std::mutex> lock(st->mu);
        st->cv.wait(lock, [&] { return st->stopping.load() || (st->inflight + kBatchMax <= kMaxInflightPackets &&
                                                       st->inflightBytes < kMaxInflightBytes);
        });
      }
      if (st->stopping.load()) break;
      struct pollfd fds[2] = {{st->fd, POLLIN, 0}, {st->wakeFd, POLLIN, 0}};
      int pr = poll(fds, 2, -1);
      if (pr < 0) {
        if (errno == EINTR) continue;
        fatal = std::string("poll: ") + strerror(errno);
        break;
      }
      if (fds[1].revents != 0) break;
      if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        fatal = "tun fd reported error or hangup";
        break;
      }
      int n = 0;
      size_t total = 0;
      while (n < kBatchMax) {
        ssize_t r = read(st->fd, slots.data() + n * kSlotSize, kSlotSize);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          fatal = std::string("read: ") + strerror(errno);
          break;
        }
        if (r == 0) break;
        lens[n++] = static_cast<uint32_t>(r);
        total += static_cast<size_t>(r);
      }
      if (n > 0) {
        auto batch = std::make_unique<Batch>();
        batch->state = st;
        batch->bytes.resize(total);
        batch->lengths.assign(lens, lens + n);
        size_t off = 0;
        for (int i = 0; i < n; i++) {
          memcpy(batch->bytes.data() + off, slots.data() + i * kSlotSize, lens[i]);
          off += lens[i];
        }
        AddInflight(*st, n, total);
        st->packets += n;
        st->batches++;
        if (tsfn.NonBlockingCall(batch.get()) == napi_ok) {
          batch.release();
        } else {
          FinishBatch(*st, n, total);
          break;  // the function is closing: the environment is going away
        }
      }
      if (!fatal.empty()) break;
    }
    if (!fatal.empty() && !st->stopping.load()) {
      auto batch = std::make_unique<Batch>();
      batch->state = st;
      batch->error = fatal;
      if (tsfn.NonBlockingCall(batch.get()) == napi_ok) batch.release();
    }
  }

  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<TunReader*>(arg);
    self->hookActive_ = false;  // Node removes a hook once it has run
    self->StopThread();
  }

  // Idempotent; called from stop(), the destructor, or the env cleanup hook (all on the JS thread).
  void StopThread() {
    if (!running_) return;
    running_ = false;
    state_->stopping = true;
    uint64_t one = 1;
    ssize_t w = write(state_->wakeFd, &one, sizeof(one));
    (void)w;
    state_->cv.notify_all();
    thread_.join();
    tsfn_.Release();
    // Batches still held by JS Buffers keep the state alive until GC; its eventfd must not wait for that.
    close(state_->wakeFd);
    state_->wakeFd = -1;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (running_) {
      StopThread();
      Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("packets", Napi::Number::New(env, static_cast<double>(state_ ? state_->packets.load() : 0)));
    out.Set("batches", Napi::Number::New(env, static_cast<double>(state_ ? state_->batches.load() : 0)));
    out.Set("running", Napi::Boolean::New(env, running_));
    return out;
  }

  std::shared_ptr<ReaderState> state_;
  Tsfn tsfn_;
  std::thread thread_;
  bool hookActive_ = false;
  bool running_ = false;
};

}  // namespace

Napi::Function DefineTunReader(Napi::Env env) { return TunReader::Define(env); }
