/* Publish, poll, ack, batches, claim/commit, start positions, late join, stats on one process. */
#include "helpers.h"

static void test_publish_poll_ack(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "basic", MMBUS_POLICY_BLOCK, 1024);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(sub, 16, &b), 0);
  CHECK_RC(mmbus_ack(sub), MMBUS_E_STATE);
  test_person_t p;
  for (int i = 0; i < 10; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  CHECK_RC(mmbus_publish(ch, &p, sizeof p - 1), MMBUS_E_TOOBIG);
  CHECK_RC(mmbus_poll(sub, 4, &b), 4);
  CHECK(b.seq == 0);
  for (uint32_t i = 0; i < 4; i++) CHECK(((const test_person_t *)mmbus_batch_record(&b, i))->index == i);
  /* poll without ack returns the same batch again */
  CHECK_RC(mmbus_poll(sub, 4, &b), 4);
  CHECK(b.seq == 0);
  CHECK_RC(mmbus_ack_n(sub, 5), MMBUS_E_INVAL);
  CHECK_RC(mmbus_ack_n(sub, 1), 0); /* consume one: the other three come again */
  CHECK(mmbus_sub_cursor(sub) == 1);
  CHECK_RC(mmbus_poll(sub, 3, &b), 3);
  CHECK(b.seq == 1);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK(mmbus_sub_cursor(sub) == 4);
  CHECK_RC(mmbus_poll(sub, 0, &b), 6);
  CHECK(((const test_person_t *)mmbus_batch_record(&b, 5))->index == 9);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_RC(mmbus_poll(sub, 0, &b), 0);
  CHECK_RC(mmbus_wait(sub, 10), MMBUS_E_TIMEOUT);

  /* batch publish */
  test_person_t many[100];
  for (int i = 0; i < 100; i++) fill_person(&many[i], 10 + i, 0);
  CHECK_OK(mmbus_publish_batch(ch, many, 100));
  CHECK_OK(mmbus_wait(sub, 1000));
  CHECK_RC(mmbus_poll(sub, 1000, &b), 100);
  for (uint32_t i = 0; i < 100; i++) CHECK(person_intact(mmbus_batch_record(&b, i)));
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_RC(mmbus_publish_batch(ch, many, 0), 0);
  CHECK_RC(mmbus_publish_batch(ch, many, 2048), MMBUS_E_TOOBIG);

  /* claim / commit in place, across the ring's wrap point */
  mmbus_claim_t c;
  CHECK_RC(mmbus_claim(ch, 0, -1, &c), MMBUS_E_TOOBIG);
  CHECK_RC(mmbus_claim(ch, 2000, -1, &c), MMBUS_E_TOOBIG);
  CHECK_OK(mmbus_claim(ch, 3, -1, &c));
  CHECK(c.seq == 110 && c.n == 3);
  for (uint32_t i = 0; i < 3; i++) fill_person(mmbus_claim_record(&c, i), 110 + i, 0);
  CHECK_RC(mmbus_poll(sub, 0, &b), 0); /* claimed, not committed: invisible */
  CHECK_OK(mmbus_commit(ch, &c));
  CHECK_RC(mmbus_commit(ch, &c), MMBUS_E_STATE);
  CHECK_RC(mmbus_poll(sub, 0, &b), 3);
  CHECK_RC(mmbus_ack(sub), 0);

  /* an aborted claim is stepped over; what follows it arrives */
  CHECK_OK(mmbus_claim(ch, 2, -1, &c));
  CHECK_OK(mmbus_claim_abort(ch, &c));
  CHECK_RC(mmbus_claim_abort(ch, &c), MMBUS_E_STATE);
  fill_person(&p, 1000, 0);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK_RC(mmbus_poll(sub, 0, &b), 1);
  CHECK(b.seq == 115 && ((const test_person_t *)mmbus_batch_record(&b, 0))->index == 1000);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_RC(mmbus_close(ch), 0);
}

