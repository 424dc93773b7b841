/* Full-ring policies (reject, block, overwrite), publishers without subscribers, silent and dead
 * subscribers (heartbeat time-out, gc after kill -9). */
#include "helpers.h"

#define CAP 16

static void publish_index(mmbus_channel_t *ch, int64_t i) {
  test_person_t p;
  fill_person(&p, i, 0);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
}

static int publish_index_rc(mmbus_channel_t *ch, int64_t i) {
  test_person_t p;
  fill_person(&p, i, 0);
  return mmbus_publish(ch, &p, sizeof p);
}

static uint64_t head_of(mmbus_channel_t *ch) {
  mmbus_stats_t st;
  CHECK(mmbus_stats(ch, &st, NULL, 0) >= 0);
  return st.head;
}

/* Reads exactly `count` records (no more are there), checking they are first..first+count-1, intact. */
static void read_exactly(mmbus_sub_t *sub, int64_t first, int64_t count) {
  int64_t next = first;
  mmbus_batch_t b;
  while (next < first + count) {
    int n = mmbus_poll(sub, 5, &b);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
      const test_person_t *p = mmbus_batch_record(&b, (uint32_t)i);
      if (p->index != next || !person_intact(p)) {
        fprintf(stderr, "read index %" PRId64 ", expected %" PRId64 "\n", p->index, next);
        exit(1);
      }
      next++;
    }
    CHECK_RC(mmbus_ack(sub), 0);
  }
  CHECK(next == first + count);
  CHECK_RC(mmbus_poll(sub, 0, &b), 0);
}

static void test_reject(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "reject", MMBUS_POLICY_REJECT, CAP);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  for (int i = 0; i < CAP - 1; i++) publish_index(ch, i);
  /* A batch that does not fit is refused whole. */
  test_person_t two[2];
  fill_person(&two[0], 900, 0);
  fill_person(&two[1], 901, 0);
  CHECK_RC(mmbus_publish_batch(ch, two, 2), MMBUS_E_FULL);
  CHECK(head_of(ch) == CAP - 1);
  publish_index(ch, CAP - 1);
  CHECK_RC(publish_index_rc(ch, 999), MMBUS_E_FULL);
  CHECK(strstr(mmbus_errmsg(), "full") && strstr(mmbus_errmsg(), "reject.db"));
  CHECK_RC(publish_index_rc(ch, 999), MMBUS_E_FULL);
  mmbus_claim_t c;
  CHECK_RC(mmbus_claim(ch, 1, 0, &c), MMBUS_E_FULL);
  CHECK_RC(mmbus_claim(ch, 1, 1000, &c), MMBUS_E_FULL); /* reject never waits, whatever the time-out */
  CHECK(head_of(ch) == CAP); /* nothing was claimed by the refused calls */

  /* Acking part of the ring makes exactly that much room. */
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(sub, 4, &b), 4);
  CHECK(((const test_person_t *)mmbus_batch_record(&b, 0))->index == 0);
  CHECK_RC(publish_index_rc(ch, 999), MMBUS_E_FULL); /* polled is not consumed */
  CHECK_RC(mmbus_ack(sub), 0);
  for (int i = CAP; i < CAP + 4; i++) publish_index(ch, i);
  CHECK_RC(publish_index_rc(ch, 999), MMBUS_E_FULL);
  read_exactly(sub, 4, CAP); /* the 16 in the ring, in order, none of the refused ones */
  for (int i = CAP + 4; i < 2 * CAP + 4; i++) publish_index(ch, i);
  CHECK_RC(publish_index_rc(ch, 999), MMBUS_E_FULL);
  read_exactly(sub, CAP + 4, CAP);

  /* A subscriber that leaves no longer holds the publisher back. */
  for (int i = 2 * CAP + 4; i < 3 * CAP + 4; i++) publish_index(ch, i);
  CHECK_RC(publish_index_rc(ch, 999), MMBUS_E_FULL);
  CHECK_OK(mmbus_sub_close(sub));
  for (int i = 0; i < 3 * CAP; i++) publish_index(ch, 1000 + i);
  CHECK_OK(mmbus_close(ch));
}

static void test_block_timeout(const char *dir) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = CAP;
  o.policy = MMBUS_POLICY_BLOCK;
  o.block_timeout_ms = 100;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "block", &o, &ch));
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  for (int i = 0; i < CAP; i++) publish_index(ch, i);
  CHECK_RC(publish_index_rc(ch, 999), MMBUS_E_TIMEOUT);
  CHECK(strstr(mmbus_errmsg(), "block.db") && strstr(mmbus_errmsg(), "100 ms"));
  test_person_t two[2];
  fill_person(&two[0], 900, 0);
  fill_person(&two[1], 901, 0);
  CHECK_RC(mmbus_publish_batch(ch, two, 2), MMBUS_E_TIMEOUT);
  mmbus_claim_t c;
  CHECK_RC(mmbus_claim(ch, 1, 0, &c), MMBUS_E_TIMEOUT);  /* explicit time-outs override the channel's */
  CHECK_RC(mmbus_claim(ch, 1, 20, &c), MMBUS_E_TIMEOUT);
  CHECK(head_of(ch) == CAP);
  mmbus_sub_stats_t ss;
  CHECK_RC(mmbus_stats(ch, &(mmbus_stats_t){0}, &ss, 1), 1);
  CHECK(ss.state == MMBUS_SUB_ACTIVE && ss.lag == CAP); /* a live, fresh subscriber is not dead */
  read_exactly(sub, 0, CAP);
  for (int i = CAP; i < 2 * CAP; i++) publish_index(ch, i);
  CHECK_RC(publish_index_rc(ch, 999), MMBUS_E_TIMEOUT);
  read_exactly(sub, CAP, CAP);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

