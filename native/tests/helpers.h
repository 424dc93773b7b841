/* Shared helpers of the test programs. Each test is a standalone program: exit 0 pass, 1 fail. */
#ifndef MMBUS_TEST_HELPERS_H
#define MMBUS_TEST_HELPERS_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "proc.h"
#include "mmbus.h"

#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "%s:%d: CHECK(%s) failed [last error: %s]\n", __FILE__, __LINE__, #cond, \
              mmbus_errmsg());                                                            \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

#define CHECK_RC(expr, want)                                                              \
  do {                                                                                    \
    long long rc_ = (long long)(expr);                                                    \
    if (rc_ != (long long)(want)) {                                                       \
      fprintf(stderr, "%s:%d: %s returned %lld (%s), expected %lld (%s): %s\n", __FILE__, __LINE__, \
              #expr, rc_, mmbus_errname((int)rc_), (long long)(want), mmbus_errname((int)(want)), \
              mmbus_errmsg());                                                            \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, 0)

/* A 128-byte record like the original demo's SPerson. */
typedef struct test_person {
  int64_t index;
  int32_t age;
  int32_t publisher;
  char name[48];
  uint8_t pad[64];
} test_person_t;
_Static_assert(sizeof(test_person_t) == 128, "test record size");

#define TEST_FINGERPRINT UINT64_C(0x1234567890abcdef)

static inline int64_t env_int(const char *name, int64_t dflt) {
  const char *v = getenv(name);
  return v && *v ? strtoll(v, NULL, 10) : dflt;
}

/* Records per multi-process test: 2,000,000 unless MMBUS_TEST_RECORDS says fewer (sanitizer builds). */
static inline int64_t test_records(void) { return env_int("MMBUS_TEST_RECORDS", 2000000); }

/* The original demo's checksum: +0 -1 +2 -3 ... over the index. */
static inline int64_t expected_checksum(int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; i++) sum += (i & 1) ? -i : i;
  return sum;
}

static inline void fill_person(test_person_t *p, int64_t index, int32_t publisher) {
  memset(p, 0, sizeof *p);
  p->index = index;
  p->age = (int32_t)(index % 100);
  p->publisher = publisher;
  snprintf(p->name, sizeof p->name, "person-%" PRId64, index);
}

static inline int person_intact(const test_person_t *p) {
  char want[48];
  snprintf(want, sizeof want, "person-%" PRId64, p->index);
  return p->age == (int32_t)(p->index % 100) && strcmp(p->name, want) == 0;
}

static char test_dirs[8][512];
static int test_dir_count;
static int test_dir_owner; /* the process that made them removes them (not its children) */

static inline int self_pid(void) {
#ifdef _WIN32
  return (int)GetCurrentProcessId();
#else
  return (int)getpid();
#endif
}

static void rm_test_dirs(void) {
  if (self_pid() != test_dir_owner) return;
  for (int k = 0; k < test_dir_count; k++) {
#ifdef _WIN32
    char pattern[600], p[1200];
    snprintf(pattern, sizeof pattern, "%s\\*", test_dirs[k]);
    WIN32_FIND_DATAA fd;
    HANDLE f = FindFirstFileA(pattern, &fd);
    if (f != INVALID_HANDLE_VALUE) {
      do {
        if (strcmp(fd.cFileName, ".") && strcmp(fd.cFileName, "..")) {
          snprintf(p, sizeof p, "%s\\%s", test_dirs[k], fd.cFileName);
          SetFileAttributesA(p, FILE_ATTRIBUTE_NORMAL);
          if (!DeleteFileA(p)) RemoveDirectoryA(p);
        }
      } while (FindNextFileA(f, &fd));
      FindClose(f);
    }
    RemoveDirectoryA(test_dirs[k]);
#else
    DIR *d = opendir(test_dirs[k]);
    if (d) {
      struct dirent *e;
      char p[sizeof test_dirs[0] + 4096]; /* the compiler takes d_name as up to 4 KiB */
      while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
          snprintf(p, sizeof p, "%s/%s", test_dirs[k], e->d_name);
          unlink(p);
        }
      closedir(d);
    }
    rmdir(test_dirs[k]);
#endif
  }
}

/* A fresh private directory, removed at exit by the process that made it. */
static inline const char *make_test_dir(void) {
  if (test_dir_count == 8) {
    fprintf(stderr, "too many test directories\n");
    exit(1);
  }
  char *dir = test_dirs[test_dir_count];
#ifdef _WIN32
  char tmp[MAX_PATH + 1];
  DWORD n = GetTempPathA(sizeof tmp, tmp);
  if (n == 0 || n > MAX_PATH) {
    fprintf(stderr, "GetTempPath failed\n");
    exit(1);
  }
  for (unsigned attempt = 0;; attempt++) {
    snprintf(dir, sizeof test_dirs[0], "%smmbus-test-%lu-%u", tmp, (unsigned long)GetCurrentProcessId(), attempt);
    if (CreateDirectoryA(dir, NULL)) break;
    if (GetLastError() != ERROR_ALREADY_EXISTS || attempt > 1000) {
      fprintf(stderr, "CreateDirectory %s: error %lu\n", dir, GetLastError());
      exit(1);
    }
  }
#else
  snprintf(dir, sizeof test_dirs[0], "/tmp/mmbus-test-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    exit(1);
  }
#endif
  if (test_dir_count++ == 0) {
    test_dir_owner = self_pid();
    atexit(rm_test_dirs);
  }
  return dir;
}

