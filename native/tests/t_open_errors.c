/* mmbus_open / mmbus_unlink errors: directory, existence, option ranges, file mode, options that
 * contradict an existing file, schema, subscriber table limits. */
#include "helpers.h"

#include <fcntl.h>

static mmbus_options_t create_opts(uint32_t record_size, uint64_t capacity) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = record_size;
  o.capacity = capacity;
  return o;
}

static int file_exists(const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", dir, name);
  struct stat st;
  return lstat(path, &st) == 0;
}

/* Runs fn(dir) in a child that dropped root (uid/gid 65534): root passes every access() check. */
static void as_nobody(const char *dir, int (*fn)(const char *dir)) {
  pid_t pid = fork_child();
  if (pid == 0) {
    alarm(20);
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      perror("setuid");
      _exit(1);
    }
    _exit(fn(dir));
  }
  CHECK_RC(wait_pid(pid), 0);
}

static int create_in_readonly_dir(const char *dir) {
  mmbus_options_t o = create_opts(8, 16);
  mmbus_channel_t *ch = NULL;
  int rc = mmbus_open(dir, "nope", &o, &ch);
  if (rc != MMBUS_E_DIR || ch != NULL || !strstr(mmbus_errmsg(), "not writable")) {
    fprintf(stderr, "create in read-only dir: %d (%s) %s\n", rc, mmbus_errname(rc), mmbus_errmsg());
    return 1;
  }
  /* Without MMBUS_CREATE the directory need not be writable: a missing channel is NOENT. */
  o.flags = 0;
  rc = mmbus_open(dir, "nope", &o, &ch);
  if (rc != MMBUS_E_NOENT) {
    fprintf(stderr, "open in read-only dir: %d (%s) %s\n", rc, mmbus_errname(rc), mmbus_errmsg());
    return 1;
  }
  return 0;
}

