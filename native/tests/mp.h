/* Multi-process runs: P publisher processes and S subscriber processes on one channel, every
 * subscriber checking count, checksum, content and per-publisher order. */
#ifndef MMBUS_TEST_MP_H
#define MMBUS_TEST_MP_H

#include "helpers.h"

typedef struct mp_config {
  const char *name;
  int publishers;
  int subscribers;
  mmbus_policy_t policy;
  uint64_t capacity;
  int64_t records;        /* in all, split evenly between publishers */
  int batch;              /* records per publish_batch; 1 = mmbus_publish */
  int late_subscriber;    /* the last subscriber joins (start oldest) after `late_after` records */
  int64_t late_after;
  int slow_subscriber_us; /* sleep per batch in every subscriber */
} mp_config_t;

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

static inline void mp_publisher(const char *dir, const mp_config_t *cfg, int id, int go_fd, int paused_fd) {
  mmbus_channel_t *ch = open_person_channel(dir, cfg->name, cfg->policy, cfg->capacity);
  int64_t n = cfg->records / cfg->publishers;
  char c;
  int64_t pause_at = (cfg->late_subscriber && id == 0) ? cfg->late_after : -1;
  if (pause_at < 0 && read_all(go_fd, &c, 1)) _exit(4);
  static test_person_t buf[4096];
  int batch = cfg->batch < 1 ? 1 : cfg->batch;
  for (int64_t i = 0; i < n;) {
    if (i == pause_at) { /* let the late subscriber join, then go on */
      write_all(paused_fd, "p", 1);
      if (read_all(go_fd, &c, 1)) _exit(4);
    }
    int64_t k = batch;
    if (k > n - i) k = n - i;
    if (pause_at > i && k > pause_at - i) k = pause_at - i;
    int rc;
    if (batch == 1) {
      fill_person(&buf[0], i, id);
      rc = mmbus_publish(ch, &buf[0], sizeof buf[0]);
    } else {
      for (int64_t j = 0; j < k; j++) fill_person(&buf[j], i + j, id);
      rc = mmbus_publish_batch(ch, buf, (size_t)k);
    }
    if (rc != 0) {
      fprintf(stderr, "publisher %d: %s\n", id, mmbus_errmsg());
      _exit(2);
    }
    i += k;
  }
  mmbus_close(ch);
  _exit(0);
}

static inline void mp_subscriber(const char *dir, const mp_config_t *cfg, int late, int ready_fd, int result_fd) {
  mmbus_channel_t *ch = open_person_channel(dir, cfg->name, cfg->policy, cfg->capacity);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = NULL, .start = late ? MMBUS_START_OLDEST : MMBUS_START_NEWEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  write_all(ready_fd, "r", 1);
  /* a slow reader takes small batches with a pause after each */
  consume_result_t r = cfg->slow_subscriber_us ? consume(sub, cfg->records, cfg->publishers, 256, (unsigned)cfg->slow_subscriber_us)
                                               : consume(sub, cfg->records, cfg->publishers, 4096, 0);
  write_all(result_fd, &r, sizeof r);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  _exit(0);
}

/* Runs the configuration; returns 0 when every subscriber got exactly what was sent. */
static inline int mp_run(const mp_config_t *cfg) {
  const char *dir = make_test_dir();
  /* create the channel up front so every process agrees on it */
  mmbus_close(open_person_channel(dir, cfg->name, cfg->policy, cfg->capacity));
  int ready[2], go[2], paused[2], result[2];
  if (pipe(ready) || pipe(go) || pipe(paused) || pipe(result)) return 1;
  pid_t pids[32];
  int np = 0;
  int early = cfg->subscribers - (cfg->late_subscriber ? 1 : 0);
  for (int s = 0; s < early; s++)
    if ((pids[np++] = fork_child()) == 0) mp_subscriber(dir, cfg, 0, ready[1], result[1]);
  char c;
  for (int s = 0; s < early; s++)
    if (read_all(ready[0], &c, 1)) return 1;
  for (int p = 0; p < cfg->publishers; p++)
    if ((pids[np++] = fork_child()) == 0) mp_publisher(dir, cfg, p, go[0], paused[1]);
  uint64_t t0 = now_ns();
  if (cfg->late_subscriber) {
    if (read_all(paused[0], &c, 1)) return 1; /* publisher 0 published late_after records */
    if ((pids[np++] = fork_child()) == 0) mp_subscriber(dir, cfg, 1, ready[1], result[1]);
    if (read_all(ready[0], &c, 1)) return 1;
  }
  for (int p = 0; p < cfg->publishers; p++) write_all(go[1], "g", 1);
  int failed = 0;
  int64_t want = cfg->publishers * expected_checksum(cfg->records / cfg->publishers);
  for (int s = 0; s < cfg->subscribers; s++) {
    consume_result_t r;
    if (read_all(result[0], &r, sizeof r)) {
      fprintf(stderr, "%s: a subscriber died without a result\n", cfg->name);
      failed = 1;
      break;
    }
    int ok = r.bad == 0 && r.received + (int64_t)r.lost == cfg->records &&
             (cfg->policy == MMBUS_POLICY_OVERWRITE ? r.received > 0 : (r.lost == 0 && r.checksum == want));
    printf("%s: subscriber received %" PRId64 " lost %" PRIu64 " bad %" PRId64 " checksum %" PRId64
           " (expected %" PRId64 ") %s\n",
           cfg->name, r.received, r.lost, r.bad, r.checksum, want, ok ? "ok" : "FAILED");
    if (!ok) failed = 1;
  }
  for (int i = 0; i < np; i++) {
    int code = wait_child(pids[i]);
    if (code != 0) {
      fprintf(stderr, "%s: child %d exited with %d\n", cfg->name, (int)pids[i], code);
      failed = 1;
    }
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  printf("%s: %" PRId64 " records, %d->%d, %.2f s (%.1f M msg/s; not a benchmark)\n", cfg->name, cfg->records,
         cfg->publishers, cfg->subscribers, secs, (double)cfg->records / secs / 1e6);
  return failed;
}

#endif
