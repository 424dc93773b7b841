# Cross-compiling libmmbus (and what builds on it: tests, examples-cpp) for 64-bit Windows with
# mingw-w64 (Debian: g++-mingw-w64-x86-64). The posix thread model of the compilers gives C++
# std::thread; everything is linked statically, so the .exe and .dll files need no mingw DLL.
#   cmake -S native -B native/build-win -DCMAKE_TOOLCHAIN_FILE=native/cmake/mingw-w64.cmake
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(MMBUS_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "mingw-w64 target triplet")

find_program(CMAKE_C_COMPILER NAMES ${MMBUS_MINGW_PREFIX}-gcc-posix ${MMBUS_MINGW_PREFIX}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${MMBUS_MINGW_PREFIX}-g++-posix ${MMBUS_MINGW_PREFIX}-g++ REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${MMBUS_MINGW_PREFIX}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${MMBUS_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
# Tests and examples run under Wine when built on Linux (ctest, the examples' test scripts).
find_program(MMBUS_WINE NAMES wine wine64)
if(MMBUS_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MMBUS_WINE})
endif()
