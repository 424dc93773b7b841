/*
 * libmmbus: a same-host publish/subscribe bus on memory-mapped files.
 *
 * A channel is one file, <dir>/<name>.db, holding a ring of fixed-size records. Publishers and
 * subscribers in any processes map it and move cursors in it. The byte layout and the protocol are
 * specified in docs/format.md.
 *
 * Conventions: functions return 0 (or a count) on success and a negative MMBUS_E_* code on failure;
 * mmbus_errmsg() gives a per-thread detail message for the last failure of the calling thread.
 */
#ifndef MMBUS_H
#define MMBUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MMBUS_VERSION_MAJOR 0
#define MMBUS_VERSION_MINOR 1
#define MMBUS_FORMAT_VERSION 1u

#define MMBUS_NAME_MAX 128        /* channel name, bytes, excluding NUL */
#define MMBUS_SUB_NAME_MAX 63     /* durable subscriber name, bytes, excluding NUL */
#define MMBUS_SCHEMA_NAME_MAX 63  /* schema name stored in the header, excluding NUL */
#define MMBUS_RECORD_SIZE_MAX 65536u
#define MMBUS_CAPACITY_MAX (UINT64_C(1) << 32)
#define MMBUS_MAX_SUBSCRIBERS_LIMIT 4096u
#define MMBUS_MAX_PUBLISHERS_LIMIT 4096u

/* ---- errors ---------------------------------------------------------------------------------- */
enum {
  MMBUS_OK = 0,
  MMBUS_E_INVAL = -1,     /* a bad argument */
  MMBUS_E_NAME = -2,      /* a bad channel or subscriber name */
  MMBUS_E_NOENT = -3,     /* the channel does not exist (and MMBUS_CREATE was not given) */
  MMBUS_E_EXIST = -4,     /* the channel exists and MMBUS_EXCL was given */
  MMBUS_E_DIR = -5,       /* the directory does not exist, is not a directory or is not writable */
  MMBUS_E_IO = -6,        /* an OS call failed (detail names it and errno) */
  MMBUS_E_BADFILE = -7,   /* not a channel file: foreign magic, truncated, corrupt header, symlink */
  MMBUS_E_VERSION = -8,   /* a channel file of another format version or byte order */
  MMBUS_E_MISMATCH = -9,  /* options contradict the existing file (record size, capacity, policy...) */
  MMBUS_E_SCHEMA = -10,   /* schema name or fingerprint differ from the file's */
  MMBUS_E_FULL = -11,     /* the ring is full (reject policy) */
  MMBUS_E_TIMEOUT = -12,  /* a wait timed out (block policy publish, or subscriber wait) */
  MMBUS_E_BUSY = -13,     /* a durable subscriber of that name is attached in a live process */
  MMBUS_E_NOSLOT = -14,   /* the subscriber or publisher table is full */
  MMBUS_E_CLOSED = -15,   /* the handle was closed */
  MMBUS_E_NOMEM = -16,    /* out of memory or address space */
  MMBUS_E_TOOBIG = -17,   /* a batch larger than the ring, or a record of the wrong size */
  MMBUS_E_NOSPACE = -18,  /* no disk space to reserve the file */
  MMBUS_E_PERM = -19,     /* permission denied on the file */
  MMBUS_E_STATE = -20,    /* call out of order (commit without claim, ack without poll...) */
  MMBUS_E_INTR = -21,     /* a wait was interrupted by mmbus_sub_interrupt() */
};

/* A static English description of an error code. */
const char *mmbus_strerror(int code);
/* The stable symbolic name of an error code, e.g. "MMBUS_E_FULL". */
const char *mmbus_errname(int code);
/* Detail message for the calling thread's last failure (never NULL). */
const char *mmbus_errmsg(void);

/* ---- channels -------------------------------------------------------------------------------- */
typedef struct mmbus_channel mmbus_channel_t;
typedef struct mmbus_sub mmbus_sub_t;

typedef enum mmbus_policy {
  MMBUS_POLICY_UNSET = 0, /* on open: take the file's; on create: block */
  MMBUS_POLICY_BLOCK = 1, /* publishers wait for the slowest live subscriber, up to a time-out */
  MMBUS_POLICY_REJECT = 2,/* publish fails at once with MMBUS_E_FULL */
  MMBUS_POLICY_OVERWRITE = 3 /* publishers never wait; lapped subscribers count what they lost */
} mmbus_policy_t;

/* Open flags */
#define MMBUS_CREATE 0x1u   /* create the channel if it does not exist */
#define MMBUS_EXCL 0x2u     /* with MMBUS_CREATE: fail with MMBUS_E_EXIST if it exists */

