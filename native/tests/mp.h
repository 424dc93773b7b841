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

/* What the processes of a run share (proc.h's shared file): start signals and the results. */
typedef struct mp_ctl {
  int32_t ready;  /* subscribers attached */
  int32_t go;     /* publishers may go on */
  int32_t paused; /* publisher 0 published late_after records (late_subscriber) */
  int32_t results;
  consume_result_t result[32];
} mp_ctl_t;

static const mp_config_t *mp_cfg; /* the test's configuration, the same in every process */

static inline mp_ctl_t *mp_ctl(const char *dir, int create) { return (mp_ctl_t *)shared_map(dir, "mp.ctl", sizeof(mp_ctl_t), create); }

/* Waits until the counter reaches v; fails when it takes longer than the test may. */
static inline void mp_wait(const int32_t *w, int32_t v) {
  if (shared_wait(w, v, 240000)) {
    fprintf(stderr, "%s: a process waited 240 s for its start signal\n", mp_cfg->name);
    exit(4);
  }
}

/* role "pub" DIR ID */
static inline int mp_publisher(int argc, char **argv) {
  if (argc < 2) return 2;
  const mp_config_t *cfg = mp_cfg;
  const char *dir = argv[0];
  int id = atoi(argv[1]);
  mp_ctl_t *ctl = mp_ctl(dir, 0);
  mmbus_channel_t *ch = open_person_channel(dir, cfg->name, cfg->policy, cfg->capacity);
  int64_t n = cfg->records / cfg->publishers;
  int64_t pause_at = (cfg->late_subscriber && id == 0) ? cfg->late_after : -1;
  if (pause_at < 0) mp_wait(&ctl->go, 1);
  static test_person_t buf[4096];
  int batch = cfg->batch < 1 ? 1 : cfg->batch;
  for (int64_t i = 0; i < n;) {
    if (i == pause_at) { /* let the late subscriber join, then go on */
      shared_set(&ctl->paused, 1);
      mp_wait(&ctl->go, 1);
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
      return 2;
    }
    i += k;
  }
  mmbus_close(ch);
  return 0;
}

/* role "sub" DIR INDEX LATE */
static inline int mp_subscriber(int argc, char **argv) {
  if (argc < 3) return 2;
  const mp_config_t *cfg = mp_cfg;
  const char *dir = argv[0];
  int index = atoi(argv[1]), late = atoi(argv[2]);
  mp_ctl_t *ctl = mp_ctl(dir, 0);
  mmbus_channel_t *ch = open_person_channel(dir, cfg->name, cfg->policy, cfg->capacity);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = NULL, .start = late ? MMBUS_START_OLDEST : MMBUS_START_NEWEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  shared_add(&ctl->ready, 1);
  /* a slow reader takes small batches with a pause after each */
  consume_result_t r = cfg->slow_subscriber_us ? consume(sub, cfg->records, cfg->publishers, 256, (unsigned)cfg->slow_subscriber_us)
                                               : consume(sub, cfg->records, cfg->publishers, 4096, 0);
  ctl->result[index] = r;
  shared_add(&ctl->results, 1);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  return 0;
}

/* Runs the configuration; returns 0 when every subscriber got exactly what was sent. */
static inline int mp_run(const mp_config_t *cfg) {
  const char *dir = make_test_dir();
  /* create the channel up front so every process agrees on it */
  mmbus_close(open_person_channel(dir, cfg->name, cfg->policy, cfg->capacity));
  mp_ctl_t *ctl = mp_ctl(dir, 1);
  child_t kids[32];
  int np = 0;
  int early = cfg->subscribers - (cfg->late_subscriber ? 1 : 0);
  char arg[3][32];
  for (int s = 0; s < early; s++) {
    snprintf(arg[0], sizeof arg[0], "%d", s);
    kids[np++] = spawn_role("sub", dir, arg[0], "0", NULL);
  }
  mp_wait(&ctl->ready, early);
  for (int p = 0; p < cfg->publishers; p++) {
    snprintf(arg[1], sizeof arg[1], "%d", p);
    kids[np++] = spawn_role("pub", dir, arg[1], NULL);
  }
  uint64_t t0 = now_ns();
  if (cfg->late_subscriber) {
    mp_wait(&ctl->paused, 1); /* publisher 0 published late_after records */
    snprintf(arg[2], sizeof arg[2], "%d", early);
    kids[np++] = spawn_role("sub", dir, arg[2], "1", NULL);
    mp_wait(&ctl->ready, early + 1);
  }
  shared_set(&ctl->go, 1);
  int failed = 0;
  int64_t want = cfg->publishers * expected_checksum(cfg->records / cfg->publishers);
  int codes[32];
  for (int i = 0; i < np; i++) codes[i] = -1;
  /* every child ends by itself (or the test's deadline ends us all) */
  for (int i = 0; i < np; i++) {
    codes[i] = wait_child(kids[i]);
    if (codes[i] != 0) {
      fprintf(stderr, "%s: child %d exited with %d\n", cfg->name, child_pid(kids[i]), codes[i]);
      failed = 1;
    }
  }
  if (shared_get(&ctl->results) != cfg->subscribers) {
    fprintf(stderr, "%s: %d of %d subscribers gave a result\n", cfg->name, shared_get(&ctl->results), cfg->subscribers);
    failed = 1;
  }
  for (int s = 0; s < cfg->subscribers && s < shared_get(&ctl->results); s++) {
    consume_result_t r = ctl->result[s];
    int ok = r.bad == 0 && r.received + (int64_t)r.lost == cfg->records &&
             (cfg->policy == MMBUS_POLICY_OVERWRITE ? r.received > 0 : (r.lost == 0 && r.checksum == want));
    printf("%s: subscriber received %" PRId64 " lost %" PRIu64 " bad %" PRId64 " checksum %" PRId64
           " (expected %" PRId64 ") %s\n",
           cfg->name, r.received, r.lost, r.bad, r.checksum, want, ok ? "ok" : "FAILED");
    if (!ok) failed = 1;
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  printf("%s: %" PRId64 " records, %d->%d, %.2f s (%.1f M msg/s; not a benchmark)\n", cfg->name, cfg->records,
         cfg->publishers, cfg->subscribers, secs, (double)cfg->records / secs / 1e6);
  return failed;
}

/* main() of a multi-process test: the roles, then the run. */
static inline int mp_main(int argc, char **argv, const mp_config_t *cfg, unsigned deadline_s) {
  mp_cfg = cfg;
  TEST_ROLES(argc, argv, {"pub", mp_publisher}, {"sub", mp_subscriber});
  test_deadline(deadline_s);
  return mp_run(cfg);
}

#endif
