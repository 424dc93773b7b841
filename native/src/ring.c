/* The ring: claim, commit, poll, ack, wait, back-pressure, and what happens to claims whose publisher
 * died or got stuck (docs/format.md, "Protocol"). */
#define _GNU_SOURCE
#include <stdlib.h>
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
#define MAX_BACKOFF_PAUSES 32
#define YIELD_ITERATIONS 20 /* waits of publishers: the subscriber or owner they wait for may need this core */
#define WAIT_YIELDS 2        /* a subscriber after its spin: the first yield hands this core to a publisher
                                that needs it; more are system calls (1.2-1.6 us each in a VM) */
#define CHASE_BATCH 32   /* a batch smaller than this, ended by the publisher, means we are chasing it */
#define CHASE_PAUSES 64
#define RECOVER_BUDGET 65536u /* stamps one call gives up at most: bounded work whatever `head` says */
#define CHECK_EVERY_CLAIMS 4096u
#define CACHE_LINE_BYTES 64u /* stamps a publisher looks at together (note_laps_seen); 16 measured no better */

static inline uint64_t *stamp_of(const mmbus_channel_t *ch, uint64_t seq) { return &ch->stamps[seq & ch->mask]; }
static inline uint64_t stamp_seq(uint64_t stamp) { return stamp & STAMP_SEQ_MASK; }
/* committed (not abandoned) for seq, first record of its claim or not */
static inline int committed_for(uint64_t stamp, uint64_t seq) { return (stamp & ~STAMP_CONT) == seq + 1; }
/* what the stamp of seq's slot shows while the previous lap there is committed (0: never written) */
static inline uint64_t previous_lap_stamp(const mmbus_channel_t *ch, uint64_t seq) {
  return seq >= ch->capacity ? seq - ch->capacity + 1 : 0;
}
/* What a public call returns: if the file shrank under the mapping while it ran (the SIGBUS guard
 * mapped zeros over the vanished pages), its result means nothing: MMBUS_E_CORRUPT instead. */
static inline int outcome(mmbus_channel_t *ch, int rc) { return unlikely(*ch->broken) ? chan_usable(ch) : rc; }

static inline uint64_t deadline_after(uint64_t now, int64_t ms) {
  return ms < 0 ? UINT64_MAX : now + (uint64_t)ms * 1000000u; /* ms <= MMBUS_TIMEOUT_MAX_MS: no overflow */
}

/* ---- the one idle strategy: spin with growing pauses, yield, then sleep (doubling) -------------- */

typedef struct idle {
  uint32_t yields, pauses;
  uint64_t spin_ns, spin_end_ns; /* the spin's length, and its end once it started (0 before) */
  uint64_t sleep_ns, max_sleep_ns;
} idle_t;

/* How a wait starts: spinning (what it waits for is being done on another core right now), yielding
 * (it waits for another process to run: on a busy machine a spin would take the core that one needs),
 * or sleeping at once. */
enum idle_start { IDLE_SPIN, IDLE_YIELD, IDLE_SLEEP };

static void idle_init(idle_t *w, enum idle_start start, uint64_t max_sleep_ns) {
  w->spin_ns = start == IDLE_SPIN ? SPIN_DEFAULT_NS : 0;
  w->spin_end_ns = 0;
  w->yields = start == IDLE_SLEEP ? 0 : YIELD_ITERATIONS;
  w->pauses = 1;
  w->sleep_ns = FIRST_SLEEP_NS;
  w->max_sleep_ns = max_sleep_ns;
}

/* 1 after spinning or yielding once (look again), 0 when it is time to sleep for w->sleep_ns. Pauses
 * between looks keep a reader from pulling the line a writer is filling away from it on every look. */
static int idle_busy(idle_t *w) {
  if (w->spin_ns) {
    uint64_t now = os_mono_ns(); /* not in idle_init: most waits end before their first spin */
    if (!w->spin_end_ns) w->spin_end_ns = now + w->spin_ns;
    if (now >= w->spin_end_ns) w->spin_ns = 0; /* this look is the spin's last */
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

/* Takes off the mark of a claim that another process completed for p's owner (and its count). Locked. */
static void unmark_helped_locked(mmbus_channel_t *ch, pub_slot_t *p) {
  if (!ld_relaxed(&p->helped)) return;
  st_release(&p->helped, 0);
  st_relaxed(&p->helped_n, 0);
  fetch_add_seq_cst(ch->helped_claims, (uint32_t)-1);
}

/* The owner of p is done with its given-up or helped claim (it says so, or it died). Called locked. */
void pub_resolve_locked(mmbus_channel_t *ch, pub_slot_t *p) {
  if (ld_relaxed(&p->revoked)) {
    st_relaxed(&p->revoked_n, 0);
    st_release(&p->revoked, 0);
  }
  unmark_helped_locked(ch, p);
}

static int finish_decided(mmbus_channel_t *ch, uint64_t first, uint32_t n, int helper);
static void free_dead_owner_buffer(mmbus_channel_t *ch, uint32_t i);

/* Whether the claim in a publisher slot's pending word `raw` is decided to commit: by the CAS
 * (COMMITTING), or, in HFLAG_BARRIER_DECIDES files, by its owner's `decided` word. Not seeing
 * `decided` proves nothing about a live owner: only give_up_claim's barrier makes that certain.
 * MMBUS_NO_CLAIM has the REVOKED bit: not decided. */
static inline int claim_decided(const pub_slot_t *p, uint64_t raw) {
  if (raw & PENDING_REVOKED) return 0;
  return (raw & PENDING_COMMITTING) || ld_acquire(&p->decided) == PENDING_SEQ(raw) + 1;
}

/* A dead owner's slot, before it is reused: its key buffer freed, and a claim it had decided to
 * commit completed (it is committed: its records are complete). Locked. */
int pub_take_over_locked(mmbus_channel_t *ch, uint32_t i) {
  pub_slot_t *p = &ch->pubs[i];
  free_dead_owner_buffer(ch, i);
  uint64_t raw = ld_acquire(&p->pending);
  if (!claim_decided(p, raw)) return 0;
  return finish_decided(ch, PENDING_SEQ(raw), claim_len(ch, &p->pending_n), 1);
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
      if (os_lock_byte(ch->file, LOCK_PUB(i), -1) != 0) continue;
      if (pass == 1 && pub_take_over_locked(ch, i) != 0) { /* its owner's decided claim cannot be completed yet */
        os_unlock_byte(ch->file, LOCK_PUB(i));
        continue;
      }
      found = (int)i;
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
    st_relaxed(&p->decided, 0);
    st_relaxed(&p->revoking, 0);
    st_relaxed(&p->attached_ns, os_real_ns());
    /* `excluding` stays: a claim of the slot's last owner may have overwritten what a subscriber left
     * out has not read yet, and this handle's claims end beyond all of those */
    ch->claimed_end = ld_acquire(ch->head);
    st_release(&p->state, (uint32_t)PUB_ACTIVE);
  }
  chan_unlock(ch);
  if (found < 0)
    return mmbus_set_err(MMBUS_E_NOSLOT, "all %u publisher slots of '%s' are in use by live processes",
                         ch->hdr.max_publishers, ch->path);
  st_release(&ch->pub_index, found);
  ch->pub = &ch->pubs[found];
  /* A publisher writes every key's entry sooner or later (a start-up burst: all at once): mapped in
   * one call, not a page fault per 4 KiB of a table that can be hundreds of MB */
  if (ch->keys) os_prefault_write(ch->keys, (size_t)(ch->key_count * ch->key_entry_size));
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
    uint64_t first = r - 1, n = claim_len(ch, &p->revoked_n);
    if (seq < first || seq - first >= n) continue;
    if (pub_slot_alive(ch, i)) return 1;
    if (chan_lock(ch) == 0) { /* its owner died: it writes nothing late */
      if (ld_acquire(&p->revoked) == r && !pub_slot_alive(ch, i)) pub_resolve_locked(ch, p);
      chan_unlock(ch);
    }
  }
  return 0;
}

/* ---- keyed channels: the table of latest values ------------------------------------------------ */

#define HELPER_TOKEN (UINT64_C(1) << 63) /* a key buffer filled by a helper, under the table lock */
#define TOKEN_SEQ_MASK ((UINT64_C(1) << 48) - 1)

/* Who fills a key buffer: a helper, or publisher slot i (i + 1 in the top 16 bits), for record seq. */
static inline uint64_t key_token(const mmbus_channel_t *ch, uint64_t seq, int helper) {
  uint64_t who = helper ? HELPER_TOKEN : (uint64_t)(ch->pub_index + 1) << 48;
  return who | ((seq + 1) & TOKEN_SEQ_MASK);
}

static inline const uint8_t *ring_record(const mmbus_channel_t *ch, uint64_t seq) {
  return ch->data + (size_t)(seq & ch->mask) * ch->stride;
}

/* A key buffer held by a writer that cannot finish any more: a dead publisher, or a helper (helpers
 * hold the table lock while they write, so a helper token seen under the lock is a dead helper's). */
