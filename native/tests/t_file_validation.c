/* A channel file is validated before it is mapped: short, foreign, other-version, corrupt, resized,
 * linked or unreadable files are refused with the right code, and the refused file is left unchanged. */
#include "helpers.h"

#include <fcntl.h>

/* Static header fields (docs/format.md), little-endian on the machines we run on. */
#define H_MAGIC 0
#define H_VERSION 8
#define H_ENDIAN 12
#define H_HEADER_SIZE 16
#define H_RECORD_SIZE 20
#define H_RECORD_STRIDE 24
#define H_CAPACITY_LOG2 28
#define H_CAPACITY 32
#define H_MAX_SUBS 40
#define H_MAX_PUBS 44
#define H_POLICY 48
#define H_SCHEMA 64
#define H_SUBS_OFFSET 152
#define H_PUBS_OFFSET 160
#define H_STAMPS_OFFSET 168
#define H_DATA_OFFSET 176
#define H_FILE_SIZE 184
#define H_CHECKSUM 192
#define H_CHECKSUMMED 256

static const char *dir;
static char path[512];

typedef struct blob {
  uint8_t *p;
  size_t n;
} blob_t;

static blob_t slurp(const char *file) {
  blob_t b = {NULL, 0};
  int fd = open(file, O_RDONLY | O_NOFOLLOW);
  CHECK(fd >= 0);
  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  b.n = (size_t)st.st_size;
  b.p = malloc(b.n ? b.n : 1);
  CHECK(b.p != NULL);
  size_t done = 0;
  while (done < b.n) {
    ssize_t r = pread(fd, b.p + done, b.n - done, (off_t)done);
    CHECK(r > 0);
    done += (size_t)r;
  }
  close(fd);
  return b;
}

static void spit(const char *file, const void *p, size_t n) {
  int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
  CHECK(fd >= 0);
  CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
  close(fd);
}

static uint32_t get32(const blob_t *b, size_t off) {
  uint32_t v;
  memcpy(&v, b->p + off, 4);
  return v;
}
static void put32(blob_t *b, size_t off, uint32_t v) { memcpy(b->p + off, &v, 4); }
static uint64_t get64(const blob_t *b, size_t off) {
  uint64_t v;
  memcpy(&v, b->p + off, 8);
  return v;
}
static void put64(blob_t *b, size_t off, uint64_t v) { memcpy(b->p + off, &v, 8); }

static void fix_checksum(blob_t *b) { put64(b, H_CHECKSUM, test_header_checksum(b->p)); }

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Recomputes every offset from the sizes, as a correct writer would. */
static void fix_layout(blob_t *b) {
  uint64_t rs = get32(b, H_RECORD_SIZE), cap = get64(b, H_CAPACITY);
  uint64_t stride = align_up(rs, 8);
  put32(b, H_RECORD_STRIDE, (uint32_t)stride);
  uint64_t subs = 4096, pubs = subs + (uint64_t)get32(b, H_MAX_SUBS) * 128;
  uint64_t stamps = align_up(pubs + (uint64_t)get32(b, H_MAX_PUBS) * 128, 128);
  uint64_t data = align_up(stamps + cap * 8, 4096);
  put64(b, H_SUBS_OFFSET, subs);
  put64(b, H_PUBS_OFFSET, pubs);
  put64(b, H_STAMPS_OFFSET, stamps);
  put64(b, H_DATA_OFFSET, data);
  put64(b, H_FILE_SIZE, align_up(data + cap * stride, 4096));
}

static mmbus_options_t chan_opts(void) {
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = sizeof(test_person_t);
  o.capacity = 64;
  o.schema_name = "test.Person";
  o.fingerprint = TEST_FINGERPRINT;
  return o;
}

