/* Keyed channels (docs/format.md §11): every key's latest value, kept in the same commit as the ring
 * record, and subscribers that ask for keys, get a snapshot of them and then exactly the changes after
 * it. Single process: the API and its errors. Several processes: latest values under concurrent
 * publishers and readers, the snapshot-to-stream hand-off under load with keys asked and given back
 * while running, laps, publishers killed -9 while they publish, a durable subscriber resuming. */
#include "keyed.h"
#include "mp.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>

#define KEYS 512u
#define KEY_SEQ_BITS ((UINT64_C(1) << 62) - 1) /* docs/format.md §11: ver = sequence + 1 | buffer << 62 */
#define PUBS 2
static int64_t FINAL = 3000; /* versions per key in a multi-process run (children inherit it) */

static mmbus_channel_t *open_k(const char *dir, const char *name, mmbus_policy_t policy, uint64_t cap) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(kpoint_t);
  o.capacity = cap;
  o.schema_name = "test.KPoint";
  o.fingerprint = UINT64_C(0x6b6579706f696e74);
  o.key_count = KEYS;
  o.key_size = 4;
  o.policy = policy;
  o.unblock_timeout_ms = 200;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, name, &o, &ch));
  return ch;
}

/* ---- the API, in one process ------------------------------------------------------------------- */

static void test_api(const char *dir) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = 128;
  o.capacity = 64;
  o.key_count = 10;
  o.key_size = 3;
  mmbus_channel_t *bad = NULL;
  CHECK_RC(mmbus_open(dir, "k-bad", &o, &bad), MMBUS_E_INVAL); /* a 3-byte key */
  o.key_size = 8;
  o.key_offset = 121;
  CHECK_RC(mmbus_open(dir, "k-bad", &o, &bad), MMBUS_E_INVAL); /* the key beyond the record */
  o.key_offset = 0;
  o.key_count = MMBUS_KEY_COUNT_MAX + 1;
  CHECK_RC(mmbus_open(dir, "k-bad", &o, &bad), MMBUS_E_INVAL);

  mmbus_channel_t *ch = open_keyed(dir, "k-api", 100, 64);
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  CHECK(info.key_count == 100 && info.key_size == 4 && info.key_offset == 0 && info.keys_offset >= info.data_offset);
  CHECK(info.file_size >= info.keys_offset + 100 * (32 + 3 * 128));

  kpoint_t p, out;
  uint64_t seq = 99, key = 0;
  CHECK_RC(mmbus_latest(ch, 7, &out, sizeof out, &seq), MMBUS_E_NOENT); /* never published */
  CHECK_RC(mmbus_latest(ch, 100, &out, sizeof out, &seq), MMBUS_E_INVAL);
  CHECK_RC(mmbus_latest(ch, 7, &out, 64, &seq), MMBUS_E_TOOBIG);
  fill_kpoint(&p, 100, 0, 1);
  CHECK_RC(mmbus_publish(ch, &p, sizeof p), MMBUS_E_INVAL); /* key out of range: nothing published */
  CHECK(mmbus_head(ch) == 0);
  kpoint_t two[2];
  fill_kpoint(&two[0], 7, 0, 1);
  fill_kpoint(&two[1], 1000, 0, 1);
  CHECK_RC(mmbus_publish_batch(ch, two, 2), MMBUS_E_INVAL);
  CHECK(mmbus_head(ch) == 0);
  CHECK_RC(mmbus_latest(ch, 7, &out, sizeof out, NULL), MMBUS_E_NOENT);

  /* a claim with a bad key is refused at commit and given up whole: a reader never sees it */
  mmbus_sub_t *sub;
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  mmbus_claim_t c;
  CHECK_OK(mmbus_claim(ch, 2, -1, &c));
  fill_kpoint(mmbus_claim_record(&c, 0), 3, 0, 1);
  fill_kpoint(mmbus_claim_record(&c, 1), 4000000000u, 0, 1);
  CHECK_RC(mmbus_commit(ch, &c), MMBUS_E_INVAL);
  CHECK_RC(mmbus_latest(ch, 3, &out, sizeof out, NULL), MMBUS_E_NOENT);

  for (int64_t v = 1; v <= 3; v++) {
    fill_kpoint(&p, 7, 0, v);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  fill_kpoint(&p, 99, 0, 1);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK_OK(mmbus_latest(ch, 7, &out, sizeof out, &seq));
  CHECK(out.key == 7 && out.version == 3 && kpoint_intact(&out));
  mmbus_batch_t b;
  CHECK(mmbus_poll(sub, 0, &b) == 4); /* the given-up claim is stepped over */
  CHECK(b.seq + 2 == seq);
  CHECK_OK(mmbus_key_of(ch, mmbus_batch_record(&b, 3), &key));
  CHECK(key == 99);
  for (uint32_t i = 0; i < 4; i++) CHECK(mmbus_sub_wants(sub, &b, i) == 1); /* asked nothing: everything */
  CHECK_RC(mmbus_sub_ask(sub, 0, 10, 1), MMBUS_E_STATE); /* a batch in hand */
  CHECK(mmbus_ack(sub) == 0);

  CHECK_RC(mmbus_sub_ask(sub, 95, 6, 0), MMBUS_E_INVAL); /* beyond the keys */
  CHECK_RC(mmbus_sub_ask(sub, 5, 0, 0), MMBUS_E_INVAL);
  CHECK_RC(mmbus_sub_ask(sub, UINT64_MAX, 2, 0), MMBUS_E_INVAL);
  CHECK_RC(mmbus_sub_unask(sub, 100, 1), MMBUS_E_INVAL);
  /* ask for 0..9 with a snapshot: key 7's latest; key 99 is not asked; never-published keys skipped */
  CHECK_OK(mmbus_sub_ask(sub, 0, 10, 1));
  CHECK_RC(mmbus_poll(sub, 0, &b), MMBUS_E_STATE); /* snapshot values first */
  CHECK_OK(mmbus_wait(sub, 0)); /* pending snapshot values count as something to do */
  CHECK(mmbus_sub_snapshot(sub, &out, sizeof out, &key, &seq) == 1);
  CHECK(key == 7 && out.version == 3 && kpoint_intact(&out));
  CHECK(mmbus_sub_snapshot(sub, &out, sizeof out, &key, &seq) == 0);
  CHECK(mmbus_sub_snapshot(sub, &out, sizeof out, &key, &seq) == 0);
  fill_kpoint(&p, 7, 0, 4);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  fill_kpoint(&p, 99, 0, 2);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  fill_kpoint(&p, 2, 0, 1);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK(mmbus_poll(sub, 0, &b) == 3);
  CHECK(mmbus_sub_wants(sub, &b, 0) == 1);
  CHECK(mmbus_sub_wants(sub, &b, 0) == 0); /* had it */
  CHECK(mmbus_sub_wants(sub, &b, 1) == 0); /* key 99: not asked */
  CHECK(mmbus_sub_wants(sub, &b, 2) == 1);
  CHECK_RC(mmbus_sub_wants(sub, &b, 3), MMBUS_E_INVAL);
  CHECK(mmbus_ack(sub) == 0);
  CHECK_OK(mmbus_sub_unask(sub, 7, 1));
  fill_kpoint(&p, 7, 0, 5);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK(mmbus_poll(sub, 0, &b) == 1);
  CHECK(mmbus_sub_wants(sub, &b, 0) == 0); /* given back */
  CHECK(mmbus_ack(sub) == 0);
  CHECK_OK(mmbus_sub_ask(sub, 7, 1, 1)); /* again, with a snapshot: version 5 */
  CHECK(mmbus_sub_snapshot(sub, &out, sizeof out, &key, NULL) == 1 && key == 7 && out.version == 5);
  CHECK(mmbus_sub_snapshot(sub, &out, sizeof out, &key, NULL) == 0);
  CHECK_OK(mmbus_sub_close(sub));

  /* opening: the file's keys, or exactly them */
  mmbus_options_init(&o);
  mmbus_channel_t *again = NULL;
  CHECK_OK(mmbus_open(dir, "k-api", &o, &again));
  CHECK_OK(mmbus_info(again, &info));
  CHECK(info.key_count == 100 && info.key_size == 4);
  CHECK_OK(mmbus_latest(again, 7, &out, sizeof out, NULL));
  CHECK(out.version == 5);
  CHECK_OK(mmbus_close(again));
  o.key_count = 101;
  CHECK_RC(mmbus_open(dir, "k-api", &o, &again), MMBUS_E_MISMATCH);
  o.key_count = 100;
  o.key_size = 8;
  CHECK_RC(mmbus_open(dir, "k-api", &o, &again), MMBUS_E_MISMATCH);
  CHECK_OK(mmbus_close(ch));

  mmbus_channel_t *plain = open_person_channel(dir, "k-plain", MMBUS_POLICY_BLOCK, 64);
  CHECK_RC(mmbus_latest(plain, 0, &out, sizeof out, NULL), MMBUS_E_STATE);
  CHECK_RC(mmbus_key_of(plain, &out, &key), MMBUS_E_STATE);
  CHECK_OK(mmbus_subscribe(plain, &so, &sub));
  CHECK_RC(mmbus_sub_ask(sub, 0, 1, 1), MMBUS_E_STATE);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(plain));
  mmbus_options_init(&o);
  o.key_count = 100;
  o.key_size = 4;
  CHECK_RC(mmbus_open(dir, "k-plain", &o, &plain), MMBUS_E_MISMATCH);
}

