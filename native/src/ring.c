/* The ring: claim, commit, poll, ack, wait, back-pressure and crash recovery (docs/format.md, "Protocol"). */
#define _GNU_SOURCE
#include <string.h>

#include "atomics.h"
#include "internal.h"
#include "os.h"

#define VERIFY_INTERVAL_NS 100000000u  /* re-check a blocking subscriber's pid at most every 100 ms */
#define HOLE_GRACE_NS 2000000u         /* an unfilled claim older than this is checked for a dead owner */
#define FIRST_SLEEP_NS 1000000u        /* first futex sleep: bounds the cost of a missed wake-up */
#define MAX_SLEEP_NS 250000000u        /* idle sleepers wake 4 times a second (heartbeat, time-outs) */
#define HEARTBEAT_EVERY_NS 100000000u
#define SPIN_ITERATIONS 400
#define MAX_BACKOFF_PAUSES 32
#define CHASE_BATCH 32   /* a batch smaller than this, ended by the publisher, means we are chasing it */
#define CHASE_PAUSES 64
#define YIELD_ITERATIONS 20

static inline uint64_t *stamp_of(const mmbus_channel_t *ch, uint64_t seq) { return &ch->stamps[seq & ch->mask]; }
static inline uint64_t stamp_seq(uint64_t stamp) { return stamp & ~MMBUS_ABANDONED; }

static int attach_publisher(mmbus_channel_t *ch) {
  int rc = chan_lock(ch);
  if (rc) return rc;
  pub_slot_t *found = NULL;
  for (uint32_t i = 0; i < ch->hdr.max_publishers && !found; i++)
    if (ld_acquire(&ch->pubs[i].state) == PUB_FREE) found = &ch->pubs[i];
  for (uint32_t i = 0; i < ch->hdr.max_publishers && !found; i++) {
    pub_slot_t *p = &ch->pubs[i];
    if (!os_process_alive(ld_relaxed(&p->pid), ld_relaxed(&p->start_time))) found = p;
  }
  if (found) {
    st_relaxed(&found->pending, MMBUS_NO_CLAIM);
    st_relaxed(&found->pid, os_self_pid());
    st_relaxed(&found->start_time, os_self_start_time());
    st_relaxed(&found->published, 0);
    st_relaxed(&found->attached_ns, os_real_ns());
    st_release(&found->state, (uint32_t)PUB_ACTIVE);
  }
  chan_unlock(ch);
  if (!found)
    return mmbus_set_err(MMBUS_E_NOSLOT, "all %u publisher slots of '%s' are in use by live processes",
                         ch->hdr.max_publishers, ch->path);
  ch->pub = found;
  return 0;
}

/* Whether a subscriber slot counts for back-pressure; checks its process (rate-limited) only when it
 * is the one holding the publisher back. */
static int sub_counts(mmbus_channel_t *ch, uint32_t i, uint64_t now, int blocking) {
  sub_slot_t *s = &ch->subs[i];
  uint64_t hb = ld_relaxed(&s->heartbeat_ns);
  if (ch->heartbeat_timeout_ns && now > hb && now - hb > ch->heartbeat_timeout_ns) return 0;
  if (!blocking) return 1;
  uint32_t gen = ld_relaxed(&s->generation);
  if (ch->verified_gen[i] == gen && now - ch->verified_ns[i] < VERIFY_INTERVAL_NS) return 1;
  if (sub_owner_alive(s)) {
    ch->verified_gen[i] = gen;
    ch->verified_ns[i] = now;
    return 1;
  }
  /* Its process is gone: reclaim the slot (anonymous freed, durable offline) so nobody waits on it. */
  if (chan_lock(ch) == 0) {
    if (ld_acquire(&s->state) == SUB_ACTIVE && ld_relaxed(&s->generation) == gen && !sub_owner_alive(s))
      sub_reclaim_locked(s);
    chan_unlock(ch);
  }
  return 0;
}