static void free_stale_buffers(mmbus_channel_t *ch, key_entry_t *e, int have_lock) {
  int locked = have_lock;
  for (uint32_t b = 0; b < KEY_BUFFERS; b++) {
    uint64_t t = ld_acquire(&e->busy[b]);
    if (!t) continue;
    if (t & HELPER_TOKEN) {
      if (!locked && chan_lock(ch) == 0) locked = 2;
      if (!locked) continue;
    } else if (pub_slot_alive(ch, (uint32_t)((t >> 48) - 1))) {
      continue;
    }
    cas_seq_cst(&e->busy[b], &t, 0); /* its half-written buffer is not current: nobody reads it */
  }
  if (locked == 2) chan_unlock(ch);
}

/* One try at a buffer of e that nobody reads or fills, for record seq: its index (held with `token`),
 * KEY_LATER when a later record of the key is there already, or KEY_NONE when every spare buffer is
 * held. A buffer only becomes current through its own holder's flip: one that is current once taken,
 * the writer before us flipped to and let go, so another is taken. */
#define KEY_LATER (-1)
#define KEY_NONE (-2)
static int key_take(key_entry_t *e, uint64_t seq, uint64_t token) {
  for (;;) {
    uint64_t v = ld_acquire(&e->ver);
    if ((v & KEY_VER_SEQ) >= seq + 1) return KEY_LATER;
    uint32_t cur = (uint32_t)(v >> KEY_VER_CUR_SHIFT);
    int got = KEY_NONE;
    for (uint32_t b = 0; b < KEY_BUFFERS && got < 0; b++) {
      if (b == cur || ld_relaxed(&e->busy[b])) continue;
      uint64_t zero = 0;
      if (cas_seq_cst(&e->busy[b], &zero, token)) got = (int)b;
    }
    if (got < 0 || (uint32_t)(ld_acquire(&e->ver) >> KEY_VER_CUR_SHIFT) != (uint32_t)got) return got;
    st_release(&e->busy[got], 0);
  }
}

/* Makes buffer b of e, filled with record seq, the key's current one unless a later record of the key
 * is there already (`ver` only goes to later sequences), and lets it go. */
static void key_flip(key_entry_t *e, uint32_t b, uint64_t seq) {
  uint64_t nv = (seq + 1) | ((uint64_t)b << KEY_VER_CUR_SHIFT), v = ld_acquire(&e->ver);
  while ((v & KEY_VER_SEQ) < seq + 1)
    if (cas_seq_cst(&e->ver, &v, nv)) break;
  st_release(&e->busy[b], 0);
}

/* Makes record seq (in the ring) the latest of `key` unless a later record of that key is there
 * already: fill a buffer nobody reads (key_take, a CAS), then flip `ver` to it (key_flip, a CAS that
 * only goes to a later sequence). Readers never wait; a writer that stops can only ever strand the
 * buffer it holds. A helper (completing a stopped owner's claim) may race the owner finishing and the
 * ring moving on, so it checks after copying that the slot was not reused meanwhile (then the owner
 * updated the key before its stamps, and there is nothing to do). 0, or MMBUS_E_BUSY when no buffer
 * came free before the deadline (two stopped writers of this key). */
static int key_update(mmbus_channel_t *ch, uint64_t key, uint64_t seq, uint64_t token, int64_t timeout_ms,
                      int helper) {
  key_entry_t *e = key_entry(ch, key);
  const uint8_t *data = ring_record(ch, seq);
  idle_t idle;
  idle_init(&idle, IDLE_SPIN, GAP_SLEEP_NS);
  uint64_t deadline = 0;
  if (!helper) st_relaxed(&ch->pub->updating, key + 1);
  for (;;) {
    int got = key_take(e, seq, token);
    if (got == KEY_LATER) break;
    if (got >= 0) {
      memcpy(key_buffer(ch, e, (uint32_t)got), data, ch->record_size);
      fence_acquire();
      if (!helper || ld_acquire(ch->head) <= seq + ch->capacity) key_flip(e, (uint32_t)got, seq);
      else st_release(&e->busy[got], 0);
      break;
    }
    if (idle_busy(&idle)) continue;
    free_stale_buffers(ch, e, helper);
    uint64_t now = os_mono_ns();
    if (!deadline) deadline = deadline_after(now, timeout_ms);
    if (now >= deadline) {
      if (!helper) st_relaxed(&ch->pub->updating, 0);
      return mmbus_set_err(MMBUS_E_BUSY, "'%s': key %llu cannot be updated: every spare buffer of it is held by "
                                         "a stopped writer", ch->path, (unsigned long long)key);
    }
    os_sleep_ns(GAP_SLEEP_NS);
  }
  if (!helper) st_relaxed(&ch->pub->updating, 0);
  return 0;
}

/* A dead owner's key buffer (its slot is being taken over: nothing else will free it). Locked. */
static void free_dead_owner_buffer(mmbus_channel_t *ch, uint32_t i) {
  pub_slot_t *p = &ch->pubs[i];
  uint64_t k = ld_relaxed(&p->updating);
  if (k && ch->keys && k - 1 < ch->key_count) {
    key_entry_t *e = key_entry(ch, k - 1);
    for (uint32_t b = 0; b < KEY_BUFFERS; b++) {
      uint64_t t = ld_acquire(&e->busy[b]);
      if (t && !(t & HELPER_TOKEN) && (t >> 48) == i + 1) cas_seq_cst(&e->busy[b], &t, 0);
    }
  }
  st_relaxed(&p->updating, 0);
}

/* A key table is far away in memory (tens of MB): every update or read of a key is a cache miss,
 * often a TLB miss too. These fetch an entry's lines ahead, so that the misses of several keys, and
 * of one key's header and buffer, overlap instead of being paid one after the other. */
#define KEY_AHEAD 8                 /* records of a commit whose key buffers are fetched ahead */
#define WHOLE_ENTRY_PREFETCH 1024u  /* entries up to this size are fetched whole (the buffer to be
                                       filled is not known before the header is there) */
#define SNAPSHOT_AHEAD 16           /* keys a snapshot fetches ahead of the one it reads */

/* A key's entry header, for writing. */
static inline void prefetch_key(const mmbus_channel_t *ch, uint64_t key) {
  prefetch_exclusive(ch->prefetchw, key_entry(ch, key));
}

/* The buffer an update of `key` will most likely fill (the one after the current), for writing. */
static inline void prefetch_key_buffer(mmbus_channel_t *ch, uint64_t key) {
  key_entry_t *e = key_entry(ch, key);
  uint32_t next = ((uint32_t)(ld_relaxed(&e->ver) >> KEY_VER_CUR_SHIFT) + 1) % KEY_BUFFERS;
  const uint8_t *b = key_buffer(ch, e, next);
  for (uint32_t off = 0; off < ch->record_size; off += 64) prefetch_exclusive(ch->prefetchw, b + off);
}

/* One update coming with nothing to overlap it with: the header and every buffer at once (one miss's
 * time instead of the header's and then the buffer's), or the header alone for a large entry. */
static inline void prefetch_key_entry(const mmbus_channel_t *ch, uint64_t key) {
  const uint8_t *e = (const uint8_t *)key_entry(ch, key);
  uint64_t len = ch->key_entry_size <= WHOLE_ENTRY_PREFETCH ? ch->key_entry_size : 64;
  for (uint64_t off = 0; off < len; off += 64) prefetch_exclusive(ch->prefetchw, e + off);
}

#define KEY_STREAM_AHEAD 4 /* keys published in order, one at a time: entries fetched this far ahead */

/* One update of `key`, published alone (mmbus_publish, or a claim of one): its entry now. When keys
 * come in order (a start-up burst of every point), the entry KEY_STREAM_AHEAD keys on too, so the
 * next publishes find theirs in cache instead of each paying a miss the hardware prefetcher, which
 * stops at page ends, does not hide. Two compares for keys in random order. */
static inline void prefetch_key_stream(mmbus_channel_t *ch, uint64_t key) {
  if (key == ch->last_key) return; /* fetched already (mmbus_publish, then its commit), or just updated */
  prefetch_key_entry(ch, key);
  if (key == ch->last_key + 1 && key + KEY_STREAM_AHEAD < ch->key_count) prefetch_key_entry(ch, key + KEY_STREAM_AHEAD);
  ch->last_key = key;
}

/* The current buffer of `key`, for reading (its header fetched before: `ver` names the buffer). */
static inline void prefetch_current_buffer(const mmbus_channel_t *ch, uint64_t key) {
  key_entry_t *e = key_entry(ch, key);
  uint32_t cur = (uint32_t)(ld_relaxed(&e->ver) >> KEY_VER_CUR_SHIFT);
  if (cur >= KEY_BUFFERS) return; /* damage: read_latest says so */
  const uint8_t *b = key_buffer(ch, e, cur);
  for (uint32_t off = 0; off < ch->record_size; off += 64) prefetch_read(b + off);
}


