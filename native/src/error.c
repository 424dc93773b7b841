/* Error names, descriptions (from the one list in mmbus.h) and the per-thread detail. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static OS_THREAD_LOCAL char errmsg[512];
static OS_THREAD_LOCAL int last_errno;

static const struct {
  int code;
  const char *name;
  const char *text;
} errors[] = {
#define ERROR_ROW(name, value, text) {value, #name, text},
    MMBUS_ERRORS(ERROR_ROW)
#undef ERROR_ROW
};

const char *mmbus_strerror(int code) {
  for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
    if (errors[i].code == code) return errors[i].text;
  return "unknown error";
}

const char *mmbus_errname(int code) {
  for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
    if (errors[i].code == code) return errors[i].name;
  return "MMBUS_E_UNKNOWN";
}

const char *mmbus_errmsg(void) { return errmsg; }
int mmbus_errno(void) { return last_errno; }

const char *mmbus_version(void) { return MMBUS_VERSION_STRING; }

int mmbus_set_err(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errmsg, sizeof errmsg, fmt, ap);
  va_end(ap);
  last_errno = 0;
  return code;
}

int mmbus_set_errno(int code, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(errmsg, sizeof errmsg, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof errmsg) {
    char text[256];
    os_error_text(err, text, sizeof text);
    snprintf(errmsg + n, sizeof errmsg - (size_t)n, ": %s", text);
  }
  last_errno = err;
  return code;
}