/* Recomputes ch->limit = slowest counting subscriber's cursor + capacity. */
static void refresh_limit(mmbus_channel_t *ch, uint64_t needed_end) {
  uint64_t now = os_mono_ns();
  uint64_t min = UINT64_MAX;
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++) {
    sub_slot_t *s = &ch->subs[i];
    if (ld_acquire(&s->state) != SUB_ACTIVE) continue;
    uint64_t cur = ld_acquire(&s->cursor);
    if (!sub_counts(ch, i, now, cur + ch->capacity < needed_end)) continue;
    if (cur < min) min = cur;
  }
  /* With no subscriber the cache still expires within a lap, so one that joins later is seen. */
  if (min == UINT64_MAX) min = ld_acquire(ch->head);
  ch->limit = min + ch->capacity;
}

/* A claim was made at seq (head > seq) but its stamp is not there. If no live publisher can own the
 * claim, it belonged to a process that died between claim and commit: mark it abandoned so readers
 * and writers step over it. Returns 1 if the slot is now usable (committed or abandoned). */
static int recover_hole(mmbus_channel_t *ch, uint64_t seq) {
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    if (ld_acquire(&p->state) != PUB_ACTIVE) continue;
    uint64_t pending = ld_acquire(&p->pending);
    if (pending == MMBUS_NO_CLAIM || pending > seq) continue;
    if (os_process_alive(ld_relaxed(&p->pid), ld_relaxed(&p->start_time))) return 0; /* may still commit */
  }
  uint64_t *sp = stamp_of(ch, seq);
  uint64_t st = ld_acquire(sp);
  while (stamp_seq(st) < seq + 1) {
    if (cas_acq_rel(sp, &st, (seq + 1) | MMBUS_ABANDONED)) {
      wake(ch->data_wake);
      return 1;
    }
  }
  return 1;
}

/* Waits until the previous lap of the ring slot for seq is committed or abandoned (a slow or dead
 * publisher of that lap must not have its slot written under it). */
static int wait_previous_lap(mmbus_channel_t *ch, uint64_t seq) {
  if (seq < ch->capacity) return 0;
  uint64_t prev = seq - ch->capacity;
  uint64_t *sp = stamp_of(ch, seq);
  uint64_t since = 0;
  for (int spins = 0; stamp_seq(ld_acquire(sp)) < prev + 1; spins++) {
    if (spins < SPIN_ITERATIONS) {
      cpu_relax();
      continue;
    }
    uint64_t now = os_mono_ns();
    if (!since) since = now;
    if (now - since > HOLE_GRACE_NS && recover_hole(ch, prev)) continue;
    os_sleep_ns(50000);
  }
  return 0;
}

/* Block policy: sleep until a subscriber moves, or until the deadline. */
static int wait_for_space(mmbus_channel_t *ch, uint64_t end, uint64_t deadline, uint64_t *sleep_ns, int *spins) {
  if ((*spins)++ < YIELD_ITERATIONS) {
    os_yield();
    refresh_limit(ch, end);
    return 0;
  }
  uint32_t w = ld_acquire(&ch->space_wake->futex);
  if (xchg_seq_cst(&ch->space_wake->need_wake, 1) == 0) *sleep_ns = FIRST_SLEEP_NS;
  refresh_limit(ch, end);
  if (end <= ch->limit) return 0;
  uint64_t now = os_mono_ns();
  if (now >= deadline)
    return mmbus_set_err(MMBUS_E_TIMEOUT, "'%s' stayed full for %lld ms: the slowest subscriber did not move",
                         ch->path, (long long)ch->block_timeout_ms);
  uint64_t t = *sleep_ns;
  if (t > deadline - now) t = deadline - now;
  os_futex_wait(&ch->space_wake->futex, w, (int64_t)t);
  *sleep_ns = *sleep_ns * 2 > 50000000u ? 50000000u : *sleep_ns * 2;
  return 0;
}

