/*
 * libmmbus: a same-host publish/subscribe bus on memory-mapped files.
 *
 * A channel is one file, <dir>/<name>.db, holding a ring of fixed-size records. Publishers and
 * subscribers in any processes map it and move cursors in it. The byte layout and the protocol are
 * specified in docs/format.md; the guarantees in docs/api.md.
 *
 * Conventions: functions return 0 (or a count) on success and a negative MMBUS_E_* code on failure;
 * mmbus_errmsg() gives a per-thread detail message for the last failure of the calling thread.
 * Every options and facts struct has an init function (or is filled by the library) and reserved
 * room, so that later versions can add fields without breaking callers built against this header.
 */
#ifndef MMBUS_H
#define MMBUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#if defined(MMBUS_SHARED_BUILD)
#define MMBUS_API __declspec(dllexport)
#else
#define MMBUS_API
#endif
#elif defined(__GNUC__)
#define MMBUS_API __attribute__((visibility("default")))
#else
#define MMBUS_API
#endif

#define MMBUS_VERSION_MAJOR 0
#define MMBUS_VERSION_MINOR 2
#define MMBUS_VERSION_PATCH 0
#define MMBUS_FORMAT_VERSION 2u

#define MMBUS_NAME_MAX 128        /* channel name, bytes, excluding NUL */
#define MMBUS_SUB_NAME_MAX 63     /* durable subscriber name, bytes, excluding NUL */
#define MMBUS_SCHEMA_NAME_MAX 63  /* schema name stored in the header, excluding NUL */
#define MMBUS_PATH_MAX 4096       /* directory + "/" + name + ".db", bytes, excluding NUL */
#define MMBUS_RECORD_SIZE_MAX 65536u
#define MMBUS_CAPACITY_MAX (UINT64_C(1) << 32)
#define MMBUS_MAX_SUBSCRIBERS_LIMIT 4096u
#define MMBUS_MAX_PUBLISHERS_LIMIT 4096u
#define MMBUS_TIMEOUT_MAX_MS (INT64_C(1) << 40) /* ~35 years: every time-out is 0..this */
#define MMBUS_KEY_COUNT_MAX (UINT64_C(1) << 24) /* keys of a keyed channel (16.7 M) */
#define MMBUS_LAYOUT_MAX (1u << 20)               /* bytes of a channel's record layout description */

/* ---- errors ----------------------------------------------------------------------------------
 * The one list of error codes: X(name, value, description). Bindings generate their tables from it
 * (mmbus_errname/mmbus_strerror, the Node addon's code list). */
#define MMBUS_ERRORS(X)                                                                             \
  X(MMBUS_OK, 0, "success")                                                                         \
  X(MMBUS_E_INVAL, -1, "invalid argument")                                                          \
  X(MMBUS_E_NAME, -2, "invalid name")                                                               \
  X(MMBUS_E_NOENT, -3, "channel or record does not exist")                                          \
  X(MMBUS_E_EXIST, -4, "channel already exists")                                                    \
  X(MMBUS_E_DIR, -5, "directory missing, unsafe or not writable")                                   \
  X(MMBUS_E_IO, -6, "operating system error")                                                       \
  X(MMBUS_E_BADFILE, -7, "not a valid channel file")                                                \
  X(MMBUS_E_VERSION, -8, "unsupported channel file version, byte order or feature")                 \
  X(MMBUS_E_MISMATCH, -9, "options contradict the existing channel")                                \
  X(MMBUS_E_SCHEMA, -10, "schema differs from the channel's")                                       \
  X(MMBUS_E_FULL, -11, "channel full")                                                              \
  X(MMBUS_E_TIMEOUT, -12, "timed out")                                                              \
  X(MMBUS_E_BUSY, -13, "held by another live process")                                              \
  X(MMBUS_E_NOSLOT, -14, "no free subscriber or publisher slot")                                    \
  X(MMBUS_E_CLOSED, -15, "handle is closed")                                                        \
  X(MMBUS_E_NOMEM, -16, "out of memory")                                                            \
  X(MMBUS_E_TOOBIG, -17, "batch, record or value size out of range")                                \
  X(MMBUS_E_NOSPACE, -18, "no disk space for the channel file")                                     \
  X(MMBUS_E_PERM, -19, "permission denied")                                                         \
  X(MMBUS_E_STATE, -20, "call out of order")                                                        \
  X(MMBUS_E_INTR, -21, "wait interrupted")                                                          \
  X(MMBUS_E_REVOKED, -22, "claim given up after the unblock time-out")                              \
  X(MMBUS_E_STALE, -23, "channel file was removed or replaced")                                     \
  X(MMBUS_E_CORRUPT, -24, "channel file was damaged while in use")