static void test_no_subscriber_never_blocks(const char *dir) {
  static const mmbus_policy_t policies[] = {MMBUS_POLICY_BLOCK, MMBUS_POLICY_REJECT, MMBUS_POLICY_OVERWRITE};
  static const char *names[] = {"nosub-block", "nosub-reject", "nosub-overwrite"};
  for (int k = 0; k < 3; k++) {
    mmbus_options_t o;
    mmbus_options_init(&o);
    o.flags = MMBUS_CREATE;
    o.record_size = sizeof(test_person_t);
    o.capacity = CAP;
    o.policy = policies[k];
    o.block_timeout_ms = 0; /* any wait would fail at once */
    mmbus_channel_t *ch = NULL;
    CHECK_OK(mmbus_open(dir, names[k], &o, &ch));
    for (int i = 0; i < 10 * CAP; i++) publish_index(ch, i);
    test_person_t batch[CAP];
    for (int i = 0; i < CAP; i++) fill_person(&batch[i], 10 * CAP + i, 0);
    for (int r = 0; r < 5; r++) CHECK_OK(mmbus_publish_batch(ch, batch, CAP)); /* whole-ring batches */
    CHECK(head_of(ch) == 15 * CAP);
    /* a late subscriber starting at the oldest sees the last ring-full */
    mmbus_sub_options_t so = {.name = NULL, .start = MMBUS_START_OLDEST};
    mmbus_sub_t *sub;
    CHECK_OK(mmbus_subscribe(ch, &so, &sub));
    read_exactly(sub, 10 * CAP, CAP);
    CHECK(mmbus_sub_lost(sub) == 0);
    CHECK_OK(mmbus_sub_close(sub));
    CHECK_OK(mmbus_close(ch));
  }
}

static void test_overwrite(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "overwrite", MMBUS_POLICY_OVERWRITE, CAP);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  const int published = 3 * CAP;
  for (int i = 0; i < published; i++) publish_index(ch, i);
  int64_t received = 0;
  mmbus_batch_t b;
  int n = mmbus_poll(sub, 0, &b);
  CHECK(n == CAP);
  CHECK(mmbus_sub_lost(sub) == 2 * CAP);
  for (int i = 0; i < n; i++) {
    const test_person_t *p = mmbus_batch_record(&b, (uint32_t)i);
    CHECK(p->index == 2 * CAP + i && person_intact(p));
    received++;
  }
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_RC(mmbus_poll(sub, 0, &b), 0);
  CHECK(received + (int64_t)mmbus_sub_lost(sub) == published);
  mmbus_sub_stats_t ss;
  mmbus_stats_t st;
  CHECK_RC(mmbus_stats(ch, &st, &ss, 1), 1);
  CHECK(ss.lost == 2 * CAP && ss.cursor == (uint64_t)published && ss.lag == 0);

  /* A batch overwritten while it was being read: ack reports how many of it to discard. */
  for (int i = published; i < published + CAP; i++) publish_index(ch, i);
  CHECK_RC(mmbus_poll(sub, 0, &b), CAP);
  CHECK(b.seq == (uint64_t)published);
  publish_index(ch, published + CAP);     /* overwrites the batch's first slot */
  publish_index(ch, published + CAP + 1); /* and its second */
  CHECK_RC(mmbus_ack(sub), 2);
  CHECK(mmbus_sub_lost(sub) == 2 * CAP + 2);
  CHECK(mmbus_sub_cursor(sub) == (uint64_t)(published + CAP));
  read_exactly(sub, published + CAP, 2);
  CHECK(head_of(ch) == (uint64_t)(published + CAP + 2));
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

