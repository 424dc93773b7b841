#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char errmsg[512];

static const struct { int code; const char *name; const char *text; } errors[] = {
  {MMBUS_OK, "MMBUS_OK", "success"},
  {MMBUS_E_INVAL, "MMBUS_E_INVAL", "invalid argument"},
  {MMBUS_E_NAME, "MMBUS_E_NAME", "invalid name"},
  {MMBUS_E_NOENT, "MMBUS_E_NOENT", "channel does not exist"},
  {MMBUS_E_EXIST, "MMBUS_E_EXIST", "channel already exists"},
  {MMBUS_E_DIR, "MMBUS_E_DIR", "directory missing or not writable"},
  {MMBUS_E_IO, "MMBUS_E_IO", "operating system error"},
  {MMBUS_E_BADFILE, "MMBUS_E_BADFILE", "not a valid channel file"},
  {MMBUS_E_VERSION, "MMBUS_E_VERSION", "unsupported channel file version or byte order"},
  {MMBUS_E_MISMATCH, "MMBUS_E_MISMATCH", "options contradict the existing channel"},
  {MMBUS_E_SCHEMA, "MMBUS_E_SCHEMA", "schema differs from the channel's"},
  {MMBUS_E_FULL, "MMBUS_E_FULL", "channel full"},
  {MMBUS_E_TIMEOUT, "MMBUS_E_TIMEOUT", "timed out"},
  {MMBUS_E_BUSY, "MMBUS_E_BUSY", "durable subscriber already attached"},
  {MMBUS_E_NOSLOT, "MMBUS_E_NOSLOT", "no free subscriber or publisher slot"},
  {MMBUS_E_CLOSED, "MMBUS_E_CLOSED", "handle is closed"},
  {MMBUS_E_NOMEM, "MMBUS_E_NOMEM", "out of memory"},
  {MMBUS_E_TOOBIG, "MMBUS_E_TOOBIG", "batch or record size out of range"},
  {MMBUS_E_NOSPACE, "MMBUS_E_NOSPACE", "no disk space for the channel file"},
  {MMBUS_E_PERM, "MMBUS_E_PERM", "permission denied"},
  {MMBUS_E_STATE, "MMBUS_E_STATE", "call out of order"},
  {MMBUS_E_INTR, "MMBUS_E_INTR", "wait interrupted"},
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

int mmbus_set_err(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errmsg, sizeof errmsg, fmt, ap);
  va_end(ap);
  return code;
}

int mmbus_set_errno(int code, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(errmsg, sizeof errmsg, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof errmsg)
    snprintf(errmsg + n, sizeof errmsg - (size_t)n, ": %s (errno %d)", strerror(err), err);
  return code;
}
