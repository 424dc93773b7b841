/* mmbus_bench_keyed: what keyed channels cost and give (C side; the TypeScript side is in tools/bench).
 *
 *   mmbus_bench_keyed [--keys 210000] [--records 2000000] [--runs 3] [--json] [--dir DIR]
 *                     [--part publish|one_to_one|snapshot|ask]
 *
 * 1. publish cost per record, keyed vs plain (random keys, and keys in key order; no subscriber: the
 *    publisher alone, its CPU time, so that other processes on the machine do not count);
 * 2. 1->1 across processes, keyed vs plain (the subscriber checks every record's key and version);
 * 3. a new subscriber's snapshot of every key (values taken, each checked; CPU time);
 * 4. a subscriber asking 1,000 of the keys while the publisher sends `records` changes: its CPU per
 *    record delivered and per record published (getrusage of the subscriber process).
 * Every figure comes from a run whose checks passed; a failed check fails the program. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_common.h"

typedef struct point {
  uint32_t key;
  uint32_t pad0;
  int64_t version;
  double value;
  uint8_t pad[104];
} point_t;
_Static_assert(sizeof(point_t) == 128, "128-byte records");

#define CAPACITY (UINT64_C(1) << 16) /* records in a bench channel's ring */

static const char *dir = "/tmp";
static uint64_t keys = 210000;
static int64_t records = 2000000;

static mmbus_channel_t *open_ch(const char *name, int keyed) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.record_size = sizeof(point_t);
  o.capacity = CAPACITY;
  o.schema_name = "bench.Point";
  o.fingerprint = 0xbe4c2;
  if (keyed) {
    o.key_count = keys;
    o.key_size = 4;
  }
  return open_or_exit(dir, name, &o);
}

/* The key of record i: a pseudo-random walk over the keys, or (sequential) key order, as a start-up
 * burst that publishes every point in turn. */
static int sequential = 0;
static inline uint32_t key_of(int64_t i) {
  return (uint32_t)(sequential ? (uint64_t)i % keys : ((uint64_t)i * 2654435761u) % keys);
}

static void fill(point_t *p, int64_t i) {
  p->key = key_of(i);
  p->version = i;
  p->value = (double)i * 0.5;
}

/* Publishes records [0, n): mmbus_publish one at a time (batch 1), or claims of `batch` filled in
 * place. 0, or -1 when a call failed. */
static int publish_n(mmbus_channel_t *ch, int batch, int64_t n) {
  if (batch == 1) {
    point_t r;
    memset(&r, 0, sizeof r);
    for (int64_t i = 0; i < n; i++) {
      fill(&r, i);
      if (mmbus_publish(ch, &r, sizeof r)) return -1;
    }
    return 0;
  }
  for (int64_t i = 0; i < n;) {
    mmbus_claim_t c;
    uint32_t k = (uint32_t)(n - i < batch ? n - i : batch);
    if (mmbus_claim(ch, k, -1, &c)) return -1;
    for (uint32_t j = 0; j < k; j++) fill(mmbus_claim_record(&c, j), i + j);
    if (mmbus_commit(ch, &c)) return -1;
    i += k;
  }
  return 0;
}
static int publish_all(mmbus_channel_t *ch, int batch) { return publish_n(ch, batch, records); }

typedef struct shared {
  volatile int ready;
  uint64_t t0, t1;
  int64_t got, bad;
} shared_t;

/* A child that opens `name` and, once the subscriber is ready, publishes every record in claims of 64. */
static pid_t start_publisher(shared_t *sh, const char *name, int keyed) {
  pid_t p = child();
  if (p == 0) {
    mmbus_channel_t *ch = open_ch(name, keyed);
    while (!__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST)) usleep(100);
    sh->t0 = now_ns();
    _exit(publish_all(ch, 64) ? 2 : 0);
  }
  return p;
}

