// collector-host: the acquisition main program. It loads libcollector.so at run time with dlopen()
// (on Windows collector.dll with LoadLibrary, as the original host did), starts it, shows progress on stderr and, on exit, prints one JSON
// line on stdout with what the library published.
//
//   collector-host --dir DIR [--lib PATH] [--channel points] [--devices 70] [--points-per-device 3000]
//                  [--rate 0] [--duration 0] [--capacity N] [--policy block|reject|overwrite]
//                  [--timeout-ms 5000] [--batch 256] [--seed 1] [--dump-values FILE] [--quiet]
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <io.h>
#include <windows.h>
#else
#include <dlfcn.h>
#include <unistd.h>
#endif

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "collector.h"

namespace {

std::atomic<bool> g_interrupted{false};

// ---- the few OS calls of the host: loading the library, its own directory, Ctrl+C / SIGINT ----
#ifdef _WIN32
const char *const kLibName = "collector.dll";
using library = HMODULE;
library lib_open(const std::string &path) { return LoadLibraryA(path.c_str()); }
void *lib_symbol(library lib, const char *name) { return reinterpret_cast<void *>(GetProcAddress(lib, name)); }
std::string lib_error() { return "Windows error " + std::to_string(GetLastError()); }
void lib_close(library lib) { FreeLibrary(lib); }
BOOL WINAPI on_console_event(DWORD) {
  g_interrupted.store(true);
  return TRUE;  // handled: the main loop stops the collector and prints the summary
}
void on_interrupt() { SetConsoleCtrlHandler(on_console_event, TRUE); }
bool stderr_is_tty() { return _isatty(2) != 0; }
std::string exe_dir() {
  char buf[MAX_PATH + 1];
  DWORD n = GetModuleFileNameA(nullptr, buf, MAX_PATH);
  if (n == 0 || n >= MAX_PATH) return ".";
  buf[n] = 0;
  char *slash = std::strrchr(buf, '\\');
  if (slash) *slash = 0;
  return buf;
}
#else
const char *const kLibName = "libcollector.so";
using library = void *;
library lib_open(const std::string &path) { return dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL); }
void *lib_symbol(library lib, const char *name) { return dlsym(lib, name); }
std::string lib_error() {
  const char *e = dlerror();
  return e ? e : "unknown error";
}
void lib_close(library lib) { dlclose(lib); }
void on_signal(int) { g_interrupted.store(true); }
void on_interrupt() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
bool stderr_is_tty() { return isatty(2) != 0; }
std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  char *slash = std::strrchr(buf, '/');
  if (slash) *slash = 0;
  return buf;
}
#endif

[[noreturn]] void usage(const char *msg) {
  std::fprintf(stderr,
               "collector-host: %s\n"
               "usage: collector-host --dir DIR [--lib PATH] [--channel NAME] [--devices N] [--points-per-device N]\n"
               "                      [--rate PER_S] [--duration S] [--capacity N] [--policy block|reject|overwrite]\n"
               "                      [--timeout-ms MS] [--batch N] [--seed N] [--dump-values FILE] [--quiet]\n",
               msg);
  std::exit(2);
}

double number(const char *opt, const char *text, double min, double max) {
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text, &end);
  if (errno || end == text || *end || !(v >= min && v <= max)) usage((std::string("bad value for ") + opt + ": '" + text + "'").c_str());
  return v;
}

std::string json_string(const std::string &s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\', out += ch;
    else if ((unsigned char)ch < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else out += ch;
  }
  return out + "\"";
}

template <class F>
F symbol(library lib, const char *name) {
  void *p = lib_symbol(lib, name);
  if (!p) {
    std::fprintf(stderr, "collector-host: %s not found in the library: %s\n", name, lib_error().c_str());
    std::exit(1);
  }
  return reinterpret_cast<F>(p);
}

}  // namespace

