/* Round trip, C side, over the project's messages: `messages write FILE` writes 3 Person and 3
 * PointUpdate records; `messages check FILE` compares a file with the same values, member by member.
 * Both modes print the demo checksum (alternating sum over Person.index: +i0 -i1 +i2). */
#include "person.h"
#include "point.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N 3

typedef struct {
  mmbus_Person people[N];
  mmbus_PointUpdate points[N];
} records;

static void fill(records *r) {
  /* a 64-byte name made of 2-, 3- and 4-byte sequences: 20 x "é" (40) + 4 x "世" (12) + 3 x "😀" (12) */
  char name[65] = "";
  int i;
  memset(r, 0, sizeof *r);
  for (i = 0; i < 20; i++) strcat(name, "\xc3\xa9");
  for (i = 0; i < 4; i++) strcat(name, "\xe4\xb8\x96");
  for (i = 0; i < 3; i++) strcat(name, "\xf0\x9f\x98\x80");
  r->people[0].index = INT64_MIN;
  mmbus_Person_set_name(&r->people[0], "", 0);
  r->people[0].age = 0;
  r->people[1].index = INT64_MAX;
  if (mmbus_Person_set_name(&r->people[1], name, 0) != 0) printf("name does not fit\n");
  r->people[1].age = 255;
  r->people[2].index = 42;
  mmbus_Person_set_name(&r->people[2], "Ada Lovelace", 0);
  r->people[2].age = 36;

  r->points[0].timestamp_ns = 0;
  r->points[0].value = -0.0;
  r->points[0].point_id = 0;
  r->points[0].device_id = 0;
  r->points[0].quality = MMBUS_QUALITY_GOOD;
  r->points[1].timestamp_ns = UINT64_MAX;
  r->points[1].value = (double)NAN;
  r->points[1].point_id = UINT32_MAX;
  r->points[1].device_id = UINT32_MAX;
  r->points[1].quality = MMBUS_QUALITY_COMM_FAILURE;
  mmbus_PointUpdate_set_tag(&r->points[1], name, 0);
  r->points[2].timestamp_ns = UINT64_C(1700000000123456789);
  r->points[2].value = 1e308;
  r->points[2].point_id = 7;
  r->points[2].device_id = 65536;
  r->points[2].quality = MMBUS_QUALITY_UNCERTAIN;
  mmbus_PointUpdate_set_tag(&r->points[2], "plant1/boiler/temp", 0);
}

static long long checksum(const records *r) {
  long long sum = 0;
  int i;
  for (i = 0; i < N; i++) sum += (i % 2 ? -1 : 1) * (r->people[i].index % 1000);
  return sum;
}

#define CMP(a, f)                                                              \
  do {                                                                         \
    if (memcmp(&got->a[i].f, &want.a[i].f, sizeof want.a[i].f) != 0) {        \
      printf("%s[%d].%s differs\n", #a, i, #f);                                \
      bad++;                                                                   \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  static records want, in;
  const records *got = &in;
  FILE *f;
  int i, bad = 0;
  if (argc != 3) return 2;
  fill(&want);
  if (strcmp(argv[1], "write") == 0) {
    f = fopen(argv[2], "wb");
    if (!f || fwrite(&want, sizeof want, 1, f) != 1 || fclose(f) != 0) return 1;
    printf("checksum %lld\n", checksum(&want));
    return 0;
  }
  f = fopen(argv[2], "rb");
  if (!f || fread(&in, sizeof in, 1, f) != 1) return 1;
  fclose(f);
  for (i = 0; i < N; i++) {
    CMP(people, index); CMP(people, name); CMP(people, age);
    CMP(points, timestamp_ns); CMP(points, value); CMP(points, point_id); CMP(points, device_id);
    CMP(points, quality); CMP(points, tag);
  }
  if (bad == 0 && memcmp(&in, &want, sizeof in) != 0) { printf("padding differs\n"); bad++; }
  printf("checksum %lld\n", checksum(&in));
  return bad ? 1 : 0;
}