/* Nanoseconds per record for one publisher alone (batches of `batch`, 1 = mmbus_publish). */
static double publish_cost(int keyed, int batch) {
  char name[64];
  snprintf(name, sizeof name, "kbench-pub-%d-%d", (int)getpid(), keyed);
  mmbus_channel_t *ch = open_ch(name, keyed);
  /* Warm first, untimed: a pass over every key and the whole ring. The first write to each page of a
   * mapping faults (in a VM with shadow paging ~10 us a page: 60 ns per record of a first pass over the
   * key table), once per process and page, not per record. */
  if (publish_n(ch, batch, (int64_t)(keys > CAPACITY ? keys : CAPACITY))) exit(2);
  uint64_t t0 = cpu_now_ns();
  if (publish_all(ch, batch)) exit(2);
  double ns = (double)(cpu_now_ns() - t0) / (double)records;
  mmbus_close(ch);
  mmbus_unlink(dir, name);
  return ns;
}

/* 1->1 across processes: msg/s, or -1 if the subscriber's checks failed. */
static double one_to_one(shared_t *sh, int keyed) {
  char name[64];
  snprintf(name, sizeof name, "kbench-11-%d-%d", (int)getpid(), keyed);
  mmbus_close(open_ch(name, keyed));
  memset(sh, 0, sizeof *sh);
  pid_t s = child();
  if (s == 0) {
    mmbus_channel_t *ch = open_ch(name, keyed);
    mmbus_sub_t *sub;
    if (mmbus_subscribe(ch, NULL, &sub)) _exit(1);
    __atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
    mmbus_batch_t b;
    int64_t got = 0, bad = 0;
    while (got < records) {
      int n = mmbus_poll(sub, 8192, &b);
      if (n <= 0) {
        if (mmbus_wait(sub, 10000)) break;
        continue;
      }
      for (int i = 0; i < n; i++) {
        const point_t *p = mmbus_batch_record(&b, (uint32_t)i);
        bad += p->version != got + i || p->key != key_of(p->version);
      }
      got += n;
      mmbus_ack(sub);
    }
    sh->t1 = now_ns();
    sh->got = got;
    sh->bad = bad;
    _exit(0);
  }
  pid_t p = start_publisher(sh, name, keyed);
  int ok = ok_exit(p, NULL) & ok_exit(s, NULL);
  mmbus_unlink(dir, name);
  if (!ok || sh->got != records || sh->bad) return -1;
  return (double)records / ((double)(sh->t1 - sh->t0) / 1e9);
}

/* Milliseconds for a new subscriber to take the snapshot of every key (all published first). */
static double snapshot_ms(void) {
  char name[64];
  snprintf(name, sizeof name, "kbench-snap-%d", (int)getpid());
  mmbus_channel_t *ch = open_ch(name, 1);
  for (uint64_t k = 0; k < keys;) {
    mmbus_claim_t c;
    uint32_t n = (uint32_t)(keys - k < 256 ? keys - k : 256);
    if (mmbus_claim(ch, n, -1, &c)) exit(2);
    for (uint32_t j = 0; j < n; j++) {
      point_t *p = mmbus_claim_record(&c, j);
      p->key = (uint32_t)(k + j);
      p->version = (int64_t)(k + j);
    }
    if (mmbus_commit(ch, &c)) exit(2);
    k += n;
  }
  mmbus_sub_t *sub;
  if (mmbus_subscribe(ch, NULL, &sub)) exit(2);
  uint64_t t0 = cpu_now_ns();
  if (mmbus_sub_ask(sub, 0, keys, MMBUS_SNAPSHOT_ALL)) exit(2);
  point_t v;
  uint64_t key, got = 0, bad = 0;
  while (mmbus_sub_snapshot(sub, &v, sizeof v, &key, NULL) == 1) {
    bad += v.key != key || v.version != (int64_t)key;
    got++;
  }
  double ms = (double)(cpu_now_ns() - t0) / 1e6;
  mmbus_sub_close(sub);
  mmbus_close(ch);
  mmbus_unlink(dir, name);
  return got == keys && !bad ? ms : -1;
}