static void test_start_positions(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "start", MMBUS_POLICY_OVERWRITE, 16);
  test_person_t p;
  for (int i = 0; i < 40; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  mmbus_sub_t *newest, *oldest;
  mmbus_sub_options_t so = {.name = NULL, .start = MMBUS_START_NEWEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &newest));
  so.start = MMBUS_START_OLDEST;
  CHECK_OK(mmbus_subscribe(ch, &so, &oldest));
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(newest, 0, &b), 0);
  CHECK_RC(mmbus_poll(oldest, 0, &b), 16); /* late join: the 16 still in the ring */
  CHECK(((const test_person_t *)mmbus_batch_record(&b, 0))->index == 24);
  CHECK(((const test_person_t *)mmbus_batch_record(&b, 15))->index == 39);
  CHECK_RC(mmbus_ack(oldest), 0);
  fill_person(&p, 40, 0);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK_RC(mmbus_poll(newest, 0, &b), 1);
  CHECK(((const test_person_t *)mmbus_batch_record(&b, 0))->index == 40);
  /* overwrite: records of a held batch overwritten while it is read are reported, then counted lost */
  mmbus_sub_t *lapped;
  so.start = MMBUS_START_NEWEST;
  CHECK_OK(mmbus_subscribe(ch, &so, &lapped));
  for (int i = 0; i < 8; i++) {
    fill_person(&p, 100 + i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  CHECK_RC(mmbus_poll(lapped, 0, &b), 8);
  CHECK(mmbus_sub_overrun(lapped) == 0);
  for (int i = 0; i < 12; i++) { /* 12 more on a ring of 16: the batch's first 4 slots are reused */
    fill_person(&p, 200 + i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  CHECK(mmbus_sub_overrun(lapped) == 4);
  CHECK_RC(mmbus_ack(lapped), 4);
  CHECK(mmbus_sub_lost(lapped) == 4);
  CHECK_OK(mmbus_sub_close(lapped));
  /* reading without joining */
  CHECK(mmbus_head(ch) == 61);
  test_person_t got;
  CHECK_OK(mmbus_read(ch, 60, &got, sizeof got));
  CHECK(got.index == 211);
  CHECK_RC(mmbus_read(ch, 61, &got, sizeof got), MMBUS_E_NOENT);  /* not yet */
  CHECK_RC(mmbus_read(ch, 40, &got, sizeof got), MMBUS_E_NOENT);  /* overwritten */
  CHECK_RC(mmbus_read(ch, 60, &got, 10), MMBUS_E_TOOBIG);
  /* claims are read whole: two of 10 on the ring of 16, and the first one's start is overwritten */
  for (int c = 0; c < 2; c++) {
    mmbus_claim_t cl;
    CHECK_OK(mmbus_claim(ch, 10, 1000, &cl));
    for (uint32_t i = 0; i < 10; i++) fill_person(mmbus_claim_record(&cl, i), 300 + c * 10 + (int)i, 0);
    CHECK_OK(mmbus_commit(ch, &cl));
  }
  CHECK(mmbus_head(ch) == 81);
  for (uint64_t seq = 65; seq < 71; seq++) { /* in the ring, but the rest of the claim of 61..70 */
    CHECK_RC(mmbus_read(ch, seq, &got, sizeof got), MMBUS_E_NOENT);
    CHECK(strstr(mmbus_errmsg(), "read whole") != NULL);
  }
  for (uint64_t seq = 71; seq < 81; seq++) {
    CHECK_OK(mmbus_read(ch, seq, &got, sizeof got));
    CHECK(got.index == 310 + (int)(seq - 71));
  }
  CHECK_RC(mmbus_close(ch), MMBUS_E_STATE); /* subscribers still open */
  CHECK_OK(mmbus_sub_close(newest));
  CHECK_OK(mmbus_sub_close(oldest));
  CHECK_OK(mmbus_close(ch));
}

static void test_stats(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "stats", MMBUS_POLICY_BLOCK, 64);
  mmbus_sub_t *a, *d;
  CHECK_OK(mmbus_subscribe(ch, NULL, &a));
  mmbus_sub_options_t so = {.name = "durable-one", .start = MMBUS_START_NEWEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &d));
  test_person_t p;
  for (int i = 0; i < 5; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(d, 2, &b), 2);
  CHECK_RC(mmbus_ack(d), 0);
  mmbus_stats_t st;
  mmbus_sub_stats_t ss[8];
  CHECK_RC(mmbus_stats(ch, &st, ss, 8), 2);
  CHECK(st.head == 5 && st.capacity == 64 && st.publishers_alive == 1);
  CHECK(st.subscribers_active == 2 && st.subscribers_offline == 0 && st.max_lag == 5);
  CHECK(ss[0].state == MMBUS_SUB_ACTIVE && !ss[0].durable && ss[0].lag == 5 && ss[0].pid == self_pid());
  CHECK(ss[1].durable && strcmp(ss[1].name, "durable-one") == 0 && ss[1].cursor == 2 && ss[1].lag == 3);
  CHECK(ss[1].heartbeat_age_ms >= 0 && ss[1].heartbeat_age_ms < 5000);
  CHECK_OK(mmbus_sub_close(d));
  CHECK_RC(mmbus_stats(ch, &st, ss, 8), 2);
  CHECK(st.subscribers_offline == 1 && ss[1].state == MMBUS_SUB_OFFLINE && ss[1].cursor == 2);
  /* the durable subscriber resumes after what it consumed */
  CHECK_OK(mmbus_subscribe(ch, &so, &d));
  CHECK_RC(mmbus_poll(d, 0, &b), 3);
  CHECK(((const test_person_t *)mmbus_batch_record(&b, 0))->index == 2);
  /* a second attach of the same durable name in a live process is refused */
  mmbus_sub_t *again;
  CHECK_RC(mmbus_subscribe(ch, &so, &again), MMBUS_E_BUSY);
  CHECK(strstr(mmbus_errmsg(), "durable-one") != NULL);
  CHECK_OK(mmbus_sub_close(d));
  CHECK_OK(mmbus_sub_close(a));
  CHECK_RC(mmbus_stats(ch, &st, ss, 8), 1); /* the anonymous slot is free again */
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  CHECK(info.record_size == 128 && info.capacity == 64 && info.policy == MMBUS_POLICY_BLOCK);
  CHECK(info.fingerprint == TEST_FINGERPRINT && strcmp(info.schema_name, "test.Person") == 0);
  CHECK(info.max_subscribers == 64 && info.heartbeat_timeout_ms == 5000 && info.block_timeout_ms == 5000);
  CHECK(mmbus_base(ch) != NULL && mmbus_mapped_size(ch) == info.file_size);
  CHECK_OK(mmbus_flush(ch));
  CHECK_OK(mmbus_close(ch));
}

#include <pthread.h>

static void *interrupt_later(void *arg) {
  sleep_us(50000);
  mmbus_sub_interrupt(arg);
  return NULL;
}

static void test_interrupt(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "intr", MMBUS_POLICY_BLOCK, 64);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  pthread_t t;
  CHECK(pthread_create(&t, NULL, interrupt_later, sub) == 0);
  CHECK_RC(mmbus_wait(sub, 10000), MMBUS_E_INTR); /* returns long before the 10 s time-out */
  pthread_join(t, NULL);
  test_person_t p;
  fill_person(&p, 1, 0);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK_OK(mmbus_wait(sub, 1000)); /* the interrupt was consumed */
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

/* A paced stream of `count` records, published by a thread of its own (a handle is used by one thread
 * at a time); pause_us 0: flat out. */
typedef struct paced {
  const char *dir, *name;
  mmbus_policy_t policy;
  uint64_t capacity;
  int count;
  unsigned pause_us;
  int64_t block_timeout_ms; /* < 0: the file's */
  int timeouts;             /* out: publishes that found the ring full for the whole block time-out */
} paced_t;

static void *publish_paced(void *arg) {
  paced_t *pc = arg;
  mmbus_options_t o = person_channel_options(pc->policy, pc->capacity);
  o.block_timeout_ms = pc->block_timeout_ms;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(pc->dir, pc->name, &o, &ch));
  test_person_t p;
  for (int i = 0; i < pc->count; i++) {
    fill_person(&p, i, 0);
    int rc;
    while ((rc = mmbus_publish(ch, &p, sizeof p)) == MMBUS_E_TIMEOUT) pc->timeouts++;
    CHECK_OK(rc);
    if (pc->pause_us) sleep_us(pc->pause_us);
  }
  CHECK_OK(mmbus_close(ch));
  return NULL;
}