int mmbus_claim(mmbus_channel_t *ch, uint32_t n, int64_t timeout_ms, mmbus_claim_t *c) {
  if (!ch || !c) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (n == 0 || n > ch->capacity)
    return mmbus_set_err(MMBUS_E_TOOBIG, "cannot claim %u records in a ring of %llu", n,
                         (unsigned long long)ch->capacity);
  if (!ch->pub) {
    int rc = attach_publisher(ch);
    if (rc) return rc;
  }
  if (timeout_ms < 0) timeout_ms = ch->block_timeout_ms;
  uint64_t deadline = 0, sleep_ns = FIRST_SLEEP_NS;
  int spins = 0;
  uint64_t h = ld_relaxed(ch->head);
  for (;;) {
    uint64_t end = h + n;
    if (ch->policy != MMBUS_POLICY_OVERWRITE && ld_relaxed(ch->attach_epoch) != ch->seen_epoch) {
      ch->seen_epoch = ld_acquire(ch->attach_epoch);
      ch->limit = 0; /* a subscriber attached: rescan */
    }
    if (ch->policy != MMBUS_POLICY_OVERWRITE && end > ch->limit) {
      refresh_limit(ch, end);
      if (end > ch->limit) {
        st_relaxed(&ch->pub->pending, MMBUS_NO_CLAIM); /* no claim is in flight while we wait */
        if (ch->policy == MMBUS_POLICY_REJECT)
          return mmbus_set_err(MMBUS_E_FULL, "'%s' is full: the slowest subscriber is %llu records behind",
                               ch->path, (unsigned long long)(h + ch->capacity - ch->limit));
        if (!deadline) deadline = os_mono_ns() + (uint64_t)timeout_ms * 1000000u;
        int rc = wait_for_space(ch, end, deadline, &sleep_ns, &spins);
        if (rc) return rc;
        h = ld_relaxed(ch->head);
        continue;
      }
    }
    /* Announce the claim before making it, so a reader that finds it unfilled can tell whose it is. */
    st_relaxed(&ch->pub->pending, h);
    if (cas_acq_rel(ch->head, &h, end)) break;
  }
  /* Record writes must not become visible before the claim (readers of an overwrite channel check
   * head after reading to detect a lap); free on x86. */
  fence_release();
  for (uint32_t i = 0; i < n; i++) wait_previous_lap(ch, h + i);
  c->seq = h;
  c->n = n;
  c->stride = ch->stride;
  c->data = ch->data;
  c->mask = ch->mask;
  return 0;
}

static inline void commit_range(mmbus_channel_t *ch, uint64_t seq, uint32_t n, int fence) {
  for (uint32_t i = 0; i < n; i++) st_release(stamp_of(ch, seq + i), seq + i + 1);
  st_release(&ch->pub->pending, MMBUS_NO_CLAIM);
  st_relaxed(&ch->pub->published, ld_relaxed(&ch->pub->published) + n);
  /* The fence orders the stamp stores before the need_wake load (no missed wake-up). Single-record
   * commits skip it: a sleeper that races it wakes from its first, 1 ms, sleep instead. */
  if (fence) fence_seq_cst();
  if (ld_relaxed(&ch->data_wake->need_wake)) wake(ch->data_wake);
}

int mmbus_commit(mmbus_channel_t *ch, const mmbus_claim_t *c) {
  if (!ch || !c) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (!ch->pub || ld_relaxed(&ch->pub->pending) != c->seq)
    return mmbus_set_err(MMBUS_E_STATE, "commit of sequence %llu which this handle has not claimed",
                         (unsigned long long)c->seq);
  commit_range(ch, c->seq, c->n, c->n > 1);
  return 0;
}