/* A subscriber that joins and takes its snapshot while a claim below head is still being written gets
 * that record as a change after the snapshot: the claim's key is only updated at its commit. */
static void test_join_during_claim(const char *dir) {
  mmbus_channel_t *pub = open_keyed(dir, "k-join", 16, 64), *other;
  mmbus_options_t o;
  mmbus_options_init(&o);
  CHECK_OK(mmbus_open(dir, "k-join", &o, &other));
  kpoint_t p, v;
  fill_kpoint(&p, 5, 0, 1);
  CHECK_OK(mmbus_publish(pub, &p, sizeof p));
  mmbus_claim_t c;
  CHECK_OK(mmbus_claim(pub, 1, -1, &c));
  fill_kpoint(mmbus_claim_record(&c, 0), 5, 0, 2);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  CHECK_OK(mmbus_subscribe(other, &so, &sub)); /* at head: after the claim in flight */
  CHECK_OK(mmbus_sub_ask(sub, 5, 1, 1));
  uint64_t key;
  CHECK(mmbus_sub_snapshot(sub, &v, sizeof v, &key, NULL) == 1);
  CHECK(key == 5 && v.version == 1);
  CHECK_OK(mmbus_commit(pub, &c));
  mmbus_batch_t b;
  int n = mmbus_poll(sub, 0, &b), got = 0;
  for (int i = 0; i < n; i++)
    if (mmbus_sub_wants(sub, &b, (uint32_t)i) == 1) {
      const kpoint_t *r = mmbus_batch_record(&b, (uint32_t)i);
      CHECK(r->key == 5 && r->version == 2);
      got++;
    }
  CHECK(got == 1);
  CHECK(mmbus_ack(sub) == 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(other));
  CHECK_OK(mmbus_close(pub));
}