static void test_directory(const char *dir) {
  char path[512];
  mmbus_options_t o = create_opts(8, 16);
  mmbus_channel_t *ch = (mmbus_channel_t *)1;

  snprintf(path, sizeof path, "%s/missing", dir);
  CHECK_RC(mmbus_open(path, "c", &o, &ch), MMBUS_E_DIR);
  CHECK(ch == NULL && strstr(mmbus_errmsg(), "missing"));
  o.flags = 0;
  CHECK_RC(mmbus_open(path, "c", &o, &ch), MMBUS_E_DIR);
  o.flags = MMBUS_CREATE;
  CHECK_RC(mmbus_open("", "c", &o, &ch), MMBUS_E_DIR);
  /* NULL is the default directory: $MMBUS_DIR when set */
  CHECK(setenv("MMBUS_DIR", dir, 1) == 0);
  CHECK_OK(mmbus_open(NULL, "in-default", &o, &ch));
  CHECK_OK(mmbus_close(ch));
  snprintf(path, sizeof path, "%s/in-default.db", dir);
  CHECK(access(path, F_OK) == 0);
  CHECK_OK(mmbus_unlink(NULL, "in-default"));
  CHECK(access(path, F_OK) == -1);
  unsetenv("MMBUS_DIR");

  snprintf(path, sizeof path, "%s/plainfile", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs("not a directory\n", f);
  fclose(f);
  CHECK_RC(mmbus_open(path, "c", &o, &ch), MMBUS_E_DIR);
  CHECK(strstr(mmbus_errmsg(), "not a directory"));
  o.flags = 0;
  CHECK_RC(mmbus_open(path, "c", &o, &ch), MMBUS_E_DIR);
  CHECK_RC(mmbus_unlink(path, "c"), MMBUS_E_IO); /* ENOTDIR from unlink(2) */
  CHECK(unlink(path) == 0);

  /* Not writable: a root-owned 0755 directory, tried by an unprivileged child. */
  snprintf(path, sizeof path, "%s/readonly", dir);
  CHECK(mkdir(path, 0755) == 0 && chmod(path, 0755) == 0);
  CHECK(chmod(dir, 0755) == 0); /* the child must be able to reach it */
  as_nobody(path, create_in_readonly_dir);
  CHECK(!file_exists(path, "nope"));
  CHECK(rmdir(path) == 0);
  CHECK(chmod(dir, 0700) == 0);
}

static void test_existence(const char *dir) {
  mmbus_options_t o = create_opts(8, 16);
  mmbus_channel_t *ch = (mmbus_channel_t *)1, *ch2 = NULL;
  o.flags = 0;
  CHECK_RC(mmbus_open(dir, "absent", &o, &ch), MMBUS_E_NOENT);
  CHECK(ch == NULL && strstr(mmbus_errmsg(), "absent.db"));
  CHECK(!file_exists(dir, "absent"));
  CHECK_RC(mmbus_open(dir, "absent", NULL, &ch), MMBUS_E_NOENT); /* NULL options: open only */
  CHECK_RC(mmbus_open(dir, "absent", &o, NULL), MMBUS_E_INVAL);
  o.flags = MMBUS_EXCL; /* EXCL without CREATE: still only opens */
  CHECK_RC(mmbus_open(dir, "absent", &o, &ch), MMBUS_E_NOENT);

  o.flags = MMBUS_CREATE | MMBUS_EXCL;
  CHECK_OK(mmbus_open(dir, "exists", &o, &ch));
  CHECK_RC(mmbus_open(dir, "exists", &o, &ch2), MMBUS_E_EXIST);
  CHECK(ch2 == NULL && strstr(mmbus_errmsg(), "exists.db"));
  o.flags = MMBUS_CREATE; /* without EXCL: opens the existing one */
  CHECK_OK(mmbus_open(dir, "exists", &o, &ch2));
  CHECK_OK(mmbus_close(ch2));
  CHECK_OK(mmbus_close(ch));
  o.flags = MMBUS_CREATE | MMBUS_EXCL; /* also refused while nobody has it open */
  CHECK_RC(mmbus_open(dir, "exists", &o, &ch2), MMBUS_E_EXIST);

  CHECK_OK(mmbus_unlink(dir, "exists"));
  CHECK(!file_exists(dir, "exists"));
  CHECK_RC(mmbus_unlink(dir, "exists"), MMBUS_E_NOENT);
  CHECK(strstr(mmbus_errmsg(), "exists.db"));
  CHECK_RC(mmbus_unlink(dir, "never"), MMBUS_E_NOENT);
  CHECK_RC(mmbus_unlink(dir, "../etc/passwd"), MMBUS_E_NAME);
  CHECK_RC(mmbus_unlink(dir, ""), MMBUS_E_NAME);
  CHECK_RC(mmbus_unlink("", "x"), MMBUS_E_DIR);
}

static void expect_inval(const char *dir, const mmbus_options_t *o, const char *in_msg) {
  mmbus_channel_t *ch = (mmbus_channel_t *)1;
  CHECK_RC(mmbus_open(dir, "inval", o, &ch), MMBUS_E_INVAL);
  CHECK(ch == NULL);
  if (in_msg && !strstr(mmbus_errmsg(), in_msg)) {
    fprintf(stderr, "message '%s' lacks '%s'\n", mmbus_errmsg(), in_msg);
    exit(1);
  }
  CHECK(!file_exists(dir, "inval"));
}

static void test_option_ranges(const char *dir) {
  mmbus_options_t o = create_opts(0, 16);
  expect_inval(dir, &o, "record size 0");
  o = create_opts(MMBUS_RECORD_SIZE_MAX + 1, 16);
  expect_inval(dir, &o, "record size");
  o = create_opts(8, 1000);
  expect_inval(dir, &o, "1000");
  o = create_opts(8, 1);
  expect_inval(dir, &o, "capacity 1 ");
  o = create_opts(8, UINT64_C(1) << 33);
  expect_inval(dir, &o, "8589934592");
  o = create_opts(8, 3);
  expect_inval(dir, &o, "capacity");
  o = create_opts(8, 16);
  o.max_subscribers = MMBUS_MAX_SUBSCRIBERS_LIMIT + 1;
  expect_inval(dir, &o, "4096");
  o = create_opts(8, 16);
  o.max_publishers = MMBUS_MAX_PUBLISHERS_LIMIT + 1;
  expect_inval(dir, &o, "4096");
  o = create_opts(8, 16);
  o.flags |= 0x8;
  expect_inval(dir, &o, "flags");
  o.flags = MMBUS_CREATE | MMBUS_READONLY; /* inspecting never creates */
  expect_inval(dir, &o, "MMBUS_READONLY");
  o.flags = 0x80000000u; /* unknown flags are refused on open too */
  expect_inval(dir, &o, "flags");
  o = create_opts(8, 16);
  o.policy = (mmbus_policy_t)7;
  expect_inval(dir, &o, "policy");
  o = create_opts(8, 16);
  char longname[80];
  memset(longname, 'n', 64);
  longname[64] = 0;
  o.schema_name = longname;
  expect_inval(dir, &o, "schema name");

  /* The limits themselves are accepted. */
  mmbus_channel_t *ch = NULL;
  mmbus_info_t info;
  o = create_opts(MMBUS_RECORD_SIZE_MAX, 2);
  o.max_subscribers = MMBUS_MAX_SUBSCRIBERS_LIMIT;
  o.max_publishers = MMBUS_MAX_PUBLISHERS_LIMIT;
  longname[63] = 0;
  o.schema_name = longname;
  CHECK_OK(mmbus_open(dir, "limits", &o, &ch));
  CHECK_OK(mmbus_info(ch, &info));
  CHECK(info.record_size == MMBUS_RECORD_SIZE_MAX && info.capacity == 2 && info.max_subscribers == 4096 &&
        info.max_publishers == 4096 && strcmp(info.schema_name, longname) == 0);
  CHECK_OK(mmbus_close(ch));
  CHECK_OK(mmbus_unlink(dir, "limits"));

  /* A large ring: 2^24 records of 8 bytes. */
  o = create_opts(8, UINT64_C(1) << 24);
  CHECK_OK(mmbus_open(dir, "big", &o, &ch));
  CHECK_OK(mmbus_info(ch, &info));
  CHECK(info.capacity == (UINT64_C(1) << 24) && info.record_size == 8 && info.record_stride == 8);
  CHECK(info.file_size >= info.data_offset + (UINT64_C(8) << 24));
  CHECK(info.data_offset >= info.stamps_offset + (UINT64_C(8) << 24));
  CHECK(mmbus_mapped_size(ch) == info.file_size);
  uint64_t v = 42;
  CHECK_OK(mmbus_publish(ch, &v, sizeof v));
  CHECK_OK(mmbus_close(ch));
  CHECK_OK(mmbus_unlink(dir, "big"));
}

static void check_mode(const char *dir, const char *name, mode_t want) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", dir, name);
  struct stat st;
  CHECK(stat(path, &st) == 0);
  if ((st.st_mode & 07777) != want) {
    fprintf(stderr, "%s: mode %o, expected %o\n", path, (unsigned)(st.st_mode & 07777), (unsigned)want);
    exit(1);
  }
}

