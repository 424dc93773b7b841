{
  "targets": [
    {
      "target_name": "mmbus",
      "sources": [
        "src/addon.cc",
        "<!@(node scripts/libmmbus.cjs sources)"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node scripts/libmmbus.cjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_c": ["<!@(node scripts/libmmbus.cjs cflags)"],
      "cflags_cc": ["-std=c++17", "-Wall", "-fvisibility=hidden"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["<!@(node scripts/libmmbus.cjs libs)"]
    }
  ]
}