enum {
#define MMBUS_ENUM_ENTRY_(name, value, text) name = value,
  MMBUS_ERRORS(MMBUS_ENUM_ENTRY_)
#undef MMBUS_ENUM_ENTRY_
};

/* A static English description of an error code. */
MMBUS_API const char *mmbus_strerror(int code);
/* The stable symbolic name of an error code, e.g. "MMBUS_E_FULL". */
MMBUS_API const char *mmbus_errname(int code);
/* Detail message for the calling thread's last failure (never NULL). */
MMBUS_API const char *mmbus_errmsg(void);
/* The OS errno behind the calling thread's last failure, or 0 when it had none. */
MMBUS_API int mmbus_errno(void);
/* "0.2.0": the version of the library actually loaded. */
MMBUS_API const char *mmbus_version(void);

/* ---- channels -------------------------------------------------------------------------------- */
typedef struct mmbus_channel mmbus_channel_t;
typedef struct mmbus_sub mmbus_sub_t;

typedef enum mmbus_policy {
  MMBUS_POLICY_UNSET = 0, /* on open: take the file's; on create: block */
  MMBUS_POLICY_BLOCK = 1, /* publishers wait for the slowest live subscriber, up to a time-out */
  MMBUS_POLICY_REJECT = 2,/* publish fails at once with MMBUS_E_FULL */
  MMBUS_POLICY_OVERWRITE = 3 /* publishers never wait for subscribers; lapped ones count what they lost */
} mmbus_policy_t;

/* Open flags */
#define MMBUS_CREATE 0x1u   /* create the channel if it does not exist */
#define MMBUS_EXCL 0x2u     /* with MMBUS_CREATE: fail with MMBUS_E_EXIST if it exists */
#define MMBUS_READONLY 0x4u /* open for inspection: read-only file and mapping, never writes anything */

typedef struct mmbus_options {
  uint32_t flags;              /* MMBUS_CREATE, MMBUS_EXCL, MMBUS_READONLY */
  uint32_t record_size;        /* bytes per record; 0 on open = accept the file's */
  uint64_t capacity;           /* records, a power of two; 0 = file's, or 65536 on create */
  const char *schema_name;     /* NULL = any on open, "" on create */
  uint64_t fingerprint;        /* 64-bit schema fingerprint; 0 = any on open */
  mmbus_policy_t policy;       /* MMBUS_POLICY_UNSET = the file's, or block on create */
  int64_t block_timeout_ms;    /* block policy wait; <0 = the file's default (5000 on create) */
  int64_t heartbeat_timeout_ms;/* subscriber silence that counts as dead; <0 = file's (5000), 0 = never */
  uint32_t mode;               /* file permission bits on create, 0 = 0600; 0660 shares with the group */
  uint32_t max_subscribers;    /* 0 = file's, or 64 on create */
  uint32_t max_publishers;     /* 0 = file's, or 64 on create */
  uint32_t reserved0;
  int64_t unblock_timeout_ms;  /* a claim not committed this long while its publisher shows no sign of
                                  progress is given up (MMBUS_E_REVOKED to it); <0 = file's (1000), 0 = never */
  int64_t lock_timeout_ms;     /* longest wait for the channel's table lock; <0 = 5000 */
  uint64_t key_count;          /* keyed channel: keys 0..key_count-1 (1..MMBUS_KEY_COUNT_MAX); 0 = not keyed
                                  on create, the file's on open */
  uint32_t key_offset;         /* byte offset of the key field in a record (keyed: with key_size) */
  uint32_t key_size;           /* 1, 2, 4 or 8: an unsigned little-endian integer; 0 = the file's on open */
  const char *layout;          /* on create: the record layout description the file carries (UTF-8 JSON of
                                  a RecordLayout, docs/format.md §13; codegen's <PREFIX>_LAYOUT), or NULL */
  uint64_t layout_size;        /* its bytes (no NUL), 1..MMBUS_LAYOUT_MAX; 0 with NULL */
  uint64_t reserved[2];        /* zero (mmbus_options_init) */
} mmbus_options_t;

/* Fills defaults (all "take from file / default"). Always call before setting fields. */
MMBUS_API void mmbus_options_init(mmbus_options_t *opts);