static void test_mode(const char *dir) {
  mode_t old = umask(0077); /* a restrictive umask must not change the requested mode */
  mmbus_options_t o = create_opts(8, 16);
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "mode-default", &o, &ch));
  CHECK_OK(mmbus_close(ch));
  check_mode(dir, "mode-default", 0600);
  o.mode = 0640;
  CHECK_OK(mmbus_open(dir, "mode-640", &o, &ch));
  CHECK_OK(mmbus_close(ch));
  check_mode(dir, "mode-640", 0640);
  umask(0);
  o.mode = 0644;
  CHECK_OK(mmbus_open(dir, "mode-644", &o, &ch));
  CHECK_OK(mmbus_close(ch));
  check_mode(dir, "mode-644", 0644);
  /* Reopening never changes the mode. */
  o.mode = 0666;
  CHECK_OK(mmbus_open(dir, "mode-640", &o, &ch));
  CHECK_OK(mmbus_close(ch));
  check_mode(dir, "mode-640", 0640);
  umask(old);
  CHECK_OK(mmbus_unlink(dir, "mode-default"));
  CHECK_OK(mmbus_unlink(dir, "mode-640"));
  CHECK_OK(mmbus_unlink(dir, "mode-644"));
}

#define FP_FILE UINT64_C(0x1122334455667788)
#define FP_OTHER UINT64_C(0xdeadbeefcafef00d)

