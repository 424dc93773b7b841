/* Damaged and hostile files under running processes: no call loops without bound on any content
 * (garbage stamps, a head far ahead), no record that was never published is returned, a forged live
 * publisher slot does not wedge an overwrite publisher, a channel removed and re-created under its
 * users is noticed (MMBUS_E_STALE), a claim of an impossible length in a dead publisher's slot is refused, truncating a mapped file gives MMBUS_E_CORRUPT instead of killing
 * the processes with SIGBUS, and a sparse copy on a full file system is refused (MMBUS_E_NOSPACE)
 * instead of SIGBUSing its first writer (needs root to mount a small tmpfs; skipped otherwise). */
#include "helpers.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>

#define CAP 64

static mmbus_channel_t *open_ch(const char *dir, const char *name, mmbus_policy_t policy) {
  return open_person_channel(dir, name, policy, CAP);
}

static uint8_t *raw_map(const char *dir, const char *name, size_t *size) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", dir, name);
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  *size = (size_t)st.st_size;
  uint8_t *p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED);
  close(fd);
  return p;
}

#define OFF_HEAD 384
#define STAMPS(ch) ((uint64_t *)((uint8_t *)mmbus_base(ch) + info_of(ch).stamps_offset))

static mmbus_info_t info_of(mmbus_channel_t *ch) {
  mmbus_info_t i;
  CHECK_OK(mmbus_info(ch, &i));
  return i;
}

static void test_garbage_stamps_and_head(void) {
  const char *dir = make_test_dir();
  mmbus_channel_t *ch = open_ch(dir, "garbage", MMBUS_POLICY_BLOCK);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  size_t size;
  uint8_t *raw = raw_map(dir, "garbage", &size);
  mmbus_info_t info = info_of(ch);
  char why[256];
  CHECK_RC(mmbus_verify(ch, why, sizeof why), 0);
  /* every stamp 0xFF..FF: poll (never waits) and wait (100 ms) return, with a typed error */
  memset(raw + info.stamps_offset, 0xff, CAP * 8);
  CHECK(mmbus_verify(ch, why, sizeof why) == CAP && strstr(why, "slot 0")); /* what doctor reports */
  mmbus_batch_t b;
  int rc = mmbus_poll(sub, 0, &b);
  CHECK(rc == 0 || rc == MMBUS_E_CORRUPT);
  rc = mmbus_wait(sub, 100);
  CHECK(rc == 0 || rc == MMBUS_E_TIMEOUT || rc == MMBUS_E_CORRUPT);
  *(uint64_t *)(raw + OFF_HEAD) = 5; /* head past the cursor: the garbage now reads as lapped */
  CHECK_RC(mmbus_poll(sub, 0, &b), MMBUS_E_CORRUPT);
  CHECK(strstr(mmbus_errmsg(), "damaged"));
  /* head far ahead of every stamp (2^62 - 10): wait honours its time-out; it gives up gaps with
   * bounded work per call and never hands out a record */
  memset(raw + info.stamps_offset, 0, CAP * 8);
  *(uint64_t *)(raw + OFF_HEAD) = (UINT64_C(1) << 62) - 10;
  CHECK(mmbus_verify(ch, why, sizeof why) == 1 && strstr(why, "nobody fills them"));
  uint64_t t0 = now_ns();
  for (int i = 0; i < 20; i++) {
    rc = mmbus_wait(sub, 100);
    CHECK(rc == 0 || rc == MMBUS_E_TIMEOUT);
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n == 0 || n == MMBUS_E_CORRUPT);
  }
  printf("garbage: 20 waits of 100 ms at a head 2^62 ahead took %.2f s\n", (double)(now_ns() - t0) / 1e9);
  /* mmbus_read never returns a record that was never published */
  test_person_t p;
  CHECK_RC(mmbus_read(ch, UINT64_MAX, &p, sizeof p), MMBUS_E_NOENT);
  *(uint64_t *)(raw + OFF_HEAD) = 3;
  CHECK_RC(mmbus_read(ch, 3, &p, sizeof p), MMBUS_E_NOENT);
  CHECK_RC(mmbus_read(ch, (UINT64_C(1) << 62) + 5, &p, sizeof p), MMBUS_E_NOENT);
  munmap(raw, size);
  mmbus_sub_close(sub);
  mmbus_close(ch);
}

