/* The ring: claim, commit, poll, ack, wait, back-pressure, and what happens to claims whose publisher
 * died or got stuck (docs/format.md, "Protocol"). */
#define _GNU_SOURCE
#include <string.h>

#include "atomics.h"
#include "internal.h"

#define VERIFY_INTERVAL_NS 100000000u /* re-check a blocking subscriber's owner at most every 100 ms */
#define HOLE_GRACE_NS 2000000u        /* a gap older than this is checked for a dead or stuck owner */
#define FIRST_SLEEP_NS 1000000u       /* first futex sleep: bounds the cost of a missed wake-up */
#define MAX_SLEEP_NS 250000000u       /* idle subscribers wake 4 times a second (heartbeat, time-outs) */
#define MAX_SPACE_SLEEP_NS 50000000u  /* publishers waiting for space look again at least every 50 ms */
#define GAP_SLEEP_NS 50000u           /* a publisher waiting for the previous lap of a slot */
#define HEARTBEAT_EVERY_NS 100000000u
#define SPIN_ITERATIONS 400
#define MAX_BACKOFF_PAUSES 32
#define YIELD_ITERATIONS 20
#define CHASE_BATCH 32   /* a batch smaller than this, ended by the publisher, means we are chasing it */
#define CHASE_PAUSES 64
#define RECOVER_BUDGET 65536u /* stamps one call gives up at most: bounded work whatever `head` says */
#define CHECK_EVERY_CLAIMS 4096u

static inline uint64_t *stamp_of(const mmbus_channel_t *ch, uint64_t seq) { return &ch->stamps[seq & ch->mask]; }
static inline uint64_t stamp_seq(uint64_t stamp) { return stamp & STAMP_SEQ_MASK; }
/* committed (not abandoned) for seq, first record of its claim or not */
static inline int committed_for(uint64_t stamp, uint64_t seq) { return (stamp & ~STAMP_CONT) == seq + 1; }
/* What a public call returns: if the file shrank under the mapping while it ran (the SIGBUS guard
 * mapped zeros over the vanished pages), its result means nothing: MMBUS_E_CORRUPT instead. */
static inline int outcome(mmbus_channel_t *ch, int rc) { return __builtin_expect(*ch->broken, 0) ? chan_usable(ch) : rc; }

static inline uint64_t deadline_after(uint64_t now, int64_t ms) {
  return ms < 0 ? UINT64_MAX : now + (uint64_t)ms * 1000000u; /* ms <= MMBUS_TIMEOUT_MAX_MS: no overflow */
}

/* ---- the one idle strategy: spin with growing pauses, then yield, then sleep (doubling) --------- */

typedef struct idle {
  uint32_t spins, yields, pauses;
  uint64_t sleep_ns, max_sleep_ns;
} idle_t;

static void idle_init(idle_t *w, int busy, uint64_t max_sleep_ns) {
  w->spins = busy ? SPIN_ITERATIONS : 0;
  w->yields = busy ? YIELD_ITERATIONS : 0;
  w->pauses = 1;
  w->sleep_ns = FIRST_SLEEP_NS;
  w->max_sleep_ns = max_sleep_ns;
}

/* 1 after spinning or yielding once (look again), 0 when it is time to sleep for w->sleep_ns. Pauses
 * between looks keep a reader from pulling the line a writer is filling away from it on every look. */
static int idle_busy(idle_t *w) {
  if (w->spins) {
    w->spins--;
    for (uint32_t i = 0; i < w->pauses; i++) cpu_relax();
    if (w->pauses < MAX_BACKOFF_PAUSES) w->pauses *= 2;
    return 1;
  }
  if (w->yields) {
    w->yields--;
    os_yield();
    return 1;
  }
  return 0;
}

/* After a sleep: short again if something woke us, else twice as long. */
static void idle_slept(idle_t *w, int woken) {
  if (woken) w->sleep_ns = FIRST_SLEEP_NS;
  else w->sleep_ns = w->sleep_ns * 2 > w->max_sleep_ns ? w->max_sleep_ns : w->sleep_ns * 2;
}

/* ---- publishers' slots, and claims given up by others ------------------------------------------ */

/* The owner of p is done with its given-up or helped claim (it says so, or it died). Called locked. */
void pub_resolve_locked(mmbus_channel_t *ch, pub_slot_t *p) {
  if (ld_relaxed(&p->revoked)) {
    st_relaxed(&p->revoked_n, 0);
    st_release(&p->revoked, 0);
  }
  if (ld_relaxed(&p->helped)) {
    st_release(&p->helped, 0);
    fetch_add_seq_cst(ch->helped_claims, (uint32_t)-1);
  }
}

