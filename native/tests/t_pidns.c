/* Processes in different PID namespaces (containers sharing a volume) on one channel: each publisher
 * and some subscribers run under `unshare --pid --fork --mount-proc`, so each is pid 1 of its own
 * namespace with its own /proc. Under `block`, with single records and batches: nothing lost, nothing
 * torn, exact checksums. kill -9 of a namespaced publisher mid-claim (its gap is stepped over), of a
 * namespaced subscriber (publishers are released), and of a durable namespaced subscriber that is
 * restarted in yet another namespace (it resumes exactly). Needs root for unshare: exits 77 (skip)
 * otherwise, saying why. The roles are this program re-executed with arguments. */
#include "helpers.h"

#include <fcntl.h>

#define SKIP 77

static char self_exe[4096];

/* ---- roles (run inside a namespace) -------------------------------------------------------------- */

static int role_publish(const char *dir, const char *name, int id, int64_t count, int batch) {
  mmbus_channel_t *ch = open_person_channel(dir, name, MMBUS_POLICY_BLOCK, 4096);
  static test_person_t buf[64];
  for (int64_t i = 0; i < count;) {
    int64_t k = batch < 1 ? 1 : batch;
    if (k > count - i) k = count - i;
    for (int64_t j = 0; j < k; j++) fill_person(&buf[j], i + j, id);
    int rc = k == 1 ? mmbus_publish(ch, &buf[0], sizeof buf[0]) : mmbus_publish_batch(ch, buf, (size_t)k);
    if (rc) {
      fprintf(stderr, "publisher %d (pid %d here): %s\n", id, (int)getpid(), mmbus_errmsg());
      return 2;
    }
    i += k;
  }
  mmbus_close(ch);
  return 0;
}

/* Publishes `count` records, then claims 16 more, writes them, says "claimed" and waits: it is
 * killed -9 there, before committing (a namespace's pid 1 cannot kill itself: signals from its own
 * namespace do not reach it). */
static int role_die_mid_claim(const char *dir, const char *name, int id, int64_t count) {
  mmbus_channel_t *ch = open_person_channel(dir, name, MMBUS_POLICY_BLOCK, 4096);
  test_person_t p;
  for (int64_t i = 0; i < count; i++) {
    fill_person(&p, i, id);
    if (mmbus_publish(ch, &p, sizeof p)) return 2;
  }
  mmbus_claim_t c;
  if (mmbus_claim(ch, 16, -1, &c)) return 2;
  for (uint32_t i = 0; i < 16; i++) fill_person(mmbus_claim_record(&c, i), count + i, id);
  printf("claimed\n");
  fflush(stdout);
  for (;;) pause();
}

/* Consumes `count` records of `pubs` publishers (or, with stop_after, that many then waits to be
 * killed) and prints "received lost bad checksum" on stdout. */
static int role_subscribe(const char *dir, const char *name, int64_t count, int pubs, const char *durable,
                          int64_t stop_after) {
  mmbus_channel_t *ch = open_person_channel(dir, name, MMBUS_POLICY_BLOCK, 4096);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = durable, .start = MMBUS_START_OLDEST};
  int rc;
  while ((rc = mmbus_subscribe(ch, &so, &sub)) == MMBUS_E_BUSY) usleep(1000);
  if (rc) {
    fprintf(stderr, "subscribe: %s\n", mmbus_errmsg());
    return 2;
  }
  printf("ready\n");
  fflush(stdout);
  if (stop_after == 0) {
    for (;;) pause(); /* attached, never reads: holds block publishers back */
  }
  consume_result_t r = consume(sub, stop_after > 0 ? stop_after : count, pubs, 4096, 0);
  printf("%lld %llu %lld %lld\n", (long long)r.received, (unsigned long long)r.lost, (long long)r.bad,
         (long long)r.checksum);
  fflush(stdout);
  if (stop_after > 0) {
    for (;;) pause(); /* the orchestrator kills it here */
  }
  mmbus_sub_close(sub);
  mmbus_close(ch);
  return 0;
}

/* ---- the orchestrator ------------------------------------------------------------------------------ */

typedef struct proc {
  pid_t pid;
  FILE *out; /* its stdout */
} proc_t;

