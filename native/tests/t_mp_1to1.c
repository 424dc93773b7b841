/* Multi-process: 1 publisher(s) -> 1 subscriber(s), single publish, block policy. */
#include "mp.h"

int main(int argc, char **argv) {
  mp_config_t cfg = {"mp_1to1", 1, 1, MMBUS_POLICY_BLOCK, 65536, test_records(), 1, 0, 1000, 0};
  return mp_main(argc, argv, &cfg, 300);
}
