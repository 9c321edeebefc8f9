// hardenThreads(dropBounding) -> { threads, failed, error }: sets no_new_privs and (when asked) empties the
// capability bounding set in EVERY thread of the process, for the privilege drop (src/daemon/privilege.ts).
//
// Both are per-thread attributes in Linux, inherited only by threads created later, and by the time the
// daemon drops root, Node's own threads (V8 platform workers, libuv, the inspector's signal thread) and the
// native engine's threads all exist. So the calling thread hardens itself, then asks each other thread to
// do the same from a signal handler, as glibc does for setuid() (its SIGSETXID broadcast). The inspector
// thread blocks every signal glibc lets it block, so the one signal that reaches every thread is glibc's
// own SIGSETXID (33): its handler is swapped for ours with the raw rt_sigaction syscall (glibc refuses to
// set it) for the length of the broadcast, then restored. Nothing else can be using it meanwhile: only
// setuid()/setgid()/setgroups() send it, and this runs on the JS thread, which is the one that calls them.
// /proc/self/task is scanned until a pass finds no thread it has not hardened (a thread created meanwhile
// by an unhardened one is caught by the next pass). The caller verifies the result in /proc.
#include <napi.h>
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

namespace {

constexpr int kSigSetXid = 33;  // glibc's SIGSETXID (__SIGRTMIN + 1)
constexpr int kMaxCap = 63;
constexpr int kPasses = 8;
constexpr int kWaitMs = 1000;

// The kernel's struct sigaction (x86_64 and arm64 share this layout).
struct KernelSigaction {
  void (*handler)(int, siginfo_t*, void*);
  unsigned long flags;
  void (*restorer)(void);
  unsigned long mask;
};
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

std::atomic<bool> g_drop_bounding{false};
std::atomic<long> g_ack{0};
std::atomic<int> g_error{0};

// Async-signal-safe: raw syscalls only.
int HardenSelf(bool drop_bounding) {
  if (drop_bounding)
    for (int cap = 0; cap <= kMaxCap; cap++)
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  return 0;
}

void OnSignal(int, siginfo_t* si, void*) {
  int saved = errno;
  // Only our own tgkill: a signal from elsewhere does nothing.
  if (si->si_code == SI_TKILL && si->si_pid == getpid()) {
    int e = HardenSelf(g_drop_bounding.load());
    if (e != 0) g_error.store(e);
    g_ack.store(syscall(SYS_gettid));
  }
  errno = saved;
}

std::set<long> Tasks() {
  std::set<long> out;
  DIR* d = opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') out.insert(strtol(e->d_name, nullptr, 10));
  closedir(d);
  return out;
}

// glibc installs every handler with SA_RESTORER and its __restore_rt, which x86_64 needs to return from a
// handler; a raw rt_sigaction must name it too. Any handler Node or glibc installed has it.
void (*FindRestorer())(void) {
  for (int sig = 1; sig <= 64; sig++) {
    KernelSigaction a{};
    if (syscall(SYS_rt_sigaction, sig, nullptr, &a, sizeof(unsigned long)) == 0 && (a.flags & SA_RESTORER) &&
        a.restorer != nullptr)
      return a.restorer;
  }
  return nullptr;
}

void SleepUs(long us) {
  timespec ts{0, us * 1000};
  nanosleep(&ts, nullptr);
}

}  // namespace

Napi::Value HardenThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool drop_bounding = info.Length() > 0 && info[0].ToBoolean().Value();
  Napi::Object out = Napi::Object::New(env);
  auto fail = [&](int threads, int failed, const char* what, int err) {
    out.Set("threads", threads);
    out.Set("failed", failed);
    out.Set("error", Napi::String::New(env, std::string(what) + (err ? std::string(": ") + strerror(err) : "")));
    return out;
  };

#if !defined(__GLIBC__)
  // The broadcast borrows glibc's SIGSETXID; other C libraries use other signals for it.
  out.Set("threads", 0);
  out.Set("failed", 0);
  out.Set("unsupported", true);
  return out;
#endif
  int self_err = HardenSelf(drop_bounding);
  if (self_err != 0) return fail(1, 1, "prctl in the calling thread", self_err);

  KernelSigaction ours{}, old{};
  if (syscall(SYS_rt_sigaction, kSigSetXid, nullptr, &old, sizeof(unsigned long)) != 0)
    return fail(1, 0, "rt_sigaction (read)", errno);
  void (*restorer)(void) = FindRestorer();
  if (restorer == nullptr) return fail(1, 0, "no signal restorer to borrow", 0);
  ours.handler = OnSignal;
  ours.flags = SA_SIGINFO | SA_RESTART | SA_RESTORER;
  ours.restorer = restorer;
  ours.mask = ~0UL;  // nothing else runs inside the handler
  g_drop_bounding.store(drop_bounding);
  g_error.store(0);
  if (syscall(SYS_rt_sigaction, kSigSetXid, &ours, nullptr, sizeof(unsigned long)) != 0)
    return fail(1, 0, "rt_sigaction (install)", errno);

  const pid_t pid = getpid();
  const long self = syscall(SYS_gettid);
  std::set<long> done{self};
  int failed = 0;
  for (int pass = 0; pass < kPasses; pass++) {
    bool fresh = false;
    for (long tid : Tasks()) {
      if (done.count(tid)) continue;
      fresh = true;
      done.insert(tid);
      g_ack.store(0);
      if (syscall(SYS_tgkill, pid, tid, kSigSetXid) != 0) continue;  // ESRCH: it exited meanwhile
      int waited = 0;
      while (g_ack.load() != tid && waited < kWaitMs * 10) {
        SleepUs(100);
        waited++;
      }
      if (g_ack.load() != tid) failed++;
    }
    if (!fresh) break;
  }
  // A thread that never answered still has the signal pending: keep our handler (harmless) rather than
  // let glibc's run without a command. Otherwise restore glibc's.
  if (failed == 0) syscall(SYS_rt_sigaction, kSigSetXid, &old, nullptr, sizeof(unsigned long));
  int err = g_error.load();
  out.Set("threads", static_cast<double>(done.size()));
  out.Set("failed", failed);
  if (err != 0) out.Set("error", Napi::String::New(env, std::string("prctl in a thread: ") + strerror(err)));
  return out;
}
