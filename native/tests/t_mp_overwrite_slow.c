/* Multi-process: overwrite policy with a slow subscriber: it is lapped, and received + lost = sent. */
#include "mp.h"

int main(void) {
  test_deadline(300);
  mp_config_t cfg = {"mp_overwrite_slow", 1, 1, MMBUS_POLICY_OVERWRITE, 4096, test_records(), 1, 0, 0, 200};
  return mp_run(&cfg);
}
