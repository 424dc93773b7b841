/* libFuzzer target: the input is a channel file. Every library entry that trusts the file runs on it,
 * and must end (no call loops without bound on any content), without a crash, a sanitizer report or a
 * wrong answer to an invariant checked here.
 *
 * The header checksum is recomputed over the input's first 256 bytes and the file is sized as its header
 * says (up to 8 MiB): otherwise nearly every mutation would stop at the checksum or the size check, and
 * the fuzzer would never get past validation (those two checks have their own tests). Seeds: valid
 * channels written by make_seeds (see run.sh). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmbus.h"

#define FILE_SIZE_MAX (UINT64_C(8) << 20)

static char dir[64];

static uint64_t fnv1a_header(const uint8_t *h) { /* docs/format.md §2 */
  uint64_t x = UINT64_C(0xcbf29ce484222325);
  for (int i = 0; i < 256; i++) {
    x ^= (i >= 192 && i < 200) ? 0 : h[i];
    x *= UINT64_C(0x100000001b3);
  }
  return x;
}

static void remove_dir(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/f.db", dir);
  unlink(path);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof dir, "/tmp/mmbus-fuzz-XXXXXX");
  if (!mkdtemp(dir)) abort();
  atexit(remove_dir);
  return 0;
}

static void write_file(const uint8_t *data, size_t size) {
  char path[128];
  snprintf(path, sizeof path, "%s/f.db", dir);
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) abort();
  uint8_t head[256];
  size_t n = size < sizeof head ? size : sizeof head;
  memcpy(head, data, n);
  if (n == sizeof head) {
    uint64_t sum = fnv1a_header(head);
    memcpy(head + 192, &sum, 8);
  }
  if (write(fd, head, n) != (ssize_t)n) abort();
  if (size > n && write(fd, data + n, size - n) != (ssize_t)(size - n)) abort();
  uint64_t want;
  if (n == sizeof head) {
    memcpy(&want, head + 184, 8); /* file_size */
    if (want > size && want <= FILE_SIZE_MAX && ftruncate(fd, (off_t)want) != 0) abort();
  }
  close(fd);
}

static void exercise(mmbus_channel_t *ch, int readonly, const uint8_t *data, size_t size) {
  mmbus_info_t info;
  if (mmbus_info(ch, &info) != 0) abort();
  char why[256];
  (void)mmbus_verify(ch, why, sizeof why);
  char layout[256];
  size_t layout_size = 0;
  int lrc = mmbus_layout(ch, layout, sizeof layout, &layout_size);
  if (lrc == 0 && layout_size > sizeof layout) abort();
  mmbus_stats_t st;
  mmbus_sub_stats_t subs[8];
  (void)mmbus_stats(ch, &st, subs, 8);
  uint64_t head = mmbus_head(ch);
  static uint8_t rec[MMBUS_RECORD_SIZE_MAX];
  for (uint64_t s = head > 4 ? head - 4 : 0; s < head + 1; s++) (void)mmbus_read(ch, s, rec, info.record_size);
  if (info.key_count) {
    for (uint64_t k = 0; k < info.key_count && k < 8; k++) (void)mmbus_latest(ch, k, rec, info.record_size, NULL);
    uint64_t key;
    (void)mmbus_key_of(ch, rec, &key);
  }
  if (readonly) return;
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  so.start = MMBUS_START_OLDEST;
  if (size > 300 && data[299] & 1) so.name = "fz"; /* durable: resumes a slot of that name if the file has one */
  if (size > 301 && (data[300] & 7) == 0) so.coalesce_us = 200; /* its windows see the file's head and stamps */
  mmbus_sub_t *sub = NULL;
  if (mmbus_subscribe(ch, &so, &sub) == 0) {
    if (info.key_count) (void)mmbus_sub_ask(sub, 0, info.key_count < 64 ? info.key_count : 64, MMBUS_SNAPSHOT_ALL);
    for (int i = 0; i < 4; i++) {
      uint64_t key;
      while (mmbus_sub_snapshot(sub, rec, info.record_size, &key, NULL) == 1) {
      }
      mmbus_batch_t b;
      int n = mmbus_poll(sub, 64, &b);
      if (n < 0) break;
      for (int j = 0; j < n; j++) {
        (void)mmbus_sub_wants(sub, &b, (uint32_t)j);
        memcpy(rec, mmbus_batch_record(&b, (uint32_t)j), info.record_size);
      }
      if (n > 0 && mmbus_ack(sub) < 0) break;
      if (n == 0) (void)mmbus_wait(sub, so.coalesce_us ? 1 : 0); /* a window is bounded by the wait's 1 ms */
    }
    mmbus_sub_close(sub);
  }
  memset(rec, 0, info.record_size);
  (void)mmbus_publish(ch, rec, info.record_size); /* key 0 on a keyed channel */
  (void)mmbus_gc(ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  write_file(data, size);
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.block_timeout_ms = 0; /* nothing waits: a full ring or a stuck claim answers at once */
  o.unblock_timeout_ms = 1;
  o.lock_timeout_ms = 0;
  for (int readonly = 1; readonly >= 0; readonly--) {
    o.flags = readonly ? MMBUS_READONLY : 0;
    mmbus_channel_t *ch = NULL;
    if (mmbus_open(dir, "f", &o, &ch) != 0) return 0; /* refused: the usual outcome, with a code */
    exercise(ch, readonly, data, size);
    mmbus_close(ch);
  }
  return 0;
}
