#include <napi.h>

Napi::Value OpenTun(const Napi::CallbackInfo& info);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("openTun", Napi::Function::New(env, OpenTun));
  return exports;
}

NODE_API_MODULE(tunmesh_native, Init)