/* Whether record i of the claim at seq has the key after record i - 1's (keys in order, a burst of
 * every point: their entries lie one after the other) and entries are fetched whole. */
static inline int key_entry_streams(const mmbus_channel_t *ch, uint64_t seq, uint32_t i) {
  return i > 0 && ch->key_entry_size <= WHOLE_ENTRY_PREFETCH &&
         record_key(ch, ring_record(ch, seq + i)) == record_key(ch, ring_record(ch, seq + i - 1)) + 1;
}

/* The pipeline of a claim's key updates (commit_claim). Keys in random order: the header first, then
 * the one buffer to fill, which `ver` names (whole entries would cost twice the memory traffic). Keys
 * in order: the whole entry at once, next to the last one (memory the hardware streams cheaply), and
 * no load of `ver` for the updates to wait on: measured, 42 -> 34 ns a record in batches of 64. */
static inline void prefetch_claim_header(mmbus_channel_t *ch, uint64_t seq, uint32_t i) {
  if (!key_entry_streams(ch, seq, i)) prefetch_key(ch, record_key(ch, ring_record(ch, seq + i)));
}
static inline void prefetch_claim_buffer(mmbus_channel_t *ch, uint64_t seq, uint32_t i) {
  uint64_t key = record_key(ch, ring_record(ch, seq + i));
  if (key_entry_streams(ch, seq, i)) prefetch_key_entry(ch, key);
  else prefetch_key_buffer(ch, key);
}

/* The keys of a claim's records (before anything of it is decided): all in range? */
static int check_keys(mmbus_channel_t *ch, uint64_t seq, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint64_t k = record_key(ch, ring_record(ch, seq + i));
    if (k >= ch->key_count)
      return mmbus_set_err(MMBUS_E_INVAL, "record %u of the claim has key %llu, out of range 0..%llu of '%s': "
                                          "nothing was published", i, (unsigned long long)k,
                           (unsigned long long)(ch->key_count - 1), ch->path);
  }
  return 0;
}

/* What a decided (committing) claim still has to do, by its owner or by a helper: every record's key,
 * then the stamps, the first last. Everything here is a CAS that only moves forward or a write of the
 * same bytes the owner writes, so owner and helper may overlap. */
static int finish_decided(mmbus_channel_t *ch, uint64_t first, uint32_t n, int helper) {
  if (n == 0) return mmbus_set_err(MMBUS_E_CORRUPT, "'%s': a publisher slot holds a claim of an impossible length: the "
                                                    "file was damaged", ch->path);
  if (ch->keys)
    for (uint32_t i = 0; i < n; i++) {
      uint64_t k = record_key(ch, ring_record(ch, first + i));
      if (k < ch->key_count) {
        /* a helper holds the table lock: it does not wait for buffers, a later pass retries */
        int rc = key_update(ch, k, first + i, key_token(ch, first + i, helper), helper ? 0 : ch->block_timeout_ms,
                            helper);
        if (rc) return rc;
      }
    }
  for (uint32_t i = n; i-- > 0;) {
    uint64_t *sp = stamp_of(ch, first + i), want = (first + i + 1) | (i ? STAMP_CONT : 0);
    uint64_t v = ld_relaxed(sp);
    while (stamp_seq(v) < first + i + 1)
      if (cas_seq_cst(sp, &v, want)) break;
  }
  return 0;
}

/* Whether the slot of sequence seq (committed) must not be reused yet: seq is in a claim that another
 * process completed for its stopped owner, who will write the same stamps again when it resumes
 * (harmless until a later lap is there). */
static int helped_fence(mmbus_channel_t *ch, uint64_t seq) {
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    uint64_t hp = ld_acquire(&p->helped);
    if (!hp) continue;
    uint64_t first = hp - 1, n = claim_len(ch, &p->helped_n);
    if (seq < first || seq - first >= n) continue;
    uint64_t raw = ld_acquire(&p->pending);
    if (PENDING_SEQ(raw) != first || !claim_decided(p, raw)) continue; /* it completed it: done */
    if (pub_slot_alive(ch, i)) return 1;
    if (chan_lock(ch) == 0) {
      if (ld_acquire(&p->helped) == hp && !pub_slot_alive(ch, i)) pub_resolve_locked(ch, p);
      chan_unlock(ch);
    }
  }
  return 0;
}

/* Gives up the undecided claim `raw` of a live owner that shows no progress (locked): the CAS on its
 * pending word, the one its owner's commit would need too. In HFLAG_BARRIER_DECIDES files the owner
 * decides with a plain store and no fence, so first `revoking` is stored and the system-wide barrier
 * run: after it, an owner that decided before is seen to have, and one that did not yet will see
 * `revoking` and take the CAS itself (docs/format.md §8.8). Without the barrier nothing is certain:
 * the claim stays, and its owner is waited for. */
static void give_up_claim(mmbus_channel_t *ch, pub_slot_t *p, uint64_t raw, uint64_t n) {
  uint64_t first = PENDING_SEQ(raw);
  if (ch->barrier_decides) {
    st_seq_cst(&p->revoking, first + 1);
    if (os_global_barrier() != 0 || claim_decided(p, raw)) return;
  }
  uint64_t expect = raw;
  if (cas_seq_cst(&p->pending, &expect, first | PENDING_REVOKED)) {
    st_relaxed(&p->revoked_n, n);
    st_release(&p->revoked, first + 1);
  }
}

/* A claim whose owner cannot go on: dead, or alive but without progress for the unblock time-out.
 * Undecided (only when alive): give it up, and fence its slots. Decided to commit: its records are
 * complete, so complete it for the owner — keys and stamps — and, if the owner lives, fence those
 * slots until it has completed it too. */
static void unblock_claim(mmbus_channel_t *ch, uint32_t i, uint64_t raw, uint64_t n, uint64_t progress, int alive) {
  if (chan_lock(ch)) return; /* read-only or lock busy: another waiter will do it */
  pub_slot_t *p = &ch->pubs[i];
  uint64_t first = PENDING_SEQ(raw);
  int still = ld_acquire(&p->state) == PUB_ACTIVE && ld_acquire(&p->pending) == raw &&
              (!alive || (ld_relaxed(&p->progress) == progress && pub_slot_alive(ch, i)));
  if (still && alive && !claim_decided(p, raw) && !ld_relaxed(&p->revoked)) give_up_claim(ch, p, raw, n);
  uint64_t now_raw = ld_acquire(&p->pending); /* COMMITTING now, if the owner took the CAS meanwhile */
  if (still && PENDING_SEQ(now_raw) == first && claim_decided(p, now_raw) && !ld_relaxed(&p->helped)) {
    /* A live owner will write these stamps again: its slots are fenced (helped_fence) from before the
     * first stamp is written, so that whoever sees one of them committed sees the fence too. */
    if (alive) {
      st_relaxed(&p->helped_n, n);
      fetch_add_seq_cst(ch->helped_claims, 1u);
      st_release(&p->helped, first + 1);
    }
    if (finish_decided(ch, first, (uint32_t)n, 1) != 0) unmark_helped_locked(ch, p); /* not completed: a later pass */
  }
  chan_unlock(ch);
  wake(ch, ch->data_wake, &ch->data_waker);
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
    uint64_t pending = PENDING_SEQ(raw), n = claim_len(ch, &p->pending_n);
    int covers = seq >= pending && seq - pending < n;
    if (!covers && pending <= seq) continue;
    if (!pub_slot_alive(ch, i)) {
      /* dead: it can commit nothing more. Decided to commit: it is committed, its records complete */
      if (covers && claim_decided(p, raw)) {
        unblock_claim(ch, i, raw, n, 0, 0);
        if (committed_for(ld_acquire(stamp_of(ch, seq)), seq)) return 1;
      }
      continue;
    }
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
      unblock_claim(ch, i, raw, n, progress, 1);
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

/* EXCLUSIONS_COUNTED (docs/format.md §8.6): this handle's slot counts in the fence line from a limit
 * that leaves an active subscriber out (its claims may overwrite records that one has not read yet)
 * until a limit leaves nobody out and every active subscriber is past all its claims overwrote (min:
 * the lowest active cursor). Readers look at head only while the count is not 0. */
static void track_exclusion(mmbus_channel_t *ch, int left_out, uint64_t min) {
  pub_slot_t *p = ch->pub;
  if (!ch->excluding || !p) return;
  uint32_t was = ld_relaxed(&p->excluding);
  if (left_out && !was) {
    st_relaxed(&p->excluding, 1u);
    fetch_add_seq_cst(ch->excluding, 1u); /* seq_cst: before every claim made under this limit */
  } else if (!left_out && was && (ch->claimed_end <= ch->capacity || min >= ch->claimed_end - ch->capacity)) {
    st_relaxed(&p->excluding, 0u);
    fetch_add_seq_cst(ch->excluding, (uint32_t)-1);
  }
}

/* Recomputes ch->limit = slowest counting subscriber's cursor + capacity. */
static void refresh_limit(mmbus_channel_t *ch, uint64_t needed_end) {
  uint64_t now = os_mono_ns();
  uint64_t min = UINT64_MAX;
  int left_out = 0;
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++) {
    sub_slot_t *s = &ch->subs[i];
    if (ld_acquire(&s->state) != SUB_ACTIVE) continue;
    uint64_t cur = ld_acquire(&s->cursor);
    if (!sub_counts(ch, i, now, cur + ch->capacity < needed_end)) {
      left_out = 1;
      continue;
    }
    if (cur < min) min = cur;
  }
  track_exclusion(ch, left_out, min);
  /* With no subscriber the cache still expires within a lap, so one that joins later is seen. */
  if (min == UINT64_MAX) min = ld_acquire(ch->head);
  ch->limit = min + ch->capacity;
}

