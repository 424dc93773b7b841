/* The threading contract the Node addon relies on: while one thread is in mmbus_wait(), another
 * may read mmbus_sub_lost() and call mmbus_sub_interrupt(); the owner polls and acks only once the
 * wait has returned. Under ThreadSanitizer this runs race-free (today's main raced: its wait moved
 * the cursor and the lost count over lapped and given-up records). */
#include "helpers.h"

#include <pthread.h>

#define CAP 64

typedef struct waiter {
  mmbus_sub_t *sub;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int armed, stop, done, rc;
} waiter_t;

static void *waiter_loop(void *arg) {
  waiter_t *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->armed && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    if (w->stop) break;
    pthread_mutex_unlock(&w->mu);
    int rc = mmbus_wait(w->sub, 5000);
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->armed = 0;
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static void arm(waiter_t *w) {
  pthread_mutex_lock(&w->mu);
  w->done = 0;
  w->armed = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static int finished(waiter_t *w, int *rc) {
  pthread_mutex_lock(&w->mu);
  int d = w->done;
  if (d) *rc = w->rc;
  pthread_mutex_unlock(&w->mu);
  return d;
}

int main(void) {
  test_deadline(120);
  const char *dir = make_test_dir();
  mmbus_channel_t *sch = open_person_channel(dir, "threads", MMBUS_POLICY_OVERWRITE, CAP);
  mmbus_channel_t *pch = open_person_channel(dir, "threads", MMBUS_POLICY_OVERWRITE, CAP); /* another handle */
  waiter_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  CHECK_OK(mmbus_subscribe(sch, NULL, &w.sub));
  pthread_t t;
  CHECK(pthread_create(&t, NULL, waiter_loop, &w) == 0);
  test_person_t p;
  int64_t index = 0, received = 0;
  uint64_t reads = 0;
  for (int round = 0; round < 200; round++) {
    arm(&w);
    /* While it waits: a burst that laps the ring and a given-up claim, and reads of `lost` here. */
    int burst = round % 3 == 0 ? 3 * CAP : 5;
    for (int i = 0; i < burst; i++) {
      fill_person(&p, index++, 0);
      CHECK_OK(mmbus_publish(pch, &p, sizeof p));
      reads += mmbus_sub_lost(w.sub) < UINT64_MAX;
    }
    mmbus_claim_t c;
    CHECK_OK(mmbus_claim(pch, 2, -1, &c));
    CHECK_OK(mmbus_claim_abort(pch, &c));
    int rc;
    while (!finished(&w, &rc)) reads += mmbus_sub_lost(w.sub) < UINT64_MAX;
    CHECK_OK(rc);
    /* the wait is over: now the owner polls */
    mmbus_batch_t b;
    int n;
    while ((n = mmbus_poll(w.sub, 0, &b)) > 0) {
      int over = mmbus_ack(w.sub);
      CHECK(over >= 0);
      received += n - over;
    }
    CHECK(n == 0);
  }
  /* an interrupt from this thread ends a wait that would find nothing */
  arm(&w);
  sleep_us(2000);
  CHECK_OK(mmbus_sub_interrupt(w.sub));
  int rc;
  while (!finished(&w, &rc)) sleep_us(100);
  CHECK_RC(rc, MMBUS_E_INTR);
  pthread_mutex_lock(&w.mu);
  w.stop = 1;
  pthread_cond_broadcast(&w.cv);
  pthread_mutex_unlock(&w.mu);
  pthread_join(t, NULL);
  printf("wait threads: %lld published, %lld received, %llu lost, %llu concurrent reads of lost\n", (long long)index,
         (long long)received, (unsigned long long)mmbus_sub_lost(w.sub), (unsigned long long)reads);
  CHECK(received + (int64_t)mmbus_sub_lost(w.sub) >= index); /* lost also counts given-up claims lapped over */
  CHECK_OK(mmbus_sub_close(w.sub));
  CHECK_OK(mmbus_close(pch));
  CHECK_OK(mmbus_close(sch));
  puts("t_wait_threads: ok");
  return 0;
}
