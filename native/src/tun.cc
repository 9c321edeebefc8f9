#include <napi.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <string>

#include "tun.h"

int OpenTunDevice(const std::string& name, int vnetHdrLen, unsigned offloads, std::string* actualName,
                  std::string* err) {
  if (name.size() >= IFNAMSIZ) {
    *err = "tun name too long";
    return -1;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *err = std::string("open /dev/net/tun: ") + strerror(errno);
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnetHdrLen > 0 ? IFF_VNET_HDR : 0);
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    *err = std::string("TUNSETIFF ") + name + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  if (vnetHdrLen > 0 && (ioctl(fd, TUNSETVNETHDRSZ, &vnetHdrLen) < 0 || ioctl(fd, TUNSETOFFLOAD, offloads) < 0)) {
    *err = std::string("TUNSETOFFLOAD: ") + strerror(errno);
    close(fd);
    return -1;
  }
  *actualName = ifr.ifr_name;
  return fd;
}

// openTun(name) -> { fd, name }: a plain TUN (no virtio header) for the JS engine.
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
  std::string actual, err;
  int fd = OpenTunDevice(name, 0, 0, &actual, &err);
  if (fd < 0) {
    Napi::Error::New(env, err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, actual));
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
