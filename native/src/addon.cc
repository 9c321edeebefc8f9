#include <napi.h>

Napi::Value OpenTun(const Napi::CallbackInfo& info);
Napi::Value WriteTun(const Napi::CallbackInfo& info);
Napi::Function DefineTunReader(Napi::Env env);
void RegisterFastPath(Napi::Env env, Napi::Object exports);
Napi::Value HardenThreads(const Napi::CallbackInfo& info);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("openTun", Napi::Function::New(env, OpenTun));
  exports.Set("writeTun", Napi::Function::New(env, WriteTun));
  exports.Set("TunReader", DefineTunReader(env));
  RegisterFastPath(env, exports);
  exports.Set("hardenThreads", Napi::Function::New(env, HardenThreads));
  return exports;
}

NODE_API_MODULE(tunmesh_native, Init)