static mmbus_options_t base_opts(void) {
  mmbus_options_t o = create_opts(128, 256);
  o.schema_name = "demo.Point";
  o.fingerprint = FP_FILE;
  o.policy = MMBUS_POLICY_REJECT;
  o.max_subscribers = 8;
  o.max_publishers = 4;
  o.block_timeout_ms = 1234;
  o.heartbeat_timeout_ms = 4321;
  return o;
}

static void expect_refused(const char *dir, const mmbus_options_t *o, int code, const char *in_msg) {
  mmbus_channel_t *ch = (mmbus_channel_t *)1;
  CHECK_RC(mmbus_open(dir, "mm", o, &ch), code);
  CHECK(ch == NULL);
  if (in_msg && !strstr(mmbus_errmsg(), in_msg)) {
    fprintf(stderr, "message '%s' lacks '%s'\n", mmbus_errmsg(), in_msg);
    exit(1);
  }
}

static void check_file_values(const mmbus_info_t *i) {
  CHECK(i->record_size == 128 && i->capacity == 256 && i->policy == MMBUS_POLICY_REJECT);
  CHECK(i->fingerprint == FP_FILE && strcmp(i->schema_name, "demo.Point") == 0);
  CHECK(i->max_subscribers == 8 && i->max_publishers == 4 && i->format_version == MMBUS_FORMAT_VERSION);
}