/* The default channel directory, written to buf: $MMBUS_DIR if set; else $XDG_RUNTIME_DIR/mmbus;
 * else <$TMPDIR or /tmp>/mmbus-<uid>. The last two are created 0700 if missing and refused
 * (MMBUS_E_DIR) when they are symlinks, not owned by the caller, or open to group or others. */
MMBUS_API int mmbus_default_dir(char *buf, size_t cap);

/* Opens (and with MMBUS_CREATE creates) <dir>/<name>.db; dir NULL = mmbus_default_dir(). Validates
 * every header field first. An existing file owned by another user, or writable by others, is only
 * accepted when opts->mode shares it the same way (MMBUS_E_PERM otherwise). */
MMBUS_API int mmbus_open(const char *dir, const char *name, const mmbus_options_t *opts, mmbus_channel_t **out);
/* Closes the channel: detaches its publisher slot, unmaps. Subscribers of it must be closed first. */
MMBUS_API int mmbus_close(mmbus_channel_t *ch);
/* Removes <dir>/<name>.db (dir NULL = default); processes that have it mapped keep working on the
 * unlinked file and learn it from mmbus_check() (MMBUS_E_STALE). */
MMBUS_API int mmbus_unlink(const char *dir, const char *name);
/* Makes the mapping durable on disk (msync). */
MMBUS_API int mmbus_flush(mmbus_channel_t *ch);
/* Checks a channel name: 1..MMBUS_NAME_MAX bytes of [A-Za-z0-9._-], no "..", not starting with '.'. */
MMBUS_API int mmbus_check_name(const char *name);
/* 0 while the channel's file is still the one at its path and intact; MMBUS_E_STALE when it was
 * removed or replaced, MMBUS_E_CORRUPT when it was truncated under the mapping. Waits, heartbeats and
 * publishers' slow paths make this check on their own about once a second. */
MMBUS_API int mmbus_check(mmbus_channel_t *ch);

/* Read-only facts of an open channel. */
typedef struct mmbus_info {
  uint32_t format_version;
  uint32_t record_size;
  uint32_t record_stride;     /* distance between records in the data area (record_size rounded to 8) */
  uint32_t readonly;          /* opened with MMBUS_READONLY */
  uint64_t capacity;
  mmbus_policy_t policy;
  uint64_t fingerprint;
  char schema_name[MMBUS_SCHEMA_NAME_MAX + 1];
  uint64_t created_ns;        /* CLOCK_REALTIME */
  int64_t block_timeout_ms;
  int64_t heartbeat_timeout_ms;
  int64_t unblock_timeout_ms;
  uint32_t max_subscribers;
  uint32_t max_publishers;
  uint64_t file_size;
  uint64_t data_offset;       /* byte offset of record 0 in the file */
  uint64_t stamps_offset;     /* byte offset of the commit stamps */
  uint64_t key_count;         /* keyed channels: the number of keys; 0 = not keyed */
  uint32_t key_offset;        /* the key field: offset in a record and size in bytes */
  uint32_t key_size;
  uint64_t keys_offset;       /* byte offset of the key table */
  uint64_t key_entry_size;    /* bytes per key in it; its buffers start key_header_size bytes into an entry */
  uint32_t key_header_size;
  uint32_t barrier_decides;   /* 1: commits are decided without a CAS, a giver-up runs a system-wide barrier
                                 (docs/format.md §8.5 step 2, §8.8); set at creation where the system has it */
  uint64_t layout_size;       /* bytes of the record layout description (mmbus_layout); 0 = the file has none */
  uint64_t reserved[2];
} mmbus_info_t;
MMBUS_API int mmbus_info(const mmbus_channel_t *ch, mmbus_info_t *info);
/* Copies the record layout description the file carries (self-describing channels: written once at
 * creation, docs/format.md §13) into buf and sets *size; *size = 0 when the file has none.
 * MMBUS_E_TOOBIG (with *size set) when cap is too small; MMBUS_E_CORRUPT when the bytes were changed. */
MMBUS_API int mmbus_layout(const mmbus_channel_t *ch, void *buf, size_t cap, size_t *size);

/* The whole mapping, for bindings that read records in place (e.g. the Node addon). */
MMBUS_API void *mmbus_base(const mmbus_channel_t *ch);
MMBUS_API size_t mmbus_mapped_size(const mmbus_channel_t *ch);