int main(int argc, char **argv) {
  std::string dir, lib_path = exe_dir() + "/" + kLibName, channel = "points", dump;
  collector_options_t o;
  std::memset(&o, 0, sizeof o);
  o.api_version = COLLECTOR_API_VERSION;
  o.block_timeout_ms = -1;
  double duration = 0;
  bool quiet = false;

  static const option longopts[] = {
      {"dir", required_argument, nullptr, 'd'},      {"lib", required_argument, nullptr, 'l'},
      {"channel", required_argument, nullptr, 'c'},  {"devices", required_argument, nullptr, 'D'},
      {"points-per-device", required_argument, nullptr, 'P'}, {"rate", required_argument, nullptr, 'r'},
      {"duration", required_argument, nullptr, 't'}, {"capacity", required_argument, nullptr, 'C'},
      {"policy", required_argument, nullptr, 'p'},   {"timeout-ms", required_argument, nullptr, 'T'},
      {"batch", required_argument, nullptr, 'b'},    {"seed", required_argument, nullptr, 's'},
      {"dump-values", required_argument, nullptr, 'o'}, {"quiet", no_argument, nullptr, 'q'},
      {"help", no_argument, nullptr, 'h'},           {nullptr, 0, nullptr, 0}};
  for (int opt; (opt = getopt_long(argc, argv, "", longopts, nullptr)) != -1;) {
    switch (opt) {
      case 'd': dir = optarg; break;
      case 'l': lib_path = optarg; break;
      case 'c': channel = optarg; break;
      case 'D': o.devices = uint32_t(number("--devices", optarg, 1, 1e6)); break;
      case 'P': o.points_per_device = uint32_t(number("--points-per-device", optarg, 1, 1e7)); break;
      case 'r': o.rate = number("--rate", optarg, 0, 1e9); break;
      case 't': duration = number("--duration", optarg, 0, 1e6); break;
      case 'C': o.capacity = uint64_t(number("--capacity", optarg, 1, 4294967296.0)); break;
      case 'p':
        if (!std::strcmp(optarg, "block")) o.policy = 1;
        else if (!std::strcmp(optarg, "reject")) o.policy = 2;
        else if (!std::strcmp(optarg, "overwrite")) o.policy = 3;
        else usage("--policy is block, reject or overwrite");
        break;
      case 'T': o.block_timeout_ms = int64_t(number("--timeout-ms", optarg, 0, 1e9)); break;
      case 'b': o.batch = uint32_t(number("--batch", optarg, 1, 1 << 20)); break;
      case 's': o.seed = uint64_t(number("--seed", optarg, 1, 1e15)); break;
      case 'o': dump = optarg; break;
      case 'q': quiet = true; break;
      case 'h': usage("help");
      default: usage("unknown option");
    }
  }
  if (optind < argc) usage((std::string("unexpected argument '") + argv[optind] + "'").c_str());
  if (dir.empty()) usage("--dir is required");
  o.channel = channel.c_str();

  library lib = lib_open(lib_path);
  if (!lib) {
    std::fprintf(stderr, "collector-host: cannot load %s: %s\n", lib_path.c_str(), lib_error().c_str());
    return 1;
  }
  auto start = symbol<collector_start_fn>(lib, "collector_start");
  auto stop = symbol<collector_stop_fn>(lib, "collector_stop");
  auto stats = symbol<collector_stats_fn>(lib, "collector_stats");
  auto last_values = symbol<collector_last_values_fn>(lib, "collector_last_values");
  auto errmsg = symbol<collector_errmsg_fn>(lib, "collector_errmsg");

  on_interrupt();

  if (int rc = start(dir.c_str(), &o); rc < 0) {
    std::fprintf(stderr, "collector-host: collector_start failed: %s\n", errmsg());
    std::printf("{\"ok\":false,\"error\":%s}\n", json_string(errmsg()).c_str());
    return 1;
  }

  const bool tty = stderr_is_tty();
  auto t0 = std::chrono::steady_clock::now();
  auto last_report = t0;
  std::chrono::steady_clock::time_point steady_from{};
  collector_stats_t s;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stats(&s);
    auto now = std::chrono::steady_clock::now();
    if (s.burst_done && steady_from == std::chrono::steady_clock::time_point{}) steady_from = now;
    bool done = g_interrupted.load() || !s.running ||
                (s.burst_done && std::chrono::duration<double>(now - steady_from).count() >= duration);
    if (!quiet && (done || now - last_report >= std::chrono::milliseconds(tty ? 100 : 1000))) {
      last_report = now;
      std::fprintf(stderr, "%scollector: %llu published (burst %llu/%u%s, changes %llu)%s", tty ? "\r\x1b[K" : "",
                   (unsigned long long)s.published, (unsigned long long)s.burst_published, s.points,
                   s.burst_done ? " done" : "", (unsigned long long)s.changes_published, tty ? "" : "\n");
    }
    if (done) break;
  }
  int stop_rc = stop();
  stats(&s);
  if (!quiet && tty) std::fputc('\n', stderr);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<double> values(s.points);
  size_t n = last_values(values.data(), values.size());
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += values[i];
  if (!dump.empty()) {
    FILE *f = std::fopen(dump.c_str(), "wb");
    if (!f || std::fwrite(values.data(), sizeof(double), n, f) != n || std::fclose(f) != 0) {
      std::fprintf(stderr, "collector-host: cannot write %s: %s\n", dump.c_str(), std::strerror(errno));
      return 1;
    }
  }
  double burst_s = double(s.burst_ns) / 1e9;
  std::printf(
      "{\"ok\":%s,\"channel\":%s,\"points\":%u,\"published\":%llu,\"burst\":%llu,\"changes\":%llu,\"burstDone\":%s,"
      "\"burstMs\":%.3f,\"burstMsgsPerSec\":%.0f,\"elapsedMs\":%.1f,\"valueSum\":%.17g,\"interrupted\":%s,\"error\":%s}\n",
      stop_rc == 0 ? "true" : "false", json_string(channel).c_str(), s.points, (unsigned long long)s.published,
      (unsigned long long)s.burst_published, (unsigned long long)s.changes_published, s.burst_done ? "true" : "false",
      burst_s * 1e3, s.burst_done && burst_s > 0 ? double(s.burst_published) / burst_s : 0.0, elapsed * 1e3, sum,
      g_interrupted.load() ? "true" : "false", s.error ? json_string(s.message).c_str() : "null");
  std::fflush(stdout);
  if (stop_rc != 0) std::fprintf(stderr, "collector-host: publishing failed: %s\n", s.message);
  lib_close(lib);
  return stop_rc == 0 ? 0 : 1;
}