static void test_mismatch(const char *dir) {
  mmbus_options_t o = base_opts();
  mmbus_channel_t *ch = NULL, *ch2 = NULL;
  CHECK_OK(mmbus_open(dir, "mm", &o, &ch));
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  check_file_values(&info);
  CHECK(info.block_timeout_ms == 1234 && info.heartbeat_timeout_ms == 4321);

  for (int create = 0; create < 2; create++) { /* with MMBUS_CREATE the existing file is never replaced */
    uint32_t flags = create ? MMBUS_CREATE : 0;
    o = base_opts(); o.flags = flags; o.record_size = 64;
    expect_refused(dir, &o, MMBUS_E_MISMATCH, "128");
    o = base_opts(); o.flags = flags; o.capacity = 512;
    expect_refused(dir, &o, MMBUS_E_MISMATCH, "capacity 256");
    o = base_opts(); o.flags = flags; o.capacity = 1000; /* a capacity no channel can have: invalid */
    expect_refused(dir, &o, MMBUS_E_INVAL, "power of two");
    o = base_opts(); o.flags = flags; o.policy = MMBUS_POLICY_BLOCK;
    expect_refused(dir, &o, MMBUS_E_MISMATCH, "policy");
    o = base_opts(); o.flags = flags; o.policy = MMBUS_POLICY_OVERWRITE;
    expect_refused(dir, &o, MMBUS_E_MISMATCH, "policy");
    o = base_opts(); o.flags = flags; o.max_subscribers = 64;
    expect_refused(dir, &o, MMBUS_E_MISMATCH, "subscriber slots");
    o = base_opts(); o.flags = flags; o.max_publishers = 5;
    expect_refused(dir, &o, MMBUS_E_MISMATCH, "publisher slots");

    o = base_opts(); o.flags = flags; o.fingerprint = FP_OTHER;
    expect_refused(dir, &o, MMBUS_E_SCHEMA, "1122334455667788");
    CHECK(strstr(mmbus_errmsg(), "deadbeefcafef00d"));
    o = base_opts(); o.flags = flags; o.schema_name = NULL; o.fingerprint = FP_OTHER;
    expect_refused(dir, &o, MMBUS_E_SCHEMA, "1122334455667788");
    CHECK(strstr(mmbus_errmsg(), "deadbeefcafef00d"));
    o = base_opts(); o.flags = flags; o.schema_name = "demo.Other"; o.fingerprint = FP_OTHER;
    expect_refused(dir, &o, MMBUS_E_SCHEMA, "1122334455667788");
    CHECK(strstr(mmbus_errmsg(), "deadbeefcafef00d"));
    CHECK(strstr(mmbus_errmsg(), "demo.Point") && strstr(mmbus_errmsg(), "demo.Other"));
    o = base_opts(); o.flags = flags; o.schema_name = "demo.Other"; /* same fingerprint, other name */
    expect_refused(dir, &o, MMBUS_E_SCHEMA, "demo.Other");
    CHECK(strstr(mmbus_errmsg(), "1122334455667788"));
  }

  /* Matching options, and any subset of them, open the file. */
  o = base_opts();
  CHECK_OK(mmbus_open(dir, "mm", &o, &ch2));
  CHECK_OK(mmbus_close(ch2));
  o.flags = 0;
  CHECK_OK(mmbus_open(dir, "mm", &o, &ch2));
  CHECK_OK(mmbus_close(ch2));

  /* Unset options take the file's values. */
  mmbus_options_init(&o);
  CHECK_OK(mmbus_open(dir, "mm", &o, &ch2));
  CHECK_OK(mmbus_info(ch2, &info));
  check_file_values(&info);
  CHECK(info.block_timeout_ms == 1234 && info.heartbeat_timeout_ms == 4321);
  CHECK_OK(mmbus_close(ch2));
  CHECK_OK(mmbus_open(dir, "mm", NULL, &ch2));
  CHECK_OK(mmbus_info(ch2, &info));
  check_file_values(&info);
  CHECK_OK(mmbus_close(ch2));
  /* All-zero options (not even mmbus_options_init): sizes, policy, schema come from the file. The
   * time-outs are per-handle and 0 is a value (block time-out 0, heartbeat time-out 0 = never). */
  memset(&o, 0, sizeof o);
  CHECK_OK(mmbus_open(dir, "mm", &o, &ch2));
  CHECK_OK(mmbus_info(ch2, &info));
  check_file_values(&info);
  CHECK(info.block_timeout_ms == 0 && info.heartbeat_timeout_ms == 0);
  CHECK_OK(mmbus_close(ch2));
  o.flags = MMBUS_CREATE; /* record_size 0 would be invalid for a create, but the file exists */
  CHECK_OK(mmbus_open(dir, "mm", &o, &ch2));
  CHECK_OK(mmbus_info(ch2, &info));
  check_file_values(&info);
  CHECK_OK(mmbus_close(ch2));
  /* Per-handle time-outs may differ from the file's without a mismatch. */
  mmbus_options_init(&o);
  o.block_timeout_ms = 77;
  o.heartbeat_timeout_ms = 88;
  CHECK_OK(mmbus_open(dir, "mm", &o, &ch2));
  CHECK_OK(mmbus_info(ch2, &info));
  CHECK(info.block_timeout_ms == 77 && info.heartbeat_timeout_ms == 88);
  CHECK_OK(mmbus_close(ch2));
  /* The first handle was not disturbed by any of this. */
  CHECK_OK(mmbus_info(ch, &info));
  check_file_values(&info);
  CHECK_OK(mmbus_close(ch));
  CHECK_OK(mmbus_unlink(dir, "mm"));
}

