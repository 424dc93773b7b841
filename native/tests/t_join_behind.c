/* A subscriber that joins behind head (start oldest, or a durable one resuming) holds a `block`
 * publisher back from the moment it attaches: nothing it has not read is overwritten. Also: an
 * existing channel opens with MMBUS_CREATE in a directory the caller cannot write. */
#include "helpers.h"

static mmbus_channel_t *open_small(const char *dir, uint32_t flags) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = flags;
  o.record_size = 8;
  o.capacity = 16;
  o.policy = MMBUS_POLICY_BLOCK;
  o.block_timeout_ms = 50;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "behind", &o, &ch));
  return ch;
}

static void publish_until_full(mmbus_channel_t *ch, int64_t *v, int max) {
  for (int i = 0; i < max; i++, (*v)++) {
    int rc = mmbus_publish(ch, v, 8);
    if (rc == MMBUS_E_TIMEOUT) return;
    CHECK_OK(rc);
  }
}

int main(void) {
  test_deadline(60);
  const char *dir = make_test_dir();
  mmbus_channel_t *ch = open_small(dir, MMBUS_CREATE);
  int64_t v = 0;
  publish_until_full(ch, &v, 17); /* no subscriber: never blocks */
  CHECK(v == 17);
  mmbus_sub_t *sub;
  mmbus_sub_options_t so = {.name = "late", .start = MMBUS_START_OLDEST};
  CHECK_OK(mmbus_subscribe(ch, &so, &sub)); /* cursor 1: the ring is full for it */
  int64_t before = v;
  publish_until_full(ch, &v, 30);
  CHECK(v == before); /* blocked at once */
  mmbus_batch_t b;
  CHECK_RC(mmbus_poll(sub, 0, &b), 16);
  CHECK(*(const int64_t *)mmbus_batch_record(&b, 0) == 1 && mmbus_sub_lost(sub) == 0);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_OK(mmbus_sub_close(sub)); /* durable: offline at cursor 17 */

  /* offline durable subscribers do not hold publishers back... */
  publish_until_full(ch, &v, 8);
  CHECK(v == before + 8);
  /* ...but once it resumes, it does */
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  publish_until_full(ch, &v, 30);
  CHECK(v == 17 + 16); /* exactly a ring ahead of its cursor */
  CHECK_RC(mmbus_poll(sub, 0, &b), 16);
  CHECK(*(const int64_t *)mmbus_batch_record(&b, 0) == 17 && mmbus_sub_lost(sub) == 0);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));

  /* MMBUS_CREATE of an existing channel needs no write permission on the directory (checked as an
   * unprivileged user, which only root can become) */
  if (getuid() != 0) {
    puts("t_join_behind: ok (permission case needs root)");
    return 0;
  }
  CHECK(chmod(dir, 0755) == 0);
  char path[512];
  snprintf(path, sizeof path, "%s/behind.db", dir);
  CHECK(chmod(path, 0666) == 0);
  pid_t pid = fork_child();
  if (pid == 0) {
    if (setgid(65534) || setuid(65534)) _exit(3);
    mmbus_options_t o;
    mmbus_options_init(&o);
    o.flags = MMBUS_CREATE;
    o.record_size = 8;
    o.mode = 0666; /* another user's world-shared file: only used when sharing is asked for */
    mmbus_channel_t *c2;
    if (mmbus_open(dir, "behind", &o, &c2)) {
      fprintf(stderr, "child: %s\n", mmbus_errmsg());
      _exit(1);
    }
    mmbus_close(c2);
    _exit(mmbus_open(dir, "other", &o, &c2) == MMBUS_E_DIR ? 0 : 2); /* but creating does */
  }
  CHECK(wait_pid(pid) == 0);
  puts("t_join_behind: ok");
  return 0;
}
