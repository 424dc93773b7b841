/* Cross-language round trip, C side: `edge write FILE` writes 3 corpus_Edge records with edge values;
 * `edge check FILE` reads 3 records and compares every member bit for bit with the same values.
 * The TypeScript side (roundtrip.test.ts) holds the same values. Exit 0 pass, 1 fail. */
#include "tricky.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_RECORDS 3

static float f32_nan(void) { return NAN; }

static void fill(corpus_Edge *e, int i) {
  memset(e, 0, sizeof *e);
  switch (i) {
  case 0: /* minimums */
    e->b = 0;
    e->i8 = INT8_MIN;
    e->u8 = 0;
    e->i16 = INT16_MIN;
    e->u16 = 0;
    e->i32 = INT32_MIN;
    e->u32 = 0;
    e->i64 = INT64_MIN;
    e->u64 = 0;
    e->f32 = -FLT_MAX;
    e->f64 = -DBL_MAX;
    e->color = CORPUS_COLOR_NONE;
    e->big = CORPUS_BIG_MIN;
    e->ub = CORPUS_U_BIG_A;
    e->axis = CORPUS_GEO_AXIS_X;
    e->pos.x = -0.0f; e->pos.y = FLT_MIN; e->pos.z = -FLT_MIN;
    e->al.a = 0; e->al.b = -0.0;
    e->pts[0].x = 1; e->pts[0].y = 2; e->pts[0].z = 3;
    e->pts[1].x = 4; e->pts[1].y = 5; e->pts[1].z = 6;
    e->longs[0] = INT64_MIN; e->longs[1] = -1;
    e->ulongs[0] = 0; e->ulongs[1] = 1;
    e->flags[0] = 0; e->flags[1] = 1;
    e->colors[0] = CORPUS_COLOR_RED; e->colors[1] = CORPUS_COLOR_BLUE;
    break;
  case 1: /* maximums, full-length multi-byte text */
    e->b = 1;
    e->i8 = INT8_MAX;
    e->u8 = UINT8_MAX;
    e->i16 = INT16_MAX;
    e->u16 = UINT16_MAX;
    e->i32 = INT32_MAX;
    e->u32 = UINT32_MAX;
    e->i64 = INT64_MAX;
    e->u64 = UINT64_MAX;
    e->f32 = FLT_MAX;
    e->f64 = DBL_MAX;
    e->color = CORPUS_COLOR_BLUE;
    e->big = CORPUS_BIG_MAX;
    e->ub = CORPUS_U_BIG_HUGE;
    e->axis = CORPUS_GEO_AXIS_Z;
    e->pos.x = INFINITY; e->pos.y = -INFINITY; e->pos.z = 1.401298464324817e-45f; /* smallest subnormal */
    e->al.a = UINT8_MAX; e->al.b = 4.9406564584124654e-324; /* smallest subnormal */
    e->pts[0].x = -1.5f; e->pts[1].z = 1e30f;
    e->longs[0] = INT64_MAX; e->longs[1] = (INT64_C(1) << 53) + 1;
    e->ulongs[0] = UINT64_MAX; e->ulongs[1] = UINT64_C(1) << 53;
    e->flags[0] = 1; e->flags[1] = 1;
    e->colors[0] = CORPUS_COLOR_GREEN; e->colors[1] = CORPUS_COLOR_NONE;
    if (corpus_Edge_set_text(e, "Gr\xc3\xbc\xc3\x9f" "e, \xe4\xb8\x96\xe7\x95\x8c!", 0) != 0) fprintf(stderr, "set text\n");
    if (corpus_Edge_set_short_text(e, "\xe2\x82\xac" "a", 0) != 0) fprintf(stderr, "set short_text\n");
    break;
  default: /* NaN, -0.0, truncated text */
    e->f32 = f32_nan();
    e->f64 = (double)f32_nan();
    e->i64 = -1;
    e->u64 = UINT64_C(1) << 63;
    e->pos.x = -0.0f;
    e->al.b = -0.0;
    e->big = CORPUS_BIG_ZERO;
    /* 14 ASCII bytes then a 3-byte euro sign: 17 bytes into 16, cut before the euro sign. */
    if (corpus_Edge_set_text(e, "abcdefghijklmn\xe2\x82\xac", 1) != 1) fprintf(stderr, "set text truncate\n");
    if (corpus_Edge_set_short_text(e, "ab", 0) != 0) fprintf(stderr, "set short_text 2\n");
    break;
  }
}

