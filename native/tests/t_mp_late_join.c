/* Multi-process: 1 publisher(s) -> 2 subscriber(s), the last joining late (start oldest), single publish, block policy. */
#include "mp.h"

int main(int argc, char **argv) {
  mp_config_t cfg = {"mp_late_join", 1, 2, MMBUS_POLICY_BLOCK, 65536, test_records(), 1, 1, 1000, 0};
  return mp_main(argc, argv, &cfg, 300);
}
