/* Under `block`, a reader that stopped counting is never handed a record of a later lap as if it
 * were the one it asked for: a durable subscriber resuming about a lap behind while a claim over its
 * window is being written, and a subscriber stopped past the heartbeat time-out while it holds a
 * batch. Every record accepted is checked (publisher, index = sequence, name); what was overwritten is
 * counted in lost and reported by ack. */
#include "helpers.h"

#define CAP 64

static mmbus_channel_t *open_block(const char *dir, const char *name, int64_t heartbeat_timeout_ms) {
  mmbus_options_t o = person_channel_options(MMBUS_POLICY_BLOCK, CAP);
  o.heartbeat_timeout_ms = heartbeat_timeout_ms;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, name, &o, &ch));
  return ch;
}

static void publish_range(mmbus_channel_t *ch, int64_t from, int64_t to, int32_t publisher) {
  test_person_t p;
  for (int64_t i = from; i < to; i++) {
    fill_person(&p, i, publisher);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
}

/* A record is right for sequence seq when it is the one published there (index = seq here). */
static int right_record(const test_person_t *p, uint64_t seq, int32_t publisher) {
  return p->publisher == publisher && p->index == (int64_t)seq && person_intact(p);
}

/* The durable subscriber consumed 0..1 and went offline; the channel went on to one record short of a
 * full lap; then a publisher claimed 64..67 (the slots of 0..3) and is still writing them when the
 * subscriber comes back. Records 2 and 3 are being overwritten: they must be counted lost, never
 * handed out (today's main delivered them as intact records of publisher 0). */
static void test_durable_resumes_a_lap_behind(void) {
  const char *dir = make_test_dir();
  mmbus_channel_t *ch = open_block(dir, "resume", -1);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = "d", .start = MMBUS_START_OLDEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  publish_range(ch, 0, 2, 0);
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(sub, 0, &b), 2);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_OK(mmbus_sub_close(sub)); /* offline: it does not hold publishers back */
  publish_range(ch, 2, 64, 0);

  int go[2], claimed[2];
  CHECK(pipe(go) == 0 && pipe(claimed) == 0);
  pid_t writer = fork_child();
  if (writer == 0) {
    mmbus_channel_t *w = open_block(dir, "resume", -1);
    mmbus_claim_t c;
    if (mmbus_claim(w, 4, -1, &c)) _exit(2);
    for (uint32_t i = 0; i < c.n; i++) fill_person(mmbus_claim_record(&c, i), (int64_t)(c.seq + i), 9);
    char x = 'c';
    if (write(claimed[1], &x, 1) != 1 || read(go[0], &x, 1) != 1) _exit(3);
    _exit(mmbus_commit(w, &c) == 0 ? 0 : 4);
  }
  char x;
  CHECK(read(claimed[0], &x, 1) == 1); /* the claim is made, its records half-way "written" */

  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  int64_t delivered = 0;
  uint64_t next = 0;
  for (int round = 0; round < 4; round++) {
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    if (n == 0) break;
    for (int i = 0; i < n; i++) {
      const test_person_t *p = mmbus_batch_record(&b, (uint32_t)i);
      if (!right_record(p, b.seq + (uint64_t)i, 0)) {
        fprintf(stderr, "sequence %llu handed out as publisher %d index %lld\n",
                (unsigned long long)(b.seq + (uint64_t)i), p->publisher, (long long)p->index);
        exit(1);
      }
    }
    CHECK_RC(mmbus_ack(sub), 0);
    delivered += n;
    next = b.seq + (uint64_t)n;
  }
  CHECK(delivered == 60 && next == 64);          /* 4..63 */
  CHECK(mmbus_sub_lost(sub) == 2);                /* 2 and 3: overwritten while it was away */
  CHECK(write(go[1], "g", 1) == 1);
  CHECK(wait_pid(writer) == 0);
  CHECK_OK(mmbus_wait(sub, 10000));
  CHECK_RC(mmbus_poll(sub, 0, &b), 4);            /* then the writer's records, intact */
  for (uint32_t i = 0; i < 4; i++) CHECK(right_record(mmbus_batch_record(&b, i), 64 + i, 9));
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

/* A subscriber holding a full ring's batch is stopped (SIGSTOP) past the publishers' heartbeat
 * time-out; a publisher laps it; it is continued and reads its batch. Every record of that batch was
 * overwritten: ack must say so (64) and lost must count them; it must accept none of them. After
 * that it gets the new lap intact. */
static void test_stopped_subscriber_is_told(void) {
  const char *dir = make_test_dir();
  mmbus_channel_t *ch = open_block(dir, "stopped", 200); /* this publisher's heartbeat time-out */
  int ready[2], result[2];
  CHECK(pipe(ready) == 0 && pipe(result) == 0);
  pid_t reader = fork_child();
  if (reader == 0) {
    mmbus_channel_t *rc = open_block(dir, "stopped", -1);
    mmbus_sub_t *s;
    CHECK_OK(mmbus_subscribe(rc, NULL, &s));
    char x = 'r';
    if (write(ready[1], &x, 1) != 1) _exit(3);
    mmbus_batch_t bt;
    while (mmbus_poll(s, CAP, &bt) < CAP) mmbus_wait(s, 1000);
    raise(SIGSTOP); /* holding the batch, unread */
    int accepted_wrong = 0;
    for (uint32_t i = 0; i < bt.n; i++) {
      const test_person_t *p = mmbus_batch_record(&bt, i);
      if (!right_record(p, bt.seq + i, 0)) accepted_wrong++;
    }
    int over = (int)mmbus_sub_overrun(s); /* checked after reading, as documented */
    int acked = mmbus_ack(s);
    /* Every record read wrong must be among the `over` first ones the library flagged. */
    int unflagged_wrong = 0;
    for (uint32_t i = (uint32_t)(over > 0 ? over : 0); i < bt.n; i++)
      if (!right_record(mmbus_batch_record(&bt, i), bt.seq + i, 0)) unflagged_wrong++;
    int64_t r[5] = {accepted_wrong, over, acked, (int64_t)mmbus_sub_lost(s), unflagged_wrong};
    /* the next lap, intact */
    int64_t good = 0;
    while (good < CAP) {
      int n = mmbus_poll(s, 0, &bt);
      if (n <= 0) {
        if (mmbus_wait(s, 5000)) break;
        continue;
      }
      for (int i = 0; i < n; i++) good += right_record(mmbus_batch_record(&bt, (uint32_t)i), bt.seq + (uint64_t)i, 0);
      mmbus_ack(s);
    }
    int64_t all[6] = {r[0], r[1], r[2], r[3], r[4], good};
    if (write(result[1], all, sizeof all) != (ssize_t)sizeof all) _exit(3);
    _exit(0);
  }
  char x;
  CHECK(read(ready[0], &x, 1) == 1);
  publish_range(ch, 0, CAP, 0);
  int st;
  CHECK(waitpid(reader, &st, WUNTRACED) == reader && WIFSTOPPED(st));
  publish_range(ch, CAP, 2 * CAP, 0); /* blocks until the stopped reader goes silent, then laps it */
  kill(reader, SIGCONT);
  int64_t all[6];
  CHECK(read(result[0], all, sizeof all) == (ssize_t)sizeof all);
  printf("stopped subscriber: read %lld wrong, overrun %lld, ack %lld, lost %lld, unflagged wrong %lld, next lap %lld\n",
         (long long)all[0], (long long)all[1], (long long)all[2], (long long)all[3], (long long)all[4],
         (long long)all[5]);
  CHECK(all[4] == 0);                /* no wrong record went unflagged */
  CHECK(all[1] == CAP && all[3] == CAP); /* all 64 overwritten: flagged and counted */
  CHECK(all[5] == CAP);              /* the next lap arrives intact */
  CHECK(wait_pid(reader) == 0);
  CHECK_OK(mmbus_close(ch));
}

/* A publisher that left a silent subscriber out and overwrote records of the batch it holds goes on
 * counting as one that leaves subscribers out (docs/format.md §8.6) after that subscriber counts again,
 * until it is past what was overwritten: the subscriber's ack still looks at head and reports the 32
 * overwritten records, none is accepted as read. One process, two handles: deterministic. */
static void test_exclusion_outlasts_the_silence(void) {
  const char *dir = make_test_dir();
  mmbus_channel_t *pc = open_block(dir, "silent", 50), *sc = open_block(dir, "silent", 50);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(sc, NULL, &sub));
  publish_range(pc, 0, CAP, 1); /* the publisher has seen the subscriber's heartbeat word */
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(sub, 0, &b), CAP);
  sleep_us(200000); /* silent past the publisher's heartbeat time-out: left out */
  publish_range(pc, CAP, CAP + 32, 1); /* overwrites records 0..31 of the batch in hand */
  CHECK_OK(mmbus_sub_heartbeat(sub)); /* counts again from now on */
  mmbus_sub_t *other; /* attaching makes the publisher look at the subscribers again at its next claim */
  CHECK_OK(mmbus_subscribe(sc, NULL, &other));
  mmbus_claim_t c;
  CHECK_RC(mmbus_claim(pc, 1, 0, &c), MMBUS_E_TIMEOUT); /* full: the subscriber counts, at cursor 0 */
  CHECK(strstr(mmbus_errmsg(), "stayed full for 0 ms") != NULL);
  int wrong = 0;
  for (uint32_t i = 0; i < CAP; i++) {
    const test_person_t *p = mmbus_batch_record(&b, i);
    wrong += !(person_intact(p) && p->index == (int64_t)i);
  }
  int over = mmbus_ack(sub);
  printf("left out, then counted again: %d of the batch overwritten, ack reports %d, lost %llu\n", wrong, over,
         (unsigned long long)mmbus_sub_lost(sub));
  CHECK(wrong == 32 && over == 32 && mmbus_sub_lost(sub) == 32);
  mmbus_sub_close(other);
  mmbus_sub_close(sub);
  mmbus_close(sc);
  mmbus_close(pc);
}

int main(void) {
  test_deadline(120);
  test_exclusion_outlasts_the_silence();
  test_durable_resumes_a_lap_behind();
  test_stopped_subscriber_is_told();
  puts("t_lapped: ok");
  return 0;
}
