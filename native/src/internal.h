/* Internal structures: the channel file layout (docs/format.md) and the process-local handles. */
#ifndef MMBUS_INTERNAL_H
#define MMBUS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "atomics.h"
#include "mmbus.h"
#include "os.h"

#define MMBUS_STR_(x) #x
#define MMBUS_STR(x) MMBUS_STR_(x)
#define MMBUS_VERSION_STRING \
  MMBUS_STR(MMBUS_VERSION_MAJOR) "." MMBUS_STR(MMBUS_VERSION_MINOR) "." MMBUS_STR(MMBUS_VERSION_PATCH)

#define MMBUS_MAGIC "MMBUSCH1"        /* 8 bytes, no NUL */
#define MMBUS_ENDIAN_MARK 0x01020304u /* written in the writer's byte order */
#define MMBUS_HEADER_SIZE 4096u
#define MMBUS_LINE 128u               /* hot words are 128 bytes apart: no false sharing, even with
                                         adjacent-line prefetch */
#define MMBUS_SLOT_SIZE 128u          /* subscriber and publisher table entries */

/* Stamp word of a ring slot: the sequence of the lap last written there, plus one, and two flags. */
#define STAMP_ABANDONED (UINT64_C(1) << 63) /* claimed, but no record will ever be there */
#define STAMP_CONT (UINT64_C(1) << 62)      /* not the first record of its claim */
#define STAMP_SEQ_MASK (STAMP_CONT - 1)
#define MMBUS_NO_CLAIM UINT64_MAX           /* publisher slot: no claim in flight */
/* The publisher slot's `pending` word: the first sequence of the claim in flight, and where it stands.
 * One CAS on it (the owner's: to COMMITTING; a giver-up's: to REVOKED) decides the claim. */
#define PENDING_COMMITTING (UINT64_C(1) << 62) /* decided: committed; its first stamp is written next */
#define PENDING_REVOKED (UINT64_C(1) << 63)    /* decided: given up (by others, or aborted) */
#define PENDING_SEQ(p) ((p) & STAMP_SEQ_MASK)

#define MMBUS_DEFAULT_CAPACITY 65536u
#define MMBUS_DEFAULT_MAX_SUBS 64u
#define MMBUS_DEFAULT_MAX_PUBS 64u
#define MMBUS_DEFAULT_BLOCK_TIMEOUT_MS 5000
#define MMBUS_DEFAULT_HEARTBEAT_TIMEOUT_MS 5000
#define MMBUS_DEFAULT_UNBLOCK_TIMEOUT_MS 1000
#define MMBUS_DEFAULT_LOCK_TIMEOUT_MS 5000

/* Static header, bytes 0..255, written once at creation (before the file gets its name). */
typedef struct file_header {
  char magic[8];                /*   0 */
  uint32_t version;             /*   8 */
  uint32_t endian;              /*  12 */
  uint32_t header_size;         /*  16 */
  uint32_t record_size;         /*  20 */
  uint32_t record_stride;       /*  24 */
  uint32_t capacity_log2;       /*  28 */
  uint64_t capacity;            /*  32 */
  uint32_t max_subscribers;     /*  40 */
  uint32_t max_publishers;      /*  44 */
  uint32_t policy;              /*  48 */
  uint32_t flags;               /*  52 */
  uint64_t fingerprint;         /*  56 */
  char schema_name[64];         /*  64 */
  uint64_t created_ns;          /* 128 */
  int64_t block_timeout_ms;     /* 136 */
  int64_t heartbeat_timeout_ms; /* 144 */
  uint64_t subs_offset;         /* 152 */
  uint64_t pubs_offset;         /* 160 */
  uint64_t stamps_offset;       /* 168 */
  uint64_t data_offset;         /* 176 */
  uint64_t file_size;           /* 184 */
  uint64_t header_checksum;     /* 192: FNV-1a 64 of bytes 0..255, this field taken as 0 */
  int64_t unblock_timeout_ms;   /* 200 */
  uint64_t key_count;           /* 208 keyed (HFLAG_KEYED): keys 0..key_count-1 */
  uint32_t key_offset;          /* 216 the key field in a record... */
  uint32_t key_size;            /* 220 ...1, 2, 4 or 8 bytes, unsigned little-endian */
  uint64_t keys_offset;         /* 224 the key table (computed) */
  uint64_t layout_offset;       /* 232 described (HFLAG_LAYOUT): the record layout description (computed) */
  uint32_t layout_size;         /* 240 ...its bytes, 1..MMBUS_LAYOUT_MAX */
  uint32_t reserved;            /* 244 */
  uint64_t layout_checksum;     /* 248 ...FNV-1a 64 of them */
} file_header_t;
_Static_assert(sizeof(file_header_t) == 256, "header layout");

