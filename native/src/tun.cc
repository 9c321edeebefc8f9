#include <napi.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <string>

// openTun(name) -> { fd, name }: IFF_TUN | IFF_NO_PI, nonblocking, close-on-exec.
Napi::Value OpenTun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "openTun(name: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>();
  if (name.size() >= IFNAMSIZ) {
    Napi::RangeError::New(env, "tun name too long").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    Napi::Error::New(env, std::string("open /dev/net/tun: ") + strerror(errno)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    Napi::Error::New(env, std::string("TUNSETIFF ") + name + ": " + strerror(e)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

// writeTun(fd, buf) -> boolean: one write(). False when the device queue is full (EAGAIN/ENOBUFS);
// any other failure throws an Error carrying `errno` (e.g. EINVAL for a malformed packet, EBADF when closed).
Napi::Value WriteTun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray()) {
    Napi::TypeError::New(env, "writeTun(fd: number, packet: Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  const uint8_t* data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  ssize_t r;
  do {
    r = write(fd, data, ta.ByteLength());
  } while (r < 0 && errno == EINTR);
  if (r >= 0) return Napi::Boolean::New(env, true);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return Napi::Boolean::New(env, false);
  int e = errno;
  Napi::Error err = Napi::Error::New(env, std::string("write tun: ") + strerror(e));
  err.Set("errno", Napi::Number::New(env, e));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}
