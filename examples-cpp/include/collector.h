/*
 * libcollector: the acquisition library ("DLL") of the mmbus examples. It simulates devices × points
 * and publishes every change as a PointUpdate record on an mmbus channel: first the start-up burst
 * (every point from 0 to its first value), then changes at a steady rate on a background thread
 * until collector_stop().
 *
 * The ABI is plain C so that a host can load the library with dlopen()/LoadLibrary() and look the
 * functions up by name. One collector runs per process.
 */
#ifndef MMBUS_EXAMPLES_COLLECTOR_H
#define MMBUS_EXAMPLES_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COLLECTOR_API_VERSION 1u

typedef struct collector_options {
  uint32_t api_version;       /* COLLECTOR_API_VERSION */
  const char *channel;        /* channel name; NULL = "points" */
  uint32_t devices;           /* 0 = 70 */
  uint32_t points_per_device; /* 0 = 3000 */
  double rate;                /* changes per second after the burst; 0 = burst only */
  uint64_t capacity;          /* ring capacity if the channel is created; 0 = the file's (or 65536) */
  int policy;                 /* 0 = the file's (or block); 1 block, 2 reject, 3 overwrite */
  int64_t block_timeout_ms;   /* how long a block publish may wait in all; <0 = 5000 */
  uint32_t batch;             /* records per claim/commit; 0 = 256 */
  uint64_t seed;              /* change pattern seed; 0 = 1 */
} collector_options_t;

typedef struct collector_stats {
  uint64_t published;         /* records committed so far (burst + changes) */
  uint64_t burst_published;   /* records of the burst committed so far */
  uint64_t changes_published; /* records after the burst */
  uint32_t points;            /* devices * points_per_device */
  int running;                /* the publishing thread is running */
  int burst_done;             /* the whole burst is committed */
  uint64_t burst_ns;          /* time the burst took (when burst_done) */
  int error;                  /* 0, or the MMBUS_E_* code that stopped publishing */
  char message[256];          /* the error's detail */
} collector_stats_t;

/* Opens <dir>/<channel>.db (creating it) and starts publishing on a background thread. Returns 0, or a
 * negative MMBUS_E_* code (collector_errmsg() tells why). */
int collector_start(const char *dir, const collector_options_t *options);
/* Stops the thread (after the claim in progress) and closes the channel. Returns the error that
 * stopped publishing earlier, if any, else 0. */
int collector_stop(void);
/* Counters; safe to call from any thread while running. */
int collector_stats(collector_stats_t *stats);
/* Copies the last published value of points [0, n) (point index = device * points_per_device + point)
 * into out; returns how many were copied. Consistent with stats.published read in the same call when
 * stopped. */
size_t collector_last_values(double *out, size_t n);
/* Detail of the last failure of collector_start. */
const char *collector_errmsg(void);

/* Function pointer types, for hosts that look the functions up with dlsym(). */
typedef int (*collector_start_fn)(const char *, const collector_options_t *);
typedef int (*collector_stop_fn)(void);
typedef int (*collector_stats_fn)(collector_stats_t *);
typedef size_t (*collector_last_values_fn)(double *, size_t);
typedef const char *(*collector_errmsg_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