static int attach_publisher(mmbus_channel_t *ch) {
  int rc = chan_lock(ch);
  if (rc) return rc;
  int found = -1;
  for (int pass = 0; pass < 2 && found < 0; pass++) {
    for (uint32_t i = 0; i < ch->hdr.max_publishers && found < 0; i++) {
      pub_slot_t *p = &ch->pubs[i];
      uint32_t st = ld_acquire(&p->state);
      if (pass == 0 ? st != PUB_FREE : (st != PUB_ACTIVE || pub_slot_alive(ch, i))) continue;
      if (os_lock_byte(ch->file, LOCK_PUB(i), -1) == 0) found = (int)i;
    }
  }
  if (found >= 0) {
    pub_slot_t *p = &ch->pubs[found];
    os_identity_t me;
    os_self_identity(&me);
    pub_resolve_locked(ch, p); /* a dead owner's given-up claim: it writes nothing any more */
    st_relaxed(&p->pending, MMBUS_NO_CLAIM);
    st_relaxed(&p->pending_n, 0);
    st_relaxed(&p->pid, me.pid);
    st_relaxed(&p->pid_ns, me.ns);
    st_relaxed(&p->published, 0);
    st_relaxed(&p->progress, 0);
    st_relaxed(&p->claiming, 0u);
    st_relaxed(&p->attached_ns, os_real_ns());
    st_release(&p->state, (uint32_t)PUB_ACTIVE);
  }
  chan_unlock(ch);
  if (found < 0)
    return mmbus_set_err(MMBUS_E_NOSLOT, "all %u publisher slots of '%s' are in use by live processes",
                         ch->hdr.max_publishers, ch->path);
  __atomic_store_n(&ch->pub_index, found, __ATOMIC_RELEASE);
  ch->pub = &ch->pubs[found];
  return 0;
}

/* Takes the marks of "given up" and "helped" off this handle's own slot (it is done writing). */
static void resolve_own(mmbus_channel_t *ch) {
  if (!ld_acquire(&ch->pub->revoked) && !ld_acquire(&ch->pub->helped)) return;
  if (chan_lock(ch) == 0) {
    pub_resolve_locked(ch, ch->pub);
    chan_unlock(ch);
  }
}

/* Whether sequence seq lies in a claim that others gave up while its owner still lives: its slot may
 * still be written by that owner, so no later lap may use it yet. */
static int fenced(mmbus_channel_t *ch, uint64_t seq) {
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    uint64_t r = ld_acquire(&p->revoked);
    if (!r) continue;
    uint64_t first = r - 1, n = ld_relaxed(&p->revoked_n);
    if (seq < first || seq - first >= n) continue;
    if (pub_slot_alive(ch, i)) return 1;
    if (chan_lock(ch) == 0) { /* its owner died: it writes nothing late */
      if (ld_acquire(&p->revoked) == r && !pub_slot_alive(ch, i)) pub_resolve_locked(ch, p);
      chan_unlock(ch);
    }
  }
  return 0;
}

/* Whether the slot of sequence seq (committed) must not be reused yet: seq is the first record of a
 * claim whose stamp another process wrote for its stuck owner, who will write it again when it
 * resumes (the same value: harmless until a later lap is there). */
static int helped_fence(mmbus_channel_t *ch, uint64_t seq) {
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    uint64_t hp = ld_acquire(&p->helped);
    if (hp != seq + 1) continue;
    if (ld_acquire(&p->pending) != (seq | PENDING_COMMITTING)) continue; /* it wrote its stamp: done */
    if (pub_slot_alive(ch, i)) return 1;
    if (chan_lock(ch) == 0) {
      if (ld_acquire(&p->helped) == hp && !pub_slot_alive(ch, i)) pub_resolve_locked(ch, p);
      chan_unlock(ch);
    }
  }
  return 0;
}

/* A live owner showing no progress for the unblock time-out. Undecided (pending = its first
 * sequence): decide it given up, with the one CAS its commit would need too, and fence its slots.
 * Decided to commit but stopped before writing its first stamp: write that stamp for it (its records
 * are complete) and fence that slot until the owner has written it too. */
static void unblock_claim(mmbus_channel_t *ch, uint32_t i, uint64_t raw, uint64_t n, uint64_t progress) {
  if (chan_lock(ch)) return; /* read-only or lock busy: another waiter will do it */
  pub_slot_t *p = &ch->pubs[i];
  uint64_t first = PENDING_SEQ(raw);
  if (ld_acquire(&p->state) == PUB_ACTIVE && ld_relaxed(&p->progress) == progress && pub_slot_alive(ch, i)) {
    if (!(raw & PENDING_COMMITTING)) {
      uint64_t expect = raw;
      if (!ld_relaxed(&p->revoked) && cas_seq_cst(&p->pending, &expect, first | PENDING_REVOKED)) {
        st_relaxed(&p->revoked_n, n);
        st_release(&p->revoked, first + 1);
      }
    } else if (ld_acquire(&p->pending) == raw && !ld_relaxed(&p->helped)) {
      uint64_t *sp = stamp_of(ch, first);
      uint64_t v = ld_acquire(sp);
      while (stamp_seq(v) < first + 1)
        if (cas_seq_cst(sp, &v, first + 1)) break;
      if (ld_acquire(sp) == first + 1) {
        fetch_add_seq_cst(ch->helped_claims, 1u);
        st_release(&p->helped, first + 1);
      }
    }
  }
  chan_unlock(ch);
}

/* The gap at seq: claimed (head > seq), its stamp not there. Gives it up when no live publisher can
 * still fill it: the claim's owner died, or shows no progress for the unblock time-out (then its
 * claim is marked given up first: its commit will fail and its slots stay fenced off until it is
 * done). Returns 1 when seq is now abandoned (look again), 0 while someone may still commit it. */