/* A valid channel "v" with a few records and a durable subscriber in it; returns its bytes. */
static blob_t make_valid(void) {
  unlink(path);
  mmbus_options_t o = chan_opts();
  o.flags |= MMBUS_EXCL;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "v", &o, &ch));
  mmbus_sub_options_t so = {.name = "keeper", .start = MMBUS_START_OLDEST};
  mmbus_sub_t *sub = NULL;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  test_person_t p;
  for (int i = 0; i < 10; i++) {
    fill_person(&p, i, 0);
    CHECK_OK(mmbus_publish(ch, &p, sizeof p));
  }
  mmbus_batch_t bt;
  CHECK_RC(mmbus_poll(sub, 3, &bt), 3);
  CHECK_RC(mmbus_ack(sub), 0);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
  blob_t b = slurp(path);
  CHECK(b.n == get64(&b, H_FILE_SIZE) && memcmp(b.p, "MMBUSCH1", 8) == 0);
  CHECK(get32(&b, H_VERSION) == MMBUS_FORMAT_VERSION && get32(&b, H_ENDIAN) == 0x01020304u);
  blob_t again = b;
  fix_checksum(&again); /* our checksum agrees with the library's */
  return b;
}

static void opens_fine(void) {
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "v", NULL, &ch));
  mmbus_sub_options_t so = {.name = "keeper", .start = MMBUS_START_OLDEST};
  mmbus_sub_t *sub = NULL;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  mmbus_batch_t bt;
  CHECK_RC(mmbus_poll(sub, 0, &bt), 7);
  CHECK(((const test_person_t *)mmbus_batch_record(&bt, 0))->index == 3);
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

static int same_as(const char *file, const blob_t *want) {
  blob_t now = slurp(file);
  int same = now.n == want->n && (now.n == 0 || memcmp(now.p, want->p, now.n) == 0);
  free(now.p);
  return same;
}

/* Opens "v" (plain open, open with CREATE, open with CREATE|EXCL): each must fail with `code`, and
 * the bytes at `file` must not change. */
static void refused_excl(int line, const char *file, int code, const char *in_msg, int excl_code) {
  blob_t before = slurp(file);
  mmbus_options_t plain;
  mmbus_options_init(&plain);
  mmbus_options_t create = chan_opts();
  mmbus_options_t excl = chan_opts();
  excl.flags |= MMBUS_EXCL;
  const mmbus_options_t *variants[] = {&plain, &create, NULL};
  for (int v = 0; v < 3; v++) {
    mmbus_channel_t *ch = (mmbus_channel_t *)1;
    int rc = mmbus_open(dir, "v", variants[v], &ch);
    if (rc != code || ch != NULL) {
      fprintf(stderr, "line %d, variant %d: open returned %d (%s), expected %d (%s): %s\n", line, v, rc,
              mmbus_errname(rc), code, mmbus_errname(code), mmbus_errmsg());
      exit(1);
    }
    if (in_msg && !strstr(mmbus_errmsg(), in_msg)) {
      fprintf(stderr, "line %d: message '%s' lacks '%s'\n", line, mmbus_errmsg(), in_msg);
      exit(1);
    }
  }
  mmbus_channel_t *ch = NULL;
  int rc = mmbus_open(dir, "v", &excl, &ch);
  if (rc != excl_code) {
    fprintf(stderr, "line %d: CREATE|EXCL returned %d (%s): %s\n", line, rc, mmbus_errname(rc), mmbus_errmsg());
    exit(1);
  }
  if (!same_as(file, &before)) {
    fprintf(stderr, "line %d: a refused open changed the file\n", line);
    exit(1);
  }
  free(before.p);
}
/* With CREATE|EXCL an existing name is MMBUS_E_EXIST, whatever the file holds. */
static void refused_at(int line, const char *file, int code, const char *in_msg) {
  refused_excl(line, file, code, in_msg, MMBUS_E_EXIST);
}
#define REFUSED(code, msg) refused_at(__LINE__, path, code, msg)

static void with(const blob_t *b, int code, const char *msg, int line) {
  spit(path, b->p, b->n);
  refused_at(line, path, code, msg);
}
#define REFUSED_WITH(b, code, msg) with(b, code, msg, __LINE__)

