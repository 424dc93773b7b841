/* A process stopped while it holds a channel's table lock does not hang the others: subscribe,
 * publisher attach and gc wait at most the lock time-out and fail with MMBUS_E_BUSY naming the
 * holder. Once the holder is continued (or dies), everything works again. */
#include "helpers.h"

#include <fcntl.h>

static mmbus_channel_t *open_ch(const char *dir, int64_t lock_timeout_ms) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = 64;
  o.schema_name = "test.Person";
  o.fingerprint = TEST_FINGERPRINT;
  o.lock_timeout_ms = lock_timeout_ms;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "locked", &o, &ch));
  return ch;
}

/* The holder takes the lock the way docs/format.md §7 says a foreign implementation does: a write
 * lock on the open file description at byte 2^62, and its pid in the lock line at 256. */
static void hold_lock_and_stop(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/locked.db", dir);
  int fd = open(path, O_RDWR);
  if (fd < 0) _exit(2);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)(UINT64_C(1) << 62), .l_len = 1};
  if (fcntl(fd, F_OFD_SETLK, &fl) != 0) _exit(3);
  int32_t pid = getpid();
  if (pwrite(fd, &pid, sizeof pid, 256) != sizeof pid) _exit(4);
  raise(SIGSTOP);
  _exit(0);
}

static void expect_busy(int rc, pid_t holder) {
  CHECK_RC(rc, MMBUS_E_BUSY);
  char want[32];
  snprintf(want, sizeof want, "pid %d", (int)holder);
  if (!strstr(mmbus_errmsg(), want)) {
    fprintf(stderr, "message '%s' does not name %s\n", mmbus_errmsg(), want);
    exit(1);
  }
}

static void test_stopped_foreign_holder(void) {
  const char *dir = make_test_dir();
  mmbus_close(open_ch(dir, -1));
  pid_t holder = fork_child();
  if (holder == 0) hold_lock_and_stop(dir);
  int st;
  CHECK(waitpid(holder, &st, WUNTRACED) == holder && WIFSTOPPED(st));
  mmbus_channel_t *ch = open_ch(dir, 150);
  mmbus_sub_t *sub = NULL;
  expect_busy(mmbus_subscribe(ch, NULL, &sub), holder);
  CHECK(sub == NULL);
  test_person_t p;
  fill_person(&p, 0, 0);
  expect_busy(mmbus_publish(ch, &p, sizeof p), holder); /* the first publish attaches a slot */
  expect_busy(mmbus_gc(ch), holder);
  mmbus_stats_t stats; /* reading needs no lock */
  CHECK(mmbus_stats(ch, &stats, NULL, 0) == 0 && stats.head == 0);
  kill(holder, SIGCONT);
  CHECK(wait_pid(holder) == 0); /* it exits: the kernel drops its lock */
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(sub, 0, &b), 1);
  CHECK(((const test_person_t *)mmbus_batch_record(&b, 0))->index == 0);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

/* The same with the library itself holding the lock: a child subscribes and closes in a loop and is
 * stopped at random moments until one stop lands while it holds the lock. */
static void test_stopped_library_holder(void) {
  const char *dir = make_test_dir();
  mmbus_close(open_ch(dir, -1));
  pid_t child = fork_child();
  if (child == 0) {
    mmbus_channel_t *ch = open_ch(dir, -1);
    for (;;) {
      mmbus_sub_t *s;
      if (mmbus_subscribe(ch, NULL, &s) == 0) mmbus_sub_close(s);
    }
  }
  mmbus_channel_t *ch = open_ch(dir, 100);
  unsigned seed = 99;
  int caught = 0;
  for (int attempt = 0; attempt < 400 && !caught; attempt++) {
    usleep((useconds_t)(rand_r(&seed) % 3000));
    kill(child, SIGSTOP);
    int st;
    CHECK(waitpid(child, &st, WUNTRACED) == child && WIFSTOPPED(st));
    mmbus_sub_t *sub = NULL;
    int rc = mmbus_subscribe(ch, NULL, &sub);
    if (rc == MMBUS_E_BUSY) {
      /* stopped between taking the lock and noting its pid, the message names the previous holder */
      char want[32];
      snprintf(want, sizeof want, "pid %d", (int)child);
      caught = strstr(mmbus_errmsg(), want) != NULL;
    } else {
      CHECK_OK(rc);
      CHECK_OK(mmbus_sub_close(sub));
    }
    kill(child, SIGCONT);
  }
  printf("lock held by a stopped library caller: %s\n", caught ? "caught, BUSY in bounded time" : "never caught");
  CHECK(caught);
  kill(child, SIGKILL);
  wait_pid(child);
  mmbus_sub_t *sub;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub)); /* a dead holder's lock is gone */
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

int main(void) {
  test_deadline(120);
  test_stopped_foreign_holder();
  test_stopped_library_holder();
  puts("t_lock_holder: ok");
  return 0;
}