static int settle_gap(mmbus_channel_t *ch, stuck_watch_t *w, uint64_t seq, uint64_t now) {
  if (w->hole_seq != seq) {
    w->hole_seq = seq;
    w->hole_since_ns = now;
  }
  if (now - w->hole_since_ns < HOLE_GRACE_NS) return 0;
  /* head first: every claim it includes was announced before it was made, so the scan below sees
   * its owner; a claim made after this load is beyond h and left alone. */
  uint64_t h = ld_acquire(ch->head);
  int held = 0;
  uint64_t next_live = UINT64_MAX; /* first sequence a live claim after seq starts at */
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    if (ld_acquire(&p->state) != PUB_ACTIVE) continue;
    uint64_t raw = ld_acquire(&p->pending);
    if (raw == MMBUS_NO_CLAIM || (raw & PENDING_REVOKED)) continue; /* none, or given up already */
    uint64_t pending = PENDING_SEQ(raw), n = ld_relaxed(&p->pending_n);
    int covers = seq >= pending && seq - pending < n;
    if (!covers && pending <= seq) continue;
    if (!pub_slot_alive(ch, i)) continue; /* dead: it can commit nothing */
    if (!covers) {
      if (pending < next_live) next_live = pending;
      continue;
    }
    uint64_t progress = ld_relaxed(&p->progress);
    if (w->pending[i] != raw || w->progress[i] != progress) {
      w->pending[i] = raw;
      w->progress[i] = progress;
      w->since_ns[i] = now;
    } else if (ch->unblock_timeout_ns && now - w->since_ns[i] >= ch->unblock_timeout_ns) {
      unblock_claim(ch, i, raw, n, progress);
      if (committed_for(ld_acquire(stamp_of(ch, seq)), seq)) return 1; /* its stamp was written for it */
      if (ld_acquire(&p->pending) & PENDING_REVOKED) continue;       /* given up: it holds nothing */
    }
    held = 1;
  }
  if (held) return 0;
  /* Nobody live holds seq, nor anything up to next_live: give up the gaps there. */
  uint64_t end = next_live < h ? next_live : h;
  uint32_t budget = RECOVER_BUDGET;
  for (uint64_t s = seq; s < end && budget; s++, budget--) {
    uint64_t *sp = stamp_of(ch, s);
    uint64_t v = ld_acquire(sp);
    while (stamp_seq(v) < s + 1)
      if (cas_seq_cst(sp, &v, (s + 1) | STAMP_ABANDONED | (s == seq ? 0 : STAMP_CONT))) break;
  }
  w->hole_seq = UINT64_MAX;
  wake(ch, ch->data_wake, &ch->data_waker);
  return 1;
}

/* ---- back-pressure --------------------------------------------------------------------------- */

/* Whether a subscriber slot counts for back-pressure. Silence is judged by whether its heartbeat
 * word changes, by this process's clock (owners may live in other time namespaces); its owner's
 * liveness (the slot's lock) is checked, rate-limited, only when it is the one holding us back. */
