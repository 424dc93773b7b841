/* Safe defaults on a shared host: the default directory is private and refused when another user
 * squats it (creates it first, open to all, or as a symlink to her own directory); a channel file
 * planted by another user, or writable by everyone, is refused for writing unless sharing was asked
 * for (mode); the group sharing model works; explicit directories are never used through a symlink;
 * read-only opens write nothing. The multi-user cases need root to create a second user (useradd) and
 * exit 77 (skip) otherwise, saying why. */
#include "helpers.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>

#define OTHER_USER "mmbus-test-other"

static uid_t other_uid;
static gid_t other_gid;

/* Runs fn as the other user in a child; returns its exit code. */
static int as_other(void (*fn)(const char *), const char *arg) {
  pid_t pid = fork_child();
  if (pid == 0) {
    if (setgroups(0, NULL) || setgid(other_gid) || setuid(other_uid)) _exit(90);
    fn(arg);
    _exit(0);
  }
  return wait_pid(pid);
}

static void squat_dir_open_to_all(const char *path) {
  if (mkdir(path, 0777) || chmod(path, 0777)) _exit(91);
}

static void squat_dir_as_symlink(const char *path) {
  char target[600];
  snprintf(target, sizeof target, "%s.target", path);
  if (mkdir(target, 0700) || symlink(target, path)) _exit(92);
}

static void plant_channel(const char *dir) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = 16;
  o.mode = 0666; /* world-writable: readable and forgeable by the planter */
  mmbus_channel_t *ch;
  if (mmbus_open(dir, "planted", &o, &ch)) _exit(93);
  mmbus_close(ch);
}

static void plant_private_channel(const char *dir) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = 16;
  o.mode = 0600;
  mmbus_channel_t *ch;
  if (mmbus_open(dir, "theirs", &o, &ch)) _exit(94);
  mmbus_close(ch);
}

static void group_shared_channel(const char *dir) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = 16;
  o.mode = 0660;
  mmbus_channel_t *ch;
  if (mmbus_open(dir, "shared", &o, &ch)) _exit(95);
  test_person_t p;
  fill_person(&p, 7, 1);
  if (mmbus_publish(ch, &p, sizeof p)) _exit(96);
  mmbus_close(ch);
}

static const char *default_dir_in(const char *tmp) {
  static char buf[MMBUS_PATH_MAX + 1];
  setenv("TMPDIR", tmp, 1);
  unsetenv("XDG_RUNTIME_DIR");
  unsetenv("MMBUS_DIR");
  int rc = mmbus_default_dir(buf, sizeof buf);
  return rc == 0 ? buf : NULL;
}

