/* A claim is all or nothing, even when its publisher is killed inside commit: publishers writing
 * claims of 2..512 records are killed -9 at random moments (hundreds of times, two at once), and
 * once deterministically after writing only some of a claim's commit stamps. The subscriber checks
 * every record (publisher, index, name, its claim's id, size and position) and that every claim it
 * sees arrives whole, in order, exactly once. */
#include "helpers.h"

#include <sys/mman.h>

#define CAP 4096
#define MAX_CLAIM 512
#define END_MARK (-1)

/* Where a record sits in its claim, in the test record's padding. */
typedef struct claim_tag {
  int64_t claim;
  int32_t size;
  int32_t pos;
} claim_tag_t;

static void tag(test_person_t *p, int64_t claim, int32_t size, int32_t pos) {
  claim_tag_t t = {claim, size, pos};
  memcpy(p->pad, &t, sizeof t);
}

static claim_tag_t tag_of(const test_person_t *p) {
  claim_tag_t t;
  memcpy(&t, p->pad, sizeof t);
  return t;
}

static mmbus_channel_t *open_ch(const char *dir) { return open_person_channel(dir, "atomic", MMBUS_POLICY_BLOCK, CAP); }

/* Publishes claims forever as `id`: record index counts the publisher's records. */
static void claiming_publisher(const char *dir, int id, int ready_fd) {
  mmbus_channel_t *ch = open_ch(dir);
  unsigned seed = (unsigned)id * 2654435761u + 1;
  if (write(ready_fd, "r", 1) != 1) _exit(3);
  int64_t index = 0;
  for (int64_t claim = 0;; claim++) {
    uint32_t k = 2 + (uint32_t)(rand_r(&seed) % (MAX_CLAIM - 1));
    mmbus_claim_t c;
    if (mmbus_claim(ch, k, -1, &c)) _exit(2);
    for (uint32_t i = 0; i < k; i++) {
      test_person_t *p = mmbus_claim_record(&c, i);
      fill_person(p, index + i, id);
      tag(p, claim, (int32_t)k, (int32_t)i);
    }
    if (mmbus_commit(ch, &c)) _exit(2);
    index += k;
  }
}

/* Writes a claim of 8 and stores its commit stamps the way commit does (the later records first,
 * flagged as continuation) but dies before the first record's: a commit cut short by kill -9. */
static void dies_inside_commit(const char *dir, int id) {
  mmbus_channel_t *ch = open_ch(dir);
  mmbus_claim_t c;
  if (mmbus_claim(ch, 8, -1, &c)) _exit(2);
  for (uint32_t i = 0; i < 8; i++) {
    fill_person(mmbus_claim_record(&c, i), i, id);
    tag(mmbus_claim_record(&c, i), 0, 8, (int32_t)i);
  }
  mmbus_info_t info;
  mmbus_info(ch, &info);
  uint64_t *stamps = (uint64_t *)((uint8_t *)mmbus_base(ch) + info.stamps_offset);
  const uint64_t cont = UINT64_C(1) << 62; /* docs/format.md §6 */
  for (uint32_t i = 7; i >= 4; i--)
    __atomic_store_n(&stamps[(c.seq + i) & (CAP - 1)], (c.seq + i + 1) | cont, __ATOMIC_RELEASE);
  raise(SIGKILL);
  _exit(2);
}

typedef struct result {
  int64_t received, claims, bad;
  int got_end;
} result_t;