static void test_short_and_foreign(void) {
  blob_t valid = make_valid();
  spit(path, "", 0);
  REFUSED(MMBUS_E_BADFILE, "truncated");
  spit(path, valid.p, 10);
  REFUSED(MMBUS_E_BADFILE, "truncated");
  spit(path, valid.p, 255);
  REFUSED(MMBUS_E_BADFILE, "truncated");
  spit(path, valid.p, 256); /* a whole static header, nothing after it */
  REFUSED(MMBUS_E_BADFILE, "truncated");
  spit(path, valid.p, 4096);
  REFUSED(MMBUS_E_BADFILE, "truncated");

  char text[5000];
  for (size_t i = 0; i < sizeof text; i++) text[i] = "Lorem ipsum dolor sit amet\n"[i % 27];
  spit(path, text, sizeof text);
  REFUSED(MMBUS_E_BADFILE, "bad magic");
  uint8_t png[4096] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  spit(path, png, sizeof png);
  REFUSED(MMBUS_E_BADFILE, "bad magic");
  blob_t b = slurp(path);
  free(b.p);
  /* A copy of a valid file with only the magic changed: */
  b.n = valid.n;
  b.p = malloc(b.n);
  memcpy(b.p, valid.p, b.n);
  memcpy(b.p, "MMBUSCH2", 8);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "bad magic");
  memset(b.p, 0, b.n); /* all zeros, e.g. a file whose header was never written */
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "bad magic");
  free(b.p);
  free(valid.p);
}

static blob_t copy_of(const blob_t *v) {
  blob_t b = {malloc(v->n), v->n};
  CHECK(b.p != NULL);
  memcpy(b.p, v->p, v->n);
  return b;
}

static void test_version_and_byte_order(void) {
  blob_t valid = make_valid();
  blob_t b = copy_of(&valid);
  put32(&b, H_VERSION, 3);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_VERSION, "format version 3");
  put32(&b, H_VERSION, 1); /* libmmbus 0.1's files: another commit protocol, refused with advice */
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_VERSION, "remove it");
  put32(&b, H_VERSION, 0);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_VERSION, "format version 0");
  put32(&b, H_VERSION, 0x01000000u); /* version 1 written big-endian */
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_VERSION, "version");
  put32(&b, H_VERSION, MMBUS_FORMAT_VERSION);
  put32(&b, H_ENDIAN, 0x04030201u); /* the byte-order mark of the other endianness */
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_VERSION, "byte order");
  put32(&b, H_ENDIAN, 0);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_VERSION, "byte order");
  put32(&b, H_ENDIAN, 0x01020304u);
  fix_checksum(&b);
  CHECK(memcmp(b.p, valid.p, valid.n) == 0); /* back to the original, checksum included */
  spit(path, b.p, b.n);
  opens_fine();
  free(b.p);
  free(valid.p);
}

static void test_flipped_header_bytes(void) {
  blob_t valid = make_valid();
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  mmbus_options_t plain;
  mmbus_options_init(&plain);
  /* Every byte of the static header (all covered by the checksum, the checksum itself included).
   * Version and byte-order mark are checked before the checksum (a file of another version has its
   * own rules), so they say VERSION. */
  for (size_t i = 0; i < H_CHECKSUMMED; i++) {
    for (int mask = 0x01; mask <= 0x100; mask <<= 4) { /* one bit, then the whole byte */
      uint8_t x = (uint8_t)(valid.p[i] ^ (mask == 0x100 ? 0xff : mask));
      CHECK(pwrite(fd, &x, 1, (off_t)i) == 1);
      int want = (i >= H_VERSION && i < H_ENDIAN + 4) ? MMBUS_E_VERSION : MMBUS_E_BADFILE;
      mmbus_channel_t *ch = (mmbus_channel_t *)1;
      int rc = mmbus_open(dir, "v", &plain, &ch);
      if (rc != want || ch != NULL) {
        fprintf(stderr, "byte %zu ^ 0x%x: open returned %d (%s), expected %s: %s\n", i, mask, rc, mmbus_errname(rc),
                mmbus_errname(want), mmbus_errmsg());
        exit(1);
      }
      if (want == MMBUS_E_BADFILE && i >= 8 && !strstr(mmbus_errmsg(), "checksum")) {
        fprintf(stderr, "byte %zu: message '%s' does not name the checksum\n", i, mmbus_errmsg());
        exit(1);
      }
      uint8_t back = 0;
      CHECK(pread(fd, &back, 1, (off_t)i) == 1 && back == x); /* the open did not "repair" it */
      CHECK(pwrite(fd, &valid.p[i], 1, (off_t)i) == 1);
    }
  }
  close(fd);
  CHECK(same_as(path, &valid));
  opens_fine();
  free(valid.p);
}