static int sub_counts(mmbus_channel_t *ch, uint32_t i, uint64_t now, int blocking) {
  sub_slot_t *s = &ch->subs[i];
  uint64_t hb = ld_relaxed(&s->heartbeat_ns);
  if (hb != ch->hb_value[i]) {
    ch->hb_value[i] = hb;
    ch->hb_changed_ns[i] = now;
  } else if (ch->heartbeat_timeout_ns && now - ch->hb_changed_ns[i] > ch->heartbeat_timeout_ns) {
    return 0;
  }
  if (!blocking) return 1;
  uint32_t gen = ld_relaxed(&s->generation);
  if (ch->verified_gen[i] == gen && now - ch->verified_ns[i] < VERIFY_INTERVAL_NS) return 1;
  if (sub_slot_alive(ch, i)) {
    ch->verified_gen[i] = gen;
    ch->verified_ns[i] = now;
    return 1;
  }
  /* Its process is gone: reclaim the slot (anonymous freed, durable offline) so nobody waits on it. */
  if (chan_lock(ch) == 0) {
    if (ld_acquire(&s->state) == SUB_ACTIVE && ld_relaxed(&s->generation) == gen && !sub_slot_alive(ch, i))
      sub_reclaim_locked(ch, i);
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

/* Sleep until a subscriber moves, or until the deadline. */
static int wait_for_space(mmbus_channel_t *ch, uint64_t end, uint64_t deadline, idle_t *idle) {
  if (idle_busy(idle)) {
    refresh_limit(ch, end);
    return 0;
  }
  uint32_t w = ld_acquire(&ch->space_wake->futex);
  if (xchg_seq_cst(&ch->space_wake->need_wake, 1) == 0) idle->sleep_ns = FIRST_SLEEP_NS;
  refresh_limit(ch, end);
  if (end <= ch->limit) return 0;
  uint64_t now = os_mono_ns();
  chan_periodic_check(ch, now);
  int rc = chan_usable(ch);
  if (rc) return rc;
  if (now >= deadline)
    return mmbus_set_err(MMBUS_E_TIMEOUT, "'%s' stayed full for %lld ms: the slowest subscriber did not move",
                         ch->path, (long long)ch->block_timeout_ms);
  uint64_t t = idle->sleep_ns;
  if (t > deadline - now) t = deadline - now;
  idle_slept(idle, os_wait_word(&ch->space_waker, &ch->space_wake->futex, w, (int64_t)t) == 0);
  return 0;
}

/* ---- claiming ---------------------------------------------------------------------------------- */

enum { LAPS_READY = 0, LAPS_AGAIN = 1, LAPS_FENCED = 2 };

/* Before claiming [h, h + n): the previous lap of every slot must be done (committed, or given up
 * and not fenced off), so nobody still writes there. Waits for a slow publisher of that lap, gives
 * up a dead or stuck one's claim (settle_gap). LAPS_AGAIN: head moved, look again; LAPS_FENCED: the
 * slot of *blocked is fenced off by a stuck publisher's given-up claim. */
static int previous_laps_done(mmbus_channel_t *ch, uint64_t h, uint32_t n, int64_t timeout_ms, uint64_t *deadline,
                              uint64_t *blocked) {
  const int any_helped = ld_relaxed(ch->helped_claims) != 0; /* one load of a line nobody writes */
  for (uint32_t i = 0; i < n; i++) {
    uint64_t seq = h + i;
    uint64_t want = seq >= ch->capacity ? seq - ch->capacity + 1 : 0; /* what a done previous lap shows */
    uint64_t *sp = stamp_of(ch, seq);
    uint64_t v = ld_acquire(sp);
    if ((v & ~STAMP_CONT) == want) { /* the usual case: committed */
      if (__builtin_expect(any_helped, 0) && want && helped_fence(ch, want - 1)) {
        *blocked = seq;
        return LAPS_FENCED;
      }
      continue;
    }
    idle_t idle;
    idle_init(&idle, 1, GAP_SLEEP_NS);
    for (;;) {
      uint64_t q = stamp_seq(v);
      if (q > want) { /* this lap already claimed: head moved under us, or the file is damaged */
        if (ld_acquire(ch->head) > h) return LAPS_AGAIN;
        return mmbus_set_err(MMBUS_E_CORRUPT, "'%s': the stamp of sequence %llu is ahead of head %llu: the file "
                                              "was damaged", ch->path, (unsigned long long)seq,
                             (unsigned long long)ld_acquire(ch->head));
      }
      if (q == want && (want == 0 || !(v & STAMP_ABANDONED))) break; /* committed */
      /* Given up, or a gap: a stuck owner may still write the slot while its claim is fenced off. */
      if (want && fenced(ch, want - 1)) {
        *blocked = seq;
        return LAPS_FENCED;
      }
      if (q == want) break; /* given up, and nobody writes it any more */
      if (idle_busy(&idle)) {
        v = ld_acquire(sp);
        continue;
      }
      uint64_t now = os_mono_ns();
      if (!*deadline) *deadline = deadline_after(now, timeout_ms);
      if (ld_acquire(ch->head) > h) return LAPS_AGAIN;
      if (settle_gap(ch, &ch->watch, want - 1, now)) {
        v = ld_acquire(sp);
        continue;
      }
      chan_periodic_check(ch, now);
      int rc = chan_usable(ch);
      if (rc) return rc;
      if (now >= *deadline)
        return mmbus_set_err(MMBUS_E_TIMEOUT, "'%s': the publisher of sequence %llu did not commit it within the "
                                              "time-out", ch->path, (unsigned long long)(want - 1));
      os_sleep_ns(GAP_SLEEP_NS);
      v = ld_acquire(sp);
    }
  }
  return LAPS_READY;
}

/* Claims [h, blocked] only to give it up at once: the slot of `blocked` is fenced off this lap, and
 * claims after it go on. Nothing is written in the fenced slot (its stuck owner may still write). */
static int claim_filler(mmbus_channel_t *ch, uint64_t h, uint64_t blocked) {
  pub_slot_t *p = ch->pub;
  st_relaxed(&p->pending_n, blocked + 1 - h);
  st_release(&p->pending, h);
  uint64_t expect = h;
  if (!cas_seq_cst(ch->head, &expect, blocked + 1)) {
    st_release(&p->pending, MMBUS_NO_CLAIM);
    return LAPS_AGAIN;
  }
  for (uint64_t s = blocked; s >= h && s != UINT64_MAX; s--) {
    uint64_t *sp = stamp_of(ch, s);
    uint64_t v = ld_acquire(sp);
    while (stamp_seq(v) < s + 1)
      if (cas_seq_cst(sp, &v, (s + 1) | STAMP_ABANDONED | (s == h ? 0 : STAMP_CONT))) break;
  }
  st_release(&p->pending, MMBUS_NO_CLAIM);
  wake(ch, ch->data_wake, &ch->data_waker);
  return LAPS_AGAIN;
}

/* Marks [seq, seq + n) given up, the later records first. Only forward (CAS): whatever a stalled
 * process does later, a stamp never goes back to an earlier lap through this. */
static void give_up_stamps(mmbus_channel_t *ch, uint64_t seq, uint32_t n) {
  for (uint32_t i = n; i-- > 0;) {
    uint64_t *sp = stamp_of(ch, seq + i);
    uint64_t v = ld_relaxed(sp);
    while (stamp_seq(v) < seq + i + 1)
      if (cas_seq_cst(sp, &v, (seq + i + 1) | STAMP_ABANDONED | (i ? STAMP_CONT : 0))) break;
  }
}

/* The owner gives its claim up itself (abort, a failed hold): the same decision as the others'. */
static void abandon_own(mmbus_channel_t *ch, uint64_t seq, uint32_t n) {
  uint64_t expect = seq;
  cas_seq_cst(&ch->pub->pending, &expect, seq | PENDING_REVOKED); /* fails only if others did already */
  give_up_stamps(ch, seq, n);
  resolve_own(ch);
  st_relaxed(&ch->pub->claiming, 0u);
  st_release(&ch->pub->pending, MMBUS_NO_CLAIM);
  fence_seq_cst();
  wake(ch, ch->data_wake, &ch->data_waker);
}

static int claim_impl(mmbus_channel_t *ch, uint32_t n, int64_t timeout_ms, mmbus_claim_t *c) {
  if (!ch || !c) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (ch->readonly) return mmbus_set_err(MMBUS_E_PERM, "'%s' was opened read-only", ch->path);
  int rc = chan_usable(ch);
  if (rc) return rc;
  if (n == 0 || n > ch->capacity)
    return mmbus_set_err(MMBUS_E_TOOBIG, "cannot claim %u records in a ring of %llu", n,
                         (unsigned long long)ch->capacity);
  if (timeout_ms > MMBUS_TIMEOUT_MAX_MS)
    return mmbus_set_err(MMBUS_E_INVAL, "time-out %lld ms is out of range", (long long)timeout_ms);
  if (!ch->pub) {
    rc = attach_publisher(ch);
    if (rc) return rc;
  }
  pub_slot_t *p = ch->pub;
  if (ld_relaxed(&p->pending) != MMBUS_NO_CLAIM)
    return mmbus_set_err(MMBUS_E_STATE, "a claim of this handle is not committed yet (one claim at a time per handle)");
  resolve_own(ch); /* a claim of ours given up earlier: we are past it */
  if (++ch->claims_unchecked >= CHECK_EVERY_CLAIMS) {
    ch->claims_unchecked = 0;
    chan_periodic_check(ch, os_mono_ns());
    if ((rc = chan_usable(ch)) != 0) return rc;
  }
  if (timeout_ms < 0) timeout_ms = ch->block_timeout_ms;
  uint64_t deadline = 0;
  idle_t idle;
  idle_init(&idle, 1, MAX_SPACE_SLEEP_NS);
  uint64_t h, end;
  for (;;) {
    h = ld_relaxed(ch->head);
    end = h + n;
    if (ch->policy != MMBUS_POLICY_OVERWRITE) {
      if (ld_relaxed(ch->attach_epoch) != ch->seen_epoch) {
        ch->seen_epoch = ld_acquire(ch->attach_epoch);
        ch->limit = 0; /* a subscriber attached: rescan */
      }
      if (end > ch->limit) {
        refresh_limit(ch, end);
        if (end > ch->limit) {
          if (ch->policy == MMBUS_POLICY_REJECT)
            return mmbus_set_err(MMBUS_E_FULL, "'%s' is full: the slowest subscriber is %llu records behind",
                                 ch->path, (unsigned long long)(h + ch->capacity - ch->limit));
          if (!deadline) deadline = deadline_after(os_mono_ns(), timeout_ms);
          if ((rc = wait_for_space(ch, end, deadline, &idle)) != 0) return rc;
          continue;
        }
      }
    }
    uint64_t blocked = 0;
    int r = previous_laps_done(ch, h, n, timeout_ms, &deadline, &blocked);
    if (r < 0) return r;
    if (r == LAPS_FENCED) r = claim_filler(ch, h, blocked);
    if (r == LAPS_AGAIN) continue;
    /* Announce the claim before making it, so whoever finds it unfilled can tell whose it is. */
    st_relaxed(&p->pending_n, n);
    st_release(&p->pending, h);
    uint64_t expect = h;
    if (cas_seq_cst(ch->head, &expect, end)) break;
  }
  /* Ours now, and nothing written yet: say so only for a claim that exists (an announcement whose
   * CAS failed must not vouch for slots another publisher is writing). Readers that catch the claim
   * before this store count its slots as overwritten: conservative. */
  st_relaxed(&p->claiming, 1u);
  /* A subscriber that attached behind head between our look at the epoch and the claim may still
   * need the records this claim overwrites: look again, and hold the claim until it has read them. */
  if (ch->policy != MMBUS_POLICY_OVERWRITE && ld_seq_cst(ch->attach_epoch) != ch->seen_epoch) {
    ch->seen_epoch = ld_acquire(ch->attach_epoch);
    refresh_limit(ch, end);
    if (end > ch->limit) {
      if (!deadline) deadline = deadline_after(os_mono_ns(), timeout_ms);
      idle_init(&idle, 1, MAX_SPACE_SLEEP_NS);
      while (end > ch->limit) {
        st_relaxed(&p->progress, ld_relaxed(&p->progress) + 1); /* waiting, not stuck */
        rc = wait_for_space(ch, end, deadline, &idle);
        if (rc) {
          abandon_own(ch, h, n);
          return rc;
        }
      }
    }
  }
  /* From here on the caller writes the slots: readers that see `claiming` still set after reading
   * know they read nothing of this claim (the fence orders this store before those writes). */
  st_relaxed(&p->claiming, 0u);
  fence_release();
  c->seq = h;
  c->n = n;
  c->stride = ch->stride;
  c->data = ch->data;
  c->mask = ch->mask;
  return 0;
}

int mmbus_claim(mmbus_channel_t *ch, uint32_t n, int64_t timeout_ms, mmbus_claim_t *c) {
  int rc = claim_impl(ch, n, timeout_ms, c);
  return ch ? outcome(ch, rc) : rc;
}

static int given_up(mmbus_channel_t *ch, const mmbus_claim_t *c) {
  resolve_own(ch);
  st_release(&ch->pub->pending, MMBUS_NO_CLAIM);
  return mmbus_set_err(MMBUS_E_REVOKED, "the claim of records %llu..%llu on '%s' was given up by the other "
                                        "processes: it stayed uncommitted longer than the unblock time-out (%lld ms). "
                                        "Nothing of it reached a subscriber; publish it again",
                       (unsigned long long)c->seq, (unsigned long long)(c->seq + c->n - 1), ch->path,
                       (long long)(ch->unblock_timeout_ns / 1000000u));
}

/* Commits [seq, seq + n): the later records' stamps first, then the decision — one CAS on this
 * handle's own slot (a line no reader touches) from "claimed" to "committing", the same word on which
 * the others would give the claim up — then the first stamp, which makes the whole claim visible at
 * once. A claim that others gave up cannot be committed late: the CAS fails. */
static inline int commit_claim(mmbus_channel_t *ch, const mmbus_claim_t *c) {
  uint64_t seq = c->seq;
  pub_slot_t *p = ch->pub;
  if (__builtin_expect(ld_relaxed(&p->revoked) == seq + 1, 0)) return given_up(ch, c);
  for (uint32_t i = c->n; i-- > 1;) st_release(stamp_of(ch, seq + i), (seq + i + 1) | STAMP_CONT);
  uint64_t expect = seq;
  if (__builtin_expect(!cas_seq_cst(&p->pending, &expect, seq | PENDING_COMMITTING), 0)) return given_up(ch, c);
  st_release(stamp_of(ch, seq), seq + 1);
  st_release(&p->pending, MMBUS_NO_CLAIM);
  if (__builtin_expect(ld_relaxed(&p->helped) != 0, 0)) resolve_own(ch); /* another wrote our stamp meanwhile */
  st_relaxed(&p->published, ld_relaxed(&p->published) + c->n);
  /* The fence orders the stamp before the need_wake load (no missed wake-up). One-record commits skip
   * it: a sleeper that races one wakes from its first, 1 ms, sleep instead (docs/format.md §8.10). */
  if (c->n > 1) fence_seq_cst();
  if (ld_relaxed(&ch->data_wake->need_wake)) wake(ch, ch->data_wake, &ch->data_waker);
  return 0;
}

static int check_own_claim(mmbus_channel_t *ch, const mmbus_claim_t *c, const char *what) {
  if (!ch || !c) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  uint64_t raw = ch->pub ? ld_relaxed(&ch->pub->pending) : MMBUS_NO_CLAIM;
  if (raw == MMBUS_NO_CLAIM || PENDING_SEQ(raw) != c->seq || ld_relaxed(&ch->pub->pending_n) != c->n)
    return mmbus_set_err(MMBUS_E_STATE, "%s of sequence %llu which this handle has not claimed", what,
                         (unsigned long long)c->seq);
  return 0;
}

int mmbus_commit(mmbus_channel_t *ch, const mmbus_claim_t *c) {
  int rc = check_own_claim(ch, c, "commit");
  if (rc) return ch ? outcome(ch, rc) : rc;
  if ((rc = chan_usable(ch)) != 0) {
    st_release(&ch->pub->pending, MMBUS_NO_CLAIM);
    return rc;
  }
  return outcome(ch, commit_claim(ch, c));
}

int mmbus_claim_abort(mmbus_channel_t *ch, const mmbus_claim_t *c) {
  int rc = check_own_claim(ch, c, "abort");
  if (rc) return rc;
  abandon_own(ch, c->seq, c->n); /* the same outcome when the others gave it up already */
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
  return outcome(ch, commit_claim(ch, &c));
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
  return outcome(ch, commit_claim(ch, &c));
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
  if (sub->ch->policy == MMBUS_POLICY_BLOCK) wake(sub->ch, sub->ch->space_wake, &sub->ch->space_waker);
}

enum { AT_NOTHING = 0, AT_RECORD = 1, AT_MOVED = 2 };

/* What is at the cursor (docs/format.md §8.6): a record to hand out, nothing yet, or something to
 * step over (a given-up slot, the rest of a claim whose start was not seen, a lapped slot). */
static int settle_cursor(mmbus_sub_t *sub) {
  mmbus_channel_t *ch = sub->ch;
  uint64_t c = sub->cursor;
  uint64_t v = ld_acquire(stamp_of(ch, c));
  uint64_t q = stamp_seq(v);
  if (q == c + 1) {
    if (v & STAMP_ABANDONED) { /* no record will ever be here; what follows of its claim is void too */
      sub->cursor = c + 1;
      sub->align = SKIP_FREE;
      return AT_MOVED;
    }
    if ((v & STAMP_CONT) && sub->align != ALIGNED) { /* part of a claim we did not see start */
      sub->cursor = c + 1;
      if (sub->align == SKIP_LOST) sub->lost++;
      return AT_MOVED;
    }
    sub->align = ALIGNED;
    return AT_RECORD;
  }
  if (q < c + 1) return AT_NOTHING;
  /* A later lap was written here: record c is gone. Go to the oldest record still in the ring. */
  uint64_t h = ld_acquire(ch->head);
  if (q > h || ((q - 1 - c) & ch->mask) != 0)
    return mmbus_set_err(MMBUS_E_CORRUPT, "'%s': the stamp of slot %llu (%llx) is no lap of sequence %llu below "
                                          "head %llu: the file was damaged", ch->path,
                         (unsigned long long)(c & ch->mask), (unsigned long long)v, (unsigned long long)c,
                         (unsigned long long)h);
  uint64_t oldest = h - ch->capacity; /* h >= q > c + capacity */
  sub->lost += oldest - c;
  sub->cursor = oldest;
  sub->align = SKIP_LOST;
  return AT_MOVED;
}

static int poll_impl(mmbus_sub_t *sub, uint32_t max, mmbus_batch_t *b) {
  if (!sub || !b) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  mmbus_channel_t *ch = sub->ch;
  int rc = chan_usable(ch);
  if (rc) return rc;
  if (max == 0) max = UINT32_MAX;
  if (max > ch->capacity) max = (uint32_t)ch->capacity;
  uint64_t now = os_mono_ns();
  heartbeat(sub, now);
  if (sub->chasing) {
    /* The last batch was a few records right behind the publisher: looking again at once would pull
     * the stamp line it is writing away from it record by record. A short pause lets a batch form. */
    for (int i = 0; i < CHASE_PAUSES; i++) cpu_relax();
  }
  uint64_t start = sub->cursor;
  int r;
  for (uint64_t steps = 0;; steps++) {
    r = settle_cursor(sub);
    if (r < 0) return r;
    if (r == AT_RECORD) break;
    if (r == AT_NOTHING) {
      /* A gap left by a dead or stuck publisher is stepped over here too, for callers that only poll;
       * head is only looked at once the cursor has stayed empty for the grace period. */
      stuck_watch_t *w = &sub->watch;
      if (w->hole_seq != sub->cursor) {
        w->hole_seq = sub->cursor;
        w->hole_since_ns = now;
      } else if (now - w->hole_since_ns >= HOLE_GRACE_NS && ld_acquire(ch->head) > sub->cursor &&
                 settle_gap(ch, w, sub->cursor, now) && steps < ch->capacity) {
        continue;
      }
      break;
    }
    if (steps >= ch->capacity) break; /* bounded work per call, whatever the file holds */
  }
  if (sub->cursor != start) {
    if (sub->cursor > ld_acquire(ch->head))
      return mmbus_set_err(MMBUS_E_CORRUPT, "'%s': stepping over given-up records took the cursor beyond head: the "
                                            "file was damaged", ch->path);
    publish_cursor(sub);
  }
  if (r != AT_RECORD) {
    sub->has_batch = 0;
    sub->chasing = 0;
    b->n = 0;
    b->seq = sub->cursor;
    b->stride = ch->stride;
    b->data = ch->data;
    b->mask = ch->mask;
    return 0;
  }
  uint64_t c = sub->cursor;
  uint32_t n = 1;
  while (n < max && committed_for(ld_acquire(stamp_of(ch, c + n)), c + n)) n++;
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

int mmbus_poll(mmbus_sub_t *sub, uint32_t max, mmbus_batch_t *b) {
  int rc = poll_impl(sub, max, b);
  return sub ? outcome(sub->ch, rc) : rc;
}

/* Seqlock-style check, under every policy: how many of the `count` records from `first`, counted
 * from it, may have been overwritten while they were read (after reading: acquire fence first)?
 * A record's slot is written only after the claim of its next lap is in head, and only once that
 * claim is out of mmbus_claim (`claiming` cleared): a claim still waiting there wrote nothing. */
static uint32_t overwritten_prefix(const mmbus_channel_t *ch, uint64_t first, uint32_t count) {
  fence_acquire();
  uint64_t h = ld_acquire(ch->head);
  uint64_t first_intact = h > ch->capacity ? h - ch->capacity : 0;
  if (first_intact <= first) return 0;
  uint64_t end = first + count;
  if (first_intact < end) end = first_intact;
  /* the rare case: look whether the claims over [first, end) of the next lap are all still waiting */
  uint64_t r = end;
  while (r > first) {
    uint64_t next_lap = r - 1 + ch->capacity;
    int waiting = 0;
    for (uint32_t i = 0; i < ch->hdr.max_publishers && !waiting; i++) {
      const pub_slot_t *p = &ch->pubs[i];
      if (!ld_acquire(&p->claiming)) continue;
      uint64_t raw = ld_acquire(&p->pending), n = ld_relaxed(&p->pending_n), pending = PENDING_SEQ(raw);
      waiting = raw != MMBUS_NO_CLAIM && next_lap >= pending && next_lap - pending < n && ld_acquire(&p->claiming);
    }
    if (!waiting) break;
    r--;
  }
  return (uint32_t)(r - first);
}

static uint32_t batch_overrun(const mmbus_sub_t *sub, uint32_t count) {
  return sub->has_batch ? overwritten_prefix(sub->ch, sub->batch_seq, count) : 0;
}

uint32_t mmbus_sub_overrun(mmbus_sub_t *sub) {
  if (!sub || !sub->has_batch) return 0;
  uint32_t bad = batch_overrun(sub, sub->batch_n);
  sub->checked_overrun = bad;
  return bad;
}

int mmbus_ack(mmbus_sub_t *sub) { return mmbus_ack_n(sub, sub ? sub->batch_n : 0); }

static int ack_impl(mmbus_sub_t *sub, uint32_t count) {
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

int mmbus_ack_n(mmbus_sub_t *sub, uint32_t count) {
  int rc = ack_impl(sub, count);
  return sub ? outcome(sub->ch, rc) : rc;
}

/* Whether mmbus_poll would find something to do at the cursor (a record, or something to step
 * over). Reads only: the waiter must not change what the subscriber's owner thread reads. */
static int something_at(const mmbus_sub_t *sub) {
  uint64_t v = ld_seq_cst(stamp_of(sub->ch, sub->cursor));
  return stamp_seq(v) >= sub->cursor + 1;
}

static int wait_impl(mmbus_sub_t *sub, int64_t timeout_ms) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  mmbus_channel_t *ch = sub->ch;
  int rc = chan_usable(ch);
  if (rc) return rc;
  if (timeout_ms > MMBUS_TIMEOUT_MAX_MS)
    return mmbus_set_err(MMBUS_E_INVAL, "time-out %lld ms is out of range", (long long)timeout_ms);
  uint64_t deadline = deadline_after(os_mono_ns(), timeout_ms);
  idle_t idle;
  idle_init(&idle, sub->flowing, MAX_SLEEP_NS);
  for (;;) {
    if (something_at(sub)) return 0;
    if (idle_busy(&idle)) continue;
    if (ld_acquire(&sub->interrupted)) {
      st_relaxed(&sub->interrupted, 0);
      return mmbus_set_err(MMBUS_E_INTR, "wait interrupted");
    }
    sub->flowing = 0;
    uint64_t now = os_mono_ns();
    heartbeat(sub, now);
    if (now >= sub->next_check_ns) {
      sub->next_check_ns = now + 1000000000u;
      if ((rc = mmbus_check(ch)) != 0) return rc;
    }
    int at_gap = ld_acquire(ch->head) > sub->cursor; /* claimed but not committed: slow, dead or stuck */
    if (at_gap && settle_gap(ch, &sub->watch, sub->cursor, now)) continue;
    if (now >= deadline) return mmbus_set_err(MMBUS_E_TIMEOUT, "no record within %lld ms", (long long)timeout_ms);
    uint32_t w = ld_acquire(&ch->data_wake->futex);
    if (xchg_seq_cst(&ch->data_wake->need_wake, 1) == 0) idle.sleep_ns = FIRST_SLEEP_NS;
    if (something_at(sub) || ld_acquire(&sub->interrupted)) continue; /* both re-checked after w */
    uint64_t t = idle.sleep_ns;
    if (at_gap && t > HOLE_GRACE_NS) t = HOLE_GRACE_NS;
    if (t > deadline - now) t = deadline - now;
    idle_slept(&idle, os_wait_word(&ch->data_waker, &ch->data_wake->futex, w, (int64_t)t) == 0);
  }
}

int mmbus_wait(mmbus_sub_t *sub, int64_t timeout_ms) {
  int rc = wait_impl(sub, timeout_ms);
  return sub ? outcome(sub->ch, rc) : rc;
}

int mmbus_sub_interrupt(mmbus_sub_t *sub) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  st_release(&sub->interrupted, 1u);
  /* Wake every sleeper of the channel; the others find no data and sleep again. */
  wake_line_t *w = sub->ch->data_wake;
  fetch_add_seq_cst(&w->futex, 1);
  os_wake_word(&sub->ch->data_waker, &w->futex);
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
  uint64_t h = ld_acquire(ch->head);
  if (seq >= h) return mmbus_set_err(MMBUS_E_NOENT, "record %llu was never published (head %llu)",
                                     (unsigned long long)seq, (unsigned long long)h);
  uint64_t *sp = stamp_of(ch, seq);
  uint64_t v = ld_acquire(sp);
  if (!committed_for(v, seq))
    return mmbus_set_err(MMBUS_E_NOENT, "record %llu is not in the ring", (unsigned long long)seq);
  /* A record inside a claim counts only once the claim's first record is committed too. */
  for (uint64_t s = seq, k = 0; (ld_acquire(stamp_of(ch, s)) & STAMP_CONT) && k < ch->capacity; k++) {
    if (s == 0 || !committed_for(ld_acquire(stamp_of(ch, s - 1)), s - 1))
      return mmbus_set_err(MMBUS_E_NOENT, "record %llu belongs to a claim that was not committed", (unsigned long long)seq);
    s--;
  }
  memcpy(out, ch->data + (size_t)(seq & ch->mask) * ch->stride, ch->record_size);
  /* seqlock check: still the same lap, and no publisher has started writing a later one */
  if (overwritten_prefix(ch, seq, 1) || ld_relaxed(sp) != v)
    return mmbus_set_err(MMBUS_E_NOENT, "record %llu was overwritten while it was read", (unsigned long long)seq);
  return 0;
}
