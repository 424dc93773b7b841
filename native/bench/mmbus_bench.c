/* mmbus_bench: throughput across processes (2,000,000 records of 128 bytes by default), one-way
 * latency while busy, and the CPU an idle subscriber uses. Prints a table, or JSON with --json.
 *
 *   mmbus_bench [--records N] [--runs R] [--json] [--dir DIR]
 *
 * Every receiver checks the count and the original demo's checksum (+0 -1 +2 -3 ...); a run whose
 * check fails is reported as failed, never as a figure. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_common.h"

typedef struct rec {
  int64_t index;
  uint64_t sent_ns;
  uint8_t payload[112];
} rec_t;
_Static_assert(sizeof(rec_t) == 128, "128-byte records");

static const char *dir = "/tmp";
static int64_t records = 2000000;

typedef struct shared {
  volatile int ready;
  volatile int go;
  uint64_t t_start;
  uint64_t t_end[8];
  int64_t checksum[8];
  int64_t count[8];
  uint64_t lat[200000]; /* latency samples */
  int64_t nlat;
  double idle_cpu;
} shared_t;

static mmbus_channel_t *open_ch(const char *name, uint64_t capacity, mmbus_policy_t policy) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.record_size = sizeof(rec_t);
  o.capacity = capacity;
  o.policy = policy;
  o.schema_name = "bench.Rec";
  o.fingerprint = 0xbe4c;
  return open_or_exit(dir, name, &o);
}

static void subscriber(shared_t *sh, int id, const char *name, int64_t n) {
  mmbus_channel_t *ch = open_ch(name, 1 << 16, MMBUS_POLICY_BLOCK);
  mmbus_sub_t *sub;
  if (mmbus_subscribe(ch, NULL, &sub)) exit(1);
  __atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
  int64_t got = 0, sum = 0;
  mmbus_batch_t b;
  while (got < n) {
    int k = mmbus_poll(sub, 8192, &b);
    if (k <= 0) {
      if (mmbus_wait(sub, 10000)) break;
      continue;
    }
    for (int i = 0; i < k; i++) {
      const rec_t *r = mmbus_batch_record(&b, (uint32_t)i);
      sum += (r->index & 1) ? -r->index : r->index;
    }
    got += k;
    mmbus_ack(sub);
  }
  sh->t_end[id] = now_ns();
  sh->checksum[id] = sum;
  sh->count[id] = got;
  mmbus_sub_close(sub);
  mmbus_close(ch);
  _exit(0);
}

static void publisher(shared_t *sh, const char *name, int64_t n, int batch, int subs) {
  mmbus_channel_t *ch = open_ch(name, 1 << 16, MMBUS_POLICY_BLOCK);
  while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < subs) usleep(100);
  sh->t_start = now_ns();
  if (batch <= 1) {
    rec_t r;
    memset(&r, 0, sizeof r);
    for (int64_t i = 0; i < n; i++) {
      r.index = i;
      if (mmbus_publish(ch, &r, sizeof r)) exit(2);
    }
  } else {
    for (int64_t i = 0; i < n;) {
      uint32_t k = (uint32_t)(n - i < batch ? n - i : batch);
      mmbus_claim_t c;
      if (mmbus_claim(ch, k, -1, &c)) exit(2);
      for (uint32_t j = 0; j < k; j++) {
        rec_t *r = mmbus_claim_record(&c, j);
        r->index = i + j;
        r->sent_ns = 0;
      }
      mmbus_commit(ch, &c);
      i += k;
    }
  }
  mmbus_close(ch);
  _exit(0);
}

static int64_t expected_checksum(int64_t n) { return n % 2 == 0 ? -(n / 2) : (n - 1) / 2; }

static int wait_all(pid_t *p, int n) {
  int ok = 1;
  for (int i = 0; i < n; i++) {
    int st;
    waitpid(p[i], &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) ok = 0;
  }
  return ok;
}

