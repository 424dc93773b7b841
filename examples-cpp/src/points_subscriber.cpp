// points-subscriber: the web back end's twin in C++ (ts/web-backend.ts). Subscribes to the collector's
// keyed `points` channel (from the oldest record) and keeps the latest value of every point until
// --count records arrived, checking each record's device and tag against its point_id. Prints "ready"
// on stdout once subscribed, then one JSON line: received, distinct points, the sum of the last values
// in point order, lost, bad. --dump FILE writes the last values (float64, point order), as
// collector-host --dump-values does, so the two files must be equal byte for byte.
#include <getopt.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mmbus.h"
#include "point.h"

static const char *kProg = "points-subscriber";
static const char *kUsage =
    "--dir DIR --count N [--channel points] [--devices 70] [--points-per-device 3000] [--capacity N]\n"
    "       [--policy block|reject|overwrite] [--wait-ms 30000] [--dump FILE]";

int main(int argc, char **argv) {
  std::string dir, channel = "points", dump;
  int64_t count = -1, wait_ms = 30000;
  uint32_t devices = 70, ppd = 3000;
  mmbus_options_t mo;
  mmbus_options_init(&mo);
  static const option longopts[] = {
      {"dir", required_argument, nullptr, 'd'},     {"channel", required_argument, nullptr, 'c'},
      {"count", required_argument, nullptr, 'n'},   {"devices", required_argument, nullptr, 'D'},
      {"points-per-device", required_argument, nullptr, 'P'}, {"capacity", required_argument, nullptr, 'C'},
      {"policy", required_argument, nullptr, 'p'},  {"wait-ms", required_argument, nullptr, 'w'},
      {"dump", required_argument, nullptr, 'o'},    {nullptr, 0, nullptr, 0}};
  for (int opt; (opt = getopt_long(argc, argv, "", longopts, nullptr)) != -1;) {
    switch (opt) {
      case 'd': dir = optarg; break;
      case 'c': channel = optarg; break;
      case 'n': count = int64_t(cli::number(kProg, kUsage, "--count", optarg, 0, 1e12)); break;
      case 'D': devices = uint32_t(cli::number(kProg, kUsage, "--devices", optarg, 1, 1e6)); break;
      case 'P': ppd = uint32_t(cli::number(kProg, kUsage, "--points-per-device", optarg, 1, 1e7)); break;
      case 'C': mo.capacity = uint64_t(cli::number(kProg, kUsage, "--capacity", optarg, 1, 4294967296.0)); break;
      case 'p': mo.policy = cli::policy(kProg, kUsage, optarg); break;
      case 'w': wait_ms = int64_t(cli::number(kProg, kUsage, "--wait-ms", optarg, 1, 1e9)); break;
      case 'o': dump = optarg; break;
      default: cli::die_usage(kProg, "unknown option", kUsage);
    }
  }
  if (dir.empty() || count < 0) cli::die_usage(kProg, "--dir and --count are required", kUsage);
  const uint64_t points = uint64_t(devices) * ppd;

  // created alike by whoever comes first (the collector's options: keyed by point_id)
  mo.flags = MMBUS_CREATE;
  mo.record_size = MMBUS_POINT_UPDATE_SIZE;
  mo.schema_name = MMBUS_POINT_UPDATE_NAME;
  mo.fingerprint = MMBUS_POINT_UPDATE_FINGERPRINT;
  mo.key_count = points;
  mo.key_offset = MMBUS_POINT_UPDATE_KEY_OFFSET;
  mo.key_size = MMBUS_POINT_UPDATE_KEY_SIZE;
  mmbus_channel_t *ch = nullptr;
  if (int rc = mmbus_open(dir.c_str(), channel.c_str(), &mo, &ch); rc < 0)
    cli::die_mmbus(kProg, "opening channel '" + channel + "' in " + dir, rc);
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  so.start = MMBUS_START_OLDEST;
  mmbus_sub_t *sub = nullptr;
  if (int rc = mmbus_subscribe(ch, &so, &sub); rc < 0) cli::die_mmbus(kProg, "subscribing to '" + channel + "'", rc);
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<double> last(points, 0.0);
  std::vector<uint8_t> seen(points, 0);
  int64_t received = 0, distinct = 0, bad = 0;
  char tag[64];
  while (received + int64_t(mmbus_sub_lost(sub)) < count) {
    mmbus_batch_t b;
    int n = mmbus_poll(sub, 8192, &b);
    if (n < 0) cli::die_mmbus(kProg, "polling", n);
    if (n == 0) {  // a publisher that went away leaves us waiting: bounded
      int rc = mmbus_wait(sub, wait_ms);
      if (rc == MMBUS_E_TIMEOUT) break;
      if (rc < 0) cli::die_mmbus(kProg, "waiting", rc);
      continue;
    }
    for (int i = 0; i < n; i++) {
      const auto *r = static_cast<const mmbus_PointUpdate *>(mmbus_batch_record(&b, uint32_t(i)));
      uint32_t idx = r->point_id, d = r->device_id;
      size_t len;
      const char *t = mmbus_PointUpdate_get_tag(r, &len);
      int want = std::snprintf(tag, sizeof tag, "dev%u/pt%u", d, idx % ppd);
      if (idx >= points || d != idx / ppd || len != size_t(want) || std::memcmp(t, tag, len) != 0) {
        bad++;
        continue;
      }
      last[idx] = r->value;
      if (!seen[idx]) seen[idx] = 1, distinct++;
    }
    received += n;
    if (int rc = mmbus_ack(sub); rc < 0) cli::die_mmbus(kProg, "acknowledging", rc);
  }
  uint64_t lost = mmbus_sub_lost(sub);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  double sum = 0;
  for (double v : last) sum += v;
  if (!dump.empty()) {
    FILE *f = std::fopen(dump.c_str(), "wb");
    if (!f || std::fwrite(last.data(), sizeof(double), last.size(), f) != last.size() || std::fclose(f) != 0) {
      std::fprintf(stderr, "%s: cannot write %s\n", kProg, dump.c_str());
      return 1;
    }
  }
  std::printf("{\"received\":%" PRId64 ",\"distinctPoints\":%" PRId64 ",\"points\":%" PRIu64 ",\"valueSum\":%.17g,\"lost\":%" PRIu64
              ",\"bad\":%" PRId64 "}\n",
              received, distinct, points, sum, lost, bad);
  return received + int64_t(lost) >= count ? 0 : 1;
}