/* A subscriber asking 1,000 of the keys while `records` changes are published (its waits coalesced
 * over `coalesce_us`, or not): its CPU seconds and how many records it was given (each checked). */
#define ASK_COALESCE_US 1000 /* the asking subscriber's coalescing window, in its second run */

static int sparse_subscriber(shared_t *sh, int32_t coalesce_us, double *cpu, int64_t *delivered) {
  char name[64];
  snprintf(name, sizeof name, "kbench-ask-%d", (int)getpid());
  mmbus_close(open_ch(name, 1));
  memset(sh, 0, sizeof *sh);
  pid_t s = child();
  if (s == 0) {
    mmbus_channel_t *ch = open_ch(name, 1);
    mmbus_sub_t *sub;
    mmbus_sub_options_t so;
    mmbus_sub_options_init(&so);
    so.coalesce_us = coalesce_us;
    if (mmbus_subscribe(ch, &so, &sub)) _exit(1);
    for (uint64_t k = 0; k < 1000; k++)
      if (mmbus_sub_ask(sub, k * (keys / 1000), 1, MMBUS_SNAPSHOT_ALL)) _exit(1);
    __atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
    mmbus_batch_t b;
    int64_t seen = 0, got = 0, bad = 0;
    point_t v;
    while (seen < records) {
      while (mmbus_sub_snapshot(sub, &v, sizeof v, NULL, NULL) == 1) got++;
      int n = mmbus_poll(sub, 8192, &b);
      if (n <= 0) {
        if (mmbus_wait(sub, 10000)) break;
        continue;
      }
      for (int i = 0; i < n; i++)
        if (mmbus_sub_wants(sub, &b, (uint32_t)i) == 1) {
          const point_t *p = mmbus_batch_record(&b, (uint32_t)i);
          bad += p->key % (keys / 1000) != 0 || p->key != key_of(p->version);
          got++;
        }
      seen += n;
      mmbus_ack(sub);
    }
    sh->got = got;
    sh->bad = bad + (seen != records);
    _exit(0);
  }
  pid_t p = start_publisher(sh, name, 1);
  struct rusage ru;
  int ok = ok_exit(p, NULL) & ok_exit(s, &ru);
  mmbus_unlink(dir, name);
  *cpu = cpu_s(&ru);
  *delivered = sh->got;
  return ok && !sh->bad ? 0 : -1;
}

static const char *const parts[] = {"publish", "one_to_one", "snapshot", "ask"};

int main(int argc, char **argv) {
  int runs = 3, json = 0;
  const char *only = NULL; /* --part */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--records") && i + 1 < argc) records = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--keys") && i + 1 < argc) keys = (uint64_t)atoll(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--part") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--json")) json = 1;
    else only = "?";
  }
  int known = !only;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) known |= only && !strcmp(only, parts[i]);
  if (!known || runs < 1 || runs > 15 || records < 1 || keys < 1000 || keys > MMBUS_KEY_COUNT_MAX) {
    fprintf(stderr, "usage: %s [--keys N (1000..)] [--records N] [--runs R (1..15)] [--dir DIR] [--json]\n"
                    "       [--part publish|one_to_one|snapshot|ask]\n", argv[0]);
    return 2;
  }
#define RUNS(part) (!only || !strcmp(only, part))
  shared_t *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int failed = 0;
  double v[15];
  char out[2048];
  size_t len = 0;