/* Single-user checks: they hold for anyone. */
static void test_private_default_and_links(void) {
  const char *base = make_test_dir();
  char tmp[512], expect[1200];
  snprintf(tmp, sizeof tmp, "%s/tmp", base);
  CHECK(mkdir(tmp, 01777) == 0 && chmod(tmp, 01777) == 0);
  const char *d = default_dir_in(tmp);
  snprintf(expect, sizeof expect, "%s/mmbus-%u", tmp, (unsigned)geteuid());
  CHECK(d && strcmp(d, expect) == 0);
  struct stat st;
  CHECK(lstat(d, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700 && st.st_uid == geteuid());
  /* an existing dir of ours opened to others is refused until it is private again */
  CHECK(chmod(d, 0755) == 0);
  char buf[MMBUS_PATH_MAX + 1];
  CHECK_RC(mmbus_default_dir(buf, sizeof buf), MMBUS_E_DIR);
  CHECK(strstr(mmbus_errmsg(), "open to group or others"));
  mmbus_channel_t *ch = NULL;
  CHECK_RC(mmbus_open(NULL, "x", NULL, &ch), MMBUS_E_DIR); /* and so is opening in it */
  CHECK(chmod(d, 0700) == 0);
  /* $XDG_RUNTIME_DIR/mmbus when set */
  char xdg[512];
  snprintf(xdg, sizeof xdg, "%s/xdg", base);
  CHECK(mkdir(xdg, 0700) == 0);
  setenv("XDG_RUNTIME_DIR", xdg, 1);
  CHECK_OK(mmbus_default_dir(buf, sizeof buf));
  snprintf(expect, sizeof expect, "%s/mmbus", xdg);
  CHECK(strcmp(buf, expect) == 0);
  unsetenv("XDG_RUNTIME_DIR");
  /* an explicit directory is never used through a symlink */
  char link[600];
  snprintf(link, sizeof link, "%s/link-to-default", base);
  CHECK(symlink(d, link) == 0);
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = 8;
  CHECK_RC(mmbus_open(link, "x", &o, &ch), MMBUS_E_DIR);
  CHECK(strstr(mmbus_errmsg(), "symbolic link"));
  unlink(link);
  /* files are created 0600 whatever the umask */
  mode_t old = umask(0);
  CHECK_OK(mmbus_open(d, "private", &o, &ch));
  umask(old);
  char path[700];
  snprintf(path, sizeof path, "%s/private.db", d);
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  CHECK_OK(mmbus_close(ch));
  /* a world-writable file is refused for writing unless the opener shares the same way */
  CHECK(chmod(path, 0666) == 0);
  o.flags = 0;
  CHECK_RC(mmbus_open(d, "private", &o, &ch), MMBUS_E_PERM);
  CHECK(strstr(mmbus_errmsg(), "writable by every user"));
  o.mode = 0666;
  CHECK_OK(mmbus_open(d, "private", &o, &ch));
  CHECK_OK(mmbus_close(ch));
  /* read-only opens are always possible and write nothing: the file's bytes stay the same */
  o.mode = 0;
  o.flags = MMBUS_READONLY;
  struct stat before, after;
  CHECK(stat(path, &before) == 0);
  CHECK_OK(mmbus_open(d, "private", &o, &ch));
  mmbus_stats_t s;
  CHECK(mmbus_stats(ch, &s, NULL, 0) >= 0);
  mmbus_sub_t *sub;
  CHECK_RC(mmbus_subscribe(ch, NULL, &sub), MMBUS_E_PERM);
  uint64_t rec = 42;
  CHECK_RC(mmbus_publish(ch, &rec, sizeof rec), MMBUS_E_PERM);
  CHECK_RC(mmbus_gc(ch), MMBUS_E_PERM);
  CHECK_OK(mmbus_close(ch));
  CHECK(stat(path, &after) == 0 && after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
        after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
}

static int ensure_other_user(void) {
  struct passwd *pw = getpwnam(OTHER_USER);
  if (!pw) {
    if (system("useradd --system --no-create-home --shell /usr/sbin/nologin " OTHER_USER " 2>/dev/null") != 0) return 0;
    pw = getpwnam(OTHER_USER);
  }
  if (!pw) return 0;
  other_uid = pw->pw_uid;
  other_gid = pw->pw_gid;
  return 1;
}

static void test_hostile_neighbour(void) {
  const char *base = make_test_dir();
  CHECK(chmod(base, 0755) == 0);
  char tmp[512], victim_dir[600];
  snprintf(tmp, sizeof tmp, "%s/tmp", base);
  CHECK(mkdir(tmp, 01777) == 0 && chmod(tmp, 01777) == 0); /* a shared /tmp */
  snprintf(victim_dir, sizeof victim_dir, "%s/mmbus-%u", tmp, (unsigned)geteuid());

  /* 1. she creates the victim's default directory first, open to all */
  CHECK(as_other(squat_dir_open_to_all, victim_dir) == 0);
  CHECK(default_dir_in(tmp) == NULL);
  CHECK(strstr(mmbus_errmsg(), "belongs to uid"));
  mmbus_channel_t *ch = NULL;
  CHECK_RC(mmbus_open(NULL, "points", NULL, &ch), MMBUS_E_DIR);
  CHECK(rmdir(victim_dir) == 0);

  /* 2. ... or as a symlink to a directory of hers */
  CHECK(as_other(squat_dir_as_symlink, victim_dir) == 0);
  CHECK(default_dir_in(tmp) == NULL);
  CHECK(strstr(mmbus_errmsg(), "symbolic link"));
  CHECK(unlink(victim_dir) == 0);

  /* 3. in a directory both can write, she plants a world-writable channel and a private one */
  char shared[600];
  snprintf(shared, sizeof shared, "%s/shared-dir", base);
  CHECK(mkdir(shared, 01777) == 0 && chmod(shared, 01777) == 0);
  CHECK(as_other(plant_channel, shared) == 0);
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = 16;
  CHECK_RC(mmbus_open(shared, "planted", &o, &ch), MMBUS_E_PERM); /* the victim does not write into it */
  CHECK(strstr(mmbus_errmsg(), "writable by every user"));
  CHECK(as_other(plant_private_channel, shared) == 0);
  CHECK_RC(mmbus_open(shared, "theirs", &o, &ch), MMBUS_E_PERM);
  CHECK(strstr(mmbus_errmsg(), "belongs to uid"));
  o.flags = MMBUS_READONLY; /* inspecting another user's channel is fine where the OS allows reading */
  CHECK_OK(mmbus_open(shared, "planted", &o, &ch));
  CHECK_OK(mmbus_close(ch));

  /* 4. the sharing model: a group directory, files 0660, every process passing mode 0660 */
  char group_dir[600];
  snprintf(group_dir, sizeof group_dir, "%s/group-dir", base);
  CHECK(mkdir(group_dir, 02770) == 0 && chown(group_dir, 0, other_gid) == 0 && chmod(group_dir, 02770) == 0);
  CHECK(as_other(group_shared_channel, group_dir) == 0);
  o.flags = 0;
  o.mode = 0; /* not asked: refused */
  CHECK_RC(mmbus_open(group_dir, "shared", &o, &ch), MMBUS_E_PERM);
  o.mode = 0660;
  CHECK_OK(mmbus_open(group_dir, "shared", &o, &ch));
  test_person_t got;
  CHECK_OK(mmbus_read(ch, 0, &got, sizeof got));
  CHECK(got.index == 7 && got.publisher == 1 && person_intact(&got));
  CHECK_OK(mmbus_close(ch));
}

int main(void) {
  test_deadline(60);
  test_private_default_and_links();
  if (geteuid() != 0) {
    puts("t_security: single-user checks ok; the neighbour cases skipped (they need root to add a second user)");
    return 77;
  }
  if (!ensure_other_user()) {
    puts("t_security: single-user checks ok; skipped the neighbour cases: useradd " OTHER_USER " failed");
    return 77;
  }
  test_hostile_neighbour();
  puts("t_security: ok");
  return 0;
}