int mmbus_claim_abort(mmbus_channel_t *ch, const mmbus_claim_t *c) {
  if (!ch || !c) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (!ch->pub || ld_relaxed(&ch->pub->pending) != c->seq)
    return mmbus_set_err(MMBUS_E_STATE, "abort of sequence %llu which this handle has not claimed",
                         (unsigned long long)c->seq);
  for (uint32_t i = 0; i < c->n; i++) st_release(stamp_of(ch, c->seq + i), (c->seq + i + 1) | MMBUS_ABANDONED);
  st_release(&ch->pub->pending, MMBUS_NO_CLAIM);
  fence_seq_cst();
  wake(ch->data_wake);
  return 0;
}

int mmbus_publish(mmbus_channel_t *ch, const void *rec, size_t size) {
  if (!ch || !rec) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (size != ch->record_size)
    return mmbus_set_err(MMBUS_E_TOOBIG, "record of %zu bytes on '%s', which holds %u-byte records", size, ch->path,
                         ch->record_size);
  mmbus_claim_t c;
  int rc = mmbus_claim(ch, 1, -1, &c);
  if (rc) return rc;
  memcpy(mmbus_claim_record(&c, 0), rec, ch->record_size);
  commit_range(ch, c.seq, 1, 0);
  return 0;
}

int mmbus_publish_batch(mmbus_channel_t *ch, const void *recs, size_t n) {
  if (!ch || (!recs && n)) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (n == 0) return 0;
  if (n > ch->capacity)
    return mmbus_set_err(MMBUS_E_TOOBIG, "batch of %zu records exceeds the ring of %llu", n,
                         (unsigned long long)ch->capacity);
  mmbus_claim_t c;
  int rc = mmbus_claim(ch, (uint32_t)n, -1, &c);
  if (rc) return rc;
  const uint8_t *src = recs;
  for (uint32_t i = 0; i < c.n; i++) memcpy(mmbus_claim_record(&c, i), src + (size_t)i * ch->record_size, ch->record_size);
  commit_range(ch, c.seq, c.n, 1);
  return 0;
}

/* ---- subscribers ----------------------------------------------------------------------------- */

static void heartbeat(mmbus_sub_t *sub, uint64_t now) {
  if (now - sub->last_heartbeat_ns < HEARTBEAT_EVERY_NS) return;
  sub->last_heartbeat_ns = now;
  st_relaxed(&sub->slot->heartbeat_ns, now);
}

int mmbus_sub_heartbeat(mmbus_sub_t *sub) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  uint64_t now = os_mono_ns();
  sub->last_heartbeat_ns = now;
  st_relaxed(&sub->slot->heartbeat_ns, now);
  return 0;
}

static void publish_cursor(mmbus_sub_t *sub) {
  st_release(&sub->slot->cursor, sub->cursor);
  st_relaxed(&sub->slot->lost, sub->lost);
  if (sub->ch->policy == MMBUS_POLICY_BLOCK) wake(sub->ch->space_wake);
}

/* What is at the cursor: 1 committed, 0 nothing yet, 2 moved the cursor (abandoned slot skipped or
 * lapped: the caller looks again). */
static int settle_cursor(mmbus_sub_t *sub) {
  mmbus_channel_t *ch = sub->ch;
  uint64_t c = sub->cursor;
  uint64_t st = ld_acquire(stamp_of(ch, c));
  uint64_t s = stamp_seq(st);
  if (s == c + 1) {
    if (!(st & MMBUS_ABANDONED)) return 1;
    sub->cursor = c + 1; /* a dead publisher's claim: no record there */
    publish_cursor(sub);
    return 2;
  }
  if (s > c + 1) { /* overwritten by a later lap: skip to the oldest record still in the ring */
    uint64_t h = ld_acquire(ch->head);
    uint64_t oldest = h > ch->capacity ? h - ch->capacity : 0;
    if (oldest <= c) oldest = c + 1;
    sub->lost += oldest - c;
    sub->cursor = oldest;
    publish_cursor(sub);
    return 2;
  }
  return 0;
}