/* A damaged key table is reported, never handed out as a value, and nothing loops on it. */
static void test_damaged_table(const char *dir) {
  mmbus_channel_t *ch = open_keyed(dir, "k-damaged", 8, 64);
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  kpoint_t p, v;
  for (uint32_t k = 0; k < 4; k++) {
    fill_kpoint(&p, k, 0, 1);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  uint8_t *keys = (uint8_t *)mmbus_base(ch) + info.keys_offset;
  const uint64_t es = info.key_entry_size;
  CHECK(es == 448 && info.key_header_size == 64); /* docs/format.md §11 for 128-byte records */
  uint64_t *e0 = (uint64_t *)keys, *e1 = (uint64_t *)(keys + es), *e2 = (uint64_t *)(keys + 2 * es);
  *e0 = (*e0 & KEY_SEQ_BITS) | (UINT64_C(3) << 62); /* a fourth buffer */
  *e1 = (*e1 & ~KEY_SEQ_BITS) | 1000;                /* a record beyond head */
  uint32_t cur = (uint32_t)(*e2 >> 62);
  kpoint_t *held = (kpoint_t *)(keys + 2 * es + info.key_header_size + cur * 128);
  held->key = 3; /* another key's record */
  CHECK_RC(mmbus_latest(ch, 0, &v, sizeof v, NULL), MMBUS_E_CORRUPT);
  CHECK_RC(mmbus_latest(ch, 1, &v, sizeof v, NULL), MMBUS_E_CORRUPT);
  CHECK_RC(mmbus_latest(ch, 2, &v, sizeof v, NULL), MMBUS_E_CORRUPT);
  CHECK_OK(mmbus_latest(ch, 3, &v, sizeof v, NULL));
  char why[256];
  CHECK(mmbus_verify(ch, why, sizeof why) == 3);
  printf("damaged key table: %s\n", why);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  CHECK_OK(mmbus_sub_ask(sub, 0, 8, 1));
  uint64_t key;
  CHECK_RC(mmbus_sub_snapshot(sub, &v, sizeof v, &key, NULL), MMBUS_E_CORRUPT);
  CHECK_OK(mmbus_sub_close(sub));
  fill_kpoint(&p, 0, 0, 2); /* publishing goes on: a bad `ver` is replaced by a good one */
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  CHECK_OK(mmbus_latest(ch, 0, &v, sizeof v, NULL));
  CHECK(v.version == 2);
  CHECK_OK(mmbus_close(ch));
}

/* ---- several processes -------------------------------------------------------------------------- */

/* Publisher `id` owns the keys k with k % PUBS == id and counts their versions 1..FINAL, in batches of
 * 1..16 over random keys of its own; it starts from each key's latest version, so a restarted
 * publisher carries on where the killed one's last commit left it. */
static void keyed_publisher(const char *dir, const char *name, mmbus_policy_t policy, uint64_t cap, int id,
                            int ready_fd) {
  mmbus_channel_t *ch = open_k(dir, name, policy, cap);
  if (mmbus_gc(ch) < 0) _exit(2); /* a killed predecessor's decided claim is completed first */
  static int64_t version[KEYS];
  int open_keys = 0;
  for (uint32_t k = (uint32_t)id; k < KEYS; k += PUBS) {
    kpoint_t last;
    int rc = mmbus_latest(ch, k, &last, sizeof last, NULL);
    if (rc == 0) version[k] = last.version;
    else if (rc == MMBUS_E_NOENT) version[k] = 0;
    else _exit(2);
    if (version[k] < FINAL) open_keys++;
  }
  if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1) _exit(3);
  unsigned seed = (unsigned)getpid();
  kpoint_t batch[16];
  int revoked = 0;
  while (open_keys) {
    int n = 1 + (int)(rand_r(&seed) % 16), m = 0;
    for (int j = 0; j < n * 4 && m < n; j++) {
      uint32_t k = (uint32_t)id + PUBS * (uint32_t)(rand_r(&seed) % (KEYS / PUBS));
      if (version[k] >= FINAL) continue;
      int dup = 0;
      for (int q = 0; q < m; q++) dup |= batch[q].key == k;
      if (dup) continue;
      fill_kpoint(&batch[m++], k, id, version[k] + 1);
    }
    if (!m) { /* the few keys left: in order */
      for (uint32_t k = (uint32_t)id; k < KEYS && !m; k += PUBS)
        if (version[k] < FINAL) fill_kpoint(&batch[m++], k, id, version[k] + 1);
    }
    int rc = m == 1 ? mmbus_publish(ch, batch, sizeof batch[0]) : mmbus_publish_batch(ch, batch, (size_t)m);
    /* Stalled past the unblock time-out (a loaded machine, a sanitizer build): the claim was given up
     * and nothing of it reached anyone, so it is published again, as the error says. */
    if (rc == MMBUS_E_REVOKED && ++revoked <= 1000) continue;
    if (rc) {
      fprintf(stderr, "keyed publisher %d: %s\n", id, mmbus_errmsg());
      _exit(2);
    }
    for (int q = 0; q < m; q++)
      if (++version[batch[q].key] == FINAL) open_keys--;
  }
  mmbus_close(ch);
  _exit(0);
}

typedef struct sub_result {
  int64_t changes, snapshots, bad, dup_or_gap, lost, unexpected_key, resnapshots;
} sub_result_t;

/* Takes every pending snapshot value into last[] (a value older than one had is an error). */
static void take_snapshots(mmbus_sub_t *sub, int64_t *last, const uint8_t *asked, sub_result_t *r) {
  kpoint_t v;
  uint64_t key, seq;
  int rc;
  while ((rc = mmbus_sub_snapshot(sub, &v, sizeof v, &key, &seq)) == 1) {
    r->snapshots++;
    if (key >= KEYS || v.key != key || !kpoint_intact(&v) || !asked[key]) r->bad++;
    else if (v.version < last[key]) r->dup_or_gap++; /* never backwards */
    else last[key] = v.version;
  }
  if (rc < 0) r->bad++;
}

/* A subscriber asking for keys [lo, hi) with a snapshot, then following the changes until each has
 * version FINAL: every change must be the one after the value it had (no gap, none twice), unless
 * records were lost (overwrite laps), when a newer snapshot value stands in. Mid-run it gives a range
 * back and asks it again with a snapshot. */