typedef struct mmbus_options {
  uint32_t flags;              /* MMBUS_CREATE, MMBUS_EXCL */
  uint32_t record_size;        /* bytes per record; 0 on open = accept the file's */
  uint64_t capacity;           /* records, a power of two; 0 = file's, or 65536 on create */
  const char *schema_name;     /* NULL = any on open, "" on create */
  uint64_t fingerprint;        /* 64-bit schema fingerprint; 0 = any on open */
  mmbus_policy_t policy;       /* MMBUS_POLICY_UNSET = the file's, or block on create */
  int64_t block_timeout_ms;    /* block policy wait; <0 = the file's default (5000 on create) */
  int64_t heartbeat_timeout_ms;/* subscriber silence that counts as dead; <0 = file's (5000), 0 = never */
  uint32_t mode;               /* file mode on create; 0 = 0600 */
  uint32_t max_subscribers;    /* 0 = file's, or 64 on create */
  uint32_t max_publishers;     /* 0 = file's, or 64 on create */
} mmbus_options_t;

/* Fills defaults (all "take from file / default"). Always call before setting fields. */
void mmbus_options_init(mmbus_options_t *opts);

/* Opens (and with MMBUS_CREATE creates) <dir>/<name>.db. Validates every header field first. */
int mmbus_open(const char *dir, const char *name, const mmbus_options_t *opts, mmbus_channel_t **out);
/* Closes the channel: detaches its publisher slot, unmaps. Subscribers of it must be closed first. */
int mmbus_close(mmbus_channel_t *ch);
/* Removes <dir>/<name>.db (processes that have it mapped keep working on the unlinked file). */
int mmbus_unlink(const char *dir, const char *name);
/* Makes the mapping durable on disk (msync). */
int mmbus_flush(mmbus_channel_t *ch);
/* Checks a channel name: 1..MMBUS_NAME_MAX bytes of [A-Za-z0-9._-], no "..", not starting with '.'. */
int mmbus_check_name(const char *name);

/* Read-only facts of an open channel. */
typedef struct mmbus_info {
  uint32_t format_version;
  uint32_t record_size;
  uint32_t record_stride;     /* distance between records in the data area (record_size rounded to 8) */
  uint64_t capacity;
  mmbus_policy_t policy;
  uint64_t fingerprint;
  char schema_name[MMBUS_SCHEMA_NAME_MAX + 1];
  uint64_t created_ns;        /* CLOCK_REALTIME */
  int64_t block_timeout_ms;
  int64_t heartbeat_timeout_ms;
  uint32_t max_subscribers;
  uint32_t max_publishers;
  uint64_t file_size;
  uint64_t data_offset;       /* byte offset of record 0 in the file */
  uint64_t stamps_offset;     /* byte offset of the commit stamps */
} mmbus_info_t;
int mmbus_info(const mmbus_channel_t *ch, mmbus_info_t *info);

/* The whole mapping, for bindings that read records in place (e.g. the Node addon). */
void *mmbus_base(const mmbus_channel_t *ch);
size_t mmbus_mapped_size(const mmbus_channel_t *ch);

/* ---- publishing ------------------------------------------------------------------------------ */
/* Copies one record (size must equal the record size). Block: waits up to the time-out. */
int mmbus_publish(mmbus_channel_t *ch, const void *rec, size_t size);
/* Copies n records laid out contiguously (n * record_size bytes). All or nothing. */
int mmbus_publish_batch(mmbus_channel_t *ch, const void *recs, size_t n);

/* In-place publishing: claim n slots, write them, commit. Until commit, subscribers see nothing. */
typedef struct mmbus_claim {
  uint64_t seq;        /* sequence of the first claimed record */
  uint32_t n;          /* records claimed */
  uint32_t stride;
  uint8_t *data;       /* start of the data area */
  uint64_t mask;       /* capacity - 1 */
} mmbus_claim_t;
/* Claims n records (1..capacity). timeout_ms < 0: the channel's block time-out. */
int mmbus_claim(mmbus_channel_t *ch, uint32_t n, int64_t timeout_ms, mmbus_claim_t *claim);
static inline void *mmbus_claim_record(const mmbus_claim_t *c, uint32_t i) {
  return c->data + (size_t)((c->seq + i) & c->mask) * c->stride;
}
/* Commits every record of the claim at once and wakes sleeping subscribers. */
int mmbus_commit(mmbus_channel_t *ch, const mmbus_claim_t *claim);
/* Gives a claim up: its slots are marked abandoned and subscribers step over them. */
int mmbus_claim_abort(mmbus_channel_t *ch, const mmbus_claim_t *claim);

