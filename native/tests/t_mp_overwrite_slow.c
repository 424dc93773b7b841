/* Multi-process: overwrite policy with a slow subscriber: it is lapped, and received + lost = sent. */
#include "mp.h"

int main(int argc, char **argv) {
  mp_config_t cfg = {"mp_overwrite_slow", 1, 1, MMBUS_POLICY_OVERWRITE, 4096, test_records(), 1, 0, 0, 200};
  return mp_main(argc, argv, &cfg, 300);
}