static void keyed_subscriber(const char *dir, const char *name, mmbus_policy_t policy, uint64_t cap, uint32_t lo,
                             uint32_t hi, unsigned pause_us, int churn, int ready_fd, int result_fd) {
  mmbus_channel_t *ch = open_k(dir, name, policy, cap);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  static int64_t last[KEYS];
  static uint8_t asked[KEYS];
  sub_result_t r = {0};
  CHECK_OK(mmbus_sub_ask(sub, lo, hi - lo, 1));
  for (uint32_t k = lo; k < hi; k++) asked[k] = 1;
  if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1) _exit(3);
  uint32_t done = 0, churn_lo = lo + (hi - lo) / 4, churn_n = (hi - lo) / 4;
  int64_t polls = 0;
  uint64_t lost_before = 0;
  for (;;) {
    take_snapshots(sub, last, asked, &r);
    done = 0;
    for (uint32_t k = lo; k < hi; k++) done += last[k] == FINAL;
    if (done == hi - lo) break;
    mmbus_batch_t b;
    int n = mmbus_poll(sub, 256, &b);
    if (n < 0) {
      fprintf(stderr, "keyed subscriber: poll: %s\n", mmbus_errmsg());
      r.bad++;
      break;
    }
    if (n == 0) {
      if (churn && !asked[churn_lo]) { /* nothing flowing: ask for the range given back now */
        CHECK_OK(mmbus_sub_ask(sub, churn_lo, churn_n, 1));
        for (uint32_t k = churn_lo; k < churn_lo + churn_n; k++) asked[k] = 1;
        r.resnapshots++;
        continue;
      }
      if (mmbus_wait(sub, 20000) != 0) {
        fprintf(stderr, "keyed subscriber: wait: %s (%u of %u keys done)\n", mmbus_errmsg(), done, hi - lo);
        r.bad++;
        break;
      }
      continue;
    }
    static kpoint_t copy[256];
    static int wanted[256];
    for (int i = 0; i < n; i++) {
      memcpy(&copy[i], mmbus_batch_record(&b, (uint32_t)i), sizeof copy[i]);
      wanted[i] = mmbus_sub_wants(sub, &b, (uint32_t)i);
    }
    int over = mmbus_ack(sub);
    if (over < 0) {
      r.bad++;
      break;
    }
    uint64_t lost_now = mmbus_sub_lost(sub);
    for (int i = over; i < n; i++) {
      const kpoint_t *p = &copy[i];
      if (wanted[i] < 0 || p->key >= KEYS || !kpoint_intact(p)) {
        r.bad++;
        continue;
      }
      if (!wanted[i]) {
        if (asked[p->key] && p->version > last[p->key]) r.dup_or_gap++; /* a change it should have had */
        continue;
      }
      if (!asked[p->key]) {
        r.unexpected_key++;
        continue;
      }
      r.changes++;
      if (p->version != last[p->key] + 1 && !(lost_now > lost_before && p->version > last[p->key])) r.dup_or_gap++;
      last[p->key] = p->version;
    }
    lost_before = lost_now;
    if (churn && ++polls % 50 == 0) { /* give a quarter back, then ask it again with a snapshot */
      CHECK_OK(mmbus_sub_unask(sub, churn_lo, churn_n));
      for (uint32_t k = churn_lo; k < churn_lo + churn_n; k++) asked[k] = 0;
      if (polls % 100 == 0) {
        CHECK_OK(mmbus_sub_ask(sub, churn_lo, churn_n, 1));
        for (uint32_t k = churn_lo; k < churn_lo + churn_n; k++) asked[k] = 1;
      }
    }
    if (churn && polls % 50 != 0 && !asked[churn_lo] && polls % 50 == 25) { /* ...25 polls later */
      CHECK_OK(mmbus_sub_ask(sub, churn_lo, churn_n, 1));
      for (uint32_t k = churn_lo; k < churn_lo + churn_n; k++) asked[k] = 1;
      r.resnapshots++;
    }
    if (pause_us) usleep(pause_us);
  }
  /* each key's latest value is its last version, and the same record the subscriber ended with */
  for (uint32_t k = lo; k < hi; k++) {
    kpoint_t v;
    if (mmbus_latest(ch, k, &v, sizeof v, NULL) != 0 || v.version != FINAL || !kpoint_intact(&v) ||
        v.publisher != (int32_t)(k % PUBS))
      r.bad++;
  }
  r.lost = (int64_t)mmbus_sub_lost(sub);
  mmbus_sub_close(sub);
  mmbus_close(ch);
  write_all(result_fd, &r, sizeof r);
  _exit(0);
}

/* Reads latest values while they are written: never torn, never a key's version going back. */
static void latest_reader(const char *dir, const char *name, mmbus_policy_t policy, uint64_t cap, int stop_fd,
                          int result_fd) {
  mmbus_channel_t *ch = open_k(dir, name, policy, cap);
  static int64_t seen[KEYS];
  static uint64_t seen_seq[KEYS];
  int64_t reads = 0, bad = 0;
  unsigned seed = 7;
  char c;
  for (;;) {
    for (int i = 0; i < 1000; i++) {
      uint32_t k = (uint32_t)(rand_r(&seed) % KEYS);
      kpoint_t v;
      uint64_t seq;
      int rc = mmbus_latest(ch, k, &v, sizeof v, &seq);
      if (rc == MMBUS_E_NOENT) continue;
      reads++;
      if (rc != 0 || v.key != k || !kpoint_intact(&v) || v.version < seen[k] || seq < seen_seq[k]) bad++;
      seen[k] = v.version;
      seen_seq[k] = seq;
    }
    if (read(stop_fd, &c, 1) == 1) break; /* non-blocking: the parent says when */
    usleep(100);
  }
  int64_t res[2] = {reads, bad};
  write_all(result_fd, res, sizeof res);
  mmbus_close(ch);
  _exit(0);
}

static sub_result_t read_result(int fd) {
  sub_result_t r;
  CHECK(read_all(fd, &r, sizeof r) == 0);
  return r;
}

static void report(const char *what, sub_result_t r) {
  printf("%s: %" PRId64 " changes, %" PRId64 " snapshot values, %" PRId64 " lost, bad %" PRId64
         ", gap-or-twice %" PRId64 ", unasked %" PRId64 "\n",
         what, r.changes, r.snapshots, r.lost, r.bad, r.dup_or_gap, r.unexpected_key);
}

/* Publishers and subscribers together: subscribers join at different moments, one gives keys back and
 * asks again all along, one reads latest values the whole time. */