#define HFLAG_KEYED 0x1u /* header flag: the file holds a key table (docs/format.md §11) */
#define HFLAG_LAYOUT 0x2u /* header flag: the file describes its record layout (docs/format.md §13) */
#define HFLAG_BARRIER_DECIDES 0x4u /* header flag: a commit is decided by a plain store, which whoever gives
                                      a claim up makes certain with a system-wide barrier (format.md §8.8) */
#define HFLAG_EXCLUSIONS_COUNTED 0x8u /* header flag: publishers count themselves in `excluding` while a
                                         limit of theirs leaves a subscriber out, so readers look at head
                                         only then (docs/format.md §8.6) */
#define HFLAGS_KNOWN (HFLAG_KEYED | HFLAG_LAYOUT | HFLAG_BARRIER_DECIDES | HFLAG_EXCLUSIONS_COUNTED)

/* A key table entry: the latest record of one key, in one of three buffers (a writer fills a buffer
 * nobody reads, then flips `ver`; a stopped writer can only ever hold one of them). */
#define KEY_BUFFERS 3u
#define KEY_VER_SEQ (STAMP_SEQ_MASK)         /* ver bits 0..61: sequence + 1 of the record held (0: none) */
#define KEY_VER_CUR_SHIFT 62                 /* ver bits 62..63: the buffer holding it */
#define KEY_HEADER_SIZE 64u /* the buffers start on a cache line: a 128-byte record is two lines */
typedef struct key_entry {
  uint64_t ver;                   /* A */
  uint64_t busy[KEY_BUFFERS];     /* A: 0, or the writer's token while it fills that buffer */
  uint8_t reserved[KEY_HEADER_SIZE - 8 * (1 + KEY_BUFFERS)];
  /* then KEY_BUFFERS buffers of record_stride bytes */
} key_entry_t;
_Static_assert(sizeof(key_entry_t) == KEY_HEADER_SIZE, "key entry header");

/* Mutable control lines after the static header. */
#define OFF_LOCK_LINE 256u  /* int32 holder_pid, u32 0, u64 holder_pid_ns: who took the table lock last */
#define OFF_HEAD_LINE 384u  /* uint64_t head: next sequence number to claim;
                               uint64_t attach_epoch (at +8): bumped when a subscriber attaches */
#define OFF_DATA_WAKE 512u  /* uint32_t futex; uint32_t need_wake: subscribers sleeping for data */
#define OFF_SPACE_WAKE 640u /* uint32_t futex; uint32_t need_wake: publishers sleeping for space */
#define OFF_FENCE_LINE 768u /* uint32_t helped_claims: read by every claim, written only when one
                               claim's first stamp had to be written by another process;
                               uint32_t excluding (at +4): publisher slots whose `excluding` is set,
                               read by every acknowledgement, written only when that changes */

/* Byte-range locks, far beyond the end of any channel file: each attached subscriber and publisher
 * holds the byte of its slot, so its liveness can be tested from any process, any PID namespace. */
#define LOCK_BASE (UINT64_C(1) << 62)
#define LOCK_TABLE LOCK_BASE
#define LOCK_SUB(i) (LOCK_BASE + 1 + (uint64_t)(i))
#define LOCK_PUB(i) (LOCK_BASE + 1 + MMBUS_MAX_SUBSCRIBERS_LIMIT + (uint64_t)(i))

typedef struct wake_line {
  uint32_t futex;     /* bumped before every wake */
  uint32_t need_wake; /* set by a sleeper; whoever clears it wakes everyone */
  uint32_t os_word;   /* the OS layer's (Windows: the sleepers' count); 0 and unused on Linux */
} wake_line_t;

enum { SUB_FREE = 0, SUB_ACTIVE = 1, SUB_OFFLINE = 2 };
enum { PUB_FREE = 0, PUB_ACTIVE = 1 };