/* Options that create (or open) a test.Person channel; tests set their time-outs on top. */
static inline mmbus_options_t person_channel_options(mmbus_policy_t policy, uint64_t capacity) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = capacity;
  o.schema_name = "test.Person";
  o.fingerprint = TEST_FINGERPRINT;
  o.policy = policy;
  return o;
}

static inline mmbus_channel_t *open_person_channel(const char *dir, const char *name, mmbus_policy_t policy,
                                                  uint64_t capacity) {
  mmbus_options_t o = person_channel_options(policy, capacity);
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, name, &o, &ch));
  return ch;
}

#ifndef _WIN32
/* Forks a child that dies with its parent (no process left behind if the test is killed). Linux-only
 * tests; the others spawn roles (proc.h). */
static inline pid_t fork_child(void) {
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(1);
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
  }
  return pid;
}

/* Pipes between a forked child and its parent (Linux-only tests). */
static inline void write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w <= 0) _exit(3);
    c += w;
    n -= (size_t)w;
  }
}

static inline int read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t r = read(fd, c, n);
    if (r <= 0) return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Waits for a forked child; returns its exit code, or 128+signal. */
static inline int wait_pid(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) == -1)
    if (errno != EINTR) return -1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}
#endif

/* Consumes records until `count` real records arrived (or until `stop_at` index for a single
 * publisher). Checks per-publisher order and content; returns the checksum over index. */
typedef struct consume_result {
  int64_t received;
  int64_t checksum;
  int64_t bad;
  uint64_t lost;
} consume_result_t;

/* Batches of up to max_batch (<= 4096), with pause_us of sleep after each when given (a slow reader). */
static inline consume_result_t consume(mmbus_sub_t *sub, int64_t count, int publishers, uint32_t max_batch,
                                       unsigned pause_us) {
  consume_result_t r = {0, 0, 0, 0};
  int64_t next[16];
  for (int i = 0; i < 16; i++) next[i] = 0;
  mmbus_batch_t b;
  while (r.received + (int64_t)mmbus_sub_lost(sub) < count) {
    int n = mmbus_poll(sub, max_batch, &b);
    if (n < 0) {
      fprintf(stderr, "poll: %s\n", mmbus_errmsg());
      r.bad++;
      break;
    }
    if (n == 0) {
      int w = mmbus_wait(sub, 30000);
      if (w != 0) {
        fprintf(stderr, "wait: %s (received %" PRId64 ")\n", mmbus_errmsg(), r.received);
        r.bad++;
        break;
      }
      continue;
    }
    /* Copy, then ack: in overwrite mode the ack says how many of the batch may have been
     * overwritten while we copied (seqlock style); those are counted as lost, not received. */
    static test_person_t copy[4096];
    for (int i = 0; i < n; i++) memcpy(&copy[i], mmbus_batch_record(&b, (uint32_t)i), sizeof copy[i]);
    int over = mmbus_ack(sub);
    if (over < 0) {
      r.bad++;
      break;
    }
    for (int i = over; i < n; i++) {
      const test_person_t *p = &copy[i];
      int pub = p->publisher;
      if (pub < 0 || pub >= publishers || !person_intact(p)) {
        r.bad++;
        continue;
      }
      if (p->index < next[pub]) r.bad++; /* order per publisher */
      next[pub] = p->index + 1;
      r.checksum += (p->index & 1) ? -p->index : p->index;
      r.received++;
    }
    if (pause_us) sleep_us(pause_us);
  }
  r.lost = mmbus_sub_lost(sub);
  return r;
}

/* FNV-1a 64 over header bytes 0..255 with the checksum field (192..199) taken as zero (format.md §2). */
static inline uint64_t test_header_checksum(const uint8_t *h) {
  uint64_t x = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < 256; i++) x = (x ^ ((i >= 192 && i < 200) ? 0 : h[i])) * UINT64_C(0x100000001b3);
  return x;
}

/* Takes flag bits (format.md §3, header offset 52) off a channel file nobody has open, checksum fixed:
 * the file as a library that does not set them creates it. */
static inline void clear_header_flags(const char *dir, const char *name, uint32_t bits) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.db", dir, name);
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  uint8_t h[256];
  CHECK(fread(h, 1, sizeof h, f) == sizeof h);
  uint32_t flags;
  memcpy(&flags, h + 52, 4);
  flags &= ~bits;
  memcpy(h + 52, &flags, 4);
  uint64_t sum = test_header_checksum(h);
  memcpy(h + 192, &sum, 8);
  CHECK(fseek(f, 0, SEEK_SET) == 0 && fwrite(h, 1, sizeof h, f) == sizeof h && fclose(f) == 0);
}

#endif