/* A publisher handle that closes stops counting in the fence line if it can (its slot keeps the mark
 * for its next owner otherwise). */
void pub_settle_exclusion(mmbus_channel_t *ch) {
  if (ch->excluding && ch->pub && ld_relaxed(&ch->pub->excluding)) refresh_limit(ch, 0);
}

static int stayed_full(const mmbus_channel_t *ch, int64_t timeout_ms) {
  return mmbus_set_err(MMBUS_E_TIMEOUT, "'%s' stayed full for %lld ms: the slowest subscriber did not move", ch->path,
                       (long long)timeout_ms);
}

/* Sleep until a subscriber moves, or until the deadline. The deadline first: a claim that may not wait
 * (time-out 0: publishAsync's tries) fails at once instead of yielding first. */
static int wait_for_space(mmbus_channel_t *ch, uint64_t end, uint64_t deadline, int64_t timeout_ms, idle_t *idle) {
  uint64_t now = os_mono_ns();
  if (now >= deadline) return stayed_full(ch, timeout_ms);
  if (idle_busy(idle)) {
    refresh_limit(ch, end);
    return 0;
  }
  uint32_t w = ld_acquire(&ch->space_wake->futex);
  if (xchg_seq_cst(&ch->space_wake->need_wake, 1) == 0) idle->sleep_ns = FIRST_SLEEP_NS;
  refresh_limit(ch, end);
  if (end <= ch->limit) return 0;
  now = os_mono_ns();
  chan_periodic_check(ch, now);
  int rc = chan_usable(ch);
  if (rc) return rc;
  if (now >= deadline) return stayed_full(ch, timeout_ms);
  uint64_t t = idle->sleep_ns;
  if (t > deadline - now) t = deadline - now;
  idle_slept(idle, os_wait_word(&ch->space_waker, &ch->space_wake->futex, w, (int64_t)t) == 0);
  return 0;
}

/* ---- claiming ---------------------------------------------------------------------------------- */

enum { LAPS_READY = 0, LAPS_AGAIN = 1, LAPS_FENCED = 2 };

/* After [h, h + n) was found ready: how far, to the end of the cache line of stamps of its last
 * record (never a lap ahead: a slot is looked at for one sequence only), the slots hold their
 * committed previous lap, for the next claims (previous_laps_done). */
static void note_laps_seen(mmbus_channel_t *ch, uint64_t h, uint32_t n) {
  const uint64_t per_line = CACHE_LINE_BYTES / sizeof(uint64_t);
  uint64_t end = h + n, line_end = (end - 1) / per_line * per_line + per_line;
  if (line_end > h + ch->capacity) line_end = h + ch->capacity;
  while (end < line_end && (ld_acquire(stamp_of(ch, end)) & ~STAMP_CONT) == previous_lap_stamp(ch, end)) end++;
  ch->laps_seen_from = h;
  ch->laps_seen_end = end;
}

/* Before claiming [h, h + n): the previous lap of every slot must be done (committed, or given up
 * and not fenced off), so nobody still writes there. Waits for a slow publisher of that lap, gives
 * up a dead or stuck one's claim (settle_gap). LAPS_AGAIN: head moved, look again; LAPS_FENCED: the
 * slot of *blocked is fenced off by a stuck publisher's given-up claim. */