#define OUT(...) (len += (size_t)snprintf(out + len, len < sizeof out ? sizeof out - len : 0, __VA_ARGS__))
  if (json) OUT("{\"keys\":%" PRIu64 ",\"records\":%" PRId64 ",\"runs\":%d", keys, records, runs);
  else OUT("mmbus keyed channels (C), %" PRIu64 " keys, %" PRId64 " records of 128 B, median of %d runs\n", keys, records, runs);
  if (RUNS("publish")) {
    double pub[2][2]; /* [keyed][batched] ns per record */
    for (int keyed = 0; keyed < 2; keyed++)
      for (int batched = 0; batched < 2; batched++) {
        for (int r = 0; r < runs; r++) v[r] = publish_cost(keyed, batched ? 64 : 1);
        pub[keyed][batched] = median(v, runs);
      }
    double seq_pub[2]; /* keyed, keys in order: [batched] */
    sequential = 1;
    for (int batched = 0; batched < 2; batched++) {
      for (int r = 0; r < runs; r++) v[r] = publish_cost(1, batched ? 64 : 1);
      seq_pub[batched] = median(v, runs);
    }
    sequential = 0;
    if (json)
      OUT(",\"publish_ns\":{\"plain_single\":%.1f,\"keyed_single\":%.1f,\"plain_batched\":%.1f,\"keyed_batched\":%.1f,"
          "\"keyed_in_key_order_single\":%.1f,\"keyed_in_key_order_batched\":%.1f}",
          pub[0][0], pub[1][0], pub[0][1], pub[1][1], seq_pub[0], seq_pub[1]);
    else
      OUT("  publish, random keys, alone      plain %6.1f ns  keyed %6.1f ns per record (x%.2f); batched 64: %.1f / %.1f ns (x%.2f)\n"
          "  ...keys in key order (a burst)   keyed %6.1f ns (x%.2f); batched 64: %.1f ns (x%.2f)\n",
          pub[0][0], pub[1][0], pub[1][0] / pub[0][0], pub[0][1], pub[1][1], pub[1][1] / pub[0][1], seq_pub[0],
          seq_pub[0] / pub[0][0], seq_pub[1], seq_pub[1] / pub[0][1]);
  }
  if (RUNS("one_to_one")) {
    double thr[2];
    for (int keyed = 0; keyed < 2; keyed++) {
      for (int r = 0; r < runs; r++) {
        v[r] = one_to_one(sh, keyed);
        if (v[r] < 0) failed = 1;
      }
      thr[keyed] = median(v, runs);
    }
    if (json) OUT(",\"one_to_one\":{\"plain\":%.0f,\"keyed\":%.0f}", thr[0], thr[1]);
    else OUT("  1->1 across processes, batched   plain %6.1f M/s  keyed %6.1f M/s\n", thr[0] / 1e6, thr[1] / 1e6);
  }
  if (RUNS("snapshot")) {
    for (int r = 0; r < runs; r++) {
      v[r] = snapshot_ms();
      if (v[r] < 0) failed = 1;
    }
    double snap = median(v, runs);
    if (json) OUT(",\"snapshot_ms\":%.2f", snap);
    else OUT("  snapshot of all %" PRIu64 " keys      %.1f ms\n", keys, snap);
  }
  for (int coalesced = 0; coalesced < 2 && RUNS("ask"); coalesced++) {
    int32_t coalesce_us = coalesced ? ASK_COALESCE_US : 0;
    double cpu = 0;
    int64_t delivered = 0;
    if (sparse_subscriber(sh, coalesce_us, &cpu, &delivered)) failed = 1;
    double per_delivered = delivered ? cpu * 1e9 / (double)delivered : 0, per_published = cpu * 1e9 / (double)records;
    if (json)
      OUT(",\"ask_1000%s\":{\"coalesce_us\":%d,\"cpu_s\":%.3f,\"delivered\":%" PRId64 ",\"ns_per_delivered\":%.0f,\"ns_per_published\":%.1f}",
          coalesced ? "_coalesced" : "", (int)coalesce_us, cpu, delivered, per_delivered, per_published);
    else
      OUT("  asking 1,000 keys of %" PRIu64 " (coalesce_us %d)   %" PRId64 " records delivered; subscriber CPU %.3f s: %.0f ns per delivered, %.1f ns per published\n",
          keys, (int)coalesce_us, delivered, cpu, per_delivered, per_published);
  }
  if (json) OUT(",\"failed\":%s}\n", failed ? "true" : "false");
  else if (failed) OUT("  SOME RUNS FAILED THEIR CHECKS\n");
  fputs(out, stdout);
  return failed;
}
