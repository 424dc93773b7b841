// Small helpers shared by the example programs: option values and mmbus failures.
#pragma once
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mmbus.h"

namespace cli {

[[noreturn]] inline void die_usage(const char *prog, const std::string &msg, const char *usage) {
  std::fprintf(stderr, "%s: %s\nusage: %s %s\n", prog, msg.c_str(), prog, usage);
  std::exit(2);
}

inline double number(const char *prog, const char *usage, const char *opt, const char *text, double min, double max) {
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text, &end);
  if (errno || end == text || *end || !(v >= min && v <= max)) die_usage(prog, std::string("bad value for ") + opt + ": '" + text + "'", usage);
  return v;
}

inline mmbus_policy_t policy(const char *prog, const char *usage, const char *text) {
  std::string p = text;
  if (p == "block") return MMBUS_POLICY_BLOCK;
  if (p == "reject") return MMBUS_POLICY_REJECT;
  if (p == "overwrite") return MMBUS_POLICY_OVERWRITE;
  die_usage(prog, "--policy is block, reject or overwrite", usage);
}

// Prints "<prog>: <what>: MMBUS_E_X: detail" on stderr and exits 1.
[[noreturn]] inline void die_mmbus(const char *prog, const std::string &what, int rc) {
  std::fprintf(stderr, "%s: %s: %s: %s\n", prog, what.c_str(), mmbus_errname(rc), mmbus_errmsg());
  std::exit(1);
}

}  // namespace cli