static int previous_laps_done(mmbus_channel_t *ch, uint64_t h, uint32_t n, int64_t timeout_ms, uint64_t *deadline,
                              uint64_t *blocked) {
  /* Seen committed by an earlier claim of this handle: still so, for nothing but the claim of the
   * sequence itself, made at head (>= h), writes a slot's stamp over its previous lap's committed one.
   * The stamp line then stays the subscribers' until the commit (single publishes: one load of a line
   * of stamps instead of one per record, which costs a transfer while a reader is right behind). */
  if (h >= ch->laps_seen_from && h + n <= ch->laps_seen_end && likely(ld_acquire(ch->helped_claims) == 0))
    return LAPS_READY;
  int seen_all = 1;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t seq = h + i;
    uint64_t want = previous_lap_stamp(ch, seq);
    uint64_t *sp = stamp_of(ch, seq);
    uint64_t v = ld_acquire(sp);
    if ((v & ~STAMP_CONT) == want) continue; /* the usual case: committed */
    seen_all = 0; /* what is found ready below may be a given-up slot: not noted */
    idle_t idle;
    idle_init(&idle, IDLE_SPIN, GAP_SLEEP_NS);
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
  /* After the stamps (one load of a line nobody writes): a claim completed for a stopped owner is
   * counted there before its stamps are written, also when this handle completed it just now. */
  if (unlikely(ld_acquire(ch->helped_claims) != 0)) {
    for (uint32_t i = 0; i < n; i++)
      if (h + i >= ch->capacity && helped_fence(ch, h + i - ch->capacity)) {
        *blocked = h + i;
        return LAPS_FENCED;
      }
  } else if (seen_all) {
    note_laps_seen(ch, h, n);
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

/* A commit of ours that could not update a key in time (two stopped writers held every spare buffer of
 * it) is decided: it is finished before anything else this handle does. */
int pub_finish_own(mmbus_channel_t *ch) {
  pub_slot_t *p = ch->pub;
  uint64_t raw = p ? ld_relaxed(&p->pending) : MMBUS_NO_CLAIM;
  if (!p || !claim_decided(p, raw)) return 0;
  int rc = finish_decided(ch, PENDING_SEQ(raw), claim_len(ch, &p->pending_n), 0);
  if (rc) return rc;
  st_release(&p->pending, MMBUS_NO_CLAIM);
  resolve_own(ch);
  fence_seq_cst();
  wake(ch, ch->data_wake, &ch->data_waker);
  return 0;
}

/* What a claim settles before it starts, none of which the usual claim needs: the arguments, the
 * handle (read-only, failed), attaching, a decided commit of ours still to finish, a given-up or
 * helped claim of ours to take the marks off, the periodic check. */
static int claim_prepare(mmbus_channel_t *ch, uint32_t n, int64_t timeout_ms) {
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
  uint64_t raw = ld_relaxed(&p->pending);
  if (claim_decided(p, raw)) {
    rc = pub_finish_own(ch);
    if (rc) return rc;
  } else if (raw != MMBUS_NO_CLAIM) {
    return mmbus_set_err(MMBUS_E_STATE, "a claim of this handle is not committed yet (one claim at a time per handle)");
  }
  resolve_own(ch); /* a claim of ours given up earlier: we are past it */
  if (ch->claims_unchecked >= CHECK_EVERY_CLAIMS) {
    ch->claims_unchecked = 0;
    chan_periodic_check(ch, os_mono_ns());
    if ((rc = chan_usable(ch)) != 0) return rc;
  }
  return 0;
}

static int claim_impl(mmbus_channel_t *ch, uint32_t n, int64_t timeout_ms, mmbus_claim_t *c) {
  if (!ch || !c) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  pub_slot_t *p = ch->pub;
  /* one test for the usual case: attached (so writable), usable, arguments in range, nothing of ours
   * in flight, given up or helped, no periodic check due */
  if (unlikely(++ch->claims_unchecked >= CHECK_EVERY_CLAIMS || !p || *ch->broken || ld_relaxed(&ch->failed) ||
               n == 0 || n > ch->capacity || timeout_ms > MMBUS_TIMEOUT_MAX_MS ||
               ld_relaxed(&p->pending) != MMBUS_NO_CLAIM || ld_relaxed(&p->revoked) || ld_relaxed(&p->helped))) {
    int rc = claim_prepare(ch, n, timeout_ms);
    if (rc) return rc;
    p = ch->pub;
  }
  int rc;
  if (timeout_ms < 0) timeout_ms = ch->block_timeout_ms;
  uint64_t deadline = 0;
  idle_t idle = {0}; /* set up at the first wait (idle_started); zeroed only to keep -Wmaybe-uninitialized quiet */
  int idle_started = 0;
  uint64_t h, end, fillers = 0;
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
          /* room comes when a subscriber runs: yield to it, never spin */
          if (!idle_started) idle_init(&idle, IDLE_YIELD, MAX_SPACE_SLEEP_NS), idle_started = 1;
          if ((rc = wait_for_space(ch, end, deadline, timeout_ms, &idle)) != 0) return rc;
          continue;
        }
      }
    }
    uint64_t blocked = 0;
    int r = previous_laps_done(ch, h, n, timeout_ms, &deadline, &blocked);
    if (r < 0) return r;
    if (r == LAPS_FENCED) {
      /* each slot's given-up and helped claims fence at most a claim each (claim_len): more fenced
       * slots than that in a row are damage, not stuck publishers */
      if (++fillers > 2 * (uint64_t)ch->capacity * ch->hdr.max_publishers)
        return mmbus_set_err(MMBUS_E_CORRUPT, "'%s': more slots fenced off than publishers can hold: the file was damaged",
                             ch->path);
      r = claim_filler(ch, h, blocked);
    }
    if (r == LAPS_AGAIN) continue;
    /* Announce the claim before making it, so whoever finds it unfilled can tell whose it is. */
    st_relaxed(&p->pending_n, n);
    st_release(&p->pending, h);
    uint64_t expect = h;
    if (cas_seq_cst(ch->head, &expect, end)) break;
  }
  ch->claimed_end = end;
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
      idle_init(&idle, IDLE_YIELD, MAX_SPACE_SLEEP_NS);
      while (end > ch->limit) {
        st_relaxed(&p->progress, ld_relaxed(&p->progress) + 1); /* waiting, not stuck */
        rc = wait_for_space(ch, end, deadline, timeout_ms, &idle);
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

/* The owner's decision to commit its claim at seq, its records all written; 0: the others gave it up.
 * HFLAG_BARRIER_DECIDES: a plain store of `decided`, then a look at `revoking`, with no fence between
 * (the one fence a commit would pay for, on the hot path): whoever gives a claim up stores `revoking`,
 * runs the system-wide barrier, then looks at `decided`, so at least one of the two sees the other.
 * When this side sees `revoking` (or without the barrier) the CAS on `pending` decides. */
static inline int decide_commit(mmbus_channel_t *ch, pub_slot_t *p, uint64_t seq) {
  if (likely(ch->barrier_decides)) {
    st_release(&p->decided, seq + 1);
    compiler_fence();
    if (likely(ld_relaxed(&p->revoking) != seq + 1)) return 1;
  }
  uint64_t expect = seq;
  return cas_seq_cst(&p->pending, &expect, seq | PENDING_COMMITTING);
}

/* Every record's key of the decided claim [seq, seq + n), by its owner: a pipeline, headers 2 * KEY_AHEAD
 * records ahead, then (their `ver` there by then) the buffer to fill KEY_AHEAD records ahead, so the
 * update of record i finds its lines in cache. Out of line: plain channels' commits stay small. */
static NOINLINE int update_claim_keys(mmbus_channel_t *ch, uint64_t seq, uint32_t n) {
  for (uint32_t i = 0; i < n && i < 2 * KEY_AHEAD; i++) prefetch_claim_header(ch, seq, i);
  for (uint32_t i = 0; i < n && i < KEY_AHEAD; i++) prefetch_claim_buffer(ch, seq, i);
  for (uint32_t i = 0; i < n; i++) {
    if (i + 2 * KEY_AHEAD < n) prefetch_claim_header(ch, seq, i + 2 * KEY_AHEAD);
    if (i + KEY_AHEAD < n) prefetch_claim_buffer(ch, seq, i + KEY_AHEAD);
    int rc = key_update(ch, record_key(ch, ring_record(ch, seq + i)), seq + i, key_token(ch, seq + i, 0),
                        ch->block_timeout_ms, 0);
    if (rc) return rc;
  }
  return 0;
}

/* A key buffer that mmbus_publish filled before its commit: the entry (NULL: none) and the buffer. */
typedef struct key_hold {
  key_entry_t *entry;
  uint32_t buffer;
} key_hold_t;

static const key_hold_t NO_HOLD = {NULL, 0};

/* mmbus_publish's record, keyed (its key checked): into a key buffer as soon as its claim is made,
 * before the ring's copy and the decision. Taking the buffer is a locked instruction, which waits for
 * every store before it: here only the claim's few, not a ring record's, so one record's commit
 * drains its stores once (at the flip) instead of twice. With no buffer free at once, none is held
 * and commit_claim's key_update does it all. */
static key_hold_t key_fill_early(mmbus_channel_t *ch, const void *rec, uint64_t seq) {
  uint64_t key = record_key(ch, rec);
  key_entry_t *e = key_entry(ch, key);
  st_relaxed(&ch->pub->updating, key + 1); /* before the take: a dead owner's buffer is found by it */
  int got = key_take(e, seq, key_token(ch, seq, 0));
  if (got < 0) {
    st_relaxed(&ch->pub->updating, 0);
    return NO_HOLD;
  }
  memcpy(key_buffer(ch, e, (uint32_t)got), rec, ch->record_size);
  key_hold_t h = {e, (uint32_t)got};
  return h;
}

/* The buffer key_fill_early took, unused: the claim was not committed. */
static void key_let_go(mmbus_channel_t *ch, const key_hold_t *held) {
  if (!held->entry) return;
  st_release(&held->entry->busy[held->buffer], 0);
  st_relaxed(&ch->pub->updating, 0);
}

/* Commits [seq, seq + n). The decision first (decide_commit, on this handle's own slot, a line no
 * reader touches), then (keyed) every record's key, then the later records' stamps, then the first
 * stamp, which makes the whole claim visible at once. A claim that others gave up cannot be committed
 * late: the decision fails. A decided claim always ends committed: if its owner stops or dies, others
 * complete it. `held`: the key buffer key_fill_early filled with a one-record claim's record, if any. */
static inline int commit_claim(mmbus_channel_t *ch, const mmbus_claim_t *c, const key_hold_t *held) {
  uint64_t seq = c->seq;
  pub_slot_t *p = ch->pub;
  if (unlikely(ld_relaxed(&p->revoked) == seq + 1)) {
    key_let_go(ch, held);
    return given_up(ch, c);
  }
  if (ch->keys) {
    if (c->n == 1) prefetch_key_stream(ch, record_key(ch, ring_record(ch, seq))); /* while we decide */
    int rc = check_keys(ch, seq, c->n);
    if (rc) {
      key_let_go(ch, held);
      abandon_own(ch, seq, c->n);
      return rc;
    }
  }
  if (unlikely(!decide_commit(ch, p, seq))) {
    key_let_go(ch, held);
    return given_up(ch, c);
  }
  if (held->entry) {
    key_flip(held->entry, held->buffer, seq);
    st_relaxed(&p->updating, 0);
  } else if (ch->keys) {
    int rc = update_claim_keys(ch, seq, c->n);
    if (rc) return rc; /* decided: the others complete it (docs/format.md §8.8) */
  }
  for (uint32_t i = c->n; i-- > 1;) st_release(stamp_of(ch, seq + i), (seq + i + 1) | STAMP_CONT);
  st_release(stamp_of(ch, seq), seq + 1);
  st_release(&p->pending, MMBUS_NO_CLAIM);
  if (unlikely(ld_relaxed(&p->helped) != 0)) resolve_own(ch); /* another completed it meanwhile */
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
  if (claim_decided(ch->pub, ld_relaxed(&ch->pub->pending))) return outcome(ch, pub_finish_own(ch)); /* again */
  if ((rc = chan_usable(ch)) != 0) {
    st_release(&ch->pub->pending, MMBUS_NO_CLAIM);
    return rc;
  }
  return outcome(ch, commit_claim(ch, c, &NO_HOLD));
}

int mmbus_claim_abort(mmbus_channel_t *ch, const mmbus_claim_t *c) {
  int rc = check_own_claim(ch, c, "abort");
  if (rc) return rc;
  if (claim_decided(ch->pub, ld_relaxed(&ch->pub->pending)))
    return mmbus_set_err(MMBUS_E_STATE, "the claim at %llu was decided (its commit was under way): it is committed, "
                                        "not aborted; mmbus_commit finishes it", (unsigned long long)c->seq);
  abandon_own(ch, c->seq, c->n); /* the same outcome when the others gave it up already */
  return 0;
}

int mmbus_publish(mmbus_channel_t *ch, const void *rec, size_t size) {
  if (!ch || !rec) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (size != ch->record_size)
    return mmbus_set_err(MMBUS_E_TOOBIG, "record of %zu bytes on '%s', which holds %u-byte records", size, ch->path,
                         ch->record_size);
  if (ch->keys) {
    uint64_t k = record_key(ch, rec);
    if (k >= ch->key_count)
      return mmbus_set_err(MMBUS_E_INVAL, "key %llu is out of range 0..%llu of '%s': nothing was published",
                           (unsigned long long)k, (unsigned long long)(ch->key_count - 1), ch->path);
    prefetch_key_stream(ch, k); /* its miss overlaps the claim and the copy */
  }
  mmbus_claim_t c;
  int rc = claim_impl(ch, 1, -1, &c);
  if (rc) return outcome(ch, rc);
  key_hold_t held = ch->keys ? key_fill_early(ch, rec, c.seq) : NO_HOLD;
  memcpy(mmbus_claim_record(&c, 0), rec, ch->record_size);
  return outcome(ch, commit_claim(ch, &c, &held));
}

int mmbus_publish_batch(mmbus_channel_t *ch, const void *recs, size_t n) {
  if (!ch || (!recs && n)) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (n == 0) return 0;
  if (n > ch->capacity)
    return mmbus_set_err(MMBUS_E_TOOBIG, "batch of %zu records exceeds the ring of %llu", n,
                         (unsigned long long)ch->capacity);
  const uint8_t *src = recs;
  if (ch->keys)
    for (size_t i = 0; i < n; i++)
      if (record_key(ch, src + i * ch->record_size) >= ch->key_count)
        return mmbus_set_err(MMBUS_E_INVAL, "record %zu has key %llu, out of range 0..%llu of '%s': nothing was "
                                            "published", i, (unsigned long long)record_key(ch, src + i * ch->record_size),
                             (unsigned long long)(ch->key_count - 1), ch->path);
  mmbus_claim_t c;
  int rc = claim_impl(ch, (uint32_t)n, -1, &c);
  if (rc) return outcome(ch, rc);
  for (uint32_t i = 0; i < c.n; i++) memcpy(mmbus_claim_record(&c, i), src + (size_t)i * ch->record_size, ch->record_size);
  return outcome(ch, commit_claim(ch, &c, &NO_HOLD));
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

/* Keyed, durable: the records from `from` on are given up for a snapshot of what changed; until the
 * caller has taken all of it and moved on (its next poll, as an ack is for a batch), a restart counts
 * from `from` again (sub_slot_t.owed_since). Called before the cursor moves past them. */
static void owe_snapshot(mmbus_sub_t *sub, uint64_t from) {
  if (!sub->durable || sub->owes) return;
  st_relaxed(&sub->slot->owed_since, from + 1);
  sub->owes = 1;
}

void owed_settled(mmbus_sub_t *sub) {
  if (!sub->owes) return;
  st_relaxed(&sub->slot->owed_since, 0);
  sub->owes = 0;
}

enum { AT_NOTHING = 0, AT_RECORD = 1, AT_MOVED = 2 };

static void resnapshot_changed(mmbus_sub_t *sub);
static void spoilt_values(mmbus_sub_t *sub, uint32_t bad);

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
  if (sub->asked) owe_snapshot(sub, c);
  sub->cursor = oldest;
  sub->align = SKIP_LOST;
  if (sub->asked) resnapshot_changed(sub); /* what it missed: each asked key's current value */
  return AT_MOVED;
}

static int poll_impl(mmbus_sub_t *sub, uint32_t max, mmbus_batch_t *b) {
  if (!sub || !b) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  mmbus_channel_t *ch = sub->ch;
  int rc = chan_usable(ch);
  if (rc) return rc;
  if (unlikely(sub->snap_count != 0))
    return mmbus_set_err(MMBUS_E_STATE, "snapshot values are pending: take them first (mmbus_sub_snapshot), then poll");
  if (unlikely(sub->owes)) owed_settled(sub); /* the snapshot was all taken: the cursor is where a restart goes on */
  if (unlikely(sub->behind_from != UINT64_MAX)) { /* resumed behind the ring, no snapshot asked */
    sub->lost += sub->behind_to - sub->behind_from;
    sub->behind_from = UINT64_MAX;
    publish_cursor(sub);
  }
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
  if (r != AT_RECORD || unlikely(sub->snap_count != 0)) { /* a lap left snapshots to take first */
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
  sub->read_any = 1;
  sub->undo_n = 0;
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
 * claim is out of mmbus_claim (`claiming` cleared): a claim still waiting there wrote nothing.
 * A subscriber's own records (`counted`) under block or reject, EXCLUSIONS_COUNTED: while no
 * publisher leaves a subscriber out, no record at or after its cursor is overwritten — one load of a
 * line nobody writes instead of head's, which every claim writes (docs/format.md §8.6). */
static uint32_t overwritten_prefix(const mmbus_channel_t *ch, uint64_t first, uint32_t count, int counted) {
  fence_acquire();
  if (counted && ch->excluding && ch->policy != MMBUS_POLICY_OVERWRITE && ld_relaxed(ch->excluding) == 0) return 0;
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
      uint64_t raw = ld_acquire(&p->pending), n = claim_len(ch, &p->pending_n), pending = PENDING_SEQ(raw);
      waiting = raw != MMBUS_NO_CLAIM && next_lap >= pending && next_lap - pending < n && ld_acquire(&p->claiming);
    }
    if (!waiting) break;
    r--;
  }
  return (uint32_t)(r - first);
}

static uint32_t batch_overrun(const mmbus_sub_t *sub, uint32_t count) {
  return sub->has_batch ? overwritten_prefix(sub->ch, sub->batch_seq, count, 1) : 0;
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
  /* keyed: a value overwritten before it was read is given again, as the key's latest */
  if (unlikely(bad && sub->asked)) {
    owe_snapshot(sub, sub->batch_seq);
    spoilt_values(sub, bad);
  }
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

/* An interruption (mmbus_sub_interrupt) is taken once: the wait it ended returns MMBUS_E_INTR. */
static int take_interrupt(mmbus_sub_t *sub) {
  if (!ld_acquire(&sub->interrupted)) return 0;
  st_relaxed(&sub->interrupted, 0);
  return mmbus_set_err(MMBUS_E_INTR, "wait interrupted");
}

#define COALESCE_FILL_SHARE 4        /* a window ends once 1/this of the ring waits to be read... */
#define COALESCE_MIN_STEP_NS 20000u  /* ...or would at the rate records come, sooner than this */
#define COALESCE_STEPS 4             /* a window is slept in this many steps at least */

/* Whether no other active subscriber is behind this one (a block publisher waiting for room waits for
 * this one, then): a window that another, slower subscriber's lag ended would coalesce nothing. */
static int holds_publishers_back(const mmbus_sub_t *sub) {
  const mmbus_channel_t *ch = sub->ch;
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++) {
    const sub_slot_t *s = &ch->subs[i];
    if ((int)i != sub->index && ld_acquire(&s->state) == SUB_ACTIVE && ld_acquire(&s->cursor) < sub->cursor) return 0;
  }
  return 1;
}

/* Coalescing: sleeps until `until` (the window after the last records returned, or the wait's
 * deadline if sooner) on a word of its own: neither publishers nor other subscribers wake it, an
 * interruption does. It never lets the ring fill: it looks again after each quarter of the window
 * and ends it once a quarter of the ring waits to be read or a block publisher waits for room that
 * this subscriber holds back; each sleep is also no longer than the ring takes to get there at the
 * rate records came lately (between the last two wake-ups, or since the last, the faster), so a
 * stream too fast for the window is not held back at all. Bounded by the clock. */
static int sleep_out_window(mmbus_sub_t *sub, uint64_t until) {
  mmbus_channel_t *ch = sub->ch;
  uint64_t limit = ch->capacity / COALESCE_FILL_SHARE;
  for (;;) {
    int rc = take_interrupt(sub);
    if (rc) return rc;
    uint64_t now = os_mono_ns();
    if (now >= until) return 0;
    uint64_t head = ld_acquire(ch->head);
    uint64_t backlog = head > sub->cursor ? head - sub->cursor : 0;
    if (backlog >= limit || (ld_relaxed(&ch->space_wake->need_wake) && holds_publishers_back(sub))) return 0;
    uint64_t step = until - now;
    if (step > sub->coalesce_ns / COALESCE_STEPS) step = sub->coalesce_ns / COALESCE_STEPS;
    double rate = (double)(head - sub->records_at_head) / (double)(now - sub->records_at_ns + 1);
    if (rate < sub->records_per_ns) rate = sub->records_per_ns;
    if (rate > 0) {
      double fill_ns = (double)(limit - backlog) / rate;
      if (fill_ns < COALESCE_MIN_STEP_NS) return 0;
      if (fill_ns < (double)step) step = (uint64_t)fill_ns;
    }
    heartbeat(sub, now);
    os_wait_local(&sub->interrupted, 0, step);
  }
}

/* Coalescing: a wait returns records now; how fast they came since the previous such return. */
static void coalesce_mark(mmbus_sub_t *sub) {
  uint64_t now = os_mono_ns(), head = ld_acquire(sub->ch->head);
  sub->records_per_ns = sub->records_at_ns ? (double)(head - sub->records_at_head) / (double)(now - sub->records_at_ns + 1) : 0;
  sub->records_at_ns = now;
  sub->records_at_head = head;
}

static int wait_impl(mmbus_sub_t *sub, int64_t timeout_ms) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  mmbus_channel_t *ch = sub->ch;
  int rc = chan_usable(ch);
  if (rc) return rc;
  if (timeout_ms > MMBUS_TIMEOUT_MAX_MS)
    return mmbus_set_err(MMBUS_E_INVAL, "time-out %lld ms is out of range", (long long)timeout_ms);
  uint64_t start = os_mono_ns();
  uint64_t deadline = deadline_after(start, timeout_ms);
  /* coalescing: a wait for records that are not there yet, right after the last ones, sleeps out the
   * window first; records already there are never held back (a subscriber behind stays no further behind) */
  if (sub->coalesce_ns && start - sub->records_at_ns < sub->coalesce_ns && !sub->snap_count && !something_at(sub)) {
    uint64_t until = sub->records_at_ns + sub->coalesce_ns;
    if ((rc = sleep_out_window(sub, until < deadline ? until : deadline)) != 0) return rc;
  }
  idle_t idle;
  idle_init(&idle, sub->flowing && sub->spin_ns ? IDLE_SPIN : IDLE_SLEEP, MAX_SLEEP_NS);
  if (idle.spin_ns) { /* its own spin, and fewer yields after it */
    idle.spin_ns = sub->spin_ns;
    idle.yields = WAIT_YIELDS;
  }
  for (;;) {
    if (something_at(sub) || sub->snap_count) { /* snapshot values to take count as something */
      if (sub->coalesce_ns) coalesce_mark(sub);
      return 0;
    }
    if (idle_busy(&idle)) continue;
    if ((rc = take_interrupt(sub)) != 0) return rc;
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
  os_wake_local(&sub->interrupted); /* a coalescing window sleeps on it */
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
    uint64_t before = s ? ld_acquire(stamp_of(ch, s - 1)) : 0;
    if (s && stamp_seq(before) > s) /* as subscribers do, a claim is read whole or not at all */
      return mmbus_set_err(MMBUS_E_NOENT, "record %llu belongs to a claim whose first records were overwritten: "
                                          "claims are read whole or not at all", (unsigned long long)seq);
    if (s == 0 || !committed_for(before, s - 1))
      return mmbus_set_err(MMBUS_E_NOENT, "record %llu belongs to a claim that is not committed yet or was given up",
                           (unsigned long long)seq);
    s--;
  }
  memcpy(out, ch->data + (size_t)(seq & ch->mask) * ch->stride, ch->record_size);
  /* seqlock check: still the same lap, and no publisher has started writing a later one */
  if (overwritten_prefix(ch, seq, 1, 0) || ld_relaxed(sp) != v)
    return mmbus_set_err(MMBUS_E_NOENT, "record %llu was overwritten while it was read", (unsigned long long)seq);
  return 0;
}