typedef struct sub_slot {
  uint32_t state;         /*   0 SUB_* */
  uint32_t durable;       /*   4 */
  uint64_t cursor;        /*   8 next sequence to consume */
  uint64_t lost;          /*  16 */
  int32_t pid;            /*  24 informational */
  uint32_t generation;    /*  28 bumped at every attach */
  uint64_t pid_ns;        /*  32 informational */
  uint64_t heartbeat_ns;  /*  40 the owner's CLOCK_MONOTONIC; others only look whether it changes */
  uint64_t attached_ns;   /*  48 CLOCK_REALTIME */
  char name[64];          /*  56 durable name, NUL-terminated */
  uint64_t owed_since;    /* 120 durable keyed: 1 + the cursor up to which it had every record, while a
                                 snapshot that stands in for records it missed is not yet all taken;
                                 0 when nothing is owed (docs/format.md §7) */
} sub_slot_t;
_Static_assert(sizeof(sub_slot_t) == MMBUS_SLOT_SIZE, "subscriber slot layout");

typedef struct pub_slot {
  uint32_t state;        /*   0 PUB_* */
  int32_t pid;           /*   4 informational */
  uint64_t pid_ns;       /*   8 informational */
  uint64_t pending;      /*  16 first sequence of the claim in flight, or MMBUS_NO_CLAIM */
  uint64_t pending_n;    /*  24 records of that claim */
  uint64_t published;    /*  32 records committed by this publisher */
  uint64_t attached_ns;  /*  40 CLOCK_REALTIME */
  uint64_t progress;     /*  48 bumped while the owner waits holding a claim: it is not stuck */
  uint64_t revoked;      /*  56 first sequence + 1 of a claim others gave up, until its owner is done */
  uint64_t revoked_n;    /*  64 records of that claim */
  uint32_t claiming;     /*  72 1 from the announcement until the claim is handed to the caller: its
                                 slots are not being written yet (readers' overrun check) */
  uint32_t excluding;    /*  76 EXCLUSIONS_COUNTED: 1 while records this slot's claims overwrote may still be
                                 read by a subscriber its limit left out (counted in the fence line) */
  uint64_t helped;       /*  80 first sequence + 1 of a committing claim that another process
                                 completed (stamps, keys), until its owner has completed it too */
  uint64_t helped_n;     /*  88 records of that claim */
  uint64_t updating;     /*  96 keyed: key + 1 of the key buffer the owner is filling (0: none), for
                                 whoever takes the slot over after the owner died */
  uint64_t decided;      /* 104 HFLAG_BARRIER_DECIDES: first sequence + 1 of the claim its owner decided to
                                 commit (stored before its stamps; no CAS) */
  uint64_t revoking;     /* 112 HFLAG_BARRIER_DECIDES: first sequence + 1 of the claim another process is
                                 about to give up (stored before its barrier) */
  uint8_t reserved[8];   /* 120 */
} pub_slot_t;
_Static_assert(sizeof(pub_slot_t) == MMBUS_SLOT_SIZE, "publisher slot layout");

/* What a waiter remembers of the publishers holding it up, to tell a stuck one from a slow one. */
typedef struct stuck_watch {
  uint64_t *pending;   /* per publisher slot: its claim when last seen */
  uint64_t *progress;
  uint64_t *since_ns;  /* when that claim was first seen unchanged */
  uint64_t hole_seq;   /* the gap being waited at, UINT64_MAX if none */
  uint64_t hole_since_ns;
} stuck_watch_t;