/* Runs this program with `args` in a new PID namespace (or, if in_ns is 0, in ours). */
static proc_t spawn(int in_ns, const char *const *args) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork_child();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const char *argv[32];
    int n = 0;
    if (in_ns) {
      argv[n++] = "unshare";
      argv[n++] = "--pid";
      argv[n++] = "--fork";
      argv[n++] = "--kill-child";
      argv[n++] = "--mount-proc";
    }
    argv[n++] = self_exe;
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  proc_t p = {pid, fdopen(fds[0], "r")};
  return p;
}

static void expect_line(proc_t *p, const char *want) {
  char line[256];
  CHECK(fgets(line, sizeof line, p->out) != NULL);
  CHECK(strncmp(line, want, strlen(want)) == 0);
}

static consume_result_t result_of(proc_t *p) {
  consume_result_t r = {0, 0, 0, 0};
  char line[256];
  CHECK(fgets(line, sizeof line, p->out) != NULL);
  long long received, bad, checksum;
  unsigned long long lost;
  CHECK(sscanf(line, "%lld %llu %lld %lld", &received, &lost, &bad, &checksum) == 4);
  r.received = received;
  r.lost = lost;
  r.bad = bad;
  r.checksum = checksum;
  return r;
}

static void finish(proc_t *p, int want_code) {
  int code = wait_pid(p->pid);
  if (code != want_code) {
    fprintf(stderr, "child %d ended with %d, expected %d\n", (int)p->pid, code, want_code);
    exit(1);
  }
  fclose(p->out);
}

static char num[16][32];
static const char *s_of(int slot, long long v) {
  snprintf(num[slot], sizeof num[slot], "%lld", v);
  return num[slot];
}

/* P publishers in their own namespaces, two subscribers: one here, one in another namespace. */
static void run_publishers(const char *dir, const char *name, int pubs, int batch, int64_t total) {
  mmbus_close(open_person_channel(dir, name, MMBUS_POLICY_BLOCK, 4096));
  int64_t each = total / pubs;
  const char *sub_here[] = {"subscribe", dir, name, s_of(0, each * pubs), s_of(1, pubs), "", "-1", NULL};
  const char *sub_ns[] = {"subscribe", dir, name, s_of(2, each * pubs), s_of(3, pubs), "in-ns", "-1", NULL};
  proc_t subs[2] = {spawn(0, sub_here), spawn(1, sub_ns)};
  for (int s = 0; s < 2; s++) expect_line(&subs[s], "ready");
  proc_t pp[8];
  for (int i = 0; i < pubs; i++) {
    const char *args[] = {"publish", dir, name, s_of(4 + i, i), s_of(12, each), s_of(13, batch), NULL};
    pp[i] = spawn(1, args);
  }
  int64_t want = pubs * expected_checksum(each);
  for (int s = 0; s < 2; s++) {
    consume_result_t r = result_of(&subs[s]);
    printf("%s: %d publishers in their own PID namespaces, batch %d, subscriber %s: received %lld lost %llu bad %lld "
           "checksum %s\n", name, pubs, batch, s ? "in a namespace" : "here", (long long)r.received,
           (unsigned long long)r.lost, (long long)r.bad, r.checksum == want ? "right" : "WRONG");
    CHECK(r.received == each * pubs && r.lost == 0 && r.bad == 0 && r.checksum == want);
    finish(&subs[s], 0);
  }
  for (int i = 0; i < pubs; i++) finish(&pp[i], 0);
}