int mmbus_poll(mmbus_sub_t *sub, uint32_t max, mmbus_batch_t *b) {
  if (!sub || !b) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  mmbus_channel_t *ch = sub->ch;
  if (max == 0) max = UINT32_MAX;
  if (max > ch->capacity) max = (uint32_t)ch->capacity;
  heartbeat(sub, os_mono_ns());
  if (sub->chasing) {
    /* The last batch was a few records right behind the publisher: looking again at once would pull
     * the stamp line it is writing away from it record by record. A short pause lets a batch form. */
    for (int i = 0; i < CHASE_PAUSES; i++) cpu_relax();
  }
  for (int r; (r = settle_cursor(sub)) != 1;) {
    if (r == 0) {
      sub->has_batch = 0;
      sub->chasing = 0;
      b->n = 0;
      b->seq = sub->cursor;
      return 0;
    }
  }
  uint64_t c = sub->cursor;
  uint32_t n = 1;
  while (n < max && ld_acquire(stamp_of(ch, c + n)) == c + n + 1) n++;
  sub->chasing = n < max && n < CHASE_BATCH;
  sub->batch_seq = c;
  sub->batch_n = n;
  sub->has_batch = 1;
  sub->checked_overrun = -1;
  sub->flowing = 1;
  b->seq = c;
  b->n = n;
  b->stride = ch->stride;
  b->data = ch->data;
  b->mask = ch->mask;
  return (int)(n > INT32_MAX ? INT32_MAX : n);
}

/* Seqlock-style check: were any of the first `count` records of the batch claimed for a later lap
 * while they were read? */
static uint32_t batch_overrun(const mmbus_sub_t *sub, uint32_t count) {
  const mmbus_channel_t *ch = sub->ch;
  if (ch->policy != MMBUS_POLICY_OVERWRITE || !sub->has_batch) return 0;
  fence_acquire();
  uint64_t h = ld_acquire(ch->head);
  uint64_t first_intact = h > ch->capacity ? h - ch->capacity : 0;
  if (first_intact <= sub->batch_seq) return 0;
  uint64_t end = sub->batch_seq + count;
  return (uint32_t)((first_intact < end ? first_intact : end) - sub->batch_seq);
}

uint32_t mmbus_sub_overrun(mmbus_sub_t *sub) {
  if (!sub || !sub->has_batch) return 0;
  uint32_t bad = batch_overrun(sub, sub->batch_n);
  sub->checked_overrun = bad;
  return bad;
}

int mmbus_ack(mmbus_sub_t *sub) { return mmbus_ack_n(sub, sub ? sub->batch_n : 0); }

int mmbus_ack_n(mmbus_sub_t *sub, uint32_t count) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  if (!sub->has_batch) return mmbus_set_err(MMBUS_E_STATE, "ack without a polled batch");
  if (count > sub->batch_n)
    return mmbus_set_err(MMBUS_E_INVAL, "ack of %u records of a batch of %u", count, sub->batch_n);
  uint64_t end = sub->batch_seq + count;
  /* what the reader validated after reading counts; else check now */
  uint32_t bad = sub->checked_overrun >= 0 ? (uint32_t)sub->checked_overrun : batch_overrun(sub, count);
  if (bad > count) bad = count;
  sub->lost += bad;
  sub->cursor = end;
  sub->has_batch = 0;
  publish_cursor(sub);
  return (int)bad;
}

