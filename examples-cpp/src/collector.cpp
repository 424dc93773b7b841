// libcollector: simulated acquisition of devices × points, published as PointUpdate records on an
// mmbus channel (see include/collector.h). Built as a shared library with hidden visibility: only
// the collector_* functions are exported.
#include "collector.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include "mmbus.h"
#include "point.h"

#ifdef _WIN32
#define COLLECTOR_EXPORT extern "C" __declspec(dllexport) /* collector.dll: these and nothing else */
#else
#define COLLECTOR_EXPORT extern "C" __attribute__((visibility("default")))
#endif

namespace {

constexpr int64_t kClaimSliceMs = 100;  // a blocked claim re-checks the stop flag this often

uint64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// The first value of a point: what it jumps to from 0 at start-up.
double first_value(uint32_t p) { return double((uint64_t(p) * 2654435761u) % 100000u) / 100.0 + 1.0; }

struct Collector {
  mmbus_channel_t *ch = nullptr;
  uint32_t devices = 0, ppd = 0, points = 0, batch = 256;
  double rate = 0;
  int64_t block_timeout_ms = 5000;
  uint64_t rng = 1;
  std::vector<double> last;  // guarded by values_mu
  std::mutex values_mu;
  std::thread thread;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};
  bool stopped = false;  // guarded by g_mu
  std::atomic<uint64_t> burst_published{0}, changes_published{0}, burst_ns{0};
  std::atomic<bool> burst_done{false};
  std::atomic<int> error{0};
  std::mutex err_mu;
  std::string err_msg;

  uint64_t next_random() {  // xorshift64*
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
  }

  void fail(int code, const char *what) {
    std::lock_guard<std::mutex> g(err_mu);
    err_msg = std::string(what) + ": " + mmbus_errname(code) + ": " + mmbus_errmsg();
    error.store(code);
  }

  // Claims n records, waiting at most block_timeout_ms in all but giving up when stopping.
  // Returns 0, 1 when stopping, or a negative error.
  int claim(uint32_t n, mmbus_claim_t *c) {
    int64_t waited = 0;
    for (;;) {
      if (stopping.load(std::memory_order_relaxed)) return 1;
      int rc = mmbus_claim(ch, n, kClaimSliceMs, c);
      if (rc == 0) return 0;
      if (rc == MMBUS_E_TIMEOUT) {
        waited += kClaimSliceMs;
      } else if (rc == MMBUS_E_FULL) {  // reject policy: the collector retries, a little later
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        waited += 1;
      } else {
        return rc;
      }
      if (waited >= block_timeout_ms) return rc;
    }
  }

  void fill(mmbus_PointUpdate *r, uint32_t p, double value, uint64_t ts) {
    std::memset(r, 0, sizeof *r);
    r->timestamp_ns = ts;
    r->value = value;
    r->device_id = p / ppd;
    r->point_id = p;  // the key of the keyed channel: unique on the bus
    r->quality = MMBUS_QUALITY_GOOD;
    char tag[48];
    int len = std::snprintf(tag, sizeof tag, "dev%u/pt%u", r->device_id, p % ppd);
    mmbus_PointUpdate_set_tag_n(r, tag, size_t(len), 1);
  }

  // Publishes k records: point_of(i) and value_of(point) for i in [0, k). Returns like claim().
  template <class PointOf, class ValueOf>
  int publish(uint32_t k, PointOf point_of, ValueOf value_of) {
    mmbus_claim_t c;
    int rc = claim(k, &c);
    if (rc) return rc;
    uint64_t ts = realtime_ns();
    std::lock_guard<std::mutex> g(values_mu);
    for (uint32_t i = 0; i < k; i++) {
      uint32_t p = point_of(i);
      double v = value_of(p);
      fill(static_cast<mmbus_PointUpdate *>(mmbus_claim_record(&c, i)), p, v, ts);
      last[p] = v;
    }
    return mmbus_commit(ch, &c);
  }

  void run() {
    auto t0 = std::chrono::steady_clock::now();
    // 1. the start-up burst: every point from 0 to its first value, in claims of `batch` records
    for (uint32_t base = 0; base < points;) {
      uint32_t k = std::min(batch, points - base);
      int rc = publish(k, [base](uint32_t i) { return base + i; }, [](uint32_t p) { return first_value(p); });
      if (rc == 1) goto out;
      if (rc < 0) {
        fail(rc, "publishing the start-up burst");
        goto out;
      }
      base += k;
      burst_published.store(base, std::memory_order_release);
    }
    burst_ns.store(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()));
    burst_done.store(true, std::memory_order_release);

    // 2. steady changes at `rate` per second, paced by the clock in ticks of a few milliseconds
    if (rate > 0) {
      auto t1 = std::chrono::steady_clock::now();
      uint64_t sent = 0;
      while (!stopping.load()) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
        uint64_t due = uint64_t(elapsed * rate);
        while (sent < due && !stopping.load(std::memory_order_relaxed)) {
          uint32_t k = uint32_t(std::min<uint64_t>(batch, due - sent));
          std::vector<uint32_t> pts(k);
          for (auto &p : pts) p = uint32_t(next_random() % points);
          int rc = publish(
              k, [&pts](uint32_t i) { return pts[i]; },
              [this](uint32_t p) { return last[p] + double(int64_t(next_random() % 2001) - 1000) / 100.0; });
          if (rc == 1) goto out;
          if (rc < 0) {
            fail(rc, "publishing changes");
            goto out;
          }
          sent += k;
          changes_published.store(sent, std::memory_order_release);
        }
        std::unique_lock<std::mutex> lk(stop_mu);
        stop_cv.wait_for(lk, std::chrono::milliseconds(2), [this] { return stopping.load(); });
      }
    }
  out:
    running.store(false);
  }
};

