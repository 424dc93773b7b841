/* Self-describing channels (docs/format.md §13): a file created with a record layout description
 * carries it byte for byte, every opener reads it back, and a description that was changed after
 * creation is refused; files without one work as before. */
#include "helpers.h"

#include <fcntl.h>

static const char LAYOUT[] =
    "{\"name\":\"test.Person\",\"size\":128,\"align\":8,\"fields\":[{\"name\":\"index\",\"offset\":0,\"size\":8,"
    "\"type\":{\"kind\":\"scalar\",\"scalar\":\"int64\"}}],\"structs\":[]}";

static mmbus_options_t person_options(const char *layout, size_t size) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = 1024;
  o.schema_name = "test.Person";
  o.fingerprint = TEST_FINGERPRINT;
  o.layout = layout;
  o.layout_size = size;
  return o;
}

static void expect_layout(mmbus_channel_t *ch, const char *want, size_t want_size) {
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  CHECK(info.layout_size == want_size);
  char buf[4096];
  size_t size = 12345;
  CHECK_OK(mmbus_layout(ch, buf, sizeof buf, &size));
  CHECK(size == want_size);
  CHECK(memcmp(buf, want, want_size) == 0);
  if (want_size) {
    size = 0;
    CHECK_RC(mmbus_layout(ch, buf, want_size - 1, &size), MMBUS_E_TOOBIG); /* says how much it needs */
    CHECK(size == want_size);
  }
}

static void write_at(const char *path, uint64_t off, const void *bytes, size_t n) {
  int fd = open(path, O_WRONLY);
  CHECK(fd >= 0);
  CHECK(pwrite(fd, bytes, n, (off_t)off) == (ssize_t)n);
  close(fd);
}

static uint64_t read_u64(const char *path, uint64_t off) {
  uint64_t v = 0;
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK(pread(fd, &v, 8, (off_t)off) == 8);
  close(fd);
  return v;
}

int main(void) {
  const char *dir = make_test_dir();
  char path[512];
  size_t n = strlen(LAYOUT);

  /* created with a description: the creator, a second opener and a read-only one read it back */
  mmbus_options_t o = person_options(LAYOUT, n);
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "described", &o, &ch));
  expect_layout(ch, LAYOUT, n);
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  /* after the data area, 64-aligned; the file ends on a page boundary past it */
  uint64_t data_end = info.data_offset + info.capacity * info.record_stride;
  snprintf(path, sizeof path, "%s/described.db", dir);
  uint64_t layout_offset = read_u64(path, 232);
  CHECK(layout_offset == (data_end + 63) / 64 * 64);
  CHECK(info.file_size == (layout_offset + n + 4095) / 4096 * 4096);
  mmbus_options_t plain;
  mmbus_options_init(&plain);
  mmbus_channel_t *again = NULL;
  CHECK_OK(mmbus_open(dir, "described", &plain, &again));
  expect_layout(again, LAYOUT, n);
  CHECK_OK(mmbus_close(again));
  plain.flags = MMBUS_READONLY;
  CHECK_OK(mmbus_open(dir, "described", &plain, &again));
  expect_layout(again, LAYOUT, n);
  CHECK_OK(mmbus_close(again));
  /* an opener's description does not replace the file's (it is written once, at creation) */
  static const char OTHER[] = "{\"other\":1}";
  o = person_options(OTHER, strlen(OTHER));
  CHECK_OK(mmbus_open(dir, "described", &o, &again));
  expect_layout(again, LAYOUT, n);
  CHECK_OK(mmbus_close(again));
  char problem[256];
  CHECK_OK(mmbus_verify(ch, problem, sizeof problem));

  /* the bytes changed under an open handle: its copy says so, verify says so, a new open refuses */
  write_at(path, layout_offset + 2, "X", 1);
  char buf[4096];
  size_t size = 0;
  CHECK_RC(mmbus_layout(ch, buf, sizeof buf, &size), MMBUS_E_CORRUPT);
  CHECK(mmbus_verify(ch, problem, sizeof problem) > 0);
  CHECK(strstr(problem, "layout description") != NULL);
  mmbus_options_init(&plain);
  CHECK_RC(mmbus_open(dir, "described", &plain, &again), MMBUS_E_BADFILE);
  CHECK(strstr(mmbus_errmsg(), "layout description") != NULL);
  CHECK_OK(mmbus_close(ch));

  /* a channel created without one works as before and reports none */
  o = person_options(NULL, 0);
  CHECK_OK(mmbus_open(dir, "plain", &o, &ch));
  expect_layout(ch, "", 0);
  CHECK_OK(mmbus_info(ch, &info));
  CHECK(info.file_size == (info.data_offset + info.capacity * info.record_stride + 4095) / 4096 * 4096);
  CHECK_OK(mmbus_close(ch));

  /* what a creator can get wrong */
  o = person_options(LAYOUT, 0);
  CHECK_RC(mmbus_open(dir, "bad1", &o, &ch), MMBUS_E_INVAL);
  o = person_options(NULL, 10);
  CHECK_RC(mmbus_open(dir, "bad2", &o, &ch), MMBUS_E_INVAL);
  static const char WITH_NUL[] = "{\"a\":\0}";
  o = person_options(WITH_NUL, sizeof WITH_NUL - 1);
  CHECK_RC(mmbus_open(dir, "bad3", &o, &ch), MMBUS_E_INVAL);
  char *big = malloc(MMBUS_LAYOUT_MAX + 1);
  CHECK(big != NULL);
  memset(big, ' ', MMBUS_LAYOUT_MAX + 1);
  o = person_options(big, MMBUS_LAYOUT_MAX + 1);
  CHECK_RC(mmbus_open(dir, "bad4", &o, &ch), MMBUS_E_TOOBIG);
  o = person_options(big, MMBUS_LAYOUT_MAX); /* the largest one fits */
  CHECK_OK(mmbus_open(dir, "biggest", &o, &ch));
  CHECK_OK(mmbus_info(ch, &info));
  CHECK(info.layout_size == MMBUS_LAYOUT_MAX);
  CHECK_OK(mmbus_close(ch));
  free(big);
  CHECK_RC(mmbus_layout(NULL, buf, sizeof buf, &size), MMBUS_E_INVAL);

  /* the header fields of a description are checked with the others: t_file_validation */
  printf("ok\n");
  return 0;
}