static void test_inconsistent_fields(void) {
  blob_t valid = make_valid();
  blob_t b = copy_of(&valid);
  uint64_t size = valid.n;

  /* Sizes changed, checksum valid, offsets left as they were. */
  put32(&b, H_RECORD_SIZE, 64);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");
  put32(&b, H_RECORD_SIZE, 256);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");
  memcpy(b.p, valid.p, 256);
  put64(&b, H_CAPACITY, 128);
  put32(&b, H_CAPACITY_LOG2, 7);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");
  memcpy(b.p, valid.p, 256);
  put32(&b, H_MAX_SUBS, 65);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");
  memcpy(b.p, valid.p, 256);
  put64(&b, H_DATA_OFFSET, get64(&valid, H_DATA_OFFSET) + 4096);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");
  memcpy(b.p, valid.p, 256);
  put64(&b, H_STAMPS_OFFSET, 0);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");
  memcpy(b.p, valid.p, 256);
  put64(&b, H_SUBS_OFFSET, 256); /* pointing the table at the control lines */
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");
  memcpy(b.p, valid.p, 256);
  put32(&b, H_HEADER_SIZE, 256);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");
  memcpy(b.p, valid.p, 256);
  put64(&b, H_FILE_SIZE, size + 4096);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "inconsistent area offsets");

  /* Out-of-range fields, checksum valid. */
  static const struct { size_t off; int wide; uint64_t v; const char *msg; } bad[] = {
    {H_RECORD_SIZE, 0, 0, "record size"},
    {H_RECORD_SIZE, 0, 65537, "record size"},
    {H_CAPACITY, 1, 0, "capacity"},
    {H_CAPACITY, 1, 1, "capacity"},
    {H_CAPACITY, 1, 100, "capacity"},
    {H_CAPACITY, 1, UINT64_C(1) << 40, "capacity"},
    {H_CAPACITY_LOG2, 0, 5, "capacity"}, /* 64 records, but log2 says 32 */
    {H_MAX_SUBS, 0, 0, "table sizes"},
    {H_MAX_SUBS, 0, 4097, "table sizes"},
    {H_MAX_PUBS, 0, 0, "table sizes"},
    {H_MAX_PUBS, 0, 0xffffffffu, "table sizes"},
    {H_POLICY, 0, 0, "policy"},
    {H_POLICY, 0, 4, "policy"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memcpy(b.p, valid.p, 256);
    if (bad[i].wide)
      put64(&b, bad[i].off, bad[i].v);
    else
      put32(&b, bad[i].off, (uint32_t)bad[i].v);
    fix_checksum(&b);
    REFUSED_WITH(&b, MMBUS_E_BADFILE, bad[i].msg);
  }
  memcpy(b.p, valid.p, 256);
  memset(b.p + H_SCHEMA, 'x', 64); /* no NUL in the schema name */
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "schema name");
  /* Time-outs outside 0..2^40 ms (block 136, heartbeat 144, unblock 200): INT64_MIN once opened. */
  static const size_t timeouts[] = {136, 144, 200};
  static const int64_t wrong[] = {INT64_MIN, -1, (INT64_C(1) << 40) + 1};
  for (size_t t = 0; t < 3; t++)
    for (size_t w = 0; w < 3; w++) {
      memcpy(b.p, valid.p, 256);
      put64(&b, timeouts[t], (uint64_t)wrong[w]);
      fix_checksum(&b);
      REFUSED_WITH(&b, MMBUS_E_BADFILE, "time-out");
    }
  /* A non-zero reserved byte (244..247): a feature this library does not know, without its flag. */
  memcpy(b.p, valid.p, 256);
  b.p[247] = 1;
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "reserved");
  /* Layout description fields (232 offset, 240 size, 248 checksum) without the LAYOUT flag (0x2 at 52). */
  static const size_t layout_fields[] = {232, 240, 248};
  for (size_t i = 0; i < 3; i++) {
    memcpy(b.p, valid.p, 256);
    b.p[layout_fields[i]] = 1;
    fix_checksum(&b);
    REFUSED_WITH(&b, MMBUS_E_BADFILE, "no layout flag");
  }
  /* The flag with a size of 0 or beyond MMBUS_LAYOUT_MAX, or a description not where the sizes put it. */
  static const uint32_t layout_sizes[] = {0, MMBUS_LAYOUT_MAX + 1};
  for (size_t i = 0; i < 2; i++) {
    memcpy(b.p, valid.p, 256);
    put32(&b, 52, get32(&b, 52) | 0x2);
    put32(&b, 240, layout_sizes[i]);
    fix_checksum(&b);
    REFUSED_WITH(&b, MMBUS_E_BADFILE, "layout description of");
  }
  memcpy(b.p, valid.p, 256);
  put32(&b, 52, get32(&b, 52) | 0x2);
  put32(&b, 240, 16);
  put64(&b, 232, get64(&b, H_DATA_OFFSET)); /* over the records */
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "offsets");

  /* A hostile but self-consistent header: 2^32 records of 64 KiB (a 256 TiB file). The offsets are
   * right, so only the size check stands between it and a huge mapping. */
  memcpy(b.p, valid.p, 256);
  put32(&b, H_RECORD_SIZE, 65536);
  put64(&b, H_CAPACITY, UINT64_C(1) << 32);
  put32(&b, H_CAPACITY_LOG2, 32);
  fix_layout(&b);
  fix_checksum(&b);
  REFUSED_WITH(&b, MMBUS_E_BADFILE, "truncated");
  /* And a consistent header of a different ring whose file has the right size opens. */
  memcpy(b.p, valid.p, 256);
  put64(&b, H_CAPACITY, 32);
  put32(&b, H_CAPACITY_LOG2, 5);
  fix_layout(&b);
  fix_checksum(&b);
  blob_t c = {calloc(1, get64(&b, H_FILE_SIZE)), get64(&b, H_FILE_SIZE)};
  memcpy(c.p, b.p, 4096); /* header and control lines */
  spit(path, c.p, c.n);
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, "v", NULL, &ch));
  mmbus_info_t info;
  CHECK_OK(mmbus_info(ch, &info));
  CHECK(info.capacity == 32 && info.file_size == c.n);
  CHECK_OK(mmbus_close(ch));
  free(c.p);

  /* Restored, the file opens again and kept its data. */
  spit(path, valid.p, valid.n);
  opens_fine();
  free(b.p);
  free(valid.p);
}

