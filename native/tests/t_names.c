/* Channel and durable subscriber names; error codes, names and descriptions. */
#include "helpers.h"

static void bad_channel_name(const char *dir, const char *name, const char *in_msg) {
  CHECK_RC(mmbus_check_name(name), MMBUS_E_NAME);
  if (in_msg) CHECK(strstr(mmbus_errmsg(), in_msg) != NULL);
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE;
  o.record_size = 8;
  o.capacity = 16;
  mmbus_channel_t *ch = (mmbus_channel_t *)1;
  CHECK_RC(mmbus_open(dir, name, &o, &ch), MMBUS_E_NAME);
  CHECK(ch == NULL);
  if (in_msg) CHECK(strstr(mmbus_errmsg(), in_msg) != NULL);
  CHECK_RC(mmbus_unlink(dir, name), MMBUS_E_NAME);
}

static void good_channel_name(const char *dir, const char *name) {
  CHECK_OK(mmbus_check_name(name));
  mmbus_options_t o;
  mmbus_options_init(&o);
  o.flags = MMBUS_CREATE | MMBUS_EXCL;
  o.record_size = 8;
  o.capacity = 16;
  mmbus_channel_t *ch = NULL;
  CHECK_OK(mmbus_open(dir, name, &o, &ch));
  CHECK_OK(mmbus_close(ch));
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", dir, name);
  struct stat st;
  CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
  CHECK_OK(mmbus_unlink(dir, name));
  CHECK(stat(path, &st) == -1 && errno == ENOENT);
}

static void test_channel_names(const char *dir) {
  char name[MMBUS_NAME_MAX + 2];
  bad_channel_name(dir, "", "empty");
  bad_channel_name(dir, NULL, "empty");
  memset(name, 'a', MMBUS_NAME_MAX + 1);
  name[MMBUS_NAME_MAX + 1] = 0; /* 129 bytes */
  bad_channel_name(dir, name, "longer than 128");
  name[MMBUS_NAME_MAX] = 0; /* 128 bytes: the longest allowed */
  good_channel_name(dir, name);

  bad_channel_name(dir, "a/b", "a/b");
  bad_channel_name(dir, "/abs", "separator");
  bad_channel_name(dir, "a\\b", "separator");
  bad_channel_name(dir, "..", "'..'");
  bad_channel_name(dir, "a..b", "'..'");
  bad_channel_name(dir, "ab..", "'..'");
  bad_channel_name(dir, ".hidden", "starts with '.'");
  bad_channel_name(dir, ".", "starts with '.'");
  bad_channel_name(dir, "a\x01" "b", "control character 0x01");
  bad_channel_name(dir, "a\x7f", "control character 0x7f");
  bad_channel_name(dir, "a\tb", "control character 0x09");
  bad_channel_name(dir, "a\nb", "control character 0x0a");
  bad_channel_name(dir, "a b", "a b");
  bad_channel_name(dir, " ", NULL);
  bad_channel_name(dir, "caf\xc3\xa9", NULL); /* UTF-8 é */
  bad_channel_name(dir, "\xff", NULL);
  bad_channel_name(dir, "a:b", NULL);
  bad_channel_name(dir, "a*b", NULL);
  bad_channel_name(dir, "a?b", NULL);
  bad_channel_name(dir, "a\"b", NULL);

  good_channel_name(dir, "a");
  good_channel_name(dir, "Points_2024-11.v2");
  good_channel_name(dir, "0123456789");
  good_channel_name(dir, "a.b.c");
  good_channel_name(dir, "x.");
  good_channel_name(dir, "-_-");
#ifdef _WIN32
  /* file names Windows keeps for its devices, whatever follows the first '.' */
  bad_channel_name(dir, "CON", "Windows device CON");
  bad_channel_name(dir, "nul", "Windows device NUL");
  bad_channel_name(dir, "Aux.points", "Windows device AUX");
  bad_channel_name(dir, "COM1", "Windows device COM1");
  bad_channel_name(dir, "lpt9.x", "Windows device LPT9");
  bad_channel_name(dir, "PRN", NULL);
  good_channel_name(dir, "CONSOLE");
  good_channel_name(dir, "COM10");
  good_channel_name(dir, "nullable");
  good_channel_name(dir, "points.CON");
#else
  good_channel_name(dir, "CON"); /* a plain file name here */
#endif
}

