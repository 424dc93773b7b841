/* The platform seam's cross-process wake-up (os.h): a process sleeping on a word of a shared file
 * with no time-out returns only if another process wakes it (Linux: a shared futex; Windows: the
 * named semaphore, since WaitOnAddress wakes only its own process's threads). A wake with nobody
 * asleep leaves nothing behind that would end a later sleep early, and a sleeper that timed out
 * is counted out again. mmbus_wait itself sleeps in slices, so only this test sees a lost wake. */
#include "helpers.h"

#include "../src/internal.h"

#define ROUNDS 20

typedef struct wake_ctl {
  uint32_t word;    /* the word slept on */
  uint32_t os_word; /* the OS layer's word of the same wake line (format.md §8.10) */
  int32_t asleep;   /* rounds the sleeper started sleeping */
  int32_t woken;    /* rounds it came back from */
} wake_ctl_t;

static wake_ctl_t *ctl_of(const char *dir, int create, os_file_t *f, os_waker_t *w) {
  wake_ctl_t *c = shared_map(dir, "wake.ctl", sizeof(wake_ctl_t), create);
  char path[600];
  snprintf(path, sizeof path, "%s/wake.ctl", dir);
  CHECK_OK(os_open_existing(path, 0, f));
  CHECK_OK(os_waker_open(w, *f, 0, &c->os_word));
  return c;
}

/* role "sleeper" DIR: sleeps ROUNDS times without a time-out, each time until the word moved. */
static int sleeper(int argc, char **argv) {
  if (argc < 1) return 2;
  os_file_t f;
  os_waker_t w;
  wake_ctl_t *c = ctl_of(argv[0], 0, &f, &w);
  for (int i = 0; i < ROUNDS; i++) {
    uint32_t expected = ld_acquire(&c->word);
    shared_add(&c->asleep, 1);
    while (ld_acquire(&c->word) == expected)
      if (os_wait_word(&w, &c->word, expected, -1) != 0) return 3; /* no time-out was asked for */
    shared_add(&c->woken, 1);
  }
  os_waker_close(&w);
  os_close(&f);
  return 0;
}

int main(int argc, char **argv) {
  TEST_ROLES(argc, argv, {"sleeper", sleeper});
  test_deadline(120);
  const char *dir = make_test_dir();
  os_file_t f;
  os_waker_t w;
  wake_ctl_t *c = ctl_of(dir, 1, &f, &w);

  /* nobody asleep: a wake leaves no token, a later sleep runs to its time-out (1) */
  os_wake_word(&w, &c->word);
  CHECK(os_wait_word(&w, &c->word, ld_acquire(&c->word), 30 * 1000000) == 1);
  CHECK((ld_acquire(&c->os_word) & 0xffffu) == 0); /* the timed-out sleeper counted itself out */
  os_wake_word(&w, &c->word);
  CHECK(os_wait_word(&w, &c->word, ld_acquire(&c->word), 30 * 1000000) == 1);
  /* a word that already moved: no sleep at all */
  CHECK(os_wait_word(&w, &c->word, ld_acquire(&c->word) + 1, -1) == 0);

  child_t s = spawn_role("sleeper", dir, NULL);
  for (int i = 1; i <= ROUNDS; i++) {
    CHECK(shared_wait(&c->asleep, i, 60000) == 0);
    sleep_us(20000); /* lets it reach the kernel (if not, it sees the new word and does not sleep) */
    fetch_add_seq_cst(&c->word, 1);
    os_wake_word(&w, &c->word);
    CHECK(shared_wait(&c->woken, i, 60000) == 0); /* a lost wake-up leaves it asleep for good */
  }
  CHECK(wait_child(s) == 0);
  CHECK((ld_acquire(&c->os_word) & 0xffffu) == 0);
  printf("os_wake: %d cross-process wake-ups of a sleeper without a time-out\n", ROUNDS);
  os_waker_close(&w);
  os_close(&f);
  puts("t_os_wake: ok");
  return 0;
}
