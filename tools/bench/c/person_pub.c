#define _DEFAULT_SOURCE /* usleep */
/* Benchmark publisher in C: n Person records (index i, age i % 100), in claims of `batch`, once
 * `subs` subscribers are attached. argv: dir name n batch subs */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mmbus.h"
#include "person.h"

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s dir name records batch subscribers\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1], *name = argv[2];
  int64_t n = atoll(argv[3]);
  uint32_t batch = (uint32_t)atoi(argv[4]);
  uint32_t subs = (uint32_t)atoi(argv[5]);
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = MMBUS_PERSON_SIZE;
  o.schema_name = MMBUS_PERSON_NAME;
  o.fingerprint = MMBUS_PERSON_FINGERPRINT;
  mmbus_channel_t *ch;
  if (mmbus_open(dir, name, &o, &ch)) {
    fprintf(stderr, "open: %s\n", mmbus_errmsg());
    return 1;
  }
  mmbus_stats_t st;
  for (;;) {
    mmbus_stats(ch, &st, NULL, 0);
    if (st.subscribers_active >= subs) break;
    usleep(1000);
  }
  for (int64_t i = 0; i < n;) {
    uint32_t k = (uint32_t)(n - i < batch ? n - i : batch);
    mmbus_claim_t c;
    if (mmbus_claim(ch, k, -1, &c)) {
      fprintf(stderr, "claim: %s\n", mmbus_errmsg());
      return 1;
    }
    for (uint32_t j = 0; j < k; j++) {
      mmbus_Person *p = mmbus_claim_record(&c, j);
      p->index = i + j;
      p->age = (uint8_t)((i + j) % 100);
    }
    mmbus_commit(ch, &c);
    i += k;
  }
  mmbus_close(ch);
  return 0;
}
