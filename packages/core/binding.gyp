{
  "targets": [
    {
      "target_name": "mmbus",
      "sources": [
        "src/addon.cc",
        "../../native/src/channel.c",
        "../../native/src/ring.c",
        "../../native/src/error.c",
        "../../native/src/os_posix.c",
        "../../native/src/os_linux.c"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../../native/include"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-O2", "-Wall"],
      "cflags_c": ["-std=c11"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
