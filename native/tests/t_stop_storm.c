/* Publishers are stopped (SIGSTOP) and continued at random moments, often for longer than a very short
 * unblock time-out, while they claim, fill and commit claims of 1..16 records (one-record claims
 * through mmbus_publish). So claims are given up by the others at every point of their life, and some
 * commits race the giving-up. Each publisher notes what its commits returned; the subscriber checks
 * every record and that exactly the claims whose commit succeeded arrived, each whole and once, and
 * none whose commit failed with MMBUS_E_REVOKED: a commit and a giving-up never both win. Keyed, the
 * records change 4 keys: at the end every key's latest value is the last record of it delivered (never
 * one of a given-up claim) and no key buffer is left held. */
#include "helpers.h"

#include <sys/mman.h>

#define CAP 1024
#define PUBLISHERS 3
#define MAX_CLAIM 16
#define UNBLOCK_MS 10
#define MAX_CLAIMS (1 << 14)
#define KEYS 4 /* keyed storms: few, so that publishers race on each */
#define KEY_OFFSET (offsetof(test_person_t, pad) + sizeof(claim_tag_t))

enum { NONE = 0, COMMITTED = 1, REVOKED = 2 };

typedef struct claim_tag {
  int64_t claim;
  int32_t size;
  int32_t pos;
} claim_tag_t;

typedef struct shared {
  int32_t done;  /* the subscriber has checked everything: the stopper ends */
  int32_t stops; /* publishers end after this many stops (or MAX_CLAIMS claims) */
  int32_t outcome[PUBLISHERS][MAX_CLAIMS];
  int64_t claims[PUBLISHERS];
  int64_t committed_records[PUBLISHERS];
} shared_t;

static int32_t stops_wanted;
static int keyed; /* the storm's channel is keyed (set before the children are forked) */

static mmbus_channel_t *open_ch(const char *dir) {
  mmbus_options_t o = person_channel_options(MMBUS_POLICY_BLOCK, CAP);
  o.unblock_timeout_ms = UNBLOCK_MS;
  o.block_timeout_ms = 60000; /* a stopped subscriber is not part of this test: never time out */
  if (keyed) {
    o.key_count = KEYS;
    o.key_offset = (uint32_t)KEY_OFFSET;
    o.key_size = 1;
  }
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "storm", &o, &ch));
  return ch;
}

static void fill(test_person_t *p, int64_t index, int id, int64_t claim, uint32_t size, uint32_t pos) {
  fill_person(p, index, id);
  claim_tag_t t = {claim, (int32_t)size, (int32_t)pos};
  memcpy(p->pad, &t, sizeof t);
  p->pad[sizeof t] = (uint8_t)(index % KEYS); /* the key (read only by keyed channels) */
}

static void publisher(const char *dir, int id, shared_t *sh) {
  mmbus_channel_t *ch = open_ch(dir);
  unsigned seed = 7u + (unsigned)id * 2654435761u;
  int64_t index = 0;
  int64_t claim = 0;
  for (; claim < MAX_CLAIMS && __atomic_load_n(&sh->stops, __ATOMIC_ACQUIRE) < stops_wanted; claim++) {
    uint32_t k = 1 + (uint32_t)(rand_next(&seed) % MAX_CLAIM);
    int rc;
    if (k == 1) {
      test_person_t p;
      fill(&p, index, id + 1, claim, 1, 0);
      rc = mmbus_publish(ch, &p, sizeof p);
    } else {
      mmbus_claim_t c;
      if (mmbus_claim(ch, k, -1, &c)) _exit(2);
      for (uint32_t i = 0; i < k; i++) fill(mmbus_claim_record(&c, i), index + i, id + 1, claim, k, i);
      sleep_us(50u + rand_next(&seed) % 300u); /* a slow filler: stops land between claim and commit */
      rc = mmbus_commit(ch, &c);
    }
    if (rc == 0) {
      sh->committed_records[id] += k;
      __atomic_store_n(&sh->outcome[id][claim], COMMITTED, __ATOMIC_RELEASE);
    } else if (rc == MMBUS_E_REVOKED) {
      __atomic_store_n(&sh->outcome[id][claim], REVOKED, __ATOMIC_RELEASE);
    } else {
      fprintf(stderr, "publisher %d: claim %lld: %s: %s\n", id, (long long)claim, mmbus_errname(rc), mmbus_errmsg());
      _exit(3);
    }
    index += k;
  }
  sh->claims[id] = claim;
  mmbus_close(ch);
  _exit(0);
}

