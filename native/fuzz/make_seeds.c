/* The fuzzer's seed corpus: small valid channel files, each in a state the library has to read
 * (records and laps, durable and anonymous subscribers, a claim left by a publisher that died, a keyed
 * table). Usage: make_seeds OUT_DIR (writes OUT_DIR/seed-*.db; the channels live in a scratch directory). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmbus.h"

static char work[64];

static mmbus_channel_t *make(const char *name, uint32_t record_size, uint64_t capacity, mmbus_policy_t policy,
                             uint64_t keys) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = record_size;
  o.capacity = capacity;
  o.policy = policy;
  o.max_subscribers = 4;
  o.max_publishers = 2;
  o.schema_name = "fuzz.Seed";
  o.fingerprint = 0xf022;
  static const char LAYOUT[] = "{\"name\":\"fuzz.Seed\"}"; /* opaque to the library: only its checksum is checked */
  o.layout = LAYOUT;
  o.layout_size = sizeof LAYOUT - 1;
  if (keys) {
    o.key_count = keys;
    o.key_size = 4;
  }
  mmbus_channel_t *ch;
  if (mmbus_open(work, name, &o, &ch)) {
    fprintf(stderr, "make_seeds: %s\n", mmbus_errmsg());
    exit(1);
  }
  return ch;
}

static void publish(mmbus_channel_t *ch, uint32_t size, uint32_t key, uint32_t n) {
  uint8_t rec[256];
  for (uint32_t i = 0; i < n; i++) {
    memset(rec, (int)(i + 1), sizeof rec);
    memcpy(rec, &key, sizeof key < size ? sizeof key : size);
    if (mmbus_publish(ch, rec, size)) {
      fprintf(stderr, "make_seeds: publish: %s\n", mmbus_errmsg());
      exit(1);
    }
    key++;
  }
}

static void save(const char *name, const char *out) {
  char from[256], to[512], cmd[1024];
  snprintf(from, sizeof from, "%s/%s.db", work, name);
  snprintf(to, sizeof to, "%s/seed-%s.db", out, name);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
  if (system(cmd) != 0) exit(1);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 2;
  }
  snprintf(work, sizeof work, "/tmp/mmbus-seeds-XXXXXX");
  if (!mkdtemp(work)) return 1;

  /* plain, lapped (overwrite), a durable subscriber offline behind, an anonymous one attached */
  mmbus_channel_t *a = make("lapped", 8, 4, MMBUS_POLICY_OVERWRITE, 0);
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  so.name = "fz";
  mmbus_sub_t *d, *anon;
  mmbus_sub_options_t ao;
  mmbus_sub_options_init(&ao);
  if (mmbus_subscribe(a, &so, &d) || mmbus_subscribe(a, &ao, &anon)) return 1;
  publish(a, 8, 0, 3);
  mmbus_batch_t b;
  if (mmbus_poll(d, 2, &b) > 0) mmbus_ack(d);
  mmbus_sub_close(d);
  publish(a, 8, 0, 6);
  save("lapped", argv[1]);
  mmbus_sub_close(anon);
  mmbus_close(a);

  /* block policy, 128-byte records, a claim in flight left by a publisher that died */
  mmbus_channel_t *c = make("claim", 128, 16, MMBUS_POLICY_BLOCK, 0);
  publish(c, 128, 0, 5);
  pid_t p = fork();
  if (p == 0) {
    mmbus_channel_t *c2 = make("claim", 128, 16, MMBUS_POLICY_BLOCK, 0);
    mmbus_claim_t cl;
    if (mmbus_claim(c2, 3, -1, &cl) == 0) memset(mmbus_claim_record(&cl, 0), 7, 128);
    _exit(0); /* dies holding the claim */
  }
  waitpid(p, NULL, 0);
  save("claim", argv[1]);
  mmbus_close(c);

  /* keyed: 16 keys, some published twice */
  mmbus_channel_t *k = make("keyed", 24, 8, MMBUS_POLICY_OVERWRITE, 16);
  publish(k, 24, 0, 10);
  publish(k, 24, 3, 4);
  save("keyed", argv[1]);
  mmbus_close(k);

  /* reject policy, empty */
  mmbus_close(make("empty", 64, 2, MMBUS_POLICY_REJECT, 0));
  save("empty", argv[1]);

  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
  return system(cmd) == 0 ? 0 : 1;
}
