/* The app's C publisher: publisher <dir> <count> publishes the trades of src/trades.ts (trade i: id i,
 * price i/4, qty i % 1000, every third one a sale, ticker T<i % 97>) and prints {"published",
 * "checksum", "version"}. Built against the installed libmmbus and the header mmbus-codegen made
 * from schemas/trade.fbs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmbus.h>

#include "trade.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <dir> <count>\n", argv[0]);
    return 2;
  }
  const uint64_t count = strtoull(argv[2], NULL, 10);

  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = SHOP_TRADE_SIZE;
  o.schema_name = SHOP_TRADE_NAME;
  o.fingerprint = SHOP_TRADE_FINGERPRINT;
  o.capacity = 4096;
  mmbus_channel_t *ch;
  if (mmbus_open(argv[1], "trades", &o, &ch) != 0) {
    fprintf(stderr, "mmbus_open: %s\n", mmbus_errmsg());
    return 1;
  }

  uint64_t sum = 0;
  for (uint64_t i = 0; i < count; i++) {
    shop_Trade t;
    memset(&t, 0, sizeof t);
    t.id = i;
    t.price = (double)i / 4;
    t.qty = (uint32_t)(i % 1000);
    t.side = i % 3 == 0 ? SHOP_SIDE_SELL : SHOP_SIDE_BUY;
    char ticker[16];
    snprintf(ticker, sizeof ticker, "T%" PRIu64, i % 97);
    shop_Trade_set_ticker(&t, ticker, 0);
    int rc = mmbus_publish(ch, &t, sizeof t);
    if (rc != 0) {
      fprintf(stderr, "mmbus_publish: %s (%s)\n", mmbus_errmsg(), mmbus_errname(rc));
      return 1;
    }
    sum += t.id * 1000003u + (uint64_t)t.qty * 31u + t.side + (uint64_t)(t.price * 4);
  }
  printf("{\"published\":%" PRIu64 ",\"checksum\":\"%" PRIu64 "\",\"version\":\"%s\"}\n", count, sum, mmbus_version());
  return mmbus_close(ch) == 0 ? 0 : 1;
}