/* Takes a paced stream, every record in order (lost ones counted in *lost when lost is not NULL);
 * returns how many waits returned records. */
static int take_paced(mmbus_sub_t *sub, paced_t *pc, uint64_t *lost) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, publish_paced, pc) == 0);
  int64_t next = 0;
  int wakes = 0;
  while (next < pc->count) {
    mmbus_batch_t b;
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    if (lost && n > 0) next = (int64_t)b.seq; /* lost records are skipped, the others come in order */
    for (int j = 0; j < n; j++) { /* whole (publisher 0, payload checked), in sequence */
      const test_person_t *r = mmbus_batch_record(&b, (uint32_t)j);
      CHECK(person_intact(r) && r->publisher == 0 && r->index == next + j);
    }
    next += n;
    if (n) {
      CHECK_RC(mmbus_ack(sub), 0);
    } else {
      CHECK_OK(mmbus_wait(sub, 10000));
      wakes++;
    }
  }
  pthread_join(t, NULL);
  if (lost) *lost = mmbus_sub_lost(sub);
  return wakes;
}

/* 100 records 300 us apart: the subscriber's waits come right after records flowed (where spin_us
 * and coalesce_us apply) */
static paced_t paced_100(const char *dir, const char *name, uint64_t capacity) {
  return (paced_t){dir, name, MMBUS_POLICY_BLOCK, capacity, 100, 300, -1, 0};
}