static void test_handoff(const char *dir, mmbus_policy_t policy, uint64_t cap, unsigned slow_us, const char *name) {
  mmbus_channel_t *keep = open_k(dir, name, policy, cap); /* created before the children open it */
  int res[2], ready[2], stop[2];
  CHECK(pipe(res) == 0 && pipe(ready) == 0 && pipe(stop) == 0);
  CHECK(fcntl(stop[0], F_SETFL, O_NONBLOCK) == 0);
  pid_t reader = fork_child();
  if (reader == 0) latest_reader(dir, name, policy, cap, stop[0], res[1]);
  /* one subscriber before anything is published, on all keys */
  pid_t s[3];
  char c;
  s[0] = fork_child();
  if (s[0] == 0) keyed_subscriber(dir, name, policy, cap, 0, KEYS, slow_us, 0, ready[1], res[1]);
  CHECK(read_all(ready[0], &c, 1) == 0);
  pid_t pubs[PUBS];
  for (int i = 0; i < PUBS; i++) {
    pubs[i] = fork_child();
    if (pubs[i] == 0) keyed_publisher(dir, name, policy, cap, i, ready[1]);
    CHECK(read_all(ready[0], &c, 1) == 0);
  }
  usleep(30000); /* the others join while records flow */
  s[1] = fork_child();
  if (s[1] == 0) keyed_subscriber(dir, name, policy, cap, 100, 300, 0, 1, ready[1], res[1]);
  CHECK(read_all(ready[0], &c, 1) == 0);
  usleep(30000);
  s[2] = fork_child();
  if (s[2] == 0) keyed_subscriber(dir, name, policy, cap, 7, 8, slow_us, 0, ready[1], res[1]);
  CHECK(read_all(ready[0], &c, 1) == 0);
  for (int i = 0; i < PUBS; i++) CHECK(wait_pid(pubs[i]) == 0);
  for (int i = 0; i < 3; i++) CHECK(wait_pid(s[i]) == 0);
  CHECK(write(stop[1], "s", 1) == 1);
  CHECK(wait_pid(reader) == 0);
  for (int i = 0; i < 3; i++) {
    sub_result_t r = read_result(res[0]);
    report(name, r);
    CHECK(r.bad == 0 && r.dup_or_gap == 0 && r.unexpected_key == 0);
    if (policy != MMBUS_POLICY_OVERWRITE) CHECK(r.lost == 0);
    CHECK(r.snapshots + r.changes > 0);
  }
  int64_t lr[2];
  CHECK(read_all(res[0], lr, sizeof lr) == 0);
  printf("%s: %" PRId64 " latest reads, bad %" PRId64 "\n", name, lr[0], lr[1]);
  CHECK(lr[1] == 0 && lr[0] > 0);
  CHECK(mmbus_verify(keep, NULL, 0) == 0);
  CHECK_OK(mmbus_close(keep));
}

/* What a durable follower had, kept where its kill -9 does not take it: the parent's shared page. */
typedef struct follower_state {
  int64_t last[KEYS];
  int64_t delivered, snapshots, bad, gap, backwards, restarts;
  int finished;
} follower_state_t;

/* A durable subscriber of every key that is killed -9 at random and restarted: each start asks with
 * MMBUS_SNAPSHOT_CHANGED. Per key, a change is the version after the one it had, except that the first
 * delivery after a restart may repeat the last one (the batch in flight at the kill comes again); a
 * snapshot value is never older than what it had; at the end every key has its final version. */
static void follower_failed(const char *what, int rc) {
  fprintf(stderr, "durable follower: %s: %s: %s\n", what, mmbus_errname(rc), mmbus_errmsg());
  _exit(2);
}

static void durable_follower(const char *dir, const char *name, uint64_t cap, follower_state_t *st, int ready_fd) {
  mmbus_channel_t *ch = open_k(dir, name, MMBUS_POLICY_BLOCK, cap);
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  so.name = "follower";
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  CHECK_OK(mmbus_sub_ask(sub, 0, KEYS, MMBUS_SNAPSHOT_CHANGED));
  st->restarts++;
  static uint8_t since_start[KEYS];
  if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1) _exit(3);
  for (;;) {
    kpoint_t v;
    uint64_t key;
    int rc;
    while ((rc = mmbus_sub_snapshot(sub, &v, sizeof v, &key, NULL)) == 1) {
      st->snapshots++;
      if (key >= KEYS || v.key != key || !kpoint_intact(&v)) st->bad++;
      else if (v.version < st->last[key]) st->backwards++;
      else st->last[key] = v.version;
      if (key < KEYS) since_start[key] = 1;
    }
    if (rc < 0) st->bad++;
    int done = 1;
    for (uint32_t k = 0; k < KEYS && done; k++) done = st->last[k] == FINAL;
    if (done) break;
    mmbus_batch_t b;
    int n = mmbus_poll(sub, 64, &b);
    if (n < 0) follower_failed("poll", n);
    if (n == 0) {
      int w = mmbus_wait(sub, 20000);
      if (w != 0) follower_failed("wait", w);
      continue;
    }
    for (int i = 0; i < n; i++) {
      int w = mmbus_sub_wants(sub, &b, (uint32_t)i);
      const kpoint_t *p = mmbus_batch_record(&b, (uint32_t)i);
      if (w < 0 || p->key >= KEYS || !kpoint_intact(p)) {
        st->bad++;
        continue;
      }
      if (!w) continue;
      int64_t had = st->last[p->key];
      if (p->version == had + 1) st->last[p->key] = p->version;
      else if (p->version == had && !since_start[p->key]) (void)0; /* the batch in flight, again */
      else if (p->version <= had) st->backwards++;
      else st->gap++;
      since_start[p->key] = 1;
      st->delivered++;
    }
    if (mmbus_ack(sub) != 0) st->bad++;
  }
  st->finished = 1;
  mmbus_sub_close(sub);
  mmbus_close(ch);
  _exit(0);
}

/* Publishers killed -9 at random moments and restarted (each carries on from the latest values) while a
 * subscriber follows every key: no change lost, none twice, every value intact. */