/* msg/s per subscriber, or -1 if any check failed. */
static double throughput(shared_t *sh, int subs, int batch, double *per_sub_min) {
  char name[64];
  snprintf(name, sizeof name, "bench-%d-%d-%d", (int)getpid(), subs, batch);
  mmbus_close(open_ch(name, 1 << 16, MMBUS_POLICY_BLOCK));
  memset(sh, 0, offsetof(shared_t, lat));
  pid_t p[9];
  for (int s = 0; s < subs; s++)
    if ((p[s] = child()) == 0) subscriber(sh, s, name, records);
  if ((p[subs] = child()) == 0) publisher(sh, name, records, batch, subs);
  int ok = wait_all(p, subs + 1);
  mmbus_unlink(dir, name);
  double worst = 1e30;
  for (int s = 0; s < subs; s++) {
    if (sh->count[s] != records || sh->checksum[s] != expected_checksum(records)) ok = 0;
    double rate = (double)records / ((double)(sh->t_end[s] - sh->t_start) / 1e9);
    if (rate < worst) worst = rate;
  }
  *per_sub_min = worst;
  return ok ? worst : -1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* One-way latency at a steady rate while the subscriber is busy (spinning between records). */
static int latency(shared_t *sh, int64_t samples, uint64_t interval_ns, double out[3]) {
  char name[64];
  snprintf(name, sizeof name, "bench-lat-%d", (int)getpid());
  mmbus_close(open_ch(name, 1 << 16, MMBUS_POLICY_BLOCK));
  memset(sh, 0, offsetof(shared_t, lat));
  pid_t p[2];
  if ((p[0] = child()) == 0) {
    mmbus_channel_t *ch = open_ch(name, 1 << 16, MMBUS_POLICY_BLOCK);
    mmbus_sub_t *sub;
    if (mmbus_subscribe(ch, NULL, &sub)) exit(1);
    __atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
    int64_t got = 0;
    mmbus_batch_t b;
    while (got < samples) {
      int k = mmbus_poll(sub, 64, &b);
      if (k <= 0) {
        if (mmbus_wait(sub, 10000)) break;
        continue;
      }
      uint64_t t = now_ns();
      for (int i = 0; i < k && got < samples; i++) sh->lat[got++] = t - ((const rec_t *)mmbus_batch_record(&b, (uint32_t)i))->sent_ns;
      mmbus_ack(sub);
    }
    sh->nlat = got;
    _exit(0);
  }
  if ((p[1] = child()) == 0) {
    mmbus_channel_t *ch = open_ch(name, 1 << 16, MMBUS_POLICY_BLOCK);
    while (!__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST)) usleep(100);
    rec_t r;
    memset(&r, 0, sizeof r);
    uint64_t next = now_ns();
    for (int64_t i = 0; i < samples; i++) {
      while (now_ns() < next) {
      }
      r.index = i;
      r.sent_ns = now_ns();
      if (mmbus_publish(ch, &r, sizeof r)) exit(2);
      next += interval_ns;
    }
    _exit(0);
  }
  int ok = wait_all(p, 2);
  mmbus_unlink(dir, name);
  if (!ok || sh->nlat != samples) return -1;
  qsort(sh->lat, (size_t)samples, sizeof sh->lat[0], cmp_u64);
  out[0] = (double)sh->lat[samples / 2];
  out[1] = (double)sh->lat[samples * 99 / 100];
  out[2] = (double)sh->lat[samples * 999 / 1000];
  return 0;
}

/* CPU used by a subscriber waiting 5 s for data that never comes, as a percentage of one core. */
static double idle_cpu(double seconds) {
  char name[64];
  snprintf(name, sizeof name, "bench-idle-%d", (int)getpid());
  mmbus_close(open_ch(name, 1 << 16, MMBUS_POLICY_BLOCK));
  pid_t p = child();
  if (p == 0) {
    mmbus_channel_t *ch = open_ch(name, 1 << 16, MMBUS_POLICY_BLOCK);
    mmbus_sub_t *sub;
    if (mmbus_subscribe(ch, NULL, &sub)) exit(1);
    mmbus_wait(sub, (int64_t)(seconds * 1000));
    _exit(0);
  }
  struct rusage ru;
  ok_exit(p, &ru);
  mmbus_unlink(dir, name);
  return 100.0 * cpu_s(&ru) / seconds;
}

int main(int argc, char **argv) {
  int runs = 3, json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--records") && i + 1 < argc) records = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--json")) json = 1;
    else {
      fprintf(stderr, "usage: %s [--records N] [--runs R] [--dir DIR] [--json]\n", argv[0]);
      return 2;
    }
  }
  if (runs < 1 || runs > 15 || records < 1) return 2;
  shared_t *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct { const char *name; int subs; int batch; } cases[] = {
    {"1->1 single publish", 1, 1}, {"1->1 batched (64, in place)", 1, 64}, {"1->2 single publish", 2, 1},
    {"1->2 batched (64, in place)", 2, 64}, {"1->4 batched (64, in place)", 4, 64}};
  int ncases = (int)(sizeof cases / sizeof cases[0]);
  if (json) printf("{\"records\":%" PRId64 ",\"record_size\":128,\"runs\":%d,\"throughput\":[", records, runs);
  else printf("mmbus C->C, %" PRId64 " records of 128 B, median of %d runs (msg/s per subscriber)\n", records, runs);
  int failed = 0;
  for (int c = 0; c < ncases; c++) {
    double v[15], dummy;
    for (int r = 0; r < runs; r++) {
      v[r] = throughput(sh, cases[c].subs, cases[c].batch, &dummy);
      if (v[r] < 0) failed = 1;
    }
    qsort(v, (size_t)runs, sizeof v[0], cmp_d);
    if (json)
      printf("%s{\"case\":\"%s\",\"subscribers\":%d,\"batch\":%d,\"median\":%.0f,\"min\":%.0f,\"max\":%.0f}", c ? "," : "",
             cases[c].name, cases[c].subs, cases[c].batch, v[runs / 2], v[0], v[runs - 1]);
    else
      printf("  %-30s %8.1f M/s  (min %.1f, max %.1f)\n", cases[c].name, v[runs / 2] / 1e6, v[0] / 1e6, v[runs - 1] / 1e6);
  }
  double lat[3] = {0, 0, 0};
  if (latency(sh, 100000, 10000, lat)) failed = 1;
  double idle = idle_cpu(5.0);
  if (json)
    printf("],\"latency_ns\":{\"rate\":100000,\"p50\":%.0f,\"p99\":%.0f,\"p999\":%.0f},\"idle_cpu_percent\":%.3f,\"failed\":%s}\n",
           lat[0], lat[1], lat[2], idle, failed ? "true" : "false");
  else {
    printf("  one-way latency at 100,000 msg/s: p50 %.2f us, p99 %.2f us, p99.9 %.2f us\n", lat[0] / 1e3, lat[1] / 1e3, lat[2] / 1e3);
    printf("  idle subscriber over 5 s: %.3f%% of one core\n", idle);
    if (failed) printf("  SOME RUNS FAILED THEIR CHECKS\n");
  }
  return failed;
}