static void *interrupt_soon(void *sub) {
  sleep_us(5000);
  CHECK_OK(mmbus_sub_interrupt(sub));
  return NULL;
}

/* spin_us and coalesce_us out of range are refused; every spin takes every record */
static void test_spin_options(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "spin", MMBUS_POLICY_BLOCK, 64);
  mmbus_sub_t *sub;
  /* out of range: spin_us, then coalesce_us */
  const int32_t refused[][2] = {{-2, 0}, {INT32_MIN, 0}, {MMBUS_SPIN_MAX_US + 1, 0}, {INT32_MAX, 0},
                                {0, -1}, {0, INT32_MIN}, {0, MMBUS_COALESCE_MAX_US + 1}, {0, INT32_MAX}};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    mmbus_sub_options_t so;
    mmbus_sub_options_init(&so);
    so.spin_us = refused[i][0];
    so.coalesce_us = refused[i][1];
    CHECK_RC(mmbus_subscribe(ch, &so, &sub), MMBUS_E_INVAL);
  }
  mmbus_stats_t st;
  CHECK_RC(mmbus_stats(ch, &st, NULL, 0), 0);
  CHECK(st.subscribers_active == 0); /* a refused subscribe takes no slot */
  const int32_t spins[] = {MMBUS_SPIN_NONE, 0, 1, 20, MMBUS_SPIN_MAX_US};
  for (size_t i = 0; i < sizeof spins / sizeof spins[0]; i++) {
    mmbus_sub_options_t so;
    mmbus_sub_options_init(&so);
    so.spin_us = spins[i];
    CHECK_OK(mmbus_subscribe(ch, &so, &sub));
    paced_t pc = paced_100(dir, "spin", 64);
    take_paced(sub, &pc, NULL); /* every record, in order, whatever the spin */
    CHECK_RC(mmbus_poll(sub, 0, &(mmbus_batch_t){0}), 0);
    CHECK_OK(mmbus_sub_close(sub));
  }
  CHECK_OK(mmbus_close(ch));
}

#ifdef __linux__
#include <sys/resource.h>
/* A plain subscriber of the same channel, asleep between records: publishers wake it for each one. */
static void *plain_subscriber(void *arg) {
  mmbus_channel_t *ch = open_person_channel(((paced_t *)arg)->dir, ((paced_t *)arg)->name, MMBUS_POLICY_BLOCK, 1024);
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  so.spin_us = MMBUS_SPIN_NONE;
  so.start = MMBUS_START_OLDEST;
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  int64_t next = 0;
  while (next < ((paced_t *)arg)->count) {
    mmbus_batch_t b;
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    next += n;
    if (n) CHECK_RC(mmbus_ack(sub), 0);
    else CHECK_OK(mmbus_wait(sub, 10000));
  }
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
  return NULL;
}

static long voluntary_switches(void) {
  struct rusage ru;
  CHECK(getrusage(RUSAGE_THREAD, &ru) == 0);
  return ru.ru_nvcsw;
}
#endif

/* coalesce_us (its range is checked with spin_us'): a paced stream comes in a few batches, every
 * record in order; a window never lets a small ring fill (no record lost to an overwrite publisher,
 * no block publisher timed out); other subscribers do not wake it; interruptions and time-outs are
 * not held back by it. */