/* A child that attaches a subscriber, reports, then neither polls nor heartbeats. */
static pid_t idle_subscriber(const char *dir, const char *chan, const char *durable_name, int consume) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork_child();
  if (pid == 0) {
    close(fds[0]);
    alarm(30);
    mmbus_channel_t *ch = NULL;
    if (mmbus_open(dir, chan, NULL, &ch) != 0) _exit(2);
    mmbus_sub_t *anon = NULL, *dur = NULL;
    if (mmbus_subscribe(ch, NULL, &anon) != 0) _exit(3);
    if (durable_name) {
      mmbus_sub_options_t so = {.name = durable_name, .start = MMBUS_START_OLDEST};
      if (mmbus_subscribe(ch, &so, &dur) != 0) _exit(4);
      mmbus_batch_t b;
      if (consume && (mmbus_poll(dur, (uint32_t)consume, &b) != consume || mmbus_ack(dur) != 0)) _exit(5);
    }
    char ok = 'k';
    if (write(fds[1], &ok, 1) != 1) _exit(6);
    for (;;) pause();
  }
  close(fds[1]);
  char c = 0;
  if (read(fds[0], &c, 1) != 1 || c != 'k') {
    kill(pid, SIGKILL);
    fprintf(stderr, "subscriber child failed: exit %d\n", wait_pid(pid));
    exit(1);
  }
  close(fds[0]);
  return pid;
}

static void test_silent_subscriber(const char *dir) {
  mmbus_channel_t *creator = open_person_channel(dir, "silent", MMBUS_POLICY_BLOCK, CAP);
  CHECK_OK(mmbus_close(creator));
  pid_t child = idle_subscriber(dir, "silent", NULL, 0);
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.heartbeat_timeout_ms = 200;
  o.block_timeout_ms = 5000;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "silent", &o, &ch));
  for (int i = 0; i < CAP; i++) publish_index(ch, i);
  /* The ring is full for the child's subscriber; once its heartbeat is 200 ms old it stops counting. */
  int rc = publish_index_rc(ch, CAP);
  mmbus_stats_t st;
  mmbus_sub_stats_t ss[2];
  int n = mmbus_stats(ch, &st, ss, 2);
  kill(child, SIGKILL);
  int status = wait_pid(child);
  CHECK_OK(rc);
  CHECK(status == 128 + SIGKILL);
  CHECK(n == 1);
  CHECK(ss[0].state == MMBUS_SUB_DEAD && ss[0].pid == child && ss[0].heartbeat_age_ms >= 200);
  CHECK(st.subscribers_dead == 1 && st.subscribers_active == 0 && st.head == CAP + 1);
  CHECK_OK(mmbus_close(ch));
}

static void test_gc_after_kill(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "gc", MMBUS_POLICY_BLOCK, 64);
  for (int i = 0; i < 10; i++) publish_index(ch, i);
  pid_t child = idle_subscriber(dir, "gc", "durable-gc", 4);
  mmbus_stats_t st;
  mmbus_sub_stats_t ss[4];
  CHECK_RC(mmbus_stats(ch, &st, ss, 4), 2);
  CHECK(st.subscribers_active == 2);
  CHECK_RC(mmbus_gc(ch), 0); /* both alive: nothing to reclaim */
  int anon_slot = ss[0].durable ? ss[1].slot : ss[0].slot;
  kill(child, SIGKILL);
  CHECK(wait_pid(child) == 128 + SIGKILL);

  CHECK_RC(mmbus_stats(ch, &st, ss, 4), 2);
  CHECK(st.subscribers_dead == 2 && ss[0].state == MMBUS_SUB_DEAD && ss[1].state == MMBUS_SUB_DEAD);
  int reclaimed = mmbus_gc(ch);
  CHECK(reclaimed >= 1);
  CHECK(reclaimed == 2);
  CHECK_RC(mmbus_gc(ch), 0);
  CHECK_RC(mmbus_stats(ch, &st, ss, 4), 1); /* the anonymous slot is free */
  CHECK(st.subscribers_dead == 0 && st.subscribers_offline == 1 && st.subscribers_active == 0);
  CHECK(ss[0].state == MMBUS_SUB_OFFLINE && ss[0].durable && strcmp(ss[0].name, "durable-gc") == 0);
  CHECK(ss[0].cursor == 4 && ss[0].slot != anon_slot);

  /* The durable subscriber resumes where the dead process left it; the freed slot is reused. */
  mmbus_sub_options_t so = {.name = "durable-gc", .start = MMBUS_START_NEWEST};
  mmbus_sub_t *dur, *anon;
  CHECK_OK(mmbus_subscribe(ch, &so, &dur));
  CHECK(mmbus_sub_slot(dur) == ss[0].slot && mmbus_sub_cursor(dur) == 4);
  read_exactly(dur, 4, 6);
  CHECK_OK(mmbus_subscribe(ch, NULL, &anon));
  CHECK(mmbus_sub_slot(anon) == anon_slot);
  CHECK_OK(mmbus_sub_close(anon));
  CHECK_OK(mmbus_sub_close(dur));
  CHECK_OK(mmbus_close(ch));
}

int main(void) {
  test_deadline(60);
  const char *dir = make_test_dir();
  test_reject(dir);
  test_block_timeout(dir);
  test_no_subscriber_never_blocks(dir);
  test_overwrite(dir);
  test_silent_subscriber(dir);
  test_gc_after_kill(dir);
  puts("t_policies: ok");
  return 0;
}
