/* A publisher stopped (SIGSTOP) between claim and commit does not stall the channel: after the
 * unblock time-out the others move on (the subscriber gets everything else, other publishers go
 * around the stuck claim's slots lap after lap), nothing the stopped publisher writes late reaches a
 * reader, and its commit, once it is continued, fails with MMBUS_E_REVOKED. Under block and
 * overwrite. Every record is checked (publisher, index, name). */
#include "helpers.h"

#define CAP 256

static mmbus_channel_t *open_ch(const char *dir, const char *name, mmbus_policy_t policy) {
  mmbus_options_t o = person_channel_options(policy, CAP);
  o.unblock_timeout_ms = 200; /* the file's: every handle gives up a stuck claim after 200 ms */
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, name, &o, &ch));
  return ch;
}

enum { STOPPER = 1, OTHER = 2 };

/* The words of this process's publisher slot (docs/format.md §6): the one whose claim in flight starts
 * at seq. Word 2 is `pending`, 7 `revoked`, 13 `decided`. */
static uint64_t *own_pub_slot(mmbus_channel_t *ch, uint64_t seq) {
  mmbus_info_t info;
  if (mmbus_info(ch, &info)) return NULL;
  for (uint32_t i = 0; i < info.max_publishers; i++) {
    uint64_t *slot = (uint64_t *)((uint8_t *)mmbus_base(ch) + 4096 + (size_t)info.max_subscribers * 128 + (size_t)i * 128);
    if ((__atomic_load_n(slot + 2, __ATOMIC_ACQUIRE) & ((UINT64_C(1) << 62) - 1)) == seq) return slot;
  }
  return NULL;
}

/* As STOPPER (a child): publishes records 0..published-1, then claims the next `claimed` and writes them. */
static mmbus_claim_t publish_then_claim(mmbus_channel_t *ch, int published, uint32_t claimed) {
  test_person_t p;
  for (int i = 0; i < published; i++) {
    fill_person(&p, i, STOPPER);
    if (mmbus_publish(ch, &p, sizeof p)) _exit(2);
  }
  mmbus_claim_t c;
  if (mmbus_claim(ch, claimed, -1, &c)) _exit(2);
  for (uint32_t i = 0; i < claimed; i++) fill_person(mmbus_claim_record(&c, i), published + i, STOPPER);
  return c;
}

/* publish_then_claim, then stops itself (SIGSTOP) holding that claim. */
static mmbus_claim_t publish_then_stop_holding(mmbus_channel_t *ch, int published, uint32_t claimed) {
  mmbus_claim_t c = publish_then_claim(ch, published, claimed);
  raise(SIGSTOP);
  return c;
}

/* Publishes 10 records, claims 5 and writes them, stops itself; once continued it writes garbage into
 * the claimed slots (a late memcpy) and commits. Exits 0 when that commit failed with REVOKED. */
static void stopping_publisher(const char *dir, const char *name, mmbus_policy_t policy) {
  mmbus_channel_t *ch = open_ch(dir, name, policy);
  test_person_t p;
  mmbus_claim_t c = publish_then_stop_holding(ch, 10, 5);
  for (uint32_t i = 0; i < 5; i++) memset(mmbus_claim_record(&c, i), 0x5a, sizeof(test_person_t));
  int rc = mmbus_commit(ch, &c);
  if (rc != MMBUS_E_REVOKED) {
    fprintf(stderr, "late commit returned %s: %s\n", mmbus_errname(rc), mmbus_errmsg());
    _exit(4);
  }
  /* and it can go on publishing */
  fill_person(&p, 15, STOPPER);
  if (mmbus_publish(ch, &p, sizeof p)) _exit(5);
  mmbus_close(ch);
  _exit(0);
}

typedef struct tally {
  int64_t stopper, other, bad, lost;
  int64_t last_stopper_index;
} tally_t;

static int policy_overwrites;
static int64_t next_other, next_stopper; /* what each publisher sends next, across the phases of a run */

/* Reads until OTHER's record `other_end - 1` and, if want_stopper_end, the stopper's record 15 came
 * (both stay in the ring: nobody publishes after them). */