/* ---- keyed channels: latest values and subscribers that ask for keys ------------------------------ */

static int require_keyed(const mmbus_channel_t *ch) {
  if (!ch->keys) return mmbus_set_err(MMBUS_E_STATE, "'%s' is not a keyed channel", ch->path);
  return 0;
}

int mmbus_key_of(const mmbus_channel_t *ch, const void *record, uint64_t *key) {
  if (!ch || !record || !key) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  int rc = require_keyed(ch);
  if (rc) return rc;
  *key = record_key(ch, record);
  return 0;
}

#define LATEST_TRIES 1000 /* a key rewritten faster than one record can be copied, that many times */

/* Seqlock read of the current buffer: its writers only ever flip `ver` away from it first. */
static int read_latest(const mmbus_channel_t *ch, uint64_t key, void *out, uint64_t *version) {
  key_entry_t *e = key_entry(ch, key);
  for (int t = 0; t < LATEST_TRIES; t++) {
    uint64_t v1 = ld_acquire(&e->ver);
    if (!(v1 & KEY_VER_SEQ)) return MMBUS_E_NOENT;
    uint32_t b = (uint32_t)(v1 >> KEY_VER_CUR_SHIFT);
    if (b >= KEY_BUFFERS) return mmbus_set_err(MMBUS_E_CORRUPT, "'%s': key %llu names buffer %u: the file was damaged",
                                               ch->path, (unsigned long long)key, b);
    memcpy(out, key_buffer(ch, e, b), ch->record_size);
    fence_acquire();
    if (ld_relaxed(&e->ver) == v1) {
      *version = v1 & KEY_VER_SEQ;
      if (*version > ld_acquire(ch->head) || record_key(ch, out) != key)
        return mmbus_set_err(MMBUS_E_CORRUPT, "'%s': the latest value of key %llu is %s: the file was damaged", ch->path,
                             (unsigned long long)key, *version > ld_acquire(ch->head) ? "beyond head" : "another key's");
      return 0;
    }
    cpu_relax();
  }
  return mmbus_set_err(MMBUS_E_BUSY, "'%s': key %llu changed %d times while it was read", ch->path,
                       (unsigned long long)key, LATEST_TRIES);
}