#define CMP(f)                                                                 \
  do {                                                                         \
    if (memcmp(&got->f, &want.f, sizeof want.f) != 0) {                        \
      printf("record %d: field %s differs\n", i, #f);                          \
      bad++;                                                                   \
    }                                                                          \
  } while (0)

static int check(const corpus_Edge *got, int i) {
  corpus_Edge want;
  int bad = 0;
  fill(&want, i);
  CMP(b); CMP(i8); CMP(u8); CMP(i16); CMP(u16); CMP(i32); CMP(u32); CMP(i64); CMP(u64);
  CMP(f32); CMP(f64); CMP(color); CMP(big); CMP(ub); CMP(axis); CMP(pos); CMP(al); CMP(pts);
  CMP(longs); CMP(ulongs); CMP(flags); CMP(colors); CMP(text); CMP(short_text);
  if (memcmp(got, &want, sizeof want) != 0 && bad == 0) {
    printf("record %d: padding differs\n", i);
    bad++;
  }
  return bad;
}

/* The text helpers: errors, truncation at UTF-8 boundaries, get as pointer + length. */
static int check_text_helpers(void) {
  corpus_Edge e;
  size_t len = 0;
  const char *p;
  int bad = 0;
  memset(&e, 0, sizeof e);
  if (corpus_Edge_set_short_text(&e, "abc", 0) != 0) { printf("short ok\n"); bad++; }
  if (corpus_Edge_set_short_text(&e, "abcde", 0) != -E2BIG) { printf("too long must be -E2BIG\n"); bad++; }
  p = corpus_Edge_get_short_text(&e, &len);
  if (len != 3 || memcmp(p, "abc", 3) != 0) { printf("unchanged after -E2BIG\n"); bad++; }
  /* "a" + 2-byte e-acute + 2-byte e-acute = 5 bytes into 4: keep "a" + one e-acute (3 bytes). */
  if (corpus_Edge_set_short_text(&e, "a\xc3\xa9\xc3\xa9", 1) != 1) { printf("truncate returns 1\n"); bad++; }
  p = corpus_Edge_get_short_text(&e, &len);
  if (len != 3 || memcmp(p, "a\xc3\xa9", 3) != 0 || e.short_text[3] != 0) { printf("truncate at boundary\n"); bad++; }
  /* A 4-byte sequence that does not fit at all leaves the field empty. */
  if (corpus_Edge_set_short_text_n(&e, "\xf0\x9f\x98\x80" "b", 5, 1) != 1) { printf("truncate 4-byte\n"); bad++; }
  p = corpus_Edge_get_short_text(&e, &len);
  if (len != 4 || memcmp(p, "\xf0\x9f\x98\x80", 4) != 0) { printf("4-byte kept whole (%zu)\n", len); bad++; }
  if (corpus_Edge_set_short_text(&e, "xx\xf0\x9f\x98\x80", 1) != 1) { printf("truncate 4-byte 2\n"); bad++; }
  p = corpus_Edge_get_short_text(&e, &len);
  if (len != 2 || memcmp(p, "xx\0\0", 4) != 0) { printf("4-byte dropped whole (%zu)\n", len); bad++; }
  return bad;
}

int main(int argc, char **argv) {
  corpus_Edge recs[N_RECORDS];
  FILE *f;
  int i, bad = 0;
  if (argc != 3) {
    fprintf(stderr, "usage: edge write|check FILE\n");
    return 2;
  }
  if (strcmp(argv[1], "write") == 0) {
    for (i = 0; i < N_RECORDS; i++) fill(&recs[i], i);
    f = fopen(argv[2], "wb");
    if (!f || fwrite(recs, sizeof recs[0], N_RECORDS, f) != N_RECORDS || fclose(f) != 0) return 1;
    printf("wrote %d records of %zu bytes\n", N_RECORDS, sizeof recs[0]);
    return 0;
  }
  f = fopen(argv[2], "rb");
  if (!f || fread(recs, sizeof recs[0], N_RECORDS, f) != N_RECORDS) return 1;
  fclose(f);
  for (i = 0; i < N_RECORDS; i++) bad += check(&recs[i], i);
  bad += check_text_helpers();
  printf(bad ? "FAILED %d\n" : "checked %d records\n", bad ? bad : N_RECORDS);
  return bad ? 1 : 0;
}
