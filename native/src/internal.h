/* Internal structures: the channel file layout (docs/format.md) and the process-local handles. */
#ifndef MMBUS_INTERNAL_H
#define MMBUS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mmbus.h"

#define MMBUS_MAGIC "MMBUSCH1"        /* 8 bytes, no NUL */
#define MMBUS_ENDIAN_MARK 0x01020304u /* written in the writer's byte order */
#define MMBUS_HEADER_SIZE 4096u
#define MMBUS_LINE 128u               /* hot words are 128 bytes apart: no false sharing, even with
                                         adjacent-line prefetch */
#define MMBUS_SLOT_SIZE 128u          /* subscriber and publisher table entries */
#define MMBUS_ABANDONED (UINT64_C(1) << 63) /* stamp flag: slot claimed by a dead publisher, no data */
#define MMBUS_NO_CLAIM UINT64_MAX     /* publisher slot: no claim in flight */

#define MMBUS_DEFAULT_CAPACITY 65536u
#define MMBUS_DEFAULT_MAX_SUBS 64u
#define MMBUS_DEFAULT_MAX_PUBS 64u
#define MMBUS_DEFAULT_BLOCK_TIMEOUT_MS 5000
#define MMBUS_DEFAULT_HEARTBEAT_TIMEOUT_MS 5000

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
  uint8_t reserved[56];         /* 200 */
} file_header_t;
_Static_assert(sizeof(file_header_t) == 256, "header layout");

/* Mutable control lines after the static header. */
#define OFF_BOOT_LINE 256u  /* uint8_t boot_id[16]: the boot the pids/heartbeats below belong to */
#define OFF_HEAD_LINE 384u  /* uint64_t head: next sequence number to claim;
                               uint64_t attach_epoch (at +8): bumped when a subscriber attaches */
#define OFF_DATA_WAKE 512u  /* uint32_t futex; uint32_t need_wake: subscribers sleeping for data */
#define OFF_SPACE_WAKE 640u /* uint32_t futex; uint32_t need_wake: publishers sleeping for space */

typedef struct wake_line {
  uint32_t futex;     /* bumped before every wake */
  uint32_t need_wake; /* set by a sleeper; whoever clears it wakes everyone */
} wake_line_t;

enum { SUB_FREE = 0, SUB_ACTIVE = 1, SUB_OFFLINE = 2 };
enum { PUB_FREE = 0, PUB_ACTIVE = 1 };

typedef struct sub_slot {
  uint32_t state;         /*   0 SUB_* */
  uint32_t durable;       /*   4 */
  uint64_t cursor;        /*   8 next sequence to consume */
  uint64_t lost;          /*  16 */
  int32_t pid;            /*  24 */
  uint32_t generation;    /*  28 bumped at every attach */
  uint64_t start_time;    /*  32 owner's process start time */
  uint64_t heartbeat_ns;  /*  40 CLOCK_MONOTONIC */
  uint64_t attached_ns;   /*  48 CLOCK_REALTIME */
  char name[64];          /*  56 durable name, NUL-terminated */
  uint8_t reserved[8];    /* 120 */
} sub_slot_t;
_Static_assert(sizeof(sub_slot_t) == MMBUS_SLOT_SIZE, "subscriber slot layout");

typedef struct pub_slot {
  uint32_t state;        /*  0 PUB_* */
  int32_t pid;           /*  4 */
  uint64_t start_time;   /*  8 */
  uint64_t pending;      /* 16 first sequence of the claim in flight, or MMBUS_NO_CLAIM */
  uint64_t published;    /* 24 records committed by this publisher */
  uint64_t attached_ns;  /* 32 CLOCK_REALTIME */
  uint8_t reserved[88];  /* 40 */
} pub_slot_t;
_Static_assert(sizeof(pub_slot_t) == MMBUS_SLOT_SIZE, "publisher slot layout");

/* Process-local handles. */
struct mmbus_channel {
  int fd;
  uint8_t *base;
  size_t size;
  file_header_t hdr;       /* validated private copy of the static header */
  uint64_t *head;
  uint64_t *attach_epoch;  /* beside head: read on every claim at no extra cache miss */
  uint64_t seen_epoch;
  wake_line_t *data_wake;
  wake_line_t *space_wake;
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
  pub_slot_t *pub;         /* this handle's publisher slot, attached at first publish */
  uint64_t limit;          /* publishing below this sequence needs no subscriber scan */
  uint64_t *verified_ns;   /* per subscriber slot: when its pid was last found alive */
  uint32_t *verified_gen;
  int open_subs;
  char path[4096 + MMBUS_NAME_MAX + 8];
};

struct mmbus_sub {
  mmbus_channel_t *ch;
  sub_slot_t *slot;
  int index;
  uint32_t generation;
  int durable;
  uint64_t cursor;         /* local copy; the slot's cursor is stored on ack */
  uint64_t batch_seq;      /* last polled batch */
  uint32_t batch_n;
  int has_batch;
  int64_t checked_overrun; /* result of mmbus_sub_overrun for this batch, or -1 */
  uint64_t lost;
  uint64_t last_heartbeat_ns;
  int flowing;             /* data arrived recently: spin a little before sleeping */
  uint32_t interrupted;     /* set by mmbus_sub_interrupt from any thread */
  int chasing;             /* the last batch was small and right behind the publisher */
};

/* error.c */
int mmbus_set_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mmbus_set_errno(int code, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* channel.c, shared with ring.c */
int chan_lock(mmbus_channel_t *ch);
void chan_unlock(mmbus_channel_t *ch);
int sub_owner_alive(const sub_slot_t *s);
void sub_reclaim_locked(sub_slot_t *s);
void wake(wake_line_t *w);
uint64_t header_checksum(const file_header_t *h);

#endif
