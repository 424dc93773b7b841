/* Under `block`, a subscriber that has attached never loses a record, even when it attaches at the
 * oldest record of a small ring while publishers run flat out: dozens of attaches, each reading
 * 20,000 records and checking every one (publisher, index continuity, name). */
#include "helpers.h"

#define CAP 1024
#define ATTACHES 40
#define READ_EACH 20000

int main(void) {
  test_deadline(240);
  const char *dir = make_test_dir();
  mmbus_close(open_person_channel(dir, "oldest", MMBUS_POLICY_BLOCK, CAP));
  pid_t pubs[2];
  for (int id = 0; id < 2; id++) {
    pubs[id] = fork_child();
    if (pubs[id] == 0) {
      mmbus_channel_t *ch = open_person_channel(dir, "oldest", MMBUS_POLICY_BLOCK, CAP);
      static test_person_t buf[16];
      for (int64_t i = 0;;) {
        int k = id == 0 ? 1 : 16; /* one single-record publisher, one batching */
        for (int j = 0; j < k; j++) fill_person(&buf[j], i + j, id);
        int rc = k == 1 ? mmbus_publish(ch, &buf[0], sizeof buf[0]) : mmbus_publish_batch(ch, buf, (size_t)k);
        if (rc == MMBUS_E_TIMEOUT) continue; /* between attaches nobody reads: the ring fills */
        if (rc) _exit(2);
        i += k;
      }
    }
  }
  mmbus_channel_t *ch = open_person_channel(dir, "oldest", MMBUS_POLICY_BLOCK, CAP);
  int64_t total = 0, bad = 0;
  uint64_t lost = 0;
  for (int a = 0; a < ATTACHES; a++) {
    mmbus_sub_t *sub;
    mmbus_sub_options_t so = {.name = NULL, .start = MMBUS_START_OLDEST};
    CHECK_OK(mmbus_subscribe(ch, &so, &sub));
    int64_t next[2] = {-1, -1}, got = 0;
    mmbus_batch_t b;
    while (got < READ_EACH) {
      int n = mmbus_poll(sub, 256, &b);
      CHECK(n >= 0);
      if (n == 0) {
        CHECK_OK(mmbus_wait(sub, 10000));
        continue;
      }
      for (int i = 0; i < n; i++) {
        const test_person_t *p = mmbus_batch_record(&b, (uint32_t)i);
        int id = p->publisher;
        if (id < 0 || id > 1 || !person_intact(p) || (next[id] >= 0 && p->index != next[id])) {
          fprintf(stderr, "attach %d: bad record publisher %d index %lld (expected %lld)\n", a, id, (long long)p->index,
                  id >= 0 && id <= 1 ? (long long)next[id] : -1LL);
          bad++;
          continue;
        }
        next[id] = p->index + 1;
      }
      CHECK_RC(mmbus_ack(sub), 0);
      got += n;
    }
    lost += mmbus_sub_lost(sub);
    total += got;
    CHECK_OK(mmbus_sub_close(sub));
  }
  for (int id = 0; id < 2; id++) {
    kill(pubs[id], SIGKILL);
    wait_pid(pubs[id]);
  }
  printf("attach oldest: %d attaches, %lld records read, %llu lost, %lld bad\n", ATTACHES, (long long)total,
         (unsigned long long)lost, (long long)bad);
  CHECK(bad == 0 && lost == 0);
  CHECK_OK(mmbus_close(ch));
  puts("t_attach_oldest: ok");
  return 0;
}