/* Process-local handles. */
struct mmbus_channel {
  os_file_t file;
  os_file_id_t file_id;    /* what the path referred to at open */
  uint8_t *base;
  size_t size;
  volatile int *broken;    /* set by the SIGBUS guard when the file shrank under the mapping */
  int readonly;
  int failed;              /* sticky MMBUS_E_STALE / MMBUS_E_CORRUPT once detected */
  uint32_t mode;           /* the caller's sharing mode (permission bits) */
  file_header_t hdr;       /* validated private copy of the static header */
  uint64_t *head;
  uint64_t *attach_epoch;  /* beside head: read on every claim at no extra cache miss */
  uint64_t seen_epoch;
  wake_line_t *data_wake;
  wake_line_t *space_wake;
  uint32_t *helped_claims;
  int barrier_decides;     /* HFLAG_BARRIER_DECIDES */
  uint32_t *excluding;     /* HFLAG_EXCLUSIONS_COUNTED: the fence line's count, else NULL */
  uint64_t claimed_end;    /* end of this handle's last claim */
  uint64_t laps_seen_from; /* [from, end): sequences whose slot this handle saw hold its previous lap */
  uint64_t laps_seen_end;  /* committed (previous_laps_done); 0, 0 before the first claim */
  uint8_t *keys;           /* keyed: the key table */
  uint64_t key_count;
  uint64_t key_entry_size;
  uint32_t key_offset, key_size;
  uint64_t last_key;       /* keyed: the key of this handle's last one-record publish (prefetch_key_stream) */
  int prefetchw;           /* the CPU has an exclusive prefetch (prefetch_exclusive) */
  os_waker_t data_waker;
  os_waker_t space_waker;
  sub_slot_t *subs;
  pub_slot_t *pubs;
  uint64_t *stamps;
  uint8_t *data;
  uint64_t mask;
  uint64_t capacity;
  uint32_t record_size;
  uint32_t stride;
  mmbus_policy_t policy;
  int64_t block_timeout_ms;
  uint64_t heartbeat_timeout_ns;
  uint64_t unblock_timeout_ns;
  int64_t lock_timeout_ms;
  pub_slot_t *pub;         /* this handle's publisher slot, attached at first claim */
  int pub_index;
  uint64_t limit;          /* publishing below this sequence needs no subscriber scan */
  uint64_t *verified_ns;   /* per subscriber slot: when its owner was last found alive */
  uint32_t *verified_gen;
  uint64_t *hb_value;      /* per subscriber slot: its heartbeat word when last seen changing... */
  uint64_t *hb_changed_ns; /* ...and when, by this process's clock */
  uint8_t *own_subs;       /* per subscriber slot: attached through this handle */
  stuck_watch_t watch;     /* the publishing side's */
  uint32_t claims_unchecked;
  uint64_t next_check_ns;
  int open_subs;
  char path[MMBUS_PATH_MAX + 1];
};

enum { ALIGNED = 0, SKIP_LOST = 1, SKIP_FREE = 2 };

struct mmbus_sub {
  mmbus_channel_t *ch;
  sub_slot_t *slot;
  int index;
  uint32_t generation;
  int durable;
  uint64_t cursor;         /* local copy; the slot's cursor is stored on ack */
  int align;               /* ALIGNED: the cursor is at a claim's first record or inside a claim
                              whose first record was read; else records of a claim whose start
                              was not seen are stepped over (counted lost after a lap: SKIP_LOST) */
  uint64_t batch_seq;      /* last polled batch */
  uint32_t batch_n;
  int has_batch;
  int64_t checked_overrun; /* result of mmbus_sub_overrun for this batch, or -1 */
  uint64_t lost;
  uint64_t last_heartbeat_ns;
  int flowing;             /* data arrived recently: spin a little before sleeping */
  uint64_t spin_ns;        /* how long (mmbus_sub_options_t.spin_us): 0 = not at all */
  uint64_t coalesce_ns;    /* mmbus_sub_options_t.coalesce_us: 0 = off */
  uint64_t records_at_ns;  /* coalescing: when mmbus_wait last returned records... */
  uint64_t records_at_head; /* ...and the channel's head then */
  double records_per_ns;   /* ...and how fast the head moved between its last two such returns */
  uint32_t interrupted;    /* set by mmbus_sub_interrupt from any thread */
  int chasing;             /* the last batch was small and right behind the publisher */
  stuck_watch_t watch;     /* poll and wait (never at the same time) */
  uint64_t next_check_ns;
  /* keyed: what it asked for, what it had of each key, and snapshot values still to give */
  uint8_t *asked;          /* bit per key */
  uint64_t **had;          /* per key: sequence + 1 of the newest record given (snapshot or change), in
                              pages of HAD_PAGE_KEYS allocated when a key in them is asked */
  uint8_t *snap_pending;   /* bit per key: its snapshot value is still to be given */
  uint64_t snap_next;      /* first key that may be pending */
  uint64_t snap_count;     /* keys pending */
  uint64_t snap_ahead;     /* keys below this had their entry headers fetched for the snapshot */
  uint64_t snap_ahead_buf; /* ... and their current buffers */
  uint64_t behind_from;    /* keyed: a durable cursor that resumed behind the ring, until a snapshot
                              (or the first poll, which then counts the skipped records lost); else
                              UINT64_MAX */
  uint64_t behind_to;
  uint64_t resumed_at;     /* durable, resumed: the cursor it had stored (what it consumed before) */
  int read_any;            /* a batch was handed out since subscribing */
  int owes;                /* keyed, durable: the slot's owed_since is set (a snapshot stands in) */
  struct had_undo *undo;   /* what mmbus_sub_wants changed in the batch in hand, to take back what an
                              overwrite spoilt before the reader had it */
  uint32_t undo_n, undo_cap;
};