/* ---- publishing ------------------------------------------------------------------------------ */
/* Copies one record (size must equal the record size). Block: waits up to the time-out. */
MMBUS_API int mmbus_publish(mmbus_channel_t *ch, const void *rec, size_t size);
/* Copies n records laid out contiguously (n * record_size bytes). All or nothing. */
MMBUS_API int mmbus_publish_batch(mmbus_channel_t *ch, const void *recs, size_t n);

/* In-place publishing: claim n slots, write them, commit. A claimed slot still holds the record of
 * its previous lap: write every byte (or memset it first). Until commit, subscribers see nothing;
 * after it they see all n records at once. A claim left uncommitted longer than the unblock
 * time-out by a live but stuck process (stopped, or busy between claim and commit) is given up by
 * the others: its commit then fails with MMBUS_E_REVOKED and nothing of it reaches a subscriber. */
typedef struct mmbus_claim {
  uint64_t seq;        /* sequence of the first claimed record */
  uint32_t n;          /* records claimed */
  uint32_t stride;
  uint8_t *data;       /* start of the data area */
  uint64_t mask;       /* capacity - 1 */
} mmbus_claim_t;
/* Claims n records (1..capacity). timeout_ms < 0: the channel's block time-out. */
MMBUS_API int mmbus_claim(mmbus_channel_t *ch, uint32_t n, int64_t timeout_ms, mmbus_claim_t *claim);
static inline void *mmbus_claim_record(const mmbus_claim_t *c, uint32_t i) {
  return c->data + (size_t)((c->seq + i) & c->mask) * c->stride;
}
/* Commits every record of the claim at once and wakes sleeping subscribers. */
MMBUS_API int mmbus_commit(mmbus_channel_t *ch, const mmbus_claim_t *claim);
/* Gives a claim up: its slots are marked abandoned and subscribers step over them. */
MMBUS_API int mmbus_claim_abort(mmbus_channel_t *ch, const mmbus_claim_t *claim);

/* ---- subscribing ----------------------------------------------------------------------------- */
typedef enum mmbus_start {
  MMBUS_START_NEWEST = 0, /* only records published after subscribing */
  MMBUS_START_OLDEST = 1  /* the oldest record still in the ring */
} mmbus_start_t;

typedef struct mmbus_sub_options {
  const char *name;     /* durable subscriber name; NULL or "" = anonymous */
  mmbus_start_t start;  /* where an anonymous (or a new durable) subscriber starts */
  /* How long mmbus_wait, right after records were flowing, looks for the next one (spinning with
   * back-off) before it sleeps: a record that comes within it is taken at once, at the cost of a busy
   * core meanwhile (a subscriber of 10,000 records/s spins through every 100 us gap with the default).
   * 0: MMBUS_SPIN_DEFAULT_US; MMBUS_SPIN_NONE: sleep at once; at most MMBUS_SPIN_MAX_US. */
  int32_t spin_us;
  /* Coalescing: a mmbus_wait that finds no record yet, within this many microseconds of the last
   * one that returned records, first sleeps until then, so that a busy stream is taken in fewer, larger
   * batches (one wake-up for many records: a fraction of the CPU, at the price of up to this much
   * latency). Records already there, a wait after a quiet spell longer than this, interruptions,
   * time-outs and snapshot values to take are not held back, and the window never lets the ring fill:
   * it ends early once a quarter of the ring waits to be read, or would soon at the rate records come,
   * or a block publisher waits for room (looked at every quarter of the window). Windows rounds the
   * window's steps up to its timer tick. 0: off (the default); at most MMBUS_COALESCE_MAX_US. */
  int32_t coalesce_us;
  uint32_t reserved32;
  uint64_t reserved[5];
} mmbus_sub_options_t;
#define MMBUS_SPIN_DEFAULT_US 250
#define MMBUS_SPIN_NONE (-1)
#define MMBUS_SPIN_MAX_US 1000000
#define MMBUS_COALESCE_MAX_US 100000

MMBUS_API void mmbus_sub_options_init(mmbus_sub_options_t *opts);
MMBUS_API int mmbus_subscribe(mmbus_channel_t *ch, const mmbus_sub_options_t *opts, mmbus_sub_t **out);
/* Detaches: an anonymous slot is freed, a durable one goes offline keeping its cursor. */
MMBUS_API int mmbus_sub_close(mmbus_sub_t *sub);