/* ---- subscribing ----------------------------------------------------------------------------- */
typedef enum mmbus_start {
  MMBUS_START_NEWEST = 0, /* only records published after subscribing */
  MMBUS_START_OLDEST = 1  /* the oldest record still in the ring */
} mmbus_start_t;

typedef struct mmbus_sub_options {
  const char *name;     /* durable subscriber name; NULL or "" = anonymous */
  mmbus_start_t start;  /* where an anonymous (or a new durable) subscriber starts */
} mmbus_sub_options_t;

int mmbus_subscribe(mmbus_channel_t *ch, const mmbus_sub_options_t *opts, mmbus_sub_t **out);
/* Detaches: an anonymous slot is freed, a durable one goes offline keeping its cursor. */
int mmbus_sub_close(mmbus_sub_t *sub);

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
 * none). Records the subscriber was lapped over (overwrite policy) are added to its lost count. */
int mmbus_poll(mmbus_sub_t *sub, uint32_t max, mmbus_batch_t *batch);
/* Consumes the last polled batch: moves the cursor past it (one store per batch). Returns the number
 * of its records that a publisher may have overwritten while they were read (overwrite policy only;
 * they are added to lost and must be discarded), else 0. */
int mmbus_ack(mmbus_sub_t *sub);
/* Overwrite policy: how many of the last polled batch's records (counted from its start) a publisher
 * may have overwritten so far. Call it after reading them: those records are suspect, the others were
 * read intact, and the next ack counts exactly the suspect ones as lost (without this call, ack makes
 * the check itself). Always 0 for the other policies. */
uint32_t mmbus_sub_overrun(mmbus_sub_t *sub);
/* Consumes only the first n records of the last polled batch (n <= its size); the rest are polled
 * again. Returns like mmbus_ack. */
int mmbus_ack_n(mmbus_sub_t *sub, uint32_t n);
/* Waits until a record is available at the cursor. Spins briefly when data was flowing, then sleeps
 * on a futex. timeout_ms < 0 waits forever. Returns 0, MMBUS_E_TIMEOUT or an error. */
int mmbus_wait(mmbus_sub_t *sub, int64_t timeout_ms);
/* Makes a mmbus_wait() of this subscriber in another thread return MMBUS_E_INTR now (and the next
 * one, if none is in progress). The only subscriber function that may be called from another thread. */
int mmbus_sub_interrupt(mmbus_sub_t *sub);
/* Writes the heartbeat now (poll and wait also do). */
int mmbus_sub_heartbeat(mmbus_sub_t *sub);
uint64_t mmbus_sub_lost(const mmbus_sub_t *sub);
uint64_t mmbus_sub_cursor(const mmbus_sub_t *sub);
/* Index of the subscriber's slot in the table (stable while it is attached). */
int mmbus_sub_slot(const mmbus_sub_t *sub);

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
  int32_t pid;
  uint64_t cursor;
  uint64_t lag;            /* head - cursor */
  uint64_t lost;
  int64_t heartbeat_age_ms;/* -1 when unknown */
} mmbus_sub_stats_t;

typedef struct mmbus_stats {
  uint64_t head;           /* records claimed by publishers so far (the next sequence number) */
  uint64_t capacity;
  uint32_t publishers_alive;
  uint32_t subscribers_active;
  uint32_t subscribers_offline;
  uint32_t subscribers_dead;
  uint64_t max_lag;        /* over active subscribers */
} mmbus_stats_t;

/* Channel stats, and up to max_subs subscriber entries (non-free slots); returns the entry count. */
int mmbus_stats(mmbus_channel_t *ch, mmbus_stats_t *stats, mmbus_sub_stats_t *subs, uint32_t max_subs);
/* Records claimed so far (the sequence number the next publish gets). */
uint64_t mmbus_head(const mmbus_channel_t *ch);
/* Copies record `seq` into out (size = the record size) without joining as a subscriber: tools read
 * the channel this way and never hold a publisher back. Returns 0, or MMBUS_E_NOENT when the record is
 * not committed yet, was given up by its publisher, or has been (or is being) overwritten. */
int mmbus_read(const mmbus_channel_t *ch, uint64_t seq, void *out, size_t size);
/* Reclaims slots of dead processes now: anonymous slots are freed, durable ones go offline,
 * publisher slots are freed. Returns how many were reclaimed. */
int mmbus_gc(mmbus_channel_t *ch);

#ifdef __cplusplus
}
#endif
#endif /* MMBUS_H */