/* error.c */
int mmbus_set_err(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* `err` is the OS's own error number (errno; Windows: GetLastError()), described by os_error_text. */
int mmbus_set_errno(int code, int err, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* channel.c, shared with ring.c */
int chan_lock(mmbus_channel_t *ch);
void chan_unlock(mmbus_channel_t *ch);
int chan_unusable(mmbus_channel_t *ch); /* chan_usable's error, when there is one */
/* 0 while the handle may be used: the file neither shrank under the mapping nor was replaced (sticky
 * MMBUS_E_CORRUPT / MMBUS_E_STALE otherwise). Inline: every claim, commit and poll asks. */
static inline int chan_usable(mmbus_channel_t *ch) {
  return likely(!*ch->broken && !ld_relaxed(&ch->failed)) ? 0 : chan_unusable(ch);
}
void chan_periodic_check(mmbus_channel_t *ch, uint64_t now);
int sub_slot_alive(mmbus_channel_t *ch, uint32_t i);
int pub_slot_alive(mmbus_channel_t *ch, uint32_t i);
/* The length of a claim as a publisher slot records it (`pending_n`, `revoked_n`, `helped_n`):
 * 1..capacity, or 0 when that is impossible (the file was damaged: no such claim). Everything that
 * walks or fences a claim's records takes its length from here. */
static inline uint32_t claim_len(const mmbus_channel_t *ch, const uint64_t *len) {
  uint64_t n = ld_relaxed(len);
  return n >= 1 && n <= ch->capacity && n <= UINT32_MAX ? (uint32_t)n : 0;
}
void sub_reclaim_locked(mmbus_channel_t *ch, uint32_t i);
void wake(mmbus_channel_t *ch, wake_line_t *w, os_waker_t *waker);
uint64_t header_checksum(const file_header_t *h);
int watch_init(stuck_watch_t *w, uint32_t publishers);
void watch_free(stuck_watch_t *w);

/* How long a wait that starts spinning spins: a subscriber's when its spin_us is 0, and others'. */
#define SPIN_DEFAULT_NS ((uint64_t)MMBUS_SPIN_DEFAULT_US * 1000u)

/* ring.c, shared with channel.c */
void pub_resolve_locked(mmbus_channel_t *ch, pub_slot_t *p);
int pub_finish_own(mmbus_channel_t *ch);
void pub_settle_exclusion(mmbus_channel_t *ch);
int pub_take_over_locked(mmbus_channel_t *ch, uint32_t i);
static inline key_entry_t *key_entry(const mmbus_channel_t *ch, uint64_t key) {
  return (key_entry_t *)(ch->keys + key * ch->key_entry_size);
}
static inline uint8_t *key_buffer(const mmbus_channel_t *ch, key_entry_t *e, uint32_t b) {
  return (uint8_t *)e + sizeof(key_entry_t) + (size_t)b * ch->stride;
}
/* The key of a record: the unsigned little-endian integer of key_size (1, 2, 4 or 8: validated at
 * open) bytes at key_offset. A commit reads it several times per record: one fixed-size load each. */
static inline uint64_t record_key(const mmbus_channel_t *ch, const uint8_t *record) {
  const uint8_t *p = record + ch->key_offset;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint8_t k1;
  uint16_t k2;
  uint32_t k4;
  uint64_t k8;
  switch (ch->key_size) {
  case 1: memcpy(&k1, p, 1); return k1;
  case 2: memcpy(&k2, p, 2); return k2;
  case 4: memcpy(&k4, p, 4); return k4;
  default: memcpy(&k8, p, 8); return k8;
  }
#else
  uint64_t k = 0;
  for (uint32_t i = ch->key_size; i-- > 0;) k = (k << 8) | p[i];
  return k;
#endif
}
void sub_keys_free(mmbus_sub_t *sub);
void owed_settled(mmbus_sub_t *sub); /* a durable keyed subscriber had the snapshot it was owed */

#endif
