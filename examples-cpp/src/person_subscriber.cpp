// person-subscriber: the original demo's subscriber in C++. Consumes Person records until `count` were
// received (or lost), checking the order per publisher, the checksum (+0 -1 +2 -3 ...) and every decoded
// name and age. With two publishers on the channel, indexes below --split come from the first and the
// others from the second: each publisher's records must arrive in order. Progress every 50,000 on
// stderr; one JSON result line on stdout. Prints "ready" on stdout once subscribed.
#include <getopt.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.hpp"
#include "mmbus.h"
#include "person.h"

static const char *kProg = "person-subscriber";
static const char *kUsage =
    "--dir DIR [--channel people] [--count 2000000] [--durable NAME] [--start newest|oldest] [--split K] [--quiet]";

int main(int argc, char **argv) {
  std::string dir, channel = "people", durable;
  int64_t count = 2000000, split = INT64_MAX;
  mmbus_start_t start = MMBUS_START_NEWEST;
  bool quiet = false;
  static const option longopts[] = {
      {"dir", required_argument, nullptr, 'd'},   {"channel", required_argument, nullptr, 'c'},
      {"count", required_argument, nullptr, 'n'}, {"durable", required_argument, nullptr, 'D'},
      {"start", required_argument, nullptr, 's'}, {"split", required_argument, nullptr, 'S'},
      {"quiet", no_argument, nullptr, 'q'},       {nullptr, 0, nullptr, 0}};
  for (int opt; (opt = getopt_long(argc, argv, "", longopts, nullptr)) != -1;) {
    switch (opt) {
      case 'd': dir = optarg; break;
      case 'c': channel = optarg; break;
      case 'n': count = int64_t(cli::number(kProg, kUsage, "--count", optarg, 0, 1e12)); break;
      case 'D': durable = optarg; break;
      case 's':
        if (!std::strcmp(optarg, "oldest")) start = MMBUS_START_OLDEST;
        else if (!std::strcmp(optarg, "newest")) start = MMBUS_START_NEWEST;
        else cli::die_usage(kProg, "--start is newest or oldest", kUsage);
        break;
      case 'S': split = int64_t(cli::number(kProg, kUsage, "--split", optarg, 0, 1e15)); break;
      case 'q': quiet = true; break;
      default: cli::die_usage(kProg, "unknown option", kUsage);
    }
  }
  if (dir.empty()) cli::die_usage(kProg, "--dir is required", kUsage);

  mmbus_options_t mo;
  mmbus_options_init(&mo);
  mo.flags = MMBUS_CREATE;
  mo.record_size = MMBUS_PERSON_SIZE;
  mo.schema_name = MMBUS_PERSON_NAME;
  mo.fingerprint = MMBUS_PERSON_FINGERPRINT;
  mmbus_channel_t *ch = nullptr;
  if (int rc = mmbus_open(dir.c_str(), channel.c_str(), &mo, &ch); rc < 0)
    cli::die_mmbus(kProg, "opening channel '" + channel + "' in " + dir, rc);
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  so.name = durable.empty() ? nullptr : durable.c_str();
  so.start = start;
  mmbus_sub_t *sub = nullptr;
  if (int rc = mmbus_subscribe(ch, &so, &sub); rc < 0) cli::die_mmbus(kProg, "subscribing to '" + channel + "'", rc);
  std::printf("ready\n");
  std::fflush(stdout);

  int64_t received = 0, checksum = 0, bad_names = 0, out_of_order = 0, next_progress = 50000;
  int64_t per_pub[2] = {0, 0}, last_index[2] = {-1, -1};
  char expected[32];
  auto t0 = std::chrono::steady_clock::now();
  while (received + int64_t(mmbus_sub_lost(sub)) < count) {
    mmbus_batch_t b;
    int n = mmbus_poll(sub, 8192, &b);
    if (n < 0) cli::die_mmbus(kProg, "polling", n);
    if (n == 0) {
      int rc = mmbus_wait(sub, 1000);
      if (rc < 0 && rc != MMBUS_E_TIMEOUT) cli::die_mmbus(kProg, "waiting", rc);
      continue;
    }
    for (int i = 0; i < n; i++) {
      const auto *r = static_cast<const mmbus_Person *>(mmbus_batch_record(&b, uint32_t(i)));
      int64_t idx = r->index;
      int len = std::snprintf(expected, sizeof expected, "person-%" PRId64, idx);
      size_t name_len;
      const char *name = mmbus_Person_get_name(r, &name_len);
      if (name_len != size_t(len) || std::memcmp(name, expected, name_len) != 0 || r->age != idx % 100) bad_names++;
      int p = idx >= split ? 1 : 0;
      if (idx <= last_index[p]) out_of_order++;
      last_index[p] = idx;
      per_pub[p]++;
      checksum += (idx & 1) ? -idx : idx;
    }
    received += n;
    if (int rc = mmbus_ack(sub); rc < 0) cli::die_mmbus(kProg, "acknowledging", rc);
    if (!quiet && received >= next_progress) {
      std::fprintf(stderr, "person-subscriber: %" PRId64 " received\n", received);
      next_progress = (received / 50000 + 1) * 50000;
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t lost = mmbus_sub_lost(sub);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  std::printf("{\"received\":%" PRId64 ",\"checksum\":%" PRId64 ",\"badNames\":%" PRId64 ",\"outOfOrder\":%" PRId64
              ",\"lost\":%" PRIu64 ",\"perPublisher\":[%" PRId64 ",%" PRId64 "],\"ms\":%.1f}\n",
              received, checksum, bad_names, out_of_order, lost, per_pub[0], per_pub[1], s * 1e3);
  return 0;
}