static tally_t read_all_of(mmbus_sub_t *sub, int64_t other_end, int want_stopper_end) {
  tally_t t = {0, 0, 0, 0, -1};
  const int64_t lost0 = (int64_t)mmbus_sub_lost(sub); /* counts below are this call's */
  mmbus_batch_t b;
  while (next_other < other_end || (want_stopper_end && t.last_stopper_index < 15)) {
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    if (n == 0) {
      int w = mmbus_wait(sub, 20000);
      if (w) {
        fprintf(stderr, "reader waited in vain: %s (other %lld, stopper %lld)\n", mmbus_errmsg(), (long long)t.other,
                (long long)t.stopper);
        t.bad++;
        break;
      }
      continue;
    }
    static test_person_t copy[CAP];
    for (int i = 0; i < n; i++) memcpy(&copy[i], mmbus_batch_record(&b, (uint32_t)i), sizeof copy[i]);
    int over = mmbus_ack(sub);
    for (int i = over; i < n; i++) {
      const test_person_t *p = &copy[i];
      if (p->publisher == OTHER && person_intact(p) && p->index >= next_other &&
          (policy_overwrites || p->index == next_other)) {
        next_other = p->index + 1;
        t.other++;
      } else if (p->publisher == STOPPER && person_intact(p) && p->index >= next_stopper &&
                 (policy_overwrites || p->index == next_stopper)) { /* overwrite: its first ones may be lapped */
        if (p->index >= 10 && p->index < 15) t.bad++; /* the given-up claim must never show */
        next_stopper = p->index == 9 ? 15 : p->index + 1;
        t.stopper++;
        t.last_stopper_index = p->index;
      } else {
        fprintf(stderr, "bad record at %llu: publisher %d index %lld, intact %d (age %d, name '%.24s'); expected other %lld, "
                        "stopper %lld; batch of %d from %llu, %d overwritten\n",
                (unsigned long long)(b.seq + (uint64_t)i), p->publisher, (long long)p->index, person_intact(p), p->age,
                p->name, (long long)next_other, (long long)next_stopper, n, (unsigned long long)b.seq, over);
        t.bad++;
      }
    }
  }
  t.lost = (int64_t)mmbus_sub_lost(sub) - lost0;
  return t;
}

