/* Include first, after #define _GNU_SOURCE. What both benches (mmbus_bench, mmbus_bench_keyed) need: a clock, child processes that die with
 * their parent, the CPU a child used, medians, and opening a bench channel or exiting. */
#ifndef MMBUS_BENCH_COMMON_H
#define MMBUS_BENCH_COMMON_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mmbus.h"

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of this process (user + system): on a shared machine a figure of one process alone must
 * not count the time others had the core. */
static inline uint64_t cpu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* fork(): 0 in the child, which is killed if the bench dies */
static inline pid_t child(void) {
  fflush(NULL);
  pid_t p = fork();
  if (p == 0) prctl(PR_SET_PDEATHSIG, SIGKILL);
  return p;
}

/* Waits for child p: whether it exited with 0; its resource use to *ru when ru is not NULL. */
static inline int ok_exit(pid_t p, struct rusage *ru) {
  int st;
  struct rusage dummy;
  wait4(p, &st, 0, ru ? ru : &dummy);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static inline double cpu_s(const struct rusage *ru) {
  return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 + (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

static inline int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v[0..n) and returns its median. */
static inline double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], cmp_d);
  return v[n / 2];
}

/* Creates or opens channel `name` in `dir` with the options o (flags MMBUS_CREATE added), or exits. */
static inline mmbus_channel_t *open_or_exit(const char *dir, const char *name, mmbus_options_t *o) {
  o->flags |= MMBUS_CREATE;
  mmbus_channel_t *ch;
  if (mmbus_open(dir, name, o, &ch)) {
    fprintf(stderr, "open %s: %s\n", name, mmbus_errmsg());
    exit(1);
  }
  return ch;
}

#endif