int mmbus_latest(const mmbus_channel_t *ch, uint64_t key, void *out, size_t size, uint64_t *seq) {
  if (!ch || !out) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  int rc = require_keyed(ch);
  if (rc) return rc;
  if (size != ch->record_size)
    return mmbus_set_err(MMBUS_E_TOOBIG, "buffer of %zu bytes for %u-byte records", size, ch->record_size);
  if (key >= ch->key_count)
    return mmbus_set_err(MMBUS_E_INVAL, "key %llu is out of range 0..%llu of '%s'", (unsigned long long)key,
                         (unsigned long long)(ch->key_count - 1), ch->path);
  uint64_t version;
  rc = read_latest(ch, key, out, &version);
  if (rc == MMBUS_E_NOENT) return mmbus_set_err(MMBUS_E_NOENT, "no record of key %llu was published on '%s'",
                                                (unsigned long long)key, ch->path);
  if (rc) return rc;
  if (seq) *seq = version - 1;
  return 0;
}

static inline int bit(const uint8_t *set, uint64_t k) { return (set[k >> 3] >> (k & 7)) & 1; }
static inline void bit_set(uint8_t *set, uint64_t k) { set[k >> 3] = (uint8_t)(set[k >> 3] | (1u << (k & 7))); }
static inline void bit_clear(uint8_t *set, uint64_t k) { set[k >> 3] = (uint8_t)(set[k >> 3] & ~(1u << (k & 7))); }

/* The next key >= k whose bit is set, or `count`: whole clear bytes at a time. */
static uint64_t next_bit(const uint8_t *set, uint64_t k, uint64_t count) {
  while (k < count) {
    if (!set[k >> 3]) k = (k | 7) + 1;
    else if (bit(set, k)) return k;
    else k++;
  }
  return count;
}

#define HAD_PAGE_KEYS 1024u /* a subscriber's memory grows with the keys it asks for, not the channel's */

static inline uint64_t *had_of(const mmbus_sub_t *sub, uint64_t k) {
  uint64_t *page = sub->had[k / HAD_PAGE_KEYS];
  return page ? page + k % HAD_PAGE_KEYS : NULL;
}

void sub_keys_free(mmbus_sub_t *sub) {
  if (sub->had)
    for (uint64_t i = 0; i < (sub->ch->key_count + HAD_PAGE_KEYS - 1) / HAD_PAGE_KEYS; i++) free(sub->had[i]);
  free(sub->had);
  free(sub->asked);
  free(sub->snap_pending);
  free(sub->undo);
  sub->undo = NULL;
  sub->had = NULL;
  sub->asked = sub->snap_pending = NULL;
}

static int keyed_state(mmbus_sub_t *sub) {
  mmbus_channel_t *ch = sub->ch;
  int rc = require_keyed(ch);
  if (rc || sub->asked) return rc;
  size_t bytes = (size_t)((ch->key_count + 7) / 8);
  sub->asked = calloc(bytes, 1);
  sub->snap_pending = calloc(bytes, 1);
  sub->had = calloc((size_t)((ch->key_count + HAD_PAGE_KEYS - 1) / HAD_PAGE_KEYS), sizeof *sub->had);
  if (!sub->asked || !sub->snap_pending || !sub->had) {
    sub_keys_free(sub);
    return mmbus_set_err(MMBUS_E_NOMEM, "out of memory for the key sets of %llu keys", (unsigned long long)ch->key_count);
  }
  return 0;
}

static int key_range(const mmbus_sub_t *sub, uint64_t first, uint64_t count) {
  uint64_t n = sub->ch->key_count;
  if (count == 0 || first >= n || count > n - first)
    return mmbus_set_err(MMBUS_E_INVAL, "keys [%llu, %llu + %llu) are not a non-empty range of 0..%llu",
                         (unsigned long long)first, (unsigned long long)first, (unsigned long long)count,
                         (unsigned long long)(n - 1));
  return 0;
}

static void snap_mark(mmbus_sub_t *sub, uint64_t k) {
  bit_set(sub->snap_pending, k);
  sub->snap_count++;
  if (k < sub->snap_next) sub->snap_next = k;
  if (k < sub->snap_ahead) sub->snap_ahead = k; /* not fetched ahead yet */
  if (k < sub->snap_ahead_buf) sub->snap_ahead_buf = k;
}

/* After a lap or a resume: every asked key whose latest value is newer than what the subscriber had
 * of it gets that value (mmbus_sub_snapshot), instead of the changes it missed. */