static void test_coalesce(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "coalesce", MMBUS_POLICY_BLOCK, 1024);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  so.spin_us = MMBUS_SPIN_NONE;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  paced_t pc = paced_100(dir, "coalesce", 1024);
  int plain = take_paced(sub, &pc, NULL); /* the control: records 300 us apart wake it for nearly every one */
  CHECK_OK(mmbus_sub_close(sub));
  so.spin_us = 0;
  so.coalesce_us = 20000;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  uint64_t t0 = now_ns();
  int coalesced = take_paced(sub, &pc, NULL);
  uint64_t took_ms = (now_ns() - t0) / 1000000u;
  /* one wake-up per 20 ms window at most (and the first, at once) */
  if (plain <= coalesced || coalesced > 2 + (int)(took_ms / 20)) {
    fprintf(stderr, "coalescing: %d wake-ups without, %d with it over %llu ms\n", plain, coalesced, (unsigned long long)took_ms);
    CHECK(0);
  }
  CHECK_OK(mmbus_sub_close(sub));

  /* a 256-record ring that an overwrite publisher fills in 51 ms, a 100 ms window: nothing lost */
  mmbus_channel_t *ow = open_person_channel(dir, "coalesce-ow", MMBUS_POLICY_OVERWRITE, 256);
  so.coalesce_us = MMBUS_COALESCE_MAX_US;
  CHECK_OK(mmbus_subscribe(ow, &so, &sub));
  paced_t fast = {dir, "coalesce-ow", MMBUS_POLICY_OVERWRITE, 256, 1000, 200, -1, 0};
  uint64_t lost = 0;
  take_paced(sub, &fast, &lost);
  if (lost) {
    fprintf(stderr, "coalescing: %llu of 1000 records lost to an overwrite publisher\n", (unsigned long long)lost);
    CHECK(0);
  }
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ow));

  /* a block publisher flat out with a 50 ms block time-out, a 100 ms window: it never times out */
  mmbus_channel_t *bl = open_person_channel(dir, "coalesce-block", MMBUS_POLICY_BLOCK, 64);
  so.coalesce_us = MMBUS_COALESCE_MAX_US;
  CHECK_OK(mmbus_subscribe(bl, &so, &sub));
  paced_t flat = {dir, "coalesce-block", MMBUS_POLICY_BLOCK, 64, 2000, 0, 50, 0};
  take_paced(sub, &flat, NULL);
  if (flat.timeouts) {
    fprintf(stderr, "coalescing: the block publisher timed out %d times\n", flat.timeouts);
    CHECK(0);
  }
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(bl));

#ifdef __linux__
  /* beside a plain subscriber, which publishers wake for every record: this one is not woken by them */
  so.coalesce_us = 20000;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  paced_t busy = {dir, "coalesce", MMBUS_POLICY_BLOCK, 1024, 1000, 250, -1, 0};
  pthread_t other;
  CHECK(pthread_create(&other, NULL, plain_subscriber, &busy) == 0);
  sleep_us(20000); /* subscribed and asleep before the stream starts */
  long switches = voluntary_switches();
  int wakes = take_paced(sub, &busy, NULL);
  switches = voluntary_switches() - switches;
  pthread_join(other, NULL);
  if (switches > 4 * wakes + 50) {
    fprintf(stderr, "coalescing: %ld context switches for %d wake-ups (1000 records)\n", switches, wakes);
    CHECK(0);
  }
  CHECK_OK(mmbus_sub_close(sub));
#endif

  so.coalesce_us = 20000;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  /* inside a window: the time-out ends the wait, an interruption ends it early */
  test_person_t p;
  fill_person(&p, 1, 0);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK_OK(mmbus_wait(sub, 1000));
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(sub, 0, &b), 1);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_RC(mmbus_wait(sub, 1), MMBUS_E_TIMEOUT);
  CHECK_OK(mmbus_sub_close(sub));
  so.coalesce_us = MMBUS_COALESCE_MAX_US;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK_OK(mmbus_wait(sub, 1000)); /* the first: not held back */
  CHECK_RC(mmbus_poll(sub, 0, &b), 1);
  CHECK_RC(mmbus_ack(sub), 0);
  pthread_t t;
  t0 = now_ns();
  CHECK(pthread_create(&t, NULL, interrupt_soon, sub) == 0);
  CHECK_RC(mmbus_wait(sub, 10000), MMBUS_E_INTR);
  uint64_t waited_ms = (now_ns() - t0) / 1000000u;
  pthread_join(t, NULL);
  CHECK(waited_ms < MMBUS_COALESCE_MAX_US / 1000); /* ended inside the window, not after it */
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

int main(void) {
  test_deadline(60);
  const char *dir = make_test_dir();
  test_publish_poll_ack(dir);
  test_start_positions(dir);
  test_stats(dir);
  test_interrupt(dir);
  test_spin_options(dir);
  test_coalesce(dir);
  puts("t_basic: ok");
  return 0;
}