int mmbus_wait(mmbus_sub_t *sub, int64_t timeout_ms) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  mmbus_channel_t *ch = sub->ch;
  uint64_t start = os_mono_ns();
  uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000000u;
  int spins = sub->flowing ? SPIN_ITERATIONS : 0, yields = sub->flowing ? YIELD_ITERATIONS : 0;
  uint64_t sleep_ns = FIRST_SLEEP_NS, hole_since = 0;
  int backoff = 1;
  for (;;) {
    int r;
    while ((r = settle_cursor(sub)) == 2) {
    }
    if (r == 1) return 0;
    if (spins > 0) {
      /* Back off between looks: re-reading the stamp line the publisher is writing would take it
       * away from the publisher on every record; a short pause lets a batch accumulate instead. */
      spins--;
      for (int i = 0; i < backoff; i++) cpu_relax();
      if (backoff < MAX_BACKOFF_PAUSES) backoff *= 2;
      continue;
    }
    if (yields > 0) {
      yields--;
      os_yield();
      continue;
    }
    if (ld_acquire(&sub->interrupted)) {
      st_relaxed(&sub->interrupted, 0);
      return mmbus_set_err(MMBUS_E_INTR, "wait interrupted");
    }
    sub->flowing = 0;
    uint64_t now = os_mono_ns();
    heartbeat(sub, now);
    if (ld_acquire(ch->head) > sub->cursor) { /* claimed but not committed: slow or dead publisher */
      if (!hole_since) hole_since = now;
      if (now - hole_since > HOLE_GRACE_NS && recover_hole(ch, sub->cursor)) continue;
    } else {
      hole_since = 0;
    }
    if (now >= deadline) return mmbus_set_err(MMBUS_E_TIMEOUT, "no record within %lld ms", (long long)timeout_ms);
    uint32_t w = ld_acquire(&ch->data_wake->futex);
    if (xchg_seq_cst(&ch->data_wake->need_wake, 1) == 0) sleep_ns = FIRST_SLEEP_NS;
    if (settle_cursor(sub) != 0 || ld_acquire(&sub->interrupted)) continue; /* both re-checked after w */
    uint64_t t = sleep_ns;
    if (hole_since && t > HOLE_GRACE_NS) t = HOLE_GRACE_NS;
    if (t > deadline - now) t = deadline - now;
    /* Sleeps grow only while nothing happens. After a wake-up the next sleep is short again: a
     * publish racing our re-arm (another sleeper may have set need_wake first) costs at most 1 ms. */
    if (os_futex_wait(&ch->data_wake->futex, w, (int64_t)t) == 0) sleep_ns = FIRST_SLEEP_NS;
    else sleep_ns = sleep_ns * 2 > MAX_SLEEP_NS ? MAX_SLEEP_NS : sleep_ns * 2;
  }
}

int mmbus_sub_interrupt(mmbus_sub_t *sub) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  st_release(&sub->interrupted, 1u);
  /* Wake every sleeper of the channel; the others find no data and sleep again. */
  wake_line_t *w = sub->ch->data_wake;
  fetch_add_seq_cst(&w->futex, 1);
  os_futex_wake_all(&w->futex);
  return 0;
}

uint64_t mmbus_sub_lost(const mmbus_sub_t *sub) { return sub ? sub->lost : 0; }
uint64_t mmbus_sub_cursor(const mmbus_sub_t *sub) { return sub ? sub->cursor : 0; }
int mmbus_sub_slot(const mmbus_sub_t *sub) { return sub ? sub->index : -1; }

uint64_t mmbus_head(const mmbus_channel_t *ch) { return ch ? ld_acquire(ch->head) : 0; }

int mmbus_read(const mmbus_channel_t *ch, uint64_t seq, void *out, size_t size) {
  if (!ch || !out) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (size != ch->record_size)
    return mmbus_set_err(MMBUS_E_TOOBIG, "buffer of %zu bytes for %u-byte records", size, ch->record_size);
  uint64_t *sp = stamp_of(ch, seq);
  if (ld_acquire(sp) != seq + 1)
    return mmbus_set_err(MMBUS_E_NOENT, "record %llu is not in the ring", (unsigned long long)seq);
  memcpy(out, ch->data + (size_t)(seq & ch->mask) * ch->stride, ch->record_size);
  /* seqlock check: still the same lap, and no publisher has claimed the slot for a later one */
  fence_acquire();
  if (ld_relaxed(sp) != seq + 1 || ld_acquire(ch->head) > seq + ch->capacity)
    return mmbus_set_err(MMBUS_E_NOENT, "record %llu was overwritten while it was read", (unsigned long long)seq);
  return 0;
}