/* Stops one publisher at a time for 0..25 ms (the unblock time-out is 10), then lets it go on. */
static void stopper(pid_t *pubs, shared_t *sh) {
  unsigned seed = 12345u;
  while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE)) {
    pid_t p = pubs[rand_next(&seed) % PUBLISHERS];
    if (kill(p, SIGSTOP) != 0) break; /* it ended */
    sleep_us(rand_next(&seed) % 25000u);
    kill(p, SIGCONT);
    __atomic_add_fetch(&sh->stops, 1, __ATOMIC_RELEASE);
    sleep_us(1000u + rand_next(&seed) % 4000u);
  }
  _exit(0);
}

/* cas_only: the file as libraries without BARRIER_DECIDES create it (every commit decided by the CAS) */
static void storm(int cas_only, int keyed_channel) {
  keyed = keyed_channel;
  const char *dir = make_test_dir();
  shared_t *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(sh != MAP_FAILED);
  memset(sh, 0, sizeof *sh);
  if (cas_only) {
    mmbus_close(open_ch(dir));
    clear_header_flags(dir, "storm", 0x4u);
  }
  mmbus_channel_t *ch = open_ch(dir);
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  pid_t pubs[PUBLISHERS];
  for (int i = 0; i < PUBLISHERS; i++)
    if ((pubs[i] = fork_child()) == 0) publisher(dir, i, sh);
  pid_t stop = fork_child();
  if (stop == 0) stopper(pubs, sh);

  static uint8_t received[PUBLISHERS][MAX_CLAIMS];
  memset(received, 0, sizeof received);
  int64_t last_claim[PUBLISHERS], records = 0, bad = 0, lost_overwritten = 0;
  for (int i = 0; i < PUBLISHERS; i++) last_claim[i] = -1;
  static test_person_t last_of_key[KEYS]; /* keyed: the last record of each key delivered */
  int64_t delivered_of_key[KEYS] = {0};
  int open_pub = -1; /* a claim being received: the next record must be its next one */
  claim_tag_t open_tag = {0, 0, 0};
  int64_t open_base = 0;
  int running = PUBLISHERS;
  int64_t expected = -1;
  uint64_t give_up_at = 0;
  mmbus_batch_t b;
  for (;;) {
    int n = mmbus_poll(sub, 0, &b);
    CHECK(n >= 0);
    for (int k = 0; k < n; k++) {
      const test_person_t *p = mmbus_batch_record(&b, (uint32_t)k);
      claim_tag_t t;
      memcpy(&t, p->pad, sizeof t);
      int id = p->publisher - 1;
      records++;
      if (id < 0 || id >= PUBLISHERS || !person_intact(p) || t.size < 1 || t.size > MAX_CLAIM || t.pos < 0 ||
          t.pos >= t.size || t.claim < 0 || t.claim >= MAX_CLAIMS) {
        bad++;
        continue;
      }
      if (open_pub >= 0) { /* inside a claim: its records are consecutive */
        if (id != open_pub || t.claim != open_tag.claim || t.pos != open_tag.pos + 1 || p->index - t.pos != open_base) {
          fprintf(stderr, "claim %d/%lld cut after %d of %d records\n", open_pub, (long long)open_tag.claim,
                  open_tag.pos + 1, open_tag.size);
          bad++;
          open_pub = -1;
          continue;
        }
        open_tag.pos = t.pos;
      } else {
        if (t.pos != 0 || t.claim <= last_claim[id]) { /* a claim's tail without its head, or one again */
          bad++;
          continue;
        }
        open_pub = id;
        open_tag = t;
        open_base = p->index;
      }
      last_of_key[p->pad[sizeof t] % KEYS] = *p;
      delivered_of_key[p->pad[sizeof t] % KEYS]++;
      if (open_tag.pos == open_tag.size - 1) {
        received[id][t.claim] = 1;
        last_claim[id] = t.claim;
        open_pub = -1;
      }
    }
    if (n > 0) {
      int over = mmbus_ack(sub);
      CHECK(over >= 0);
      lost_overwritten += over;
      continue;
    }
    for (int i = 0; i < PUBLISHERS; i++) {
      int code;
      if (pubs[i] && waitpid(pubs[i], &code, WNOHANG) == pubs[i]) {
        CHECK(WIFEXITED(code) && WEXITSTATUS(code) == 0);
        pubs[i] = 0;
        running--;
      }
    }
    if (running == 0 && expected < 0) {
      expected = 0;
      for (int i = 0; i < PUBLISHERS; i++) expected += sh->committed_records[i];
      give_up_at = now_ns() + 30000000000u;
    }
    if (expected >= 0 && (records >= expected || now_ns() > give_up_at)) break;
    int rc = mmbus_wait(sub, 100);
    CHECK(rc == 0 || rc == MMBUS_E_TIMEOUT);
  }
  __atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
  CHECK(wait_pid(stop) == 0);

  int64_t committed = 0, revoked = 0, missing = 0, revoked_but_arrived = 0;
  for (int i = 0; i < PUBLISHERS; i++)
    for (int64_t c = 0; c < sh->claims[i]; c++) {
      int32_t o = sh->outcome[i][c];
      CHECK(o == COMMITTED || o == REVOKED);
      if (o == COMMITTED) {
        committed++;
        if (!received[i][c]) missing++;
      } else {
        revoked++;
        if (received[i][c]) revoked_but_arrived++;
      }
    }
  printf("stop storm (%s%s): %lld claims committed, %lld given up by the others; %lld records checked: missing "
         "%lld, given up yet delivered %lld, bad %lld, lost %llu, overwritten %lld\n",
         info.barrier_decides ? "decided by store + barrier" : "decided by CAS", keyed ? ", keyed" : "", (long long)committed,
         (long long)revoked, (long long)records, (long long)missing, (long long)revoked_but_arrived, (long long)bad,
         (unsigned long long)mmbus_sub_lost(sub), (long long)lost_overwritten);
  CHECK(missing == 0 && revoked_but_arrived == 0 && bad == 0 && records == expected);
  CHECK(mmbus_sub_lost(sub) == 0 && lost_overwritten == 0);
  CHECK(revoked > 0); /* the storm did give claims up (else this test proved nothing) */
  for (uint32_t k = 0; keyed && k < KEYS; k++) {
    test_person_t v;
    CHECK(delivered_of_key[k] > 0);
    CHECK_OK(mmbus_latest(ch, k, &v, sizeof v, NULL));
    CHECK(memcmp(&v, &last_of_key[k], sizeof v) == 0); /* the last delivered, not one given up */
    const uint64_t *entry = (const uint64_t *)((const uint8_t *)mmbus_base(ch) + info.keys_offset + k * info.key_entry_size);
    for (int w = 1; w <= 3; w++) CHECK(__atomic_load_n(&entry[w], __ATOMIC_ACQUIRE) == 0); /* nothing left held */
  }
  mmbus_sub_close(sub);
  mmbus_close(ch);
  munmap(sh, sizeof *sh);
}

int main(void) {
  test_deadline(300);
  stops_wanted = (int32_t)(env_int("MMBUS_TEST_RECORDS", 2000000) / 10000); /* 200: about 3 s a run */
  if (stops_wanted < 20) stops_wanted = 20;
  storm(0, 0);
  storm(1, 0);
  storm(0, 1);
  storm(1, 1);
  puts("t_stop_storm: ok");
  return 0;
}