static void run_kills(const char *dir) {
  const char *name = "kills";
  mmbus_close(open_person_channel(dir, name, MMBUS_POLICY_BLOCK, 4096));
  /* 1: a namespaced publisher dies mid-claim; another namespaced one carries on; the subscriber
   *    (in a third namespace) gets both publishers' committed records and nothing of the claim. */
  const char *sub_args[] = {"subscribe", dir, name, "21000", "2", "", "-1", NULL};
  proc_t sub = spawn(1, sub_args);
  expect_line(&sub, "ready");
  const char *die_args[] = {"die-mid-claim", dir, name, "0", "1000", NULL};
  proc_t dying = spawn(1, die_args);
  expect_line(&dying, "claimed");
  kill(dying.pid, SIGKILL); /* unshare, and with it (--kill-child) the namespace */
  finish(&dying, 128 + SIGKILL);
  const char *pub_args[] = {"publish", dir, name, "1", "20000", "64", NULL};
  proc_t pub = spawn(1, pub_args);
  consume_result_t r = result_of(&sub);
  printf("kill -9 of a namespaced publisher mid-claim: received %lld lost %llu bad %lld\n", (long long)r.received,
         (unsigned long long)r.lost, (long long)r.bad);
  CHECK(r.received == 21000 && r.lost == 0 && r.bad == 0 &&
        r.checksum == expected_checksum(1000) + expected_checksum(20000));
  finish(&sub, 0);
  finish(&pub, 0);

  /* 2: a namespaced subscriber that never reads holds a publisher back; kill -9 releases it. */
  const char *idle_args[] = {"subscribe", dir, name, "0", "1", "", "0", NULL};
  proc_t idle = spawn(1, idle_args);
  expect_line(&idle, "ready");
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.block_timeout_ms = 100;
  mmbus_channel_t *quick;
  CHECK_OK(mmbus_open(dir, name, &o, &quick));
  test_person_t p;
  int rc = 0;
  for (int i = 0; i < 5000 && rc == 0; i++) {
    fill_person(&p, i, 3);
    rc = mmbus_publish(quick, &p, sizeof p);
  }
  CHECK_RC(rc, MMBUS_E_TIMEOUT); /* held back by the live subscriber in the other namespace */
  kill(idle.pid, SIGKILL);
  finish(&idle, 128 + SIGKILL);
  for (int i = 0; i < 5000; i++) {
    fill_person(&p, i, 3);
    CHECK_OK(mmbus_publish(quick, &p, sizeof p)); /* released */
  }
  printf("kill -9 of a namespaced subscriber: the publisher here was released\n");
  mmbus_close(quick);
}

static void run_durable(const char *dir) {
  const char *name = "durable";
  mmbus_channel_t *ch = open_person_channel(dir, name, MMBUS_POLICY_BLOCK, 4096);
  /* the durable subscriber reads 30,000 records in its namespace and is killed there */
  const char *first[] = {"subscribe", dir, name, "50000", "1", "keeper", "30000", NULL};
  proc_t s1 = spawn(1, first);
  expect_line(&s1, "ready");
  test_person_t p;
  for (int i = 0; i < 30000; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  consume_result_t r1 = result_of(&s1);
  CHECK(r1.received == 30000 && r1.bad == 0 && r1.lost == 0);
  kill(s1.pid, SIGKILL);
  finish(&s1, 128 + SIGKILL);
  /* restarted in a new namespace, it resumes right after what it consumed: no gap, no duplicate */
  const char *second[] = {"subscribe", dir, name, "20000", "1", "keeper", "-1", NULL};
  proc_t s2 = spawn(1, second);
  expect_line(&s2, "ready");
  for (int i = 30000; i < 50000; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  consume_result_t r2 = result_of(&s2);
  finish(&s2, 0);
  printf("durable namespaced subscriber killed after 30000 and restarted in a new namespace: got %lld more, lost %llu, bad %lld\n",
         (long long)r2.received, (unsigned long long)r2.lost, (long long)r2.bad);
  int64_t tail = 0;
  for (int64_t i = 30000; i < 50000; i++) tail += (i & 1) ? -i : i;
  CHECK(r2.received == 20000 && r2.bad == 0 && r2.lost == 0 && r2.checksum == tail);
  CHECK_OK(mmbus_close(ch));
}

int main(int argc, char **argv) {
  if (argc > 1) {
    const char *role = argv[1];
    if (!strcmp(role, "publish") && argc == 7)
      return role_publish(argv[2], argv[3], atoi(argv[4]), atoll(argv[5]), atoi(argv[6]));
    if (!strcmp(role, "die-mid-claim") && argc == 6) return role_die_mid_claim(argv[2], argv[3], atoi(argv[4]), atoll(argv[5]));
    if (!strcmp(role, "subscribe") && argc == 8)
      return role_subscribe(argv[2], argv[3], atoll(argv[4]), atoi(argv[5]), *argv[6] ? argv[6] : NULL, atoll(argv[7]));
    fprintf(stderr, "unknown role\n");
    return 2;
  }
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  CHECK(n > 0);
  self_exe[n] = 0;
  if (system("unshare --pid --fork --kill-child --mount-proc true 2>/dev/null") != 0) {
    printf("t_pidns: skipped: `unshare --pid --fork --mount-proc` does not work here (it needs root)\n");
    return SKIP;
  }
  test_deadline(600);
  const char *dir = make_test_dir();
  int64_t total = test_records();
  run_publishers(dir, "ns-single", 2, 1, total);
  run_publishers(dir, "ns-batch", 4, 64, total);
  run_kills(dir);
  run_durable(dir);
  puts("t_pidns: ok");
  return 0;
}