static void test_kills(const char *dir, int kills) {
  const char *name = "k-kills";
  FINAL = test_records() / 100; /* 20,000 versions of 512 keys: long enough for every kill to land */
  const uint64_t cap = 1024;
  mmbus_channel_t *keep = open_k(dir, name, MMBUS_POLICY_BLOCK, cap);
  int res[2], ready[2];
  CHECK(pipe(res) == 0 && pipe(ready) == 0);
  char c;
  pid_t sub = fork_child();
  if (sub == 0) keyed_subscriber(dir, name, MMBUS_POLICY_BLOCK, cap, 0, KEYS, 0, 1, ready[1], res[1]);
  CHECK(read_all(ready[0], &c, 1) == 0);
  follower_state_t *fs = mmap(NULL, sizeof *fs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(fs != MAP_FAILED);
  memset(fs, 0, sizeof *fs);
  pid_t follower = fork_child();
  if (follower == 0) durable_follower(dir, name, cap, fs, ready[1]);
  CHECK(read_all(ready[0], &c, 1) == 0);
  pid_t pubs[PUBS];
  for (int i = 0; i < PUBS; i++) {
    pubs[i] = fork_child();
    if (pubs[i] == 0) keyed_publisher(dir, name, MMBUS_POLICY_BLOCK, cap, i, ready[1]);
    CHECK(read_all(ready[0], &c, 1) == 0);
  }
  unsigned seed = 42;
  int done[PUBS] = {0}, killed = 0, followers_killed = 0;
  while (killed < kills) {
    usleep(2000 + rand_r(&seed) % 20000);
    if (rand_r(&seed) % 3 == 0 && !fs->finished) { /* the durable follower */
      kill(follower, SIGKILL);
      int st = wait_pid(follower);
      if (st == 0) continue;
      CHECK(st == 128 + SIGKILL);
      followers_killed++;
      follower = fork_child();
      if (follower == 0) durable_follower(dir, name, cap, fs, ready[1]);
      CHECK(read_all(ready[0], &c, 1) == 0);
      continue;
    }
    int i = (int)(rand_r(&seed) % PUBS);
    if (done[i]) continue;
    kill(pubs[i], SIGKILL);
    int st = wait_pid(pubs[i]);
    if (st == 0) { /* it finished before the kill */
      done[i] = 1;
      if (done[0] && done[1]) break;
      continue;
    }
    CHECK(st == 128 + SIGKILL);
    killed++;
    pubs[i] = fork_child();
    if (pubs[i] == 0) keyed_publisher(dir, name, MMBUS_POLICY_BLOCK, cap, i, ready[1]);
    CHECK(read_all(ready[0], &c, 1) == 0);
  }
  for (int i = 0; i < PUBS; i++)
    if (!done[i]) CHECK(wait_pid(pubs[i]) == 0);
  CHECK(wait_pid(sub) == 0);
  CHECK(wait_pid(follower) == 0);
  sub_result_t r = read_result(res[0]);
  report("kills", r);
  printf("kills: %d publishers and %d durable subscribers killed -9; the durable one: %" PRId64 " changes, %" PRId64
         " snapshot values over %" PRId64 " starts, bad %" PRId64 ", gaps %" PRId64 ", backwards %" PRId64 "\n",
         killed, followers_killed, fs->delivered, fs->snapshots, fs->restarts, fs->bad, fs->gap, fs->backwards);
  CHECK(r.bad == 0 && r.dup_or_gap == 0 && r.unexpected_key == 0 && r.lost == 0);
  CHECK(fs->finished && fs->bad == 0 && fs->gap == 0 && fs->backwards == 0 && followers_killed > 0);
  for (uint32_t k = 0; k < KEYS; k++) CHECK(fs->last[k] == FINAL);
  munmap(fs, sizeof *fs);
  CHECK(mmbus_verify(keep, NULL, 0) == 0);
  CHECK_OK(mmbus_close(keep));
}

/* Versions from..to of keys 0..keys-1, key by key within each version. */
static void publish_changes(mmbus_channel_t *ch, uint32_t keys, int64_t from, int64_t to) {
  kpoint_t p;
  for (int64_t ver = from; ver <= to; ver++)
    for (uint32_t k = 0; k < keys; k++) {
      fill_kpoint(&p, k, 0, ver);
      CHECK_OK(mmbus_publish(ch, &p, sizeof p));
    }
}

/* An overwrite channel of 64 records whose durable subscriber "keeper" (so) had version 1 of keys
 * 0..9 and went away. */
static mmbus_channel_t *keeper_gone(const char *dir, const char *name, mmbus_sub_options_t *so) {
  mmbus_channel_t *ch = open_k(dir, name, MMBUS_POLICY_OVERWRITE, 64);
  mmbus_sub_options_init(so);
  so->name = "keeper";
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, so, &sub));
  publish_changes(ch, 10, 1, 1);
  mmbus_batch_t b;
  CHECK(mmbus_poll(sub, 0, &b) == 10);
  CHECK(mmbus_ack(sub) == 0);
  CHECK_OK(mmbus_sub_close(sub));
  return ch;
}

/* A durable keyed subscriber away for more than a lap comes back asking for a snapshot: it gets each
 * changed key's latest value (and nothing it had), not a count of lost records; without a snapshot it
 * is told what it lost. */