static void test_resized(void) {
  blob_t valid = make_valid();
  CHECK(truncate(path, (off_t)valid.n - 4096) == 0);
  REFUSED(MMBUS_E_BADFILE, "truncated");
  CHECK(truncate(path, (off_t)valid.n - 1) == 0);
  REFUSED(MMBUS_E_BADFILE, "truncated");
  CHECK(truncate(path, (off_t)valid.n + 4096) == 0);
  REFUSED(MMBUS_E_BADFILE, "the header says");
  CHECK(truncate(path, (off_t)valid.n + 1) == 0);
  REFUSED(MMBUS_E_BADFILE, "the header says");
  CHECK(truncate(path, (off_t)valid.n) == 0);
  CHECK(same_as(path, &valid));
  opens_fine();
  free(valid.p);
}

static void test_not_a_regular_file(void) {
  blob_t valid = make_valid();
  char real[512];
  snprintf(real, sizeof real, "%s/real.db", dir);
  CHECK(rename(path, real) == 0);

  /* A symlink to a valid channel file is never followed, even with MMBUS_CREATE. */
  CHECK(symlink(real, path) == 0);
  /* (CREATE|EXCL reports the link, not MMBUS_E_EXIST: the link is refused before anything else.) */
  refused_excl(__LINE__, real, MMBUS_E_BADFILE, "symbolic link", MMBUS_E_BADFILE);
  CHECK(unlink(path) == 0);
  CHECK(symlink("real.db", path) == 0); /* relative */
  /* (CREATE|EXCL reports the link, not MMBUS_E_EXIST: the link is refused before anything else.) */
  refused_excl(__LINE__, real, MMBUS_E_BADFILE, "symbolic link", MMBUS_E_BADFILE);
  CHECK(unlink(path) == 0);
  /* A dangling symlink: MMBUS_CREATE must not create its target. */
  char target[512];
  snprintf(target, sizeof target, "%s/target.db", dir);
  CHECK(symlink(target, path) == 0);
  mmbus_options_t o = chan_opts();
  mmbus_channel_t *ch = (mmbus_channel_t *)1;
  CHECK_RC(mmbus_open(dir, "v", &o, &ch), MMBUS_E_BADFILE);
  CHECK(ch == NULL);
  struct stat st;
  CHECK(lstat(target, &st) == -1 && errno == ENOENT);
  o.flags = 0;
  CHECK_RC(mmbus_open(dir, "v", &o, &ch), MMBUS_E_BADFILE);
  CHECK(unlink(path) == 0);

  /* A directory named v.db: open(2) says EISDIR, reported as an I/O error naming it. */
  CHECK(mkdir(path, 0700) == 0);
  mmbus_options_init(&o);
  CHECK_RC(mmbus_open(dir, "v", &o, &ch), MMBUS_E_IO);
  CHECK(ch == NULL && strstr(mmbus_errmsg(), "v.db") && strstr(mmbus_errmsg(), "directory"));
  o = chan_opts();
  CHECK_RC(mmbus_open(dir, "v", &o, &ch), MMBUS_E_IO);
  CHECK(lstat(path, &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(rmdir(path) == 0);

  /* A FIFO named v.db: refused without blocking. */
  CHECK(mkfifo(path, 0600) == 0);
  mmbus_options_init(&o);
  CHECK_RC(mmbus_open(dir, "v", &o, &ch), MMBUS_E_BADFILE);
  CHECK(strstr(mmbus_errmsg(), "not a regular file"));
  o = chan_opts();
  CHECK_RC(mmbus_open(dir, "v", &o, &ch), MMBUS_E_BADFILE);
  CHECK(unlink(path) == 0);

  CHECK(same_as(real, &valid));
  CHECK(rename(real, path) == 0);
  opens_fine();
  free(valid.p);
}

static int open_expect_perm(const char *d) {
  /* Plain open only: with MMBUS_CREATE the directory's writability is checked first (MMBUS_E_DIR). */
  for (int create = 0; create < 1; create++) {
    mmbus_options_t o = chan_opts();
    if (!create) o.flags = 0;
    mmbus_channel_t *ch = (mmbus_channel_t *)1;
    int rc = mmbus_open(d, "v", &o, &ch);
    if (rc != MMBUS_E_PERM || ch != NULL || !strstr(mmbus_errmsg(), "v.db")) {
      fprintf(stderr, "unprivileged open (create=%d): %d (%s): %s\n", create, rc, mmbus_errname(rc), mmbus_errmsg());
      return 1;
    }
  }
  return 0;
}

static void expect_perm_as_nobody(void) {
  pid_t pid = fork_child();
  if (pid == 0) {
    alarm(20);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    _exit(open_expect_perm(dir));
  }
  CHECK_RC(wait_pid(pid), 0);
}

static void test_permissions(void) {
  blob_t valid = make_valid();
  CHECK(chmod(dir, 0755) == 0); /* reachable by the unprivileged child; the file itself is not */
  CHECK(chmod(path, 0000) == 0);
  expect_perm_as_nobody();
  CHECK(chmod(path, 0644) == 0); /* readable, but a channel is always opened read-write */
  expect_perm_as_nobody();
  CHECK(chmod(path, 0600) == 0);
  CHECK(chmod(dir, 0700) == 0);
  CHECK(same_as(path, &valid));
  opens_fine();
  free(valid.p);
}

int main(void) {
  test_deadline(60);
  dir = make_test_dir();
  snprintf(path, sizeof path, "%s/v.db", dir);
  test_short_and_foreign();
  test_version_and_byte_order();
  test_flipped_header_bytes();
  test_inconsistent_fields();
  test_resized();
  test_not_a_regular_file();
  test_permissions();
  puts("t_file_validation: ok");
  return 0;
}