/* Publisher slot 0 of a raw mapping (format.md §1: after the 4 KiB header and the subscriber table). */
static uint8_t *pub_slot0(uint8_t *raw, const mmbus_info_t *info) { return raw + 4096 + (size_t)info->max_subscribers * 128; }

/* In a forked forger: holds publisher slot 0's lock byte (format.md §5: the slot's owner looks alive
 * while it does) and maps the file for writing. */
static uint8_t *hold_publisher_slot0(const char *dir, const char *name, size_t file_size) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", dir, name);
  int fd = open(path, O_RDWR);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)((UINT64_C(1) << 62) + 1 + 4096), .l_len = 1};
  if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl)) _exit(2);
  uint8_t *raw = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (raw == MAP_FAILED) _exit(2);
  return raw;
}

/* A process forges a live-looking publisher slot: it holds the slot's lock and announces a claim of a
 * whole lap that it never commits. An overwrite publisher still goes on (after the unblock time-out),
 * and a subscriber gets every record it publishes after that, intact. */
static void test_forged_publisher(void) {
  const char *dir = make_test_dir();
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = CAP;
  o.policy = MMBUS_POLICY_OVERWRITE;
  o.schema_name = "test.Person";
  o.fingerprint = TEST_FINGERPRINT;
  o.unblock_timeout_ms = 100;
  mmbus_channel_t *ch;
  CHECK_OK(mmbus_open(dir, "forged", &o, &ch));
  mmbus_info_t info = info_of(ch);
  int ready[2];
  CHECK(pipe(ready) == 0);
  pid_t forger = fork_child();
  if (forger == 0) {
    uint8_t *raw = hold_publisher_slot0(dir, "forged", info.file_size);
    uint8_t *slot = pub_slot0(raw, &info);
    uint64_t head = *(uint64_t *)(raw + OFF_HEAD);
    *(uint64_t *)(slot + 24) = CAP;  /* pending_n: a whole lap */
    *(uint64_t *)(slot + 16) = head; /* pending */
    *(uint32_t *)(slot + 0) = 1;     /* state: active */
    __atomic_store_n((uint64_t *)(raw + OFF_HEAD), head + CAP, __ATOMIC_SEQ_CST);
    if (write(ready[1], "f", 1) != 1) _exit(3);
    for (;;) pause();
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub)); /* joins after the forged claim */
  mmbus_channel_t *pub = open_ch(dir, "forged", MMBUS_POLICY_OVERWRITE);
  test_person_t p;
  for (int i = 0; i < 3 * CAP; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(pub, &p, sizeof p)); /* does not wedge */
  }
  mmbus_stats_t st;
  CHECK(mmbus_stats(ch, &st, NULL, 0) >= 0);
  CHECK(st.claims_revoked == 1);
  int64_t got = 0, bad = 0, next = -1;
  mmbus_batch_t b;
  for (;;) {
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    if (n == 0) break;
    for (int i = 0; i < n; i++) {
      const test_person_t *r = mmbus_batch_record(&b, (uint32_t)i);
      if (!person_intact(r) || r->publisher != 0 || r->index <= next) bad++;
      next = r->index;
      got++;
    }
    CHECK(mmbus_ack(sub) >= 0);
  }
  printf("forged publisher: overwrite publisher went on; subscriber read %lld, bad %lld, lost %llu\n", (long long)got,
         (long long)bad, (unsigned long long)mmbus_sub_lost(sub));
  CHECK(bad == 0 && got > 0 && next == 3 * CAP - 1);
  kill(forger, SIGKILL);
  wait_pid(forger);
  mmbus_sub_close(sub);
  mmbus_close(pub);
  mmbus_close(ch);
}

/* A dead publisher's slot says it decided a claim of an impossible length (0, more than the ring, up
 * to 2^64 - 1): taking the slot over (gc, a new publisher) refuses it (MMBUS_E_CORRUPT inside; the slot
 * is left alone) instead of walking billions of records (a fuzzer's input had mmbus_gc completing 2^32 - 1 of them), verify names
 * it, and publishing and reading go on in another slot. */