static void test_subscriber_slots(const char *dir, const char *name, uint32_t max) {
  mmbus_options_t o = create_opts(8, 16);
  o.max_subscribers = max;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, name, &o, &ch));
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  uint32_t n = info.max_subscribers;
  CHECK(n == (max ? max : 64));
  mmbus_sub_t **subs = calloc(n + 1, sizeof *subs);
  CHECK(subs != NULL);
  for (uint32_t i = 0; i < n; i++) CHECK_OK(mmbus_subscribe(ch, NULL, &subs[i]));
  mmbus_sub_t *extra = (mmbus_sub_t *)1;
  CHECK_RC(mmbus_subscribe(ch, NULL, &extra), MMBUS_E_NOSLOT);
  CHECK(extra == NULL);
  char want[32];
  snprintf(want, sizeof want, "%u subscriber slots", n);
  CHECK(strstr(mmbus_errmsg(), want));
  mmbus_sub_options_t so = {.name = "durable", .start = MMBUS_START_NEWEST};
  CHECK_RC(mmbus_subscribe(ch, &so, &extra), MMBUS_E_NOSLOT);
  /* a second handle (as another process would) sees the same full table */
  mmbus_channel_t *ch2 = NULL;
  CHECK_OK(mmbus_open(dir, name, NULL, &ch2));
  CHECK_RC(mmbus_subscribe(ch2, NULL, &extra), MMBUS_E_NOSLOT);
  mmbus_stats_t st;
  CHECK_RC(mmbus_stats(ch2, &st, NULL, 0), 0);
  CHECK(st.subscribers_active == n);

  int freed = mmbus_sub_slot(subs[n / 2]);
  CHECK_OK(mmbus_sub_close(subs[n / 2]));
  CHECK_OK(mmbus_subscribe(ch2, &so, &extra));
  CHECK(mmbus_sub_slot(extra) == freed);
  mmbus_sub_t *more = NULL;
  CHECK_RC(mmbus_subscribe(ch, NULL, &more), MMBUS_E_NOSLOT);
  CHECK_OK(mmbus_sub_close(extra)); /* durable: goes offline, keeps the slot */
  CHECK_RC(mmbus_subscribe(ch, NULL, &more), MMBUS_E_NOSLOT);
  CHECK_OK(mmbus_subscribe(ch2, &so, &extra)); /* resumes its own slot */
  CHECK(mmbus_sub_slot(extra) == freed);
  CHECK_OK(mmbus_sub_close(extra));
  CHECK_OK(mmbus_close(ch2));
  subs[n / 2] = NULL;
  for (uint32_t i = 0; i < n; i++)
    if (subs[i]) CHECK_OK(mmbus_sub_close(subs[i]));
  free(subs);
  CHECK_OK(mmbus_close(ch));
  CHECK_OK(mmbus_unlink(dir, name));
}

static void test_unlinked_channel_keeps_working(const char *dir) {
  mmbus_options_t o = create_opts(8, 16);
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "gone", &o, &ch));
  mmbus_sub_t *sub = NULL;
  CHECK_OK(mmbus_subscribe(ch, NULL, &sub));
  CHECK_OK(mmbus_unlink(dir, "gone"));
  CHECK(!file_exists(dir, "gone"));
  for (uint64_t i = 0; i < 40; i++) {
    CHECK_OK(mmbus_publish(ch, &i, sizeof i));
    mmbus_batch_t b;
    CHECK_RC(mmbus_poll(sub, 0, &b), 1);
    CHECK(*(const uint64_t *)mmbus_batch_record(&b, 0) == i);
    CHECK_RC(mmbus_ack(sub), 0);
  }
  CHECK_OK(mmbus_flush(ch));
  /* A new channel of that name is a different file. */
  mmbus_channel_t *fresh = NULL;
  o.flags = MMBUS_CREATE | MMBUS_EXCL;
  CHECK_OK(mmbus_open(dir, "gone", &o, &fresh));
  mmbus_stats_t st;
  CHECK_RC(mmbus_stats(fresh, &st, NULL, 0), 0);
  CHECK(st.head == 0 && st.subscribers_active == 0);
  CHECK_RC(mmbus_stats(ch, &st, NULL, 0), 0);
  CHECK(st.head == 40 && st.subscribers_active == 1);
  CHECK_OK(mmbus_close(fresh));
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
  CHECK_OK(mmbus_unlink(dir, "gone"));
  CHECK_RC(mmbus_unlink(dir, "gone"), MMBUS_E_NOENT);
}

int main(void) {
  test_deadline(60);
  const char *dir = make_test_dir();
  test_directory(dir);
  test_existence(dir);
  test_option_ranges(dir);
  test_mode(dir);
  test_mismatch(dir);
  test_subscriber_slots(dir, "slots64", 0);
  test_subscriber_slots(dir, "slots128", 128);
  test_unlinked_channel_keeps_working(dir);
  puts("t_open_errors: ok");
  return 0;
}
