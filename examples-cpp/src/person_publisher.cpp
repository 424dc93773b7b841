// person-publisher: the original demo's publisher in C++. Publishes `count` Person records (index i,
// name "person-i", age i % 100) for i in [first, first + count), once `wait` subscribers are attached.
// Progress every 50,000 records on stderr; one JSON result line on stdout.
#include <getopt.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "cli.hpp"
#include "mmbus.h"
#include "person.h"

static const char *kProg = "person-publisher";
static const char *kUsage =
    "--dir DIR [--channel people] [--count 2000000] [--first 0] [--wait-subscribers 0] [--capacity N]\n"
    "       [--policy block|reject|overwrite] [--batch 256 (1 = one mmbus_publish per record)] [--pace N:MS] [--quiet]";

static void fill(mmbus_Person *r, int64_t i) {
  std::memset(r, 0, sizeof *r);
  r->index = i;
  char name[32];
  int len = std::snprintf(name, sizeof name, "person-%" PRId64, i);
  mmbus_Person_set_name_n(r, name, size_t(len), 0);
  r->age = uint8_t(i % 100);
}

int main(int argc, char **argv) {
  std::string dir, channel = "people";
  int64_t count = 2000000, first = 0, pace_every = 0, pace_ms = 0;
  uint32_t wait_subs = 0, batch = 256;
  bool quiet = false;
  mmbus_options_t mo;
  mmbus_options_init(&mo);
  static const option longopts[] = {
      {"dir", required_argument, nullptr, 'd'},   {"channel", required_argument, nullptr, 'c'},
      {"count", required_argument, nullptr, 'n'}, {"first", required_argument, nullptr, 'f'},
      {"wait-subscribers", required_argument, nullptr, 'w'}, {"capacity", required_argument, nullptr, 'C'},
      {"policy", required_argument, nullptr, 'p'}, {"batch", required_argument, nullptr, 'b'},
      {"pace", required_argument, nullptr, 'P'},  {"quiet", no_argument, nullptr, 'q'},
      {nullptr, 0, nullptr, 0}};
  for (int opt; (opt = getopt_long(argc, argv, "", longopts, nullptr)) != -1;) {
    switch (opt) {
      case 'd': dir = optarg; break;
      case 'c': channel = optarg; break;
      case 'n': count = int64_t(cli::number(kProg, kUsage, "--count", optarg, 0, 1e12)); break;
      case 'f': first = int64_t(cli::number(kProg, kUsage, "--first", optarg, 0, 1e15)); break;
      case 'w': wait_subs = uint32_t(cli::number(kProg, kUsage, "--wait-subscribers", optarg, 0, 4096)); break;
      case 'C': mo.capacity = uint64_t(cli::number(kProg, kUsage, "--capacity", optarg, 1, 4294967296.0)); break;
      case 'p': mo.policy = cli::policy(kProg, kUsage, optarg); break;
      case 'b': batch = uint32_t(cli::number(kProg, kUsage, "--batch", optarg, 1, 1 << 20)); break;
      case 'P': {
        if (std::sscanf(optarg, "%" SCNd64 ":%" SCNd64, &pace_every, &pace_ms) != 2 || pace_every < 1 || pace_ms < 0)
          cli::die_usage(kProg, "--pace is N:MS (sleep MS milliseconds every N records)", kUsage);
        break;
      }
      case 'q': quiet = true; break;
      default: cli::die_usage(kProg, "unknown option", kUsage);
    }
  }
  if (dir.empty()) cli::die_usage(kProg, "--dir is required", kUsage);

  mo.flags = MMBUS_CREATE;
  mo.record_size = MMBUS_PERSON_SIZE;
  mo.schema_name = MMBUS_PERSON_NAME;
  mo.fingerprint = MMBUS_PERSON_FINGERPRINT;
  mo.layout = MMBUS_PERSON_LAYOUT; // self-describing: `mmbus tail` decodes it without the schema
  mo.layout_size = sizeof MMBUS_PERSON_LAYOUT - 1;
  mmbus_channel_t *ch = nullptr;
  if (int rc = mmbus_open(dir.c_str(), channel.c_str(), &mo, &ch); rc < 0)
    cli::die_mmbus(kProg, "opening channel '" + channel + "' in " + dir, rc);
  mmbus_info_t info;
  mmbus_info(ch, &info);
  if (batch > info.capacity) batch = uint32_t(info.capacity);
  if (pace_every && batch > pace_every) batch = uint32_t(pace_every);

  for (;;) {  // wait for the subscribers, sleeping
    mmbus_stats_t st;
    if (int rc = mmbus_stats(ch, &st, nullptr, 0); rc < 0) cli::die_mmbus(kProg, "stats", rc);
    if (st.subscribers_active >= wait_subs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  auto t0 = std::chrono::steady_clock::now();
  int64_t checksum = 0, done = 0, next_progress = 50000, next_pause = pace_every;
  mmbus_Person one;
  while (done < count) {
    uint32_t k = uint32_t(std::min<int64_t>(batch, count - done));
    if (pace_every) k = uint32_t(std::min<int64_t>(k, next_pause - done));
    if (k == 1) {  // the copying path: one mmbus_publish per record
      fill(&one, first + done);
      if (int rc = mmbus_publish(ch, &one, sizeof one); rc < 0) cli::die_mmbus(kProg, "publishing", rc);
    } else {  // in place: claim k slots, write them, commit them at once
      mmbus_claim_t c;
      if (int rc = mmbus_claim(ch, k, -1, &c); rc < 0) cli::die_mmbus(kProg, "claiming", rc);
      for (uint32_t i = 0; i < k; i++) fill(static_cast<mmbus_Person *>(mmbus_claim_record(&c, i)), first + done + i);
      if (int rc = mmbus_commit(ch, &c); rc < 0) cli::die_mmbus(kProg, "committing", rc);
    }
    for (uint32_t i = 0; i < k; i++) {
      int64_t idx = first + done + i;
      checksum += (idx & 1) ? -idx : idx;
    }
    done += k;
    if (!quiet && done >= next_progress) {
      std::fprintf(stderr, "person-publisher: %" PRId64 " published\n", done);
      next_progress = (done / 50000 + 1) * 50000;
    }
    if (pace_every && done == next_pause) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
      next_pause += pace_every;
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  mmbus_close(ch);
  std::printf("{\"published\":%" PRId64 ",\"first\":%" PRId64 ",\"checksum\":%" PRId64 ",\"ms\":%.1f,\"msgsPerSec\":%.0f}\n",
              done, first, checksum, s * 1e3, s > 0 ? double(done) / s : 0.0);
  return 0;
}