static void test_impossible_claim_length(void) {
  const char *dir = make_test_dir();
  mmbus_channel_t *ch = open_ch(dir, "impossible", MMBUS_POLICY_BLOCK);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  mmbus_info_t info = info_of(ch);
  size_t size;
  uint8_t *raw = raw_map(dir, "impossible", &size);
  uint8_t *slot = pub_slot0(raw, &info);
  const uint64_t lengths[] = {0, CAP + 1, UINT32_MAX, UINT64_C(1) << 32, UINT64_MAX};
  mmbus_channel_t *pub = open_ch(dir, "impossible", MMBUS_POLICY_BLOCK);
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    uint64_t head = *(uint64_t *)(raw + OFF_HEAD);
    *(uint64_t *)(slot + 24) = lengths[i];                /* pending_n */
    *(uint64_t *)(slot + 16) = head | (UINT64_C(1) << 62); /* pending: decided (COMMITTING) at head */
    __atomic_store_n((uint32_t *)slot, 1u, __ATOMIC_SEQ_CST); /* active; its lock is free: the owner is dead */
    char why[256];
    CHECK(mmbus_verify(ch, why, sizeof why) >= 1 && strstr(why, "impossible"));
    CHECK(mmbus_gc(ch) == 0 && *(uint32_t *)slot == 1); /* returns, and leaves the damaged slot alone */
    test_person_t p;
    fill_person(&p, (int)i, 0);
    CHECK_OK(mmbus_publish(pub, &p, sizeof p)); /* in a slot of its own */
    mmbus_batch_t b;
    CHECK_RC(mmbus_poll(sub, 0, &b), 1);
    const test_person_t *r = mmbus_batch_record(&b, 0);
    CHECK(person_intact(r) && r->index == (int64_t)i && b.seq == head);
    CHECK_RC(mmbus_ack(sub), 0);
    __atomic_store_n((uint32_t *)slot, 0u, __ATOMIC_SEQ_CST); /* free again for the next length */
  }
  munmap(raw, size);
  mmbus_close(pub);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  puts("impossible claim lengths in a dead publisher's slot: refused, publishing goes on");
}

/* A live-looking publisher slot (its lock held) says a claim of an impossible length of it was given up
 * (revoked_n) or completed for it (helped_n): such a "fence" would cover every sequence, and publishers
 * stepping over fenced slots would go on for ever. verify names it, and publishing ignores it. */
static void forge_fence(const char *dir, const char *name, int helped, uint64_t len) {
  mmbus_channel_t *ch = open_ch(dir, name, MMBUS_POLICY_OVERWRITE);
  mmbus_info_t info = info_of(ch);
  int ready[2];
  CHECK(pipe(ready) == 0);
  pid_t forger = fork_child();
  if (forger == 0) {
    uint8_t *raw = hold_publisher_slot0(dir, name, info.file_size);
    uint8_t *slot = pub_slot0(raw, &info);
    uint64_t *stamps = (uint64_t *)(raw + info.stamps_offset);
    for (uint64_t q = 0; q < CAP; q++) /* lap 0: given up (revoked), or one committed claim (helped) */
      stamps[q] = (q + 1) | (helped ? (q ? UINT64_C(1) << 62 : 0) : UINT64_C(1) << 63);
    if (helped) {
      *(uint32_t *)(raw + 768) = 1;                 /* helped_claims (format.md §3) */
      *(uint64_t *)(slot + 24) = CAP;               /* pending_n: lap 0 */
      *(uint64_t *)(slot + 16) = UINT64_C(1) << 62; /* pending: the claim at 0, COMMITTING */
      *(uint64_t *)(slot + 88) = len;               /* helped_n */
      *(uint64_t *)(slot + 80) = 1;                 /* helped: the claim at 0 */
    } else {
      *(uint64_t *)(slot + 16) = UINT64_MAX; /* pending: none */
      *(uint64_t *)(slot + 64) = len;        /* revoked_n */
      *(uint64_t *)(slot + 56) = 1;          /* revoked: the claim at 0 */
    }
    __atomic_store_n((uint32_t *)slot, 1u, __ATOMIC_SEQ_CST);
    __atomic_store_n((uint64_t *)(raw + OFF_HEAD), (uint64_t)CAP, __ATOMIC_SEQ_CST);
    if (write(ready[1], "f", 1) != 1) _exit(3);
    for (;;) pause();
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1);
  char why[256];
  CHECK(mmbus_verify(ch, why, sizeof why) >= 1 && strstr(why, helped ? "helped claim" : "given-up claim"));
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  mmbus_channel_t *pub = open_ch(dir, name, MMBUS_POLICY_OVERWRITE);
  test_person_t p;
  for (int i = 0; i < 3; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(pub, &p, sizeof p)); /* returns: the impossible fence is no fence */
  }
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(sub, 0, &b), 3);
  for (uint32_t i = 0; i < 3; i++) CHECK(((const test_person_t *)mmbus_batch_record(&b, i))->index == i);
  kill(forger, SIGKILL);
  wait_pid(forger);
  close(ready[0]);
  close(ready[1]);
  mmbus_sub_close(sub);
  mmbus_close(pub);
  mmbus_close(ch);
}

