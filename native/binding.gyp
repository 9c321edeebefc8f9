{
  "targets": [
    {
      "target_name": "tunmesh_native",
      "sources": ["src/addon.cc", "src/tun.cc", "src/tun_reader.cc", "src/fastpath_core.cc", "src/fastpath_tx.cc",
                  "src/fastpath_rx.cc", "src/fastpath_offload.cc", "src/fastpath_napi.cc",
                  "src/fastpath_handshake.cc", "src/harden.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
