/* kill -9 publishers at random moments (and once, deterministically, between claim and commit):
 * the channel never wedges, every committed record is read intact, each publisher's records arrive
 * as a gap-free prefix, and publishing goes on afterwards. */
#include "mp.h"

#define ITERATIONS_DEFAULT 150
#define END_MARK (-1)

/* Publishes forever (single records and batches) as publisher `id`; killed by the parent. */
static void crashing_publisher(const char *dir, int id, int ready_fd) {
  mmbus_channel_t *ch = open_person_channel(dir, "crash", MMBUS_POLICY_BLOCK, 1024);
  static test_person_t buf[64];
  unsigned seed = (unsigned)id * 2654435761u;
  write_all(ready_fd, "r", 1);
  for (int64_t i = 0;;) {
    int k = (rand_r(&seed) % 2) ? 1 : 1 + rand_r(&seed) % 64;
    for (int j = 0; j < k; j++) fill_person(&buf[j], i + j, id);
    int rc = k == 1 ? mmbus_publish(ch, &buf[0], sizeof buf[0]) : mmbus_publish_batch(ch, buf, (size_t)k);
    if (rc) {
      fprintf(stderr, "publisher %d: %s\n", id, mmbus_errmsg());
      _exit(2);
    }
    i += k;
  }
}

/* Claims 8 records, writes them, and dies before committing: a hole readers must step over. */
static void die_between_claim_and_commit(const char *dir, int id) {
  mmbus_channel_t *ch = open_person_channel(dir, "crash", MMBUS_POLICY_BLOCK, 1024);
  test_person_t p;
  for (int i = 0; i < 5; i++) {
    fill_person(&p, i, id);
    if (mmbus_publish(ch, &p, sizeof p)) _exit(2);
  }
  mmbus_claim_t c;
  if (mmbus_claim(ch, 8, -1, &c)) _exit(2);
  for (uint32_t i = 0; i < 8; i++) fill_person(mmbus_claim_record(&c, i), 5 + i, id);
  raise(SIGKILL);
  _exit(2);
}

typedef struct crash_result {
  int64_t received;
  int64_t bad;       /* torn record or gap in a publisher's sequence */
  int got_end;
} crash_result_t;

static void checking_subscriber(const char *dir, int max_id, int ready_fd, int result_fd) {
  mmbus_channel_t *ch = open_person_channel(dir, "crash", MMBUS_POLICY_BLOCK, 1024);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = "checker", .start = MMBUS_START_NEWEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  write_all(ready_fd, "r", 1);
  int64_t *next = calloc((size_t)max_id + 1, sizeof *next);
  crash_result_t r = {0, 0, 0};
  mmbus_batch_t b;
  while (!r.got_end) {
    int n = mmbus_poll(sub, 512, &b);
    if (n < 0) { r.bad++; break; }
    if (n == 0) {
      if (mmbus_wait(sub, 20000)) { fprintf(stderr, "wedged: %s\n", mmbus_errmsg()); r.bad++; break; }
      continue;
    }
    for (int i = 0; i < n; i++) {
      const test_person_t *p = mmbus_batch_record(&b, (uint32_t)i);
      if (p->publisher == END_MARK) { r.got_end = 1; continue; }
      if (p->publisher < 0 || p->publisher > max_id || !person_intact(p) || p->index != next[p->publisher]) {
        fprintf(stderr, "bad record: publisher %d index %" PRId64 " (expected %" PRId64 ")\n", p->publisher,
                p->index, p->publisher >= 0 && p->publisher <= max_id ? next[p->publisher] : -1);
        r.bad++;
        continue;
      }
      next[p->publisher]++;
      r.received++;
    }
    mmbus_ack(sub);
  }
  write_all(result_fd, &r, sizeof r);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  _exit(0);
}

int main(void) {
  int iterations = (int)env_int("MMBUS_CRASH_ITERATIONS", ITERATIONS_DEFAULT);
  test_deadline(300);
  const char *dir = make_test_dir();
  mmbus_close(open_person_channel(dir, "crash", MMBUS_POLICY_BLOCK, 1024));
  int ready[2], result[2];
  if (pipe(ready) || pipe(result)) return 1;
  char c;
  pid_t sub = fork_child();
  if (sub == 0) checking_subscriber(dir, iterations + 1, ready[1], result[1]);
  if (read_all(ready[0], &c, 1)) return 1;

  /* a publisher that dies holding a claim */
  pid_t p = fork_child();
  if (p == 0) die_between_claim_and_commit(dir, 0);
  if (wait_pid(p) != 128 + SIGKILL) return 1;

  unsigned seed = 12345;
  for (int it = 1; it <= iterations; it++) {
    p = fork_child();
    if (p == 0) crashing_publisher(dir, it, ready[1]);
    if (read_all(ready[0], &c, 1)) return 1;
    usleep((useconds_t)(rand_r(&seed) % 10000));
    kill(p, SIGKILL);
    int code = wait_pid(p);
    if (code != 128 + SIGKILL) {
      fprintf(stderr, "publisher %d ended with %d, not killed\n", it, code);
      return 1;
    }
  }
  /* the channel still works: a last publisher sends records and the end mark */
  mmbus_channel_t *ch = open_person_channel(dir, "crash", MMBUS_POLICY_BLOCK, 1024);
  test_person_t rec;
  for (int i = 0; i < 100; i++) {
    fill_person(&rec, i, iterations + 1);
    CHECK_OK(mmbus_publish(ch, &rec, sizeof rec));
  }
  fill_person(&rec, 0, END_MARK);
  CHECK_OK(mmbus_publish(ch, &rec, sizeof rec));
  crash_result_t r;
  if (read_all(result[0], &r, sizeof r)) return 1;
  int code = wait_pid(sub);
  mmbus_stats_t st;
  CHECK(mmbus_stats(ch, &st, NULL, 0) >= 0);
  printf("crash_publisher: %d publishers killed, %" PRId64 " records read, %" PRId64 " bad, head %" PRIu64 "\n",
         iterations + 1, r.received, r.bad, st.head);
  CHECK(code == 0 && r.got_end && r.bad == 0);
  CHECK(r.received >= 5 + 100);
  mmbus_close(ch);
  puts("t_crash_publisher: ok");
  return 0;
}