/* A batch of committed records [seq, seq + n), read in place. */
typedef struct mmbus_batch {
  uint64_t seq;
  uint32_t n;
  uint32_t stride;
  const uint8_t *data;
  uint64_t mask;
} mmbus_batch_t;
static inline const void *mmbus_batch_record(const mmbus_batch_t *b, uint32_t i) {
  return b->data + (size_t)((b->seq + i) & b->mask) * b->stride;
}

/* Takes up to max committed records after the cursor without moving it. Returns the count (0 when
 * none; never waits). Records the subscriber can no longer get (lapped) are added to its lost count. */
MMBUS_API int mmbus_poll(mmbus_sub_t *sub, uint32_t max, mmbus_batch_t *batch);
/* Consumes the last polled batch: moves the cursor past it (one store per batch). Returns the number
 * of its records, counted from its start, that a publisher overwrote while they were read (any
 * policy: under block and reject only a subscriber that stopped counting — its process stopped, or
 * silent past the heartbeat time-out — can be overwritten): they are added to lost and must be
 * discarded. 0 when every record was read intact. */
MMBUS_API int mmbus_ack(mmbus_sub_t *sub);
/* How many of the last polled batch's records (counted from its start) a publisher may have
 * overwritten so far. Call it after reading them: those records are suspect, the others were read
 * intact, and the next ack counts exactly the suspect ones as lost (without this call, ack makes the
 * check itself). */
MMBUS_API uint32_t mmbus_sub_overrun(mmbus_sub_t *sub);
/* Consumes only the first n records of the last polled batch (n <= its size); the rest are polled
 * again. Returns like mmbus_ack. */
MMBUS_API int mmbus_ack_n(mmbus_sub_t *sub, uint32_t n);
/* Waits until a record (or a gap to step over) is at the cursor; then mmbus_poll has something.
 * Spins briefly when data was flowing, then sleeps on a futex. timeout_ms < 0 waits forever.
 * Returns 0, MMBUS_E_TIMEOUT, MMBUS_E_INTR or an error. It never changes the subscriber's cursor or
 * counts: another thread may read mmbus_sub_lost() meanwhile. */
MMBUS_API int mmbus_wait(mmbus_sub_t *sub, int64_t timeout_ms);
/* Makes a mmbus_wait() of this subscriber in another thread return MMBUS_E_INTR now (and the next
 * one, if none is in progress). May be called from any thread. */
MMBUS_API int mmbus_sub_interrupt(mmbus_sub_t *sub);
/* Writes the heartbeat now (poll and wait also do). */
MMBUS_API int mmbus_sub_heartbeat(mmbus_sub_t *sub);
MMBUS_API uint64_t mmbus_sub_lost(const mmbus_sub_t *sub);
MMBUS_API uint64_t mmbus_sub_cursor(const mmbus_sub_t *sub);
/* Index of the subscriber's slot in the table (stable while it is attached). */
MMBUS_API int mmbus_sub_slot(const mmbus_sub_t *sub);

/* ---- keyed channels --------------------------------------------------------------------------
 * A keyed channel (created with key_count > 0) keeps, beside the ring, the latest record of every key
 * 0..key_count-1, written in the same commit as the ring record: every publish of a record makes it its
 * key's latest value (unless a later record of that key was committed first). A record whose key is out
 * of range is refused with MMBUS_E_INVAL and nothing is written. */

/* Copies the latest record of `key` into out (size = the record size); *seq (if not NULL) receives its
 * sequence number. MMBUS_E_NOENT if no record of that key was ever published. Never torn, never a
 * record whose commit was not decided; never waits. */
MMBUS_API int mmbus_latest(const mmbus_channel_t *ch, uint64_t key, void *out, size_t size, uint64_t *seq);
/* The key of a record of this channel (MMBUS_E_STATE on a channel that is not keyed). */
MMBUS_API int mmbus_key_of(const mmbus_channel_t *ch, const void *record, uint64_t *key);

/* Asking for keys: a subscriber of a keyed channel that asked for keys sees only their records
 * (mmbus_sub_wants), and, with a snapshot, first gets each newly asked key's latest value
 * (mmbus_sub_snapshot) and then exactly the changes after it: no gap, no change twice. Keys are asked
 * as ranges [first, first + count); asking again or changing the set while running is allowed. */
