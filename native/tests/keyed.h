/* Keyed test records: a point with its key, its publisher and a version counted per key by that
 * publisher; value and padding are derived from them, so a torn or mixed record is detected. */
#ifndef MMBUS_TEST_KEYED_H
#define MMBUS_TEST_KEYED_H

#include "helpers.h"

typedef struct kpoint {
  uint32_t key;      /* 0: the key field */
  int32_t publisher; /* 4 */
  int64_t version;   /* 8: 1, 2, 3 ... per key */
  int64_t value;     /* 16 */
  uint8_t pad[104];  /* 24 */
} kpoint_t;
_Static_assert(sizeof(kpoint_t) == 128, "keyed test record size");

static inline void fill_kpoint(kpoint_t *p, uint32_t key, int32_t publisher, int64_t version) {
  p->key = key;
  p->publisher = publisher;
  p->version = version;
  p->value = version * 7919 + key;
  for (size_t i = 0; i < sizeof p->pad; i++) p->pad[i] = (uint8_t)(key * 31 + version * 17 + i);
}

static inline int kpoint_intact(const kpoint_t *p) {
  if (p->value != p->version * 7919 + (int64_t)p->key) return 0;
  for (size_t i = 0; i < sizeof p->pad; i++)
    if (p->pad[i] != (uint8_t)(p->key * 31 + p->version * 17 + i)) return 0;
  return 1;
}

static inline mmbus_channel_t *open_keyed(const char *dir, const char *name, uint64_t keys, uint64_t capacity) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(kpoint_t);
  o.capacity = capacity;
  o.schema_name = "test.KPoint";
  o.fingerprint = UINT64_C(0x6b6579706f696e74);
  o.key_count = keys;
  o.key_offset = 0;
  o.key_size = 4;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, name, &o, &ch));
  return ch;
}

#endif