static void test_impossible_fences(void) {
  const char *dir = make_test_dir();
  forge_fence(dir, "fence-revoked", 0, UINT64_MAX);
  forge_fence(dir, "fence-revoked-2", 0, UINT64_C(1) << 32);
  forge_fence(dir, "fence-helped", 1, UINT64_MAX);
  forge_fence(dir, "fence-helped-2", 1, UINT64_C(1) << 32);
  puts("impossible given-up and helped claims in a live publisher's slot: no fence, publishing goes on");
}

static void test_recreated(void) {
  const char *dir = make_test_dir();
  mmbus_channel_t *ch = open_ch(dir, "again", MMBUS_POLICY_OVERWRITE);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  CHECK_OK(mmbus_check(ch));
  CHECK_OK(mmbus_unlink(dir, "again"));
  CHECK_RC(mmbus_check(ch), MMBUS_E_STALE);
  mmbus_channel_t *fresh = open_ch(dir, "again", MMBUS_POLICY_OVERWRITE); /* re-created */
  CHECK_RC(mmbus_wait(sub, 3000), MMBUS_E_STALE); /* a waiting subscriber learns it within a second */
  CHECK(strstr(mmbus_errmsg(), "removed or replaced"));
  /* a publisher still on the old file learns it too, at most about a second later */
  mmbus_channel_t *old = NULL;
  mmbus_options_t o;
  mmbus_options_init(&o);
  char path[512];
  snprintf(path, sizeof path, "%s/again.db", dir);
  CHECK_OK(mmbus_open(dir, "again", &o, &old));
  CHECK_OK(mmbus_unlink(dir, "again"));
  mmbus_channel_t *third = open_ch(dir, "again", MMBUS_POLICY_OVERWRITE);
  test_person_t p;
  fill_person(&p, 0, 0);
  int rc = 0;
  uint64_t t0 = now_ns();
  int64_t sent = 0;
  while (rc == 0 && now_ns() - t0 < 10000000000ull) {
    rc = mmbus_publish(old, &p, sizeof p);
    sent += rc == 0;
  }
  printf("re-created: the old handle's publisher was told after %lld records (%.2f s)\n", (long long)sent,
         (double)(now_ns() - t0) / 1e9);
  CHECK_RC(rc, MMBUS_E_STALE);
  mmbus_close(old);
  mmbus_close(third);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  mmbus_close(fresh);
}

/* A publisher and a waiting subscriber (both in children) keep their channel mapped; the file is
 * truncated under them. They must carry on to a typed error, not die of SIGBUS. */