static void test_durable(const char *dir) {
  mmbus_sub_options_t so;
  mmbus_channel_t *ch = keeper_gone(dir, "k-durable", &so);
  mmbus_sub_t *sub;
  mmbus_batch_t b;
  kpoint_t v;
  publish_changes(ch, 5, 2, 41); /* away: keys 0..4 change 40 times each (200 records, three laps of 64) */
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  CHECK_RC(mmbus_sub_ask(sub, 0, 10, 3), MMBUS_E_INVAL);
  /* a new process asks again, for what changed while it was away: keys 0..4 */
  CHECK_OK(mmbus_sub_ask(sub, 0, 10, MMBUS_SNAPSHOT_CHANGED));
  uint64_t key;
  int got[10] = {0};
  while (mmbus_sub_snapshot(sub, &v, sizeof v, &key, NULL) == 1) {
    CHECK(key < 10 && kpoint_intact(&v) && v.key == key);
    CHECK(v.version == 41);
    got[key]++;
  }
  for (int k = 0; k < 10; k++) CHECK(got[k] == (k < 5));
  int n;
  while ((n = mmbus_poll(sub, 0, &b)) > 0) { /* what is still in the ring is older than the snapshot */
    for (int i = 0; i < n; i++) CHECK(mmbus_sub_wants(sub, &b, (uint32_t)i) == 0);
    CHECK(mmbus_ack(sub) == 0);
  }
  CHECK(n == 0);
  CHECK(mmbus_sub_lost(sub) == 0); /* the snapshot stood in for what it missed */
  CHECK_OK(mmbus_sub_close(sub));
  publish_changes(ch, 5, 42, 81);
  CHECK_OK(mmbus_subscribe(ch, &so, &sub)); /* every key's value this time */
  CHECK_OK(mmbus_sub_ask(sub, 0, 10, MMBUS_SNAPSHOT_ALL));
  memset(got, 0, sizeof got);
  while (mmbus_sub_snapshot(sub, &v, sizeof v, &key, NULL) == 1) {
    CHECK(key < 10 && kpoint_intact(&v) && v.version == (key < 5 ? 81 : 1));
    got[key]++;
  }
  for (int k = 0; k < 10; k++) CHECK(got[k] == 1);
  CHECK_OK(mmbus_sub_close(sub));
  publish_changes(ch, 5, 82, 121);
  CHECK_OK(mmbus_subscribe(ch, &so, &sub)); /* no snapshot this time: the records it missed are lost */
  while ((n = mmbus_poll(sub, 0, &b)) > 0) CHECK(mmbus_ack(sub) == 0);
  CHECK(n == 0);
  CHECK(mmbus_sub_lost(sub) == 200); /* from where the last one stopped (it read nothing) to the oldest */
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

/* Takes the pending snapshot values of a resumed "keeper" into got[] (latest version per key). */
static void take_snapshot(mmbus_sub_t *sub, int64_t got[10]) {
  kpoint_t v;
  uint64_t key;
  for (int k = 0; k < 10; k++) got[k] = 0;
  while (mmbus_sub_snapshot(sub, &v, sizeof v, &key, NULL) == 1) {
    CHECK(key < 10 && kpoint_intact(&v) && v.key == key);
    got[key] = v.version;
  }
}

/* A durable keyed subscriber killed -9 before it took all of a snapshot that stands in for records it
 * missed, and moved on, still gets those keys when it comes back, however often it is interrupted:
 * resuming behind the ring (killed before it asked, then mid-snapshot), lapped while it ran (killed
 * mid-snapshot, then after the snapshot but before its next poll). */
static void test_durable_interrupted(const char *dir) {
  mmbus_sub_options_t so;
  mmbus_channel_t *ch = keeper_gone(dir, "k-interrupted", &so);
  mmbus_sub_t *sub;
  mmbus_batch_t b;
  kpoint_t p;
  /* away: key 9 changes once, then keys 0..4 lap the ring three times over it */
  fill_kpoint(&p, 9, 0, 2);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  publish_changes(ch, 5, 2, 41);
  pid_t child = fork_child();
  if (child == 0) { /* comes back and is killed before it asks */
    CHECK_OK(mmbus_subscribe(ch, &so, &sub));
    raise(SIGKILL);
  }
  CHECK(wait_pid(child) == 128 + SIGKILL);
  child = fork_child();
  if (child == 0) { /* comes back, asks, and is killed after one snapshot value */
    CHECK_OK(mmbus_subscribe(ch, &so, &sub));
    CHECK_OK(mmbus_sub_ask(sub, 0, 10, MMBUS_SNAPSHOT_CHANGED));
    kpoint_t v;
    CHECK(mmbus_sub_snapshot(sub, &v, sizeof v, NULL, NULL) == 1);
    raise(SIGKILL);
  }
  CHECK(wait_pid(child) == 128 + SIGKILL);
  int64_t got[10];
  child = fork_child();
  if (child == 0) { /* comes back, takes all of it, is lapped while it runs and killed mid-snapshot */
    CHECK_OK(mmbus_subscribe(ch, &so, &sub));
    CHECK_OK(mmbus_sub_ask(sub, 0, 10, MMBUS_SNAPSHOT_CHANGED));
    take_snapshot(sub, got);
    for (int k = 0; k < 10; k++) CHECK(got[k] == (k < 5 ? 41 : k == 9 ? 2 : 0));
    int n;
    while ((n = mmbus_poll(sub, 0, &b)) > 0) CHECK(mmbus_ack(sub) == 0);
    CHECK(n == 0);
    fill_kpoint(&p, 8, 0, 2);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
    publish_changes(ch, 5, 42, 81);
    CHECK(mmbus_poll(sub, 0, &b) == 0); /* lapped: the changed keys' values come first */
    kpoint_t v;
    CHECK(mmbus_sub_snapshot(sub, &v, sizeof v, NULL, NULL) == 1);
    raise(SIGKILL);
  }
  CHECK(wait_pid(child) == 128 + SIGKILL);
  child = fork_child();
  if (child == 0) { /* comes back, takes all of it, and is killed before it polls on */
    CHECK_OK(mmbus_subscribe(ch, &so, &sub));
    CHECK_OK(mmbus_sub_ask(sub, 0, 10, MMBUS_SNAPSHOT_CHANGED));
    take_snapshot(sub, got);
    for (int k = 0; k < 10; k++) CHECK(got[k] == (k < 5 ? 81 : k == 8 ? 2 : 0));
    raise(SIGKILL);
  }
  CHECK(wait_pid(child) == 128 + SIGKILL);
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  CHECK_OK(mmbus_sub_ask(sub, 0, 10, MMBUS_SNAPSHOT_CHANGED));
  take_snapshot(sub, got);
  for (int k = 0; k < 10; k++) CHECK(got[k] == (k < 5 ? 81 : k == 8 ? 2 : 0));
  int n;
  while ((n = mmbus_poll(sub, 0, &b)) > 0) {
    for (int i = 0; i < n; i++) CHECK(mmbus_sub_wants(sub, &b, (uint32_t)i) == 0);
    CHECK(mmbus_ack(sub) == 0);
  }
  CHECK(n == 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

/* A writer stopped while it fills a key buffer holds only that buffer: others update the key all the
 * same; a dead writer's buffer is taken back; with both spare buffers held by live writers an update
 * says so in bounded time and is finished once one lets go. Simulated exactly: the busy words are set
 * the way stopped or dead writers leave them (docs/format.md §11). */
/* ---- a one-record publish given up while it copies ----------------------------------------------- */

/* mmbus_publish's record lies across two pages, its key on the first, the rest on one not readable yet:
 * the first copy after the claim faults, and the handler holds the publisher there (as a stop would)
 * past the unblock time-out, then lets the copy go on. */
static uint8_t *unreadable_page;
static size_t page_bytes;
static void hold_then_allow(int sig) {
  (void)sig;
  usleep(1000000); /* the unblock time-out of open_k is 200 ms */
  mprotect(unreadable_page, page_bytes, PROT_READ | PROT_WRITE);
}

static void publisher_held_mid_publish(const char *dir) {
  mmbus_channel_t *ch = open_k(dir, "k-given-up", MMBUS_POLICY_BLOCK, 64);
  kpoint_t p;
  fill_kpoint(&p, 5, 1, 1);
  if (mmbus_publish(ch, &p, sizeof p)) _exit(10);
  page_bytes = (size_t)sysconf(_SC_PAGESIZE);
  uint8_t *two = mmap(NULL, 2 * page_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (two == MAP_FAILED) _exit(11);
  kpoint_t *across = (kpoint_t *)(two + page_bytes - 64);
  fill_kpoint(across, 5, 1, 2);
  unreadable_page = two + page_bytes;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = hold_then_allow;
  if (sigaction(SIGSEGV, &sa, NULL) || mprotect(unreadable_page, page_bytes, PROT_NONE)) _exit(12);
  int rc = mmbus_publish(ch, across, sizeof *across);
  if (rc != MMBUS_E_REVOKED) {
    fprintf(stderr, "held publish: %s (%s), not MMBUS_E_REVOKED\n", mmbus_errname(rc), mmbus_errmsg());
    _exit(13);
  }
  fill_kpoint(&p, 5, 1, 3);
  if (mmbus_publish(ch, &p, sizeof p)) _exit(14);
  mmbus_close(ch);
  _exit(0);
}

/* A one-record publish that others give up (its owner held mid-copy): MMBUS_E_REVOKED to it, nothing
 * of it in the ring or the table, and no key buffer left held by it. */
static void test_publish_given_up(const char *dir) {
  mmbus_channel_t *ch = open_k(dir, "k-given-up", MMBUS_POLICY_BLOCK, 64);
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  pid_t child = fork_child();
  if (child == 0) publisher_held_mid_publish(dir);
  int64_t got[4], n_got = 0;
  int code = -1;
  for (;;) {
    mmbus_batch_t b;
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    for (int i = 0; i < n; i++) {
      const kpoint_t *r = mmbus_batch_record(&b, (uint32_t)i);
      CHECK(r->key == 5 && r->publisher == 1 && kpoint_intact(r) && n_got < 4);
      got[n_got++] = r->version;
    }
    if (n > 0) {
      CHECK(mmbus_ack(sub) == 0);
      continue;
    }
    if (code >= 0) break;
    int st;
    if (waitpid(child, &st, WNOHANG) == child) code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    else {
      int rc = mmbus_wait(sub, 20);
      CHECK(rc == 0 || rc == MMBUS_E_TIMEOUT);
    }
  }
  CHECK(code == 0);
  CHECK(n_got == 2 && got[0] == 1 && got[1] == 3); /* the given-up record never arrived */
  kpoint_t v;
  CHECK_OK(mmbus_latest(ch, 5, &v, sizeof v, NULL));
  CHECK(v.version == 3 && kpoint_intact(&v));
  const uint64_t *entry = (const uint64_t *)((const uint8_t *)mmbus_base(ch) + info.keys_offset + 5 * info.key_entry_size);
  for (int w = 1; w <= 3; w++) CHECK(__atomic_load_n(&entry[w], __ATOMIC_ACQUIRE) == 0); /* none left held */
  CHECK(mmbus_verify(ch, NULL, 0) == 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

static void test_stranded_buffer(const char *dir) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(kpoint_t);
  o.capacity = 64;
  o.key_count = 8;
  o.key_size = 4;
  o.block_timeout_ms = 50;
  mmbus_channel_t *ch;
  CHECK_OK(mmbus_open(dir, "k-strand", &o, &ch));
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  mmbus_sub_t *sub;
  mmbus_sub_options_t so;
  mmbus_sub_options_init(&so);
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  kpoint_t p, v;
  fill_kpoint(&p, 3, 0, 1);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  uint64_t *entry = (uint64_t *)((uint8_t *)mmbus_base(ch) + info.keys_offset + 3 * info.key_entry_size);
  const uint64_t live = (UINT64_C(1) << 48) | 999; /* publisher slot 0: this handle, alive */
  const uint64_t dead = (UINT64_C(6) << 48) | 999; /* publisher slot 5: nobody */
  uint32_t held = ((uint32_t)(entry[0] >> 62) + 1) % 3;
  __atomic_store_n(&entry[1 + held], live, __ATOMIC_SEQ_CST);
  for (int64_t ver = 2; ver <= 50; ver++) {
    fill_kpoint(&p, 3, 0, ver);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
    CHECK_OK(mmbus_latest(ch, 3, &v, sizeof v, NULL));
    CHECK(v.version == ver && kpoint_intact(&v));
  }
  CHECK(entry[1 + held] == live); /* never written over while held */
  uint32_t spare = 3 - held - (uint32_t)(entry[0] >> 62);
  __atomic_store_n(&entry[1 + spare], dead, __ATOMIC_SEQ_CST);
  fill_kpoint(&p, 3, 0, 51);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p)); /* the dead writer's buffer is taken back */
  CHECK_OK(mmbus_latest(ch, 3, &v, sizeof v, NULL));
  CHECK(v.version == 51);
  CHECK(entry[1 + held] == live);
  uint32_t cur = (uint32_t)(entry[0] >> 62);
  for (uint32_t bb = 0; bb < 3; bb++)
    if (bb != cur) __atomic_store_n(&entry[1 + bb], live, __ATOMIC_SEQ_CST);
  fill_kpoint(&p, 3, 0, 52);
  CHECK_RC(mmbus_publish(ch, &p, sizeof p), MMBUS_E_BUSY); /* decided, but the key cannot be updated yet */
  CHECK_OK(mmbus_latest(ch, 3, &v, sizeof v, NULL));
  CHECK(v.version == 51);
  for (uint32_t bb = 0; bb < 3; bb++) __atomic_store_n(&entry[1 + bb], 0, __ATOMIC_SEQ_CST); /* they let go */
  fill_kpoint(&p, 3, 0, 53);
  CHECK_OK(mmbus_publish(ch, &p, sizeof p)); /* finishes 52 first */
  CHECK_OK(mmbus_latest(ch, 3, &v, sizeof v, NULL));
  CHECK(v.version == 53 && kpoint_intact(&v));
  mmbus_batch_t b;
  int n = mmbus_poll(sub, 0, &b);
  CHECK(n == 53);
  for (int i = 0; i < n; i++) {
    const kpoint_t *r = mmbus_batch_record(&b, (uint32_t)i);
    CHECK(r->key == 3 && r->version == i + 1 && kpoint_intact(r));
  }
  CHECK(mmbus_ack(sub) == 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK(mmbus_verify(ch, NULL, 0) == 0);
  CHECK_OK(mmbus_close(ch));
}

int main(void) {
  test_deadline(500);
  const char *dir = make_test_dir();
  test_api(dir);
  test_stranded_buffer(dir);
  test_publish_given_up(dir);
  test_join_during_claim(dir);
  test_damaged_table(dir);
  test_durable(dir);
  test_durable_interrupted(dir);
  test_handoff(dir, MMBUS_POLICY_BLOCK, 4096, 0, "k-block");
  test_handoff(dir, MMBUS_POLICY_OVERWRITE, 256, 20, "k-overwrite");
  test_kills(dir, (int)env_int("MMBUS_CRASH_ITERATIONS", 60));
  printf("keyed: ok\n");
  return 0;
}
