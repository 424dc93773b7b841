/* kill -9 publishers at random moments (and once, deterministically, between claim and commit):
 * the channel never wedges, every committed record is read intact, each publisher's records arrive
 * as a gap-free prefix, and publishing goes on afterwards. */
#include "mp.h"

#define ITERATIONS_DEFAULT 150
#define END_MARK (-1)

/* What the processes share (proc.h): start signals and the subscriber's result. */
typedef struct crash_result {
  int64_t received;
  int64_t bad;       /* torn record or gap in a publisher's sequence */
  int got_end;
} crash_result_t;

typedef struct crash_ctl {
  int32_t ready; /* processes attached: the subscriber, then each publisher */
  int32_t done;  /* the subscriber's result is written */
  crash_result_t result;
} crash_ctl_t;

static crash_ctl_t *ctl_of(const char *dir, int create) { return shared_map(dir, "crash.ctl", sizeof(crash_ctl_t), create); }

/* role "pub" DIR ID: publishes forever (single records and batches); killed by the parent. */
static int crashing_publisher(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *dir = argv[0];
  int id = atoi(argv[1]);
  crash_ctl_t *ctl = ctl_of(dir, 0);
  mmbus_channel_t *ch = open_person_channel(dir, "crash", MMBUS_POLICY_BLOCK, 1024);
  static test_person_t buf[64];
  unsigned seed = (unsigned)id * 2654435761u;
  shared_add(&ctl->ready, 1);
  for (int64_t i = 0;;) {
    int k = (rand_next(&seed) % 2) ? 1 : 1 + (int)(rand_next(&seed) % 64);
    for (int j = 0; j < k; j++) fill_person(&buf[j], i + j, id);
    int rc = k == 1 ? mmbus_publish(ch, &buf[0], sizeof buf[0]) : mmbus_publish_batch(ch, buf, (size_t)k);
    if (rc) {
      fprintf(stderr, "publisher %d: %s\n", id, mmbus_errmsg());
      return 2;
    }
    i += k;
  }
}

/* role "die" DIR: claims 8 records, writes them, and dies before committing: a hole readers must step over. */
static int die_between_claim_and_commit(int argc, char **argv) {
  if (argc < 1) return 2;
  mmbus_channel_t *ch = open_person_channel(argv[0], "crash", MMBUS_POLICY_BLOCK, 1024);
  test_person_t p;
  for (int i = 0; i < 5; i++) {
    fill_person(&p, i, 0);
    if (mmbus_publish(ch, &p, sizeof p)) return 2;
  }
  mmbus_claim_t c;
  if (mmbus_claim(ch, 8, -1, &c)) return 2;
  for (uint32_t i = 0; i < 8; i++) fill_person(mmbus_claim_record(&c, i), 5 + i, 0);
  die_now();
  return 2;
}

/* role "sub" DIR MAX_ID: reads until the end mark, checking every record. */
static int checking_subscriber(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *dir = argv[0];
  int max_id = atoi(argv[1]);
  crash_ctl_t *ctl = ctl_of(dir, 0);
  mmbus_channel_t *ch = open_person_channel(dir, "crash", MMBUS_POLICY_BLOCK, 1024);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = "checker", .start = MMBUS_START_NEWEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  shared_add(&ctl->ready, 1);
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
  free(next);
  ctl->result = r;
  shared_set(&ctl->done, 1);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  return 0;
}

int main(int argc, char **argv) {
  TEST_ROLES(argc, argv, {"pub", crashing_publisher}, {"die", die_between_claim_and_commit}, {"sub", checking_subscriber});
  int iterations = (int)env_int("MMBUS_CRASH_ITERATIONS", ITERATIONS_DEFAULT);
  test_deadline(300);
  const char *dir = make_test_dir();
  mmbus_close(open_person_channel(dir, "crash", MMBUS_POLICY_BLOCK, 1024));
  crash_ctl_t *ctl = ctl_of(dir, 1);
  char arg[32];
  snprintf(arg, sizeof arg, "%d", iterations + 1);
  child_t sub = spawn_role("sub", dir, arg, NULL);
  CHECK(shared_wait(&ctl->ready, 1, 120000) == 0);

  /* a publisher that dies holding a claim */
  child_t p = spawn_role("die", dir, NULL);
  CHECK(wait_child(p) == TEST_KILLED);

  unsigned seed = 12345;
  for (int it = 1; it <= iterations; it++) {
    snprintf(arg, sizeof arg, "%d", it);
    p = spawn_role("pub", dir, arg, NULL);
    CHECK(shared_wait(&ctl->ready, 1 + it, 120000) == 0);
    sleep_us(rand_next(&seed) % 10000);
    kill_child(p);
    int code = wait_child(p);
    if (code != TEST_KILLED) {
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
  int code = wait_child(sub); /* it ends on the end mark, or on a 20 s wedge */
  CHECK(shared_get(&ctl->done) == 1);
  crash_result_t r = ctl->result;
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