static void checking_subscriber(const char *dir, int max_id, int ready_fd, int result_fd) {
  mmbus_channel_t *ch = open_ch(dir);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = "checker", .start = MMBUS_START_NEWEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  if (write(ready_fd, "r", 1) != 1) _exit(3);
  int64_t *next_index = calloc((size_t)max_id + 1, sizeof(int64_t)); /* per publisher */
  int64_t *next_claim = calloc((size_t)max_id + 1, sizeof(int64_t));
  int32_t *pos = calloc((size_t)max_id + 1, sizeof(int32_t)); /* 0: between claims */
  result_t r = {0, 0, 0, 0};
  mmbus_batch_t b;
  while (!r.got_end) {
    int n = mmbus_poll(sub, 4096, &b);
    if (n < 0) {
      r.bad++;
      break;
    }
    if (n == 0) {
      if (mmbus_wait(sub, 30000)) {
        fprintf(stderr, "wedged: %s\n", mmbus_errmsg());
        r.bad++;
        break;
      }
      continue;
    }
    for (int i = 0; i < n; i++) {
      const test_person_t *p = mmbus_batch_record(&b, (uint32_t)i);
      if (p->publisher == END_MARK) {
        r.got_end = 1;
        continue;
      }
      int id = p->publisher;
      claim_tag_t t = tag_of(p);
      int ok = id >= 0 && id <= max_id && person_intact(p) && t.size >= 2 && t.size <= MAX_CLAIM;
      /* a claim starts at position 0 and goes on without a gap; a new claim may start only where the
       * previous one of that publisher ended: a claim cut short never shows */
      if (ok && t.pos == 0) ok = pos[id] == 0 && p->index == next_index[id] && t.claim == next_claim[id];
      else if (ok) ok = t.pos == pos[id] && p->index == next_index[id] && t.claim == next_claim[id];
      if (!ok) {
        fprintf(stderr, "bad record: publisher %d index %lld claim %lld pos %d/%d (expected index %lld pos %d)\n", id,
                (long long)p->index, (long long)t.claim, t.pos, t.size,
                id >= 0 && id <= max_id ? (long long)next_index[id] : -1LL, id >= 0 && id <= max_id ? pos[id] : -1);
        r.bad++;
        continue;
      }
      next_claim[id] = t.claim;
      next_index[id] = p->index + 1;
      pos[id] = t.pos + 1 == t.size ? 0 : t.pos + 1;
      if (pos[id] == 0) {
        r.claims++;
        next_claim[id] = t.claim + 1;
      }
      r.received++;
    }
    mmbus_ack(sub);
  }
  /* every publisher's last claim was whole too */
  for (int id = 0; id <= max_id; id++)
    if (pos[id] != 0) {
      fprintf(stderr, "publisher %d: claim %lld stopped at position %d\n", id, (long long)next_claim[id], pos[id]);
      r.bad++;
    }
  if (write(result_fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(3);
  _exit(0);
}

int main(void) {
  int kills = (int)env_int("MMBUS_CRASH_ITERATIONS", 120);
  if (kills < 100) kills = 100; /* the floor, also under the sanitizers */
  test_deadline(300);
  const char *dir = make_test_dir();
  mmbus_close(open_ch(dir));
  int ready[2], result[2];
  CHECK(pipe(ready) == 0 && pipe(result) == 0);
  char c;
  int max_id = kills + 2;
  pid_t sub = fork_child();
  if (sub == 0) checking_subscriber(dir, max_id, ready[1], result[1]);
  CHECK(read(ready[0], &c, 1) == 1);

  pid_t p = fork_child();
  if (p == 0) dies_inside_commit(dir, 0);
  CHECK(wait_pid(p) == 128 + SIGKILL);

  /* two publishers at once, each killed after a random while and replaced by a new one */
  unsigned seed = 4242;
  pid_t live[2];
  int next_id = 1;
  for (int s = 0; s < 2; s++) {
    live[s] = fork_child();
    if (live[s] == 0) claiming_publisher(dir, next_id, ready[1]);
    next_id++;
    CHECK(read(ready[0], &c, 1) == 1);
  }
  for (int k = 0; k < kills; k++) {
    usleep((useconds_t)(rand_r(&seed) % 4000));
    int s = k % 2;
    kill(live[s], SIGKILL);
    int code = wait_pid(live[s]);
    if (code != 128 + SIGKILL) {
      fprintf(stderr, "publisher ended with %d, not killed\n", code);
      return 1;
    }
    if (k + 2 < kills) {
      live[s] = fork_child();
      if (live[s] == 0) claiming_publisher(dir, next_id, ready[1]);
      next_id++;
      CHECK(read(ready[0], &c, 1) == 1);
    } else {
      live[s] = 0;
    }
  }
  for (int s = 0; s < 2; s++)
    if (live[s] > 0) {
      kill(live[s], SIGKILL);
      wait_pid(live[s]);
    }
  mmbus_channel_t *ch = open_ch(dir);
  test_person_t rec;
  fill_person(&rec, 0, END_MARK);
  CHECK_OK(mmbus_publish(ch, &rec, sizeof rec));
  result_t r;
  CHECK(read(result[0], &r, sizeof r) == (ssize_t)sizeof r);
  CHECK(wait_pid(sub) == 0);
  mmbus_stats_t st;
  CHECK(mmbus_stats(ch, &st, NULL, 0) >= 0);
  printf("claim_atomic: %d publishers killed (one inside commit), %lld whole claims, %lld records, %lld bad, head %llu\n",
         kills + 1, (long long)r.claims, (long long)r.received, (long long)r.bad, (unsigned long long)st.head);
  CHECK(r.got_end && r.bad == 0 && r.claims > kills);
  CHECK_OK(mmbus_close(ch));
  puts("t_claim_atomic: ok");
  return 0;
}
