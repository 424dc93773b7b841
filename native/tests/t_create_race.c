/* Two processes creating the same channel at the same instant, many times: one valid file, and both
 * succeed (plain create) or exactly one gets MMBUS_E_EXIST (exclusive create). */
#include "mp.h"

#define ITERATIONS 200

static int racer(const char *dir, const char *name, uint32_t flags, int go_fd) {
  char c;
  if (read_all(go_fd, &c, 1)) return 3;
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = flags;
  o.record_size = 128;
  o.capacity = 4096;
  o.fingerprint = TEST_FINGERPRINT;
  mmbus_channel_t *ch;
  int rc = mmbus_open(dir, name, &o, &ch);
  if (rc == MMBUS_E_EXIST) return 1;
  if (rc) {
    fprintf(stderr, "racer: %s\n", mmbus_errmsg());
    return 2;
  }
  test_person_t p;
  fill_person(&p, getpid(), 0);
  rc = mmbus_publish(ch, &p, sizeof p);
  mmbus_close(ch);
  return rc ? 2 : 0;
}

int main(void) {
  test_deadline(120);
  const char *dir = make_test_dir();
  for (int it = 0; it < ITERATIONS; it++) {
    int excl = it % 2;
    uint32_t flags = MMBUS_CREATE | (excl ? MMBUS_EXCL : 0);
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t a = fork_child();
    if (a == 0) _exit(racer(dir, "race", flags, go[0]));
    pid_t b = fork_child();
    if (b == 0) _exit(racer(dir, "race", flags, go[0]));
    CHECK(write(go[1], "gg", 2) == 2); /* both start at once */
    int ra = wait_pid(a), rb = wait_pid(b);
    close(go[0]);
    close(go[1]);
    if (excl) CHECK((ra == 0 && rb == 1) || (ra == 1 && rb == 0));
    else CHECK(ra == 0 && rb == 0);
    mmbus_options_t o;
    mmbus_options_init(&o);
    mmbus_channel_t *ch;
    CHECK_OK(mmbus_open(dir, "race", &o, &ch)); /* one valid file */
    mmbus_stats_t st;
    CHECK(mmbus_stats(ch, &st, NULL, 0) >= 0);
    CHECK(st.head == (uint64_t)(excl ? 1 : 2)); /* both wrote into the same file */
    mmbus_close(ch);
    CHECK_OK(mmbus_unlink(dir, "race"));
  }
  /* no temporary files left behind */
  DIR *d = opendir(dir);
  struct dirent *e;
  int entries = 0;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))) entries++;
  closedir(d);
  CHECK(entries == 0);
  puts("t_create_race: ok");
  return 0;
}
