/* Multi-process: 1 publisher(s) -> 4 subscriber(s), batches of 64, block policy. */
#include "mp.h"

int main(int argc, char **argv) {
  mp_config_t cfg = {"mp_1to4", 1, 4, MMBUS_POLICY_BLOCK, 65536, test_records(), 64, 0, 1000, 0};
  return mp_main(argc, argv, &cfg, 300);
}
