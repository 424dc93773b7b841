#define _GNU_SOURCE
/* mmbus benchmark peer in C, one process of a run driven by tools/bench/src/bench.ts.
 *
 *   mmbus_peer pub|sub throughput|latency|idle dir name records subscribers batch rate
 *
 * pub: opens (creates) the channel, prints "ready", waits until `subscribers` subscribers are attached,
 *      then throughput: `records` Person records (index i) in claims of `batch` written in place
 *      (batch 1: mmbus_publish one by one); latency: `records` PointUpdate records at `rate` per second,
 *      each stamped with CLOCK_MONOTONIC when it is published; idle: publishes nothing, sleeps until
 *      killed. Prints {"tStart","tEnd","cpuUs"} (ns, CLOCK_MONOTONIC; CPU of the sending part).
 * sub: subscribes, prints "ready", then throughput: reads every record's index, counts and sums
 *      +0 -1 +2 -3 ...; latency: now - stamp per record (p50/p99/p99.9); idle: waits 5 s for data that
 *      never comes. Prints {"received","checksum","tFirst","tLast","cpuUs",...}. SIGTERM: prints what
 *      it has so far and exits (so a lost record shows as a wrong count, not a hang). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mmbus.h"
#include "person.h"
#include "point.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static volatile sig_atomic_t stop;
static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static mmbus_channel_t *open_ch(const char *dir, const char *name, int point) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = 128;
  o.schema_name = point ? MMBUS_POINT_UPDATE_NAME : MMBUS_PERSON_NAME;
  o.fingerprint = point ? MMBUS_POINT_UPDATE_FINGERPRINT : MMBUS_PERSON_FINGERPRINT;
  mmbus_channel_t *ch;
  if (mmbus_open(dir, name, &o, &ch)) {
    fprintf(stderr, "mmbus_peer: open %s/%s: %s\n", dir, name, mmbus_errmsg());
    exit(1);
  }
  return ch;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s pub|sub throughput|latency|idle dir name records subscribers batch rate\n", argv[0]);
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_TIMERSLACK, 1UL);
  signal(SIGTERM, on_term);
  const char *role = argv[1], *mode = argv[2], *dir = argv[3], *name = argv[4];
  int64_t n = atoll(argv[5]);
  uint32_t subs = (uint32_t)atoi(argv[6]);
  uint32_t batch = (uint32_t)atoi(argv[7]);
  double rate = atof(argv[8]);
  int latency = !strcmp(mode, "latency"), idle = !strcmp(mode, "idle");
  mmbus_channel_t *ch = open_ch(dir, name, latency);

  if (!strcmp(role, "pub")) {
    printf("ready\n");
    fflush(stdout);
    mmbus_stats_t st;
    for (;;) {
      mmbus_stats(ch, &st, NULL, 0);
      if (st.subscribers_active >= subs) break;
      usleep(1000);
    }
    if (idle) {
      while (!stop) pause();
      mmbus_close(ch);
      return 0;
    }
    double c0 = cpu_us();
    uint64_t t0 = now_ns();
    if (latency) {
      uint64_t interval = (uint64_t)(1e9 / rate), next = t0;
      for (int64_t i = 0; i < n && !stop;) {
        struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        uint64_t t = now_ns();
        for (; i < n && next <= t; next += interval, i++) {
          mmbus_PointUpdate p;
          memset(&p, 0, sizeof p);
          p.point_id = (uint32_t)i;
          p.timestamp_ns = now_ns();
          if (mmbus_publish(ch, &p, sizeof p)) {
            fprintf(stderr, "mmbus_peer: publish: %s\n", mmbus_errmsg());
            return 1;
          }
        }
      }
    } else if (batch <= 1) {
      mmbus_Person p;
      memset(&p, 0, sizeof p);
      for (int64_t i = 0; i < n; i++) {
        p.index = i;
        if (mmbus_publish(ch, &p, sizeof p)) {
          fprintf(stderr, "mmbus_peer: publish: %s\n", mmbus_errmsg());
          return 1;
        }
      }
    } else {
      for (int64_t i = 0; i < n;) {
        uint32_t k = (uint32_t)(n - i < batch ? n - i : batch);
        mmbus_claim_t c;
        if (mmbus_claim(ch, k, -1, &c)) {
          fprintf(stderr, "mmbus_peer: claim: %s\n", mmbus_errmsg());
          return 1;
        }
        for (uint32_t j = 0; j < k; j++) {
          mmbus_Person *p = mmbus_claim_record(&c, j);
          p->index = i + j;
        }
        mmbus_commit(ch, &c);
        i += k;
      }
    }
    uint64_t t1 = now_ns();
    double c1 = cpu_us();
    mmbus_close(ch);
    printf("{\"tStart\":%" PRIu64 ",\"tEnd\":%" PRIu64 ",\"cpuUs\":%.0f}\n", t0, t1, c1 - c0);
    return 0;
  }

  mmbus_sub_t *sub;
  if (mmbus_subscribe(ch, NULL, &sub)) {
    fprintf(stderr, "mmbus_peer: subscribe: %s\n", mmbus_errmsg());
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  double c0 = cpu_us();
  if (idle) {
    uint64_t end = now_ns() + 5000000000u;
    int64_t got = 0;
    mmbus_batch_t b;
    for (uint64_t t; !stop && (t = now_ns()) < end;) {
      int k = mmbus_poll(sub, 64, &b);
      if (k > 0) {
        got += k;
        mmbus_ack(sub);
      } else mmbus_wait(sub, (int64_t)((end - t) / 1000000u) + 1);
    }
    printf("{\"received\":%" PRId64 ",\"seconds\":5,\"cpuUs\":%.0f}\n", got, cpu_us() - c0);
    return 0;
  }
  uint64_t *lat = latency ? malloc(sizeof(uint64_t) * (size_t)n) : NULL;
  int64_t got = 0, sum = 0;
  uint64_t t_first = 0, t_last = 0;
  mmbus_batch_t b;
  while (got < n && !stop) {
    int k = mmbus_poll(sub, 8192, &b);
    if (k <= 0) {
      mmbus_wait(sub, 200);
      continue;
    }
    uint64_t t = now_ns();
    if (!t_first) t_first = t;
    for (int i = 0; i < k; i++) {
      if (latency) {
        const mmbus_PointUpdate *p = mmbus_batch_record(&b, (uint32_t)i);
        int64_t idx = p->point_id;
        sum += (idx & 1) ? -idx : idx;
        if (got + i < n) lat[got + i] = t - p->timestamp_ns;
      } else {
        const mmbus_Person *p = mmbus_batch_record(&b, (uint32_t)i);
        sum += (p->index & 1) ? -p->index : p->index;
      }
    }
    got += k;
    mmbus_ack(sub);
    t_last = now_ns();
  }
  double c1 = cpu_us();
  printf("{\"received\":%" PRId64 ",\"checksum\":%" PRId64 ",\"tFirst\":%" PRIu64 ",\"tLast\":%" PRIu64 ",\"cpuUs\":%.0f", got, sum, t_first, t_last, c1 - c0);
  if (latency && got > 0) {
    int64_t m = got < n ? got : n;
    qsort(lat, (size_t)m, sizeof lat[0], cmp_u64);
    printf(",\"latNs\":{\"n\":%" PRId64 ",\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "}", m, lat[m / 2], lat[m * 99 / 100], lat[m * 999 / 1000], lat[m - 1]);
  }
  printf("}\n");
  mmbus_sub_close(sub);
  mmbus_close(ch);
  return 0;
}
