/* kill -9 a durable subscriber at random moments and restart it: no record is skipped, and at most
 * the batch in flight is delivered twice. Then: a dead subscriber stops blocking a `block` publisher. */
#include "mp.h"

#include <sys/mman.h>

#define BATCH 1024

/* Marks every record it is given in `seen` (shared with the parent); never exits by itself. */
static void durable_subscriber(const char *dir, uint8_t *seen, int64_t records, int ready_fd) {
  mmbus_channel_t *ch = open_person_channel(dir, "durable", MMBUS_POLICY_BLOCK, 1 << 21);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = "web", .start = MMBUS_START_OLDEST};
  int rc;
  while ((rc = mmbus_subscribe(ch, &so, &sub)) == MMBUS_E_BUSY) usleep(1000); /* predecessor still dying */
  CHECK_OK(rc);
  write_all(ready_fd, "r", 1);
  mmbus_batch_t b;
  for (;;) {
    int n = mmbus_poll(sub, BATCH, &b);
    if (n == 0) {
      mmbus_wait(sub, 1000);
      continue;
    }
    for (int i = 0; i < n; i++) {
      const test_person_t *p = mmbus_batch_record(&b, (uint32_t)i);
      if (p->index >= 0 && p->index < records && person_intact(p)) __atomic_fetch_add(&seen[p->index], 1, __ATOMIC_RELAXED);
      else seen[records] = 1; /* corrupt */
    }
    mmbus_ack(sub);
  }
}

static void test_durable_restarts(void) {
  const char *dir = make_test_dir();
  int64_t records = test_records();
  /* a ring that holds the whole stream: a durable subscriber that is offline does not hold the
   * publisher back, so this test is about resuming, not about back-pressure */
  mmbus_close(open_person_channel(dir, "durable", MMBUS_POLICY_BLOCK, 1 << 21));
  uint8_t *seen = mmap(NULL, (size_t)records + 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(seen != MAP_FAILED);
  int ready[2];
  CHECK(pipe(ready) == 0);
  char c;
  pid_t sub = fork_child();
  if (sub == 0) durable_subscriber(dir, seen, records, ready[1]);
  CHECK(read_all(ready[0], &c, 1) == 0);
  pid_t pub = fork_child();
  if (pub == 0) {
    mmbus_channel_t *ch = open_person_channel(dir, "durable", MMBUS_POLICY_BLOCK, 1 << 21);
    test_person_t p;
    for (int64_t i = 0; i < records; i++) {
      fill_person(&p, i, 0);
      if (mmbus_publish(ch, &p, sizeof p)) {
        fprintf(stderr, "publisher: %s\n", mmbus_errmsg());
        _exit(2);
      }
      if (i % 20000 == 0) usleep(2000); /* stretch the stream so kills land all along it */
    }
    _exit(0);
  }
  unsigned seed = 777;
  int kills = 0;
  for (;;) {
    usleep((useconds_t)(5000 + rand_r(&seed) % 20000));
    int pub_status = 0;
    int done = waitpid(pub, &pub_status, WNOHANG) == pub;
    if (done && pub_status != 0) {
      fprintf(stderr, "publisher ended with status %#x\n", pub_status);
      exit(1);
    }
    kill(sub, SIGKILL);
    wait_pid(sub);
    kills++;
    sub = fork_child();
    if (sub == 0) durable_subscriber(dir, seen, records, ready[1]);
    CHECK(read_all(ready[0], &c, 1) == 0);
    if (done) break;
  }
  /* let the last incarnation drain, then stop it */
  uint64_t t0 = now_ns();
  int64_t missing;
  do {
    usleep(10000);
    missing = 0;
    for (int64_t i = 0; i < records; i++) missing += seen[i] == 0;
  } while (missing && now_ns() - t0 < 30000000000ull);
  kill(sub, SIGKILL);
  wait_pid(sub);
  int64_t twice = 0, skipped = 0;
  for (int64_t i = 0; i < records; i++) {
    if (seen[i] == 0) skipped++;
    if (seen[i] > 1) twice += seen[i] - 1;
  }
  printf("durable restarts: %d kills, %" PRId64 " skipped, %" PRId64 " redelivered (at most %d)\n", kills, skipped,
         twice, kills * BATCH);
  CHECK(seen[records] == 0);
  CHECK(skipped == 0);
  CHECK(twice <= (int64_t)kills * BATCH);
  munmap(seen, (size_t)records + 1);
}

static void test_dead_subscriber_unblocks(void) {
  const char *dir = make_test_dir();
  mmbus_channel_t *ch = open_person_channel(dir, "unblock", MMBUS_POLICY_BLOCK, 64);
  int ready[2];
  CHECK(pipe(ready) == 0);
  char c;
  pid_t sub = fork_child();
  if (sub == 0) {
    mmbus_channel_t *sch = open_person_channel(dir, "unblock", MMBUS_POLICY_BLOCK, 64);
    mmbus_sub_t *s;
    CHECK_OK(mmbus_subscribe(sch, NULL, &s));
    write_all(ready[1], "r", 1);
    for (;;) pause(); /* never reads */
  }
  CHECK(read_all(ready[0], &c, 1) == 0);
  test_person_t p;
  for (int i = 0; i < 64; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  /* full: the live subscriber holds the publisher */
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.block_timeout_ms = 50;
  mmbus_channel_t *quick;
  CHECK_OK(mmbus_open(dir, "unblock", &o, &quick));
  CHECK_RC(mmbus_publish(quick, &p, sizeof p), MMBUS_E_TIMEOUT);
  mmbus_close(quick);
  kill(sub, SIGKILL);
  wait_pid(sub);
  /* now its process is gone: publishing goes on (the channel's time-out is 5 s) */
  for (int i = 64; i < 200; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  mmbus_stats_t st;
  CHECK(mmbus_stats(ch, &st, NULL, 0) >= 0);
  CHECK(st.subscribers_active == 0 && st.head == 200);
  mmbus_close(ch);
}

int main(void) {
  test_deadline(300);
  test_durable_restarts();
  test_dead_subscriber_unblocks();
  puts("t_crash_subscriber: ok");
  return 0;
}