Collector *g_collector = nullptr;
std::mutex g_mu;  // serialises start/stop
thread_local std::string t_errmsg;

int start_failed(int code, const std::string &msg) {
  t_errmsg = msg;
  return code;
}

}  // namespace

COLLECTOR_EXPORT const char *collector_errmsg(void) { return t_errmsg.c_str(); }

COLLECTOR_EXPORT int collector_start(const char *dir, const collector_options_t *o) {
  std::lock_guard<std::mutex> g(g_mu);
  if (g_collector && !g_collector->stopped) return start_failed(MMBUS_E_STATE, "the collector is already running");
  delete g_collector;
  g_collector = nullptr;
  if (!dir || !o) return start_failed(MMBUS_E_INVAL, "dir and options are required");
  if (o->api_version != COLLECTOR_API_VERSION) return start_failed(MMBUS_E_VERSION, "collector_options_t of another API version");
  auto *c = new Collector();
  c->devices = o->devices ? o->devices : 70;
  c->ppd = o->points_per_device ? o->points_per_device : 3000;
  uint64_t points = uint64_t(c->devices) * c->ppd;
  if (points > UINT32_MAX / 2) {
    delete c;
    return start_failed(MMBUS_E_INVAL, "too many points");
  }
  c->points = uint32_t(points);
  c->rate = o->rate > 0 ? o->rate : 0;
  c->batch = o->batch ? o->batch : 256;
  c->block_timeout_ms = o->block_timeout_ms >= 0 ? o->block_timeout_ms : 5000;
  c->rng = o->seed ? o->seed : 1;
  c->last.assign(c->points, 0.0);

  mmbus_options_t mo;
  mmbus_options_init(&mo);
  mo.flags = MMBUS_CREATE;
  mo.record_size = MMBUS_POINT_UPDATE_SIZE;
  mo.schema_name = MMBUS_POINT_UPDATE_NAME;
  mo.fingerprint = MMBUS_POINT_UPDATE_FINGERPRINT;
  mo.layout = MMBUS_POINT_UPDATE_LAYOUT; // self-describing: `mmbus tail` decodes it without the schema
  mo.layout_size = sizeof MMBUS_POINT_UPDATE_LAYOUT - 1;
  mo.capacity = o->capacity;
  mo.policy = mmbus_policy_t(o->policy);
  // keyed: the channel keeps every point's latest value, so a late subscriber gets them all at once
  mo.key_count = c->points;
  mo.key_offset = MMBUS_POINT_UPDATE_KEY_OFFSET;
  mo.key_size = MMBUS_POINT_UPDATE_KEY_SIZE;
  const char *name = o->channel ? o->channel : "points";
  int rc = mmbus_open(dir, name, &mo, &c->ch);
  if (rc < 0) {
    std::string msg = std::string("opening channel '") + name + "' in " + dir + ": " + mmbus_errname(rc) + ": " + mmbus_errmsg();
    delete c;
    return start_failed(rc, msg);
  }
  mmbus_info_t info;
  mmbus_info(c->ch, &info);
  c->batch = uint32_t(std::min<uint64_t>(c->batch, info.capacity));
  c->running.store(true);
  c->thread = std::thread([c] { c->run(); });
  g_collector = c;
  return 0;
}

COLLECTOR_EXPORT int collector_stats(collector_stats_t *s) {
  if (!s) return MMBUS_E_INVAL;
  std::memset(s, 0, sizeof *s);
  std::lock_guard<std::mutex> g(g_mu);
  Collector *c = g_collector;
  if (!c) return MMBUS_E_STATE;
  s->burst_published = c->burst_published.load(std::memory_order_acquire);
  s->changes_published = c->changes_published.load(std::memory_order_acquire);
  s->published = s->burst_published + s->changes_published;
  s->points = c->points;
  s->running = c->running.load();
  s->burst_done = c->burst_done.load(std::memory_order_acquire);
  s->burst_ns = c->burst_ns.load();
  s->error = c->error.load();
  std::lock_guard<std::mutex> e(c->err_mu);
  std::snprintf(s->message, sizeof s->message, "%s", c->err_msg.c_str());
  return 0;
}

COLLECTOR_EXPORT size_t collector_last_values(double *out, size_t n) {
  std::lock_guard<std::mutex> g(g_mu);
  Collector *c = g_collector;
  if (!c || !out) return 0;
  std::lock_guard<std::mutex> v(c->values_mu);
  n = std::min(n, c->last.size());
  std::memcpy(out, c->last.data(), n * sizeof(double));
  return n;
}

COLLECTOR_EXPORT int collector_stop(void) {
  std::lock_guard<std::mutex> g(g_mu);
  Collector *c = g_collector;
  if (!c || c->stopped) return MMBUS_E_STATE;
  {
    std::lock_guard<std::mutex> lk(c->stop_mu);
    c->stopping.store(true);
  }
  c->stop_cv.notify_all();
  if (c->thread.joinable()) c->thread.join();
  int rc = mmbus_close(c->ch);
  c->ch = nullptr;
  c->stopped = true;  // counters and values stay readable until the next collector_start()
  return c->error.load() ? c->error.load() : rc;
}