static void test_truncated_under_processes(void) {
  const char *dir = make_test_dir();
  mmbus_close(open_person_channel(dir, "trunc", MMBUS_POLICY_OVERWRITE, 1 << 12));
  int ready[2];
  CHECK(pipe(ready) == 0);
  pid_t sub = fork_child();
  if (sub == 0) {
    mmbus_channel_t *ch = open_person_channel(dir, "trunc", MMBUS_POLICY_OVERWRITE, 1 << 12);
    mmbus_sub_t *s;
    CHECK_OK(mmbus_subscribe(ch, NULL, &s));
    if (write(ready[1], "s", 1) != 1) _exit(3);
    mmbus_batch_t b;
    for (;;) {
      int n = mmbus_poll(s, 0, &b);
      if (n < 0) _exit(n == MMBUS_E_CORRUPT ? 10 : 11);
      if (n > 0) {
        volatile int64_t sum = 0;
        for (int i = 0; i < n; i++) sum += ((const test_person_t *)mmbus_batch_record(&b, (uint32_t)i))->index;
        mmbus_ack(s);
        continue;
      }
      int w = mmbus_wait(s, 200);
      if (w && w != MMBUS_E_TIMEOUT) _exit(w == MMBUS_E_CORRUPT ? 10 : 12);
    }
  }
  pid_t pub = fork_child();
  if (pub == 0) {
    mmbus_channel_t *ch = open_person_channel(dir, "trunc", MMBUS_POLICY_OVERWRITE, 1 << 12);
    if (write(ready[1], "p", 1) != 1) _exit(3);
    test_person_t p;
    for (int64_t i = 0;; i++) {
      fill_person(&p, i, 0);
      int rc = mmbus_publish(ch, &p, sizeof p);
      if (rc) {
        if (rc != MMBUS_E_CORRUPT) fprintf(stderr, "publisher after truncation: %s: %s\n", mmbus_errname(rc), mmbus_errmsg());
        _exit(rc == MMBUS_E_CORRUPT ? 10 : 11);
      }
      if (i % 1000 == 0) usleep(100);
    }
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1 && read(ready[0], &c, 1) == 1);
  usleep(50000);
  char path[512];
  snprintf(path, sizeof path, "%s/trunc.db", dir);
  CHECK(truncate(path, 4096) == 0); /* anyone with write access can do this */
  int cs = wait_pid(sub), cp = wait_pid(pub);
  printf("truncated under them: subscriber exit %d, publisher exit %d (10 = MMBUS_E_CORRUPT, 135 = SIGBUS)\n", cs, cp);
  CHECK(cs == 10 && cp == 10);
  /* and this process survives reading a mapping whose file shrank */
  mmbus_close(open_person_channel(dir, "trunc2", MMBUS_POLICY_OVERWRITE, 1 << 12));
  mmbus_channel_t *ch = open_person_channel(dir, "trunc2", MMBUS_POLICY_OVERWRITE, 1 << 12);
  snprintf(path, sizeof path, "%s/trunc2.db", dir);
  CHECK(truncate(path, 4096) == 0);
  volatile const uint8_t *last = (const uint8_t *)mmbus_base(ch) + mmbus_mapped_size(ch) - 1;
  CHECK(*last == 0); /* would be SIGBUS */
  test_person_t p;
  fill_person(&p, 0, 0);
  CHECK_RC(mmbus_publish(ch, &p, sizeof p), MMBUS_E_CORRUPT);
  CHECK(strstr(mmbus_errmsg(), "truncated"));
  mmbus_close(ch);
}

static void test_sparse_copy_on_full_disk(void) {
  if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    puts("sparse copy on a full disk: skipped (mounting a small tmpfs needs root)");
    return;
  }
  const char *dir = make_test_dir();
  char small[600];
  snprintf(small, sizeof small, "%s/small", dir);
  CHECK(mkdir(small, 0700) == 0);
  CHECK(mount("tmpfs", small, "tmpfs", 0, "size=1m") == 0);
  /* a valid 8 MB channel made elsewhere, copied in sparse (only its header has blocks) */
  mmbus_channel_t *src = open_person_channel(dir, "big", MMBUS_POLICY_OVERWRITE, 1 << 16);
  mmbus_close(src);
  char cmd[2000];
  snprintf(cmd, sizeof cmd, "cp --sparse=always '%s/big.db' '%s/big.db'", dir, small);
  CHECK(system(cmd) == 0);
  mmbus_channel_t *ch = NULL;
  mmbus_options_t o;
  mmbus_options_init(&o);
  CHECK_RC(mmbus_open(small, "big", &o, &ch), MMBUS_E_NOSPACE); /* refused, not a SIGBUS later */
  o.flags = MMBUS_READONLY; /* reading it needs no space */
  CHECK_OK(mmbus_open(small, "big", &o, &ch));
  mmbus_close(ch);
  snprintf(cmd, sizeof cmd, "%s/big.db", small);
  unlink(cmd);
  umount(small);
  puts("sparse copy on a full disk: refused with MMBUS_E_NOSPACE");
}

int main(void) {
  test_deadline(120);
  test_garbage_stamps_and_head();
  test_forged_publisher();
  test_impossible_claim_length();
  test_impossible_fences();
  test_recreated();
  test_truncated_under_processes();
  test_sparse_copy_on_full_disk();
  puts("t_hostile_files: ok");
  return 0;
}