typedef enum mmbus_snapshot {
  MMBUS_SNAPSHOT_NONE = 0,   /* only the changes from the cursor on */
  MMBUS_SNAPSHOT_ALL = 1,    /* every newly asked key's latest value first */
  MMBUS_SNAPSHOT_CHANGED = 2 /* a durable subscriber that resumed: only the keys whose latest value is
                                newer than the records it had consumed (what changed while it was
                                away: the keys it asked for then); otherwise as ALL */
} mmbus_snapshot_t;
MMBUS_API int mmbus_sub_ask(mmbus_sub_t *sub, uint64_t first, uint64_t count, int snapshot);
MMBUS_API int mmbus_sub_unask(mmbus_sub_t *sub, uint64_t first, uint64_t count);
/* The next pending snapshot value: copies it to out and returns 1 with its key and sequence number,
 * or 0 when none is pending (then poll goes on with the changes). Keys never published are skipped. */
MMBUS_API int mmbus_sub_snapshot(mmbus_sub_t *sub, void *out, size_t size, uint64_t *key, uint64_t *seq);
/* Whether record i of the last polled batch is one the subscriber asked for and has not had yet (its
 * key asked, and newer than the snapshot value it was given); call it for each record in order. */
MMBUS_API int mmbus_sub_wants(mmbus_sub_t *sub, const mmbus_batch_t *batch, uint32_t i);

/* ---- liveness and stats ---------------------------------------------------------------------- */
typedef enum mmbus_sub_state {
  MMBUS_SUB_FREE = 0,
  MMBUS_SUB_ACTIVE = 1,  /* attached in a live process */
  MMBUS_SUB_OFFLINE = 2, /* durable, not attached; keeps its cursor */
  MMBUS_SUB_DEAD = 3     /* reported only: its slot says active but the process is gone or silent */
} mmbus_sub_state_t;

typedef struct mmbus_sub_stats {
  int slot;
  mmbus_sub_state_t state;
  int durable;
  char name[MMBUS_SUB_NAME_MAX + 1];
  int32_t pid;             /* in the owner's PID namespace */
  uint32_t other_pid_ns;   /* 1: the owner lives in another PID namespace than the caller */
  uint64_t cursor;
  uint64_t lag;            /* head - cursor */
  uint64_t lost;
  int64_t heartbeat_age_ms;/* -1 when unknown */
  uint64_t reserved[4];
} mmbus_sub_stats_t;

typedef struct mmbus_stats {
  uint64_t head;           /* records claimed by publishers so far (the next sequence number) */
  uint64_t capacity;
  uint32_t publishers_alive;
  uint32_t subscribers_active;
  uint32_t subscribers_offline;
  uint32_t subscribers_dead;
  uint64_t max_lag;        /* over active subscribers */
  uint32_t claims_revoked; /* claims given up after the unblock time-out whose publisher has not
                              resumed yet (their ring slots are skipped until it does or dies) */
  uint32_t reserved0;
  uint64_t reserved[6];
} mmbus_stats_t;

/* Channel stats, and up to max_subs subscriber entries (non-free slots); returns the entry count. */
MMBUS_API int mmbus_stats(mmbus_channel_t *ch, mmbus_stats_t *stats, mmbus_sub_stats_t *subs, uint32_t max_subs);
/* Records claimed so far (the sequence number the next publish gets). */
MMBUS_API uint64_t mmbus_head(const mmbus_channel_t *ch);
/* Copies record `seq` into out (size = the record size) without joining as a subscriber: tools read
 * the channel this way and never hold a publisher back. Returns 0, or MMBUS_E_NOENT when the record is
 * not committed yet, was given up by its publisher, has been (or is being) overwritten, belongs to a
 * claim whose first records were overwritten (claims are read whole, as subscribers get them), or was
 * never published (seq >= head). */
MMBUS_API int mmbus_read(const mmbus_channel_t *ch, uint64_t seq, void *out, size_t size);
/* Checks what readers rely on in the mutable part of the file (docs/format.md §6, §4, §5): every
 * stamp is a lap of its own slot at or below head, every cursor at or below head, every announced claim
 * plausible. Returns the number of problems found (0: healthy) and describes the first in buf (cap
 * bytes, NUL-terminated). Works on read-only handles; writes nothing. Bounded: one pass over the tables
 * and the stamps. */
MMBUS_API int mmbus_verify(const mmbus_channel_t *ch, char *buf, size_t cap);
/* Reclaims slots of dead processes now: anonymous slots are freed, durable ones go offline,
 * publisher slots are freed. Returns how many were reclaimed. */
MMBUS_API int mmbus_gc(mmbus_channel_t *ch);

#ifdef __cplusplus
}
#endif
#endif /* MMBUS_H */