static void resnapshot_changed(mmbus_sub_t *sub) {
  mmbus_channel_t *ch = sub->ch;
  for (uint64_t k = next_bit(sub->asked, 0, ch->key_count); k < ch->key_count; k = next_bit(sub->asked, k + 1, ch->key_count)) {
    if (bit(sub->snap_pending, k)) continue;
    if ((ld_acquire(&key_entry(ch, k)->ver) & KEY_VER_SEQ) > *had_of(sub, k)) snap_mark(sub, k);
  }
  if (!sub->snap_count) owed_settled(sub); /* nothing changed that it did not have */
}

struct had_undo {
  uint32_t i;   /* record of the batch */
  uint64_t key, before;
};

/* The first `bad` records of the batch were overwritten before the reader had them: what mmbus_sub_wants
 * counted as had of them is taken back, and the keys' latest values are given instead. */
static void spoilt_values(mmbus_sub_t *sub, uint32_t bad) {
  for (uint32_t j = sub->undo_n; j-- > 0;)
    if (sub->undo[j].i < bad) *had_of(sub, sub->undo[j].key) = sub->undo[j].before;
  sub->undo_n = 0;
  resnapshot_changed(sub);
}

/* A subscriber that has read nothing yet may sit at head while claims below it are still in flight:
 * their keys are updated only at their commit, after this subscriber's snapshot. It starts at the
 * oldest claim in flight instead, and the version check of mmbus_sub_wants drops what the snapshot had. */
static void rewind_to_frontier(mmbus_sub_t *sub) {
  mmbus_channel_t *ch = sub->ch;
  uint64_t h = ld_acquire(ch->head), lo = h;
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    const pub_slot_t *p = &ch->pubs[i];
    if (ld_acquire(&p->state) != PUB_ACTIVE) continue;
    uint64_t raw = ld_acquire(&p->pending);
    if (raw == MMBUS_NO_CLAIM || (raw & PENDING_REVOKED)) continue;
    if (PENDING_SEQ(raw) < lo) lo = PENDING_SEQ(raw);
  }
  uint64_t bound = h > ch->capacity ? h - ch->capacity : 0;
  if (lo < bound) lo = bound;
  if (lo < sub->cursor) {
    sub->cursor = lo;
    sub->align = SKIP_FREE;
    publish_cursor(sub); /* publishers hold back for these too */
  }
}

int mmbus_sub_ask(mmbus_sub_t *sub, uint64_t first, uint64_t count, int snapshot) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  int rc = keyed_state(sub);
  if (rc == 0) rc = key_range(sub, first, count);
  if (rc) return rc;
  if (snapshot < MMBUS_SNAPSHOT_NONE || snapshot > MMBUS_SNAPSHOT_CHANGED)
    return mmbus_set_err(MMBUS_E_INVAL, "snapshot %d: MMBUS_SNAPSHOT_NONE, _ALL or _CHANGED", snapshot);
  if (snapshot && sub->has_batch)
    return mmbus_set_err(MMBUS_E_STATE, "ack the batch in hand before asking for snapshots");
  for (uint64_t pg = first / HAD_PAGE_KEYS; pg <= (first + count - 1) / HAD_PAGE_KEYS; pg++)
    if (!sub->had[pg] && !(sub->had[pg] = calloc(HAD_PAGE_KEYS, sizeof **sub->had)))
      return mmbus_set_err(MMBUS_E_NOMEM, "out of memory for the keys asked");
  if (snapshot && !sub->read_any) rewind_to_frontier(sub);
  if (snapshot) os_prefault_read(key_entry(sub->ch, first), (size_t)(count * sub->ch->key_entry_size)); /* read soon */
  for (uint64_t k = first; k < first + count; k++) {
    if (bit(sub->asked, k)) continue;
    bit_set(sub->asked, k);
    /* CHANGED: what it consumed before it went away counts as had */
    *had_of(sub, k) = snapshot == MMBUS_SNAPSHOT_CHANGED && !sub->read_any ? sub->resumed_at : 0;
    if (snapshot) snap_mark(sub, k);
  }
  if (snapshot && sub->behind_from != UINT64_MAX) { /* back after a lap: what changed meanwhile */
    resnapshot_changed(sub);
    sub->behind_from = UINT64_MAX;
  }
  return 0;
}

int mmbus_sub_unask(mmbus_sub_t *sub, uint64_t first, uint64_t count) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  int rc = keyed_state(sub);
  if (rc == 0) rc = key_range(sub, first, count);
  if (rc) return rc;
  for (uint64_t k = first; k < first + count; k++) {
    if (!bit(sub->asked, k)) continue;
    bit_clear(sub->asked, k);
    if (bit(sub->snap_pending, k)) {
      bit_clear(sub->snap_pending, k);
      sub->snap_count--;
    }
  }
  return 0;
}

/* A snapshot reads the table in key order: the headers of the pending keys among the next
 * 2 * SNAPSHOT_AHEAD keys, then the current buffers of those among the next SNAPSHOT_AHEAD (their
 * headers there by then), each fetched once: the lines read, and only those, arrive ahead. */
static void snapshot_prefetch(mmbus_sub_t *sub, uint64_t k) {
  const mmbus_channel_t *ch = sub->ch;
  uint64_t n = ch->key_count, far = k + 1 + 2 * SNAPSHOT_AHEAD < n ? k + 1 + 2 * SNAPSHOT_AHEAD : n,
           near = k + 1 + SNAPSHOT_AHEAD < n ? k + 1 + SNAPSHOT_AHEAD : n;
  for (uint64_t a = sub->snap_ahead > k ? sub->snap_ahead : k + 1; a < far; a++)
    if (bit(sub->snap_pending, a)) prefetch_read(key_entry(ch, a));
  if (far > sub->snap_ahead) sub->snap_ahead = far;
  for (uint64_t a = sub->snap_ahead_buf > k ? sub->snap_ahead_buf : k + 1; a < near; a++)
    if (bit(sub->snap_pending, a)) prefetch_current_buffer(ch, a);
  if (near > sub->snap_ahead_buf) sub->snap_ahead_buf = near;
}

int mmbus_sub_snapshot(mmbus_sub_t *sub, void *out, size_t size, uint64_t *key, uint64_t *seq) {
  if (!sub || !out) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  mmbus_channel_t *ch = sub->ch;
  int rc = require_keyed(ch);
  if (rc) return rc;
  if (size != ch->record_size)
    return mmbus_set_err(MMBUS_E_TOOBIG, "buffer of %zu bytes for %u-byte records", size, ch->record_size);
  while (sub->snap_count) {
    uint64_t k = next_bit(sub->snap_pending, sub->snap_next, ch->key_count);
    if (k >= ch->key_count) { /* cannot happen while snap_count > 0 unless the sets disagree */
      sub->snap_count = 0;
      break;
    }
    bit_clear(sub->snap_pending, k);
    sub->snap_count--;
    sub->snap_next = k + 1;
    snapshot_prefetch(sub, k);
    uint64_t version, *had = had_of(sub, k);
    rc = read_latest(ch, k, out, &version);
    if (rc == MMBUS_E_NOENT) continue; /* never published: nothing to give; its first record will come */
    if (rc) return rc;
    if (version <= *had) continue; /* the stream gave it this one already */
    *had = version;
    if (key) *key = k;
    if (seq) *seq = version - 1;
    return 1;
  }
  sub->snap_next = UINT64_MAX;
  return 0;
}

/* Callers ask record by record, in order: the key of the record this far ahead is fetched meanwhile. */
#define WANTS_AHEAD 16

int mmbus_sub_wants(mmbus_sub_t *sub, const mmbus_batch_t *b, uint32_t i) {
  if (!sub || !b) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (!sub->asked) return 1; /* asked for nothing in particular: every record */
  if (i >= b->n) return mmbus_set_err(MMBUS_E_INVAL, "record %u of a batch of %u", i, b->n);
  if (i + WANTS_AHEAD < b->n) __builtin_prefetch((const uint8_t *)mmbus_batch_record(b, i + WANTS_AHEAD) + sub->ch->key_offset);
  uint64_t k = record_key(sub->ch, mmbus_batch_record(b, i));
  if (k >= sub->ch->key_count || !bit(sub->asked, k)) return 0;
  uint64_t version = b->seq + i + 1, *had = had_of(sub, k);
  if (version <= *had) return 0; /* the snapshot already had this one, or a later one */
  if (sub->undo_n == sub->undo_cap) {
    uint32_t cap = sub->undo_cap ? sub->undo_cap * 2 : 256;
    struct had_undo *u = realloc(sub->undo, (size_t)cap * sizeof *u);
    if (!u) return mmbus_set_err(MMBUS_E_NOMEM, "out of memory for the subscriber's key bookkeeping");
    sub->undo = u;
    sub->undo_cap = cap;
  }
  sub->undo[sub->undo_n++] = (struct had_undo){i, k, *had};
  *had = version;
  return 1;
}