static void test_subscriber_names(const char *dir) {
  mmbus_channel_t *ch = open_person_channel(dir, "subnames", MMBUS_POLICY_BLOCK, 64);
  char name[MMBUS_SUB_NAME_MAX + 2];
  mmbus_sub_t *sub = NULL;
  mmbus_sub_options_t so = {.name = name, .start = MMBUS_START_NEWEST};

  memset(name, 's', MMBUS_SUB_NAME_MAX + 1);
  name[MMBUS_SUB_NAME_MAX + 1] = 0; /* 64 bytes */
  CHECK_RC(mmbus_subscribe(ch, &so, &sub), MMBUS_E_NAME);
  CHECK(sub == NULL);
  CHECK(strstr(mmbus_errmsg(), "subscriber") && strstr(mmbus_errmsg(), "63"));
  name[MMBUS_SUB_NAME_MAX] = 0; /* 63 bytes: allowed */
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  mmbus_sub_stats_t ss[4];
  mmbus_stats_t st;
  CHECK_RC(mmbus_stats(ch, &st, ss, 4), 1);
  CHECK(ss[0].durable && strcmp(ss[0].name, name) == 0);
  CHECK_OK(mmbus_sub_close(sub));

  static const char *bad[] = {"a/b", "a\\b", "a b", ".x", "a..b", "..", "a\x01", "a\x7f", "\xc3\xa9", "a:b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    so.name = bad[i];
    sub = (mmbus_sub_t *)1;
    CHECK_RC(mmbus_subscribe(ch, &so, &sub), MMBUS_E_NAME);
    CHECK(sub == NULL);
    CHECK(strstr(mmbus_errmsg(), "subscriber") != NULL);
  }
  /* No slot was taken by any refused subscribe (only the offline durable one). */
  CHECK_RC(mmbus_stats(ch, &st, ss, 4), 1);
  CHECK(st.subscribers_active == 0 && st.subscribers_offline == 1);

  /* "" and NULL are anonymous, not errors */
  so.name = "";
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  CHECK_OK(mmbus_sub_close(sub));
  so.name = NULL;
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  CHECK_OK(mmbus_sub_close(sub));
  so.name = "ok_name-1.x";
  CHECK_OK(mmbus_subscribe(ch, &so, &sub));
  CHECK_OK(mmbus_sub_close(sub));
  CHECK_OK(mmbus_close(ch));
}

static void test_error_strings(void) {
  const int first = MMBUS_E_CORRUPT, last = MMBUS_OK; /* -24 .. 0 */
  const char *names[32];
  const char *texts[32];
  int n = 0;
  for (int code = first; code <= last; code++) {
    const char *name = mmbus_errname(code), *text = mmbus_strerror(code);
    CHECK(name && *name && text && *text);
    CHECK(strcmp(name, "MMBUS_E_UNKNOWN") != 0);
    CHECK(strcmp(text, "unknown error") != 0);
    CHECK(strncmp(name, "MMBUS_", 6) == 0);
    for (int i = 0; i < n; i++) {
      if (strcmp(names[i], name) == 0) {
        fprintf(stderr, "duplicate error name %s (code %d)\n", name, code);
        exit(1);
      }
      if (strcmp(texts[i], text) == 0) {
        fprintf(stderr, "duplicate error text '%s' (code %d)\n", text, code);
        exit(1);
      }
    }
    names[n] = name;
    texts[n] = text;
    n++;
  }
  CHECK(n == 25);
  CHECK(strcmp(mmbus_errname(MMBUS_OK), "MMBUS_OK") == 0);
  CHECK(strcmp(mmbus_errname(MMBUS_E_FULL), "MMBUS_E_FULL") == 0);
  CHECK(strcmp(mmbus_errname(MMBUS_E_NAME), "MMBUS_E_NAME") == 0);
  CHECK(strcmp(mmbus_errname(MMBUS_E_STATE), "MMBUS_E_STATE") == 0);
  CHECK(strcmp(mmbus_errname(MMBUS_E_INVAL), "MMBUS_E_INVAL") == 0);
  static const int unknown[] = {1, 2, 100, -25, -100, -1000, 2147483647, -2147483647 - 1};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    CHECK(strcmp(mmbus_strerror(unknown[i]), "unknown error") == 0);
    CHECK(strcmp(mmbus_errname(unknown[i]), "MMBUS_E_UNKNOWN") == 0);
  }
  CHECK(mmbus_errmsg() != NULL);
}

int main(void) {
  test_deadline(60);
  const char *dir = make_test_dir();
  test_channel_names(dir);
  test_subscriber_names(dir);
  test_error_strings();
  puts("t_names: ok");
  return 0;
}