/* cas_only: the file as libraries without BARRIER_DECIDES create it (every commit decided by the CAS) */
static void run(mmbus_policy_t policy, const char *name, int cas_only) {
  const char *dir = make_test_dir();
  policy_overwrites = policy == MMBUS_POLICY_OVERWRITE;
  next_other = next_stopper = 0;
  if (cas_only) {
    mmbus_close(open_ch(dir, name, policy));
    clear_header_flags(dir, name, 0x4u);
  }
  mmbus_channel_t *ch = open_ch(dir, name, policy);
  mmbus_info_t ci;
  CHECK_OK(mmbus_info(ch, &ci));
  CHECK(!cas_only || !ci.barrier_decides);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  pid_t stopper = fork_child();
  if (stopper == 0) stopping_publisher(dir, name, policy);
  int st;
  CHECK(waitpid(stopper, &st, WUNTRACED) == stopper && WIFSTOPPED(st));

  /* Another publisher sends three laps while the stopped one holds its claim: the first records wait
   * behind the stuck claim until the unblock time-out, the later laps go around its fenced slots. */
  const int64_t others = 3 * CAP;
  pid_t other = fork_child();
  if (other == 0) {
    mmbus_channel_t *oc = open_ch(dir, name, policy);
    test_person_t p;
    for (int64_t i = 0; i < others; i++) {
      fill_person(&p, i, OTHER);
      if (mmbus_publish(oc, &p, sizeof p)) {
        fprintf(stderr, "other publisher: %s\n", mmbus_errmsg());
        _exit(2);
      }
    }
    _exit(0);
  }
  /* under overwrite nothing holds the other publisher: read as it goes, counting what it laps */
  tally_t t = read_all_of(sub, others, 0);
  CHECK(wait_pid(other) == 0);
  mmbus_stats_t stats;
  CHECK(mmbus_stats(ch, &stats, NULL, 0) >= 0);
  CHECK(stats.claims_revoked == 1); /* fenced off until the stopped publisher is done */
  printf("%s: while stopped: stopper %lld, other %lld, lost %lld, bad %lld, revoked claims %u\n", name,
         (long long)t.stopper, (long long)t.other, (long long)t.lost, (long long)t.bad, stats.claims_revoked);
  CHECK(t.bad == 0);
  if (policy == MMBUS_POLICY_BLOCK) {
    CHECK(t.stopper == 10 && t.other == others && t.lost == 0);
  } else {
    /* lost counts the sequence numbers lapped over: the given-up claim and the claims that went
     * around its fenced slots are among them when they fell in the lapped range */
    int64_t given_up = (int64_t)stats.head - 10 - others;
    CHECK(given_up >= 5 && t.stopper + t.other + t.lost >= 10 + others &&
          t.stopper + t.other + t.lost <= 10 + others + given_up);
  }

  kill(stopper, SIGCONT); /* it scribbles over its claim, commits: REVOKED; then publishes record 15 */
  CHECK(wait_pid(stopper) == 0);
  tally_t t2 = read_all_of(sub, others, 1);
  CHECK(t2.bad == 0 && t2.stopper == 1 && t2.last_stopper_index == 15);
  CHECK(mmbus_stats(ch, &stats, NULL, 0) >= 0);
  CHECK(stats.claims_revoked == 0);
  /* the fenced slots are in use again: two more laps arrive intact */
  pid_t again = fork_child();
  if (again == 0) {
    mmbus_channel_t *oc = open_ch(dir, name, policy);
    test_person_t p;
    for (int64_t i = others; i < others + 2 * CAP; i++) {
      fill_person(&p, i, OTHER);
      if (mmbus_publish(oc, &p, sizeof p)) _exit(2);
    }
    _exit(0);
  }
  tally_t t3 = read_all_of(sub, others + 2 * CAP, 0);
  CHECK(wait_pid(again) == 0);
  CHECK(t3.bad == 0 && t3.other + t3.lost >= 2 * CAP);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

/* Reads, in order and intact, until the stopper's records 0..stoppers-1 and the other publisher's
 * 0..others-1 are in (waiting at most 20 s for each next one); anything else counts as bad. */
static void read_in_order(mmbus_sub_t *sub, tally_t *t, int64_t stoppers, int64_t others) {
  mmbus_batch_t b;
  while (t->stopper < stoppers || t->other < others) {
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    if (n == 0) {
      CHECK_OK(mmbus_wait(sub, 20000));
      continue;
    }
    for (int k = 0; k < n; k++) {
      const test_person_t *r = mmbus_batch_record(&b, (uint32_t)k);
      if (r->publisher == STOPPER && person_intact(r) && r->index == t->stopper) t->stopper++;
      else if (r->publisher == OTHER && person_intact(r) && r->index == t->other) t->other++;
      else t->bad++;
    }
    CHECK_RC(mmbus_ack(sub), 0);
  }
}

/* As STOPPER (a child): publish_then_claim, then decides to commit the claim (by the CAS to COMMITTING,
 * or by_store by its `decided` word alone), writes the later records' stamps and stops itself
 * (SIGSTOP) before the first one. Continued, it writes that stamp as
 * commit does next — the same value, even if others completed the claim for it meanwhile — and exits. */
static void decide_then_stop(const char *dir, const char *name, int published, uint32_t n, int by_store) {
  mmbus_channel_t *oc = open_ch(dir, name, MMBUS_POLICY_BLOCK);
  mmbus_claim_t c = publish_then_claim(oc, published, n);
  mmbus_info_t info;
  mmbus_info(oc, &info);
  uint64_t *stamps = (uint64_t *)((uint8_t *)mmbus_base(oc) + info.stamps_offset);
  const uint64_t cont = UINT64_C(1) << 62, committing = UINT64_C(1) << 62;
  for (uint32_t i = n - 1; i >= 1; i--) __atomic_store_n(&stamps[(c.seq + i) & (CAP - 1)], (c.seq + i + 1) | cont, __ATOMIC_RELEASE);
  uint64_t *slot = own_pub_slot(oc, c.seq), *pending = slot ? slot + 2 : NULL;
  uint64_t expect = c.seq;
  if (!pending) _exit(3);
  if (by_store) {
    __atomic_store_n(slot + 13, c.seq + 1, __ATOMIC_RELEASE); /* `decided` */
  } else if (!__atomic_compare_exchange_n(pending, &expect, c.seq | committing, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    _exit(3);
  }
  raise(SIGSTOP); /* decided, first stamp not written */
  __atomic_store_n(&stamps[c.seq & (CAP - 1)], c.seq + 1, __ATOMIC_RELEASE); /* what commit does next */
  __atomic_store_n(pending, UINT64_MAX, __ATOMIC_RELEASE);
  mmbus_close(oc);
  _exit(0);
}

/* A publisher that stops right after deciding to commit (docs/format.md §8.5 step 2), before writing its
 * claim's first stamp: decided by the CAS to COMMITTING (files without BARRIER_DECIDES, or an owner
 * that saw `revoking`), or, by_store, by its `decided` word alone, as BARRIER_DECIDES owners do. Its
 * records are complete, so after the unblock time-out another process writes that stamp for it (never
 * gives it up: it is committed): the subscriber gets the whole claim, the others go on around that one
 * slot, and when the publisher resumes and writes the stamp itself nothing changes. The steps after
 * the decision are done by hand here, as commit would do them. */
static void test_stopped_after_deciding(int by_store) {
  const char *dir = make_test_dir();
  const char *name = by_store ? "decided-store" : "decided-cas";
  mmbus_channel_t *ch = open_ch(dir, name, MMBUS_POLICY_BLOCK);
  mmbus_info_t ci;
  CHECK_OK(mmbus_info(ch, &ci));
  if (by_store && !ci.barrier_decides) {
    printf("stopped after deciding by store: skipped, this system has no system-wide barrier\n");
    mmbus_close(ch);
    return;
  }
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  pid_t owner = fork_child();
  if (owner == 0) decide_then_stop(dir, name, 0, 4, by_store);
  int st;
  CHECK(waitpid(owner, &st, WUNTRACED) == owner && WIFSTOPPED(st));
  pid_t other = fork_child();
  if (other == 0) {
    mmbus_channel_t *oc = open_ch(dir, name, MMBUS_POLICY_BLOCK);
    test_person_t p;
    for (int64_t i = 0; i < 3 * CAP; i++) { /* laps around the one fenced slot */
      fill_person(&p, i, OTHER);
      if (mmbus_publish(oc, &p, sizeof p)) _exit(2);
    }
    _exit(0);
  }
  tally_t t = {0, 0, 0, 0, -1};
  read_in_order(sub, &t, 0, 3 * CAP);
  CHECK(wait_pid(other) == 0);
  printf("stopped after deciding (%s): its claim arrived whole (%lld of 4), the other publisher's %lld, bad %lld\n",
         by_store ? "by store" : "by CAS", (long long)t.stopper, (long long)t.other, (long long)t.bad);
  CHECK(t.stopper == 4 && t.bad == 0);
  kill(owner, SIGCONT); /* it writes its first stamp again (the same value) and leaves */
  CHECK(wait_pid(owner) == 0);
  mmbus_channel_t *oc = open_ch(dir, name, MMBUS_POLICY_BLOCK);
  test_person_t p;
  for (int64_t i = 3 * CAP; i < 5 * CAP; i++) { /* the slot is in use again: laps arrive intact */
    fill_person(&p, i, OTHER);
    CHECK_OK(mmbus_publish(oc, &p, sizeof p));
    read_in_order(sub, &t, 4, i + 1);
  }
  CHECK(t.bad == 0 && t.other == 5 * CAP);
  mmbus_close(oc);
  mmbus_sub_close(sub);
  mmbus_close(ch);
}

/* The race the decision settles: the owner looked at `revoked` (§8.5 step 1) before the others gave
 * its claim up, then stopped; resumed, it goes on to decide. It must lose: its commit fails with
 * MMBUS_E_REVOKED and nothing of the claim reaches a reader. (Clearing its `revoked` word by hand
 * takes it back to the moment of that look.) */
static void test_revoked_inside_commit(void) {
  const char *dir = make_test_dir();
  const char *name = "inside";
  mmbus_channel_t *ch = open_ch(dir, name, MMBUS_POLICY_BLOCK);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  pid_t owner = fork_child();
  if (owner == 0) {
    mmbus_channel_t *oc = open_ch(dir, name, MMBUS_POLICY_BLOCK);
    test_person_t p;
    mmbus_claim_t c = publish_then_stop_holding(oc, 3, 4); /* continued once the others gave the claim up */
    uint64_t *slot = own_pub_slot(oc, c.seq), *revoked = slot ? slot + 7 : NULL;
    if (!revoked || __atomic_load_n(revoked, __ATOMIC_ACQUIRE) != c.seq + 1) _exit(3);
    __atomic_store_n(revoked, 0, __ATOMIC_RELEASE);
    int rc = mmbus_commit(oc, &c);
    if (rc != MMBUS_E_REVOKED) {
      fprintf(stderr, "commit after the claim was given up returned %s\n", mmbus_errname(rc));
      _exit(4);
    }
    fill_person(&p, 7, STOPPER);
    if (mmbus_publish(oc, &p, sizeof p)) _exit(5);
    mmbus_close(oc);
    _exit(0);
  }
  int st;
  CHECK(waitpid(owner, &st, WUNTRACED) == owner && WIFSTOPPED(st));
  int64_t got[8] = {0}, bad = 0;
  mmbus_batch_t b;
  for (int ended = 0;;) {
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    for (int i = 0; i < n; i++) {
      const test_person_t *p = mmbus_batch_record(&b, (uint32_t)i);
      if (p->publisher == STOPPER && person_intact(p) && p->index >= 0 && p->index < 8) got[p->index]++;
      else bad++;
    }
    if (n > 0) {
      CHECK_RC(mmbus_ack(sub), 0);
      continue;
    }
    if (ended && got[7]) break;
    mmbus_stats_t stats;
    CHECK(mmbus_stats(ch, &stats, NULL, 0) >= 0);
    if (!ended && stats.claims_revoked == 1) { /* given up: let the owner go on into its commit */
      kill(owner, SIGCONT);
      CHECK(wait_pid(owner) == 0);
      ended = 1;
      continue;
    }
    int rc = mmbus_wait(sub, 100);
    CHECK(rc == 0 || rc == MMBUS_E_TIMEOUT);
  }
  printf("revoked inside commit: records 0..2 and 7 arrived (%lld %lld %lld %lld), of the given-up claim %lld, "
         "bad %lld\n", (long long)got[0], (long long)got[1], (long long)got[2], (long long)got[7],
         (long long)(got[3] + got[4] + got[5] + got[6]), (long long)bad);
  CHECK(got[0] == 1 && got[1] == 1 && got[2] == 1 && got[7] == 1 && got[3] + got[4] + got[5] + got[6] == 0 && bad == 0);
  CHECK(mmbus_sub_lost(sub) == 0);
  mmbus_sub_close(sub);
  mmbus_close(ch);
}

/* The publisher that laps a decided claim whose owner is stopped must keep off that claim's slot until
 * the owner has written its stamp again, however it learns that the claim was completed: by completing
 * it itself (its claim of the slot's next lap waited for it), or from a subscriber that did (its claims
 * may know that line of stamps from a look before). Otherwise the owner, continued, writes its old
 * stamp over the later lap's record, and that committed record is gone. Afterwards every record of the
 * lapping publisher still in the ring must be there, intact (mmbus_read). */
static void test_lapped_decided(int subscriber_helps) {
  enum { DECIDED = 3, LAPPING = 400 }; /* the decided claim is sequence 3, mid-line of stamps */
  const char *dir = make_test_dir();
  const char *name = subscriber_helps ? "lapped-decided-sub" : "lapped-decided-pub";
  mmbus_channel_t *ch = open_ch(dir, name, MMBUS_POLICY_BLOCK);
  mmbus_sub_t *sub = NULL;
  if (subscriber_helps) CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  pid_t owner = fork_child();
  if (owner == 0) decide_then_stop(dir, name, DECIDED, 1, 0);
  int st;
  CHECK(waitpid(owner, &st, WUNTRACED) == owner && WIFSTOPPED(st));
  tally_t t = {0, 0, 0, 0, -1};
  /* the subscriber first gets the decided record: completed for its owner after the unblock time-out */
  if (sub) read_in_order(sub, &t, DECIDED + 1, 0);
  for (int i = 0; i < LAPPING; i++) { /* another publisher, one record at a time, past the decided slot */
    test_person_t p;
    fill_person(&p, i, OTHER);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
    if (sub) read_in_order(sub, &t, DECIDED + 1, i + 1);
  }
  kill(owner, SIGCONT); /* it writes the decided record's stamp again, and leaves */
  CHECK(wait_pid(owner) == 0);
  static int found[LAPPING];
  memset(found, 0, sizeof found);
  uint64_t head = mmbus_head(ch);
  for (uint64_t seq = head - CAP; seq < head; seq++) {
    test_person_t r;
    if (mmbus_read(ch, seq, &r, sizeof r) == 0 && r.publisher == OTHER && person_intact(&r) && r.index >= 0 &&
        r.index < LAPPING)
      found[r.index]++;
  }
  int missing = 0;
  const int from = LAPPING - (CAP - 8); /* every record from here on is still in the ring */
  for (int i = from; i < LAPPING; i++) missing += found[i] != 1;
  printf("lapped decided claim (completed by the %s): %d of the last %d records missing or repeated; "
         "subscriber: stopper %lld, other %lld, bad %lld\n", subscriber_helps ? "subscriber" : "lapping publisher",
         missing, LAPPING - from, (long long)t.stopper, (long long)t.other, (long long)t.bad);
  CHECK(missing == 0);
  if (sub) CHECK(t.stopper == DECIDED + 1 && t.other == LAPPING && t.bad == 0);
  if (sub) mmbus_sub_close(sub);
  mmbus_close(ch);
}

int main(void) {
  test_deadline(120);
  run(MMBUS_POLICY_BLOCK, "stopped-block", 0);
  run(MMBUS_POLICY_OVERWRITE, "stopped-overwrite", 0);
  run(MMBUS_POLICY_BLOCK, "stopped-block-cas", 1);
  test_stopped_after_deciding(0);
  test_stopped_after_deciding(1);
  test_revoked_inside_commit();
  test_lapped_decided(0);
  test_lapped_decided(1);
  puts("t_stopped_publisher: ok");
  return 0;
}
