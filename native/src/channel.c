/* Channel files: create, validate, open, close; the subscriber and publisher tables; stats. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "internal.h"

#define CHECK_INTERVAL_NS 1000000000u /* how often waits look whether the file is still ours */

void mmbus_options_init(mmbus_options_t *o) {
  memset(o, 0, sizeof *o);
  o->block_timeout_ms = -1;
  o->heartbeat_timeout_ms = -1;
  o->unblock_timeout_ms = -1;
  o->lock_timeout_ms = -1;
}

void mmbus_sub_options_init(mmbus_sub_options_t *o) { memset(o, 0, sizeof *o); }

static int valid_name_chars(const char *name, size_t max, const char *what) {
  if (!name || !*name) return mmbus_set_err(MMBUS_E_NAME, "%s name is empty", what);
  size_t len = strnlen(name, max + 1);
  if (len > max) return mmbus_set_err(MMBUS_E_NAME, "%s name is longer than %zu bytes", what, max);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             c == '-' || c == '.';
    if (!ok) {
      if (c == '/' || c == '\\')
        return mmbus_set_err(MMBUS_E_NAME, "%s name '%s' contains a path separator", what, name);
      if (c < 0x20 || c == 0x7f)
        return mmbus_set_err(MMBUS_E_NAME, "%s name contains control character 0x%02x at byte %zu", what, c, i);
      return mmbus_set_err(MMBUS_E_NAME, "%s name '%s' contains '%c' (allowed: A-Z a-z 0-9 _ - .)", what, name, c);
    }
  }
  if (name[0] == '.') return mmbus_set_err(MMBUS_E_NAME, "%s name '%s' starts with '.'", what, name);
  if (strstr(name, "..")) return mmbus_set_err(MMBUS_E_NAME, "%s name '%s' contains '..'", what, name);
  return 0;
}

int mmbus_check_name(const char *name) {
  int rc = valid_name_chars(name, MMBUS_NAME_MAX, "channel");
  return rc ? rc : os_check_name(name);
}

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

uint64_t header_checksum(const file_header_t *h) {
  const uint8_t *p = (const uint8_t *)h;
  const size_t field = offsetof(file_header_t, header_checksum);
  uint64_t x = FNV_OFFSET;
  for (size_t i = 0; i < sizeof *h; i++) {
    uint8_t byte = (i >= field && i < field + 8) ? 0 : p[i];
    x = (x ^ byte) * FNV_PRIME;
  }
  return x;
}

static uint64_t fnv1a64(const void *bytes, size_t n) {
  const uint8_t *p = bytes;
  uint64_t x = FNV_OFFSET;
  for (size_t i = 0; i < n; i++) x = (x ^ p[i]) * FNV_PRIME;
  return x;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static uint64_t key_entry_bytes(uint32_t stride) { return align_up(sizeof(key_entry_t) + (uint64_t)KEY_BUFFERS * stride, 64); }

/* Offsets of every area, computed from the sizes alone (never read from the file and trusted). */
static void compute_layout(file_header_t *h) {
  h->header_size = MMBUS_HEADER_SIZE;
  h->record_stride = (uint32_t)align_up(h->record_size, 8);
  h->subs_offset = MMBUS_HEADER_SIZE;
  h->pubs_offset = h->subs_offset + (uint64_t)h->max_subscribers * MMBUS_SLOT_SIZE;
  h->stamps_offset = align_up(h->pubs_offset + (uint64_t)h->max_publishers * MMBUS_SLOT_SIZE, MMBUS_LINE);
  h->data_offset = align_up(h->stamps_offset + h->capacity * 8, 4096);
  uint64_t end = h->data_offset + h->capacity * h->record_stride;
  h->keys_offset = 0;
  if (h->flags & HFLAG_KEYED) {
    h->keys_offset = align_up(end, 4096);
    end = h->keys_offset + h->key_count * key_entry_bytes(h->record_stride);
  }
  h->layout_offset = 0;
  if (h->flags & HFLAG_LAYOUT) {
    h->layout_offset = align_up(end, 64);
    end = h->layout_offset + h->layout_size;
  }
  h->file_size = align_up(end, 4096);
}

/* The key field: 1, 2, 4 or 8 bytes inside the record. */
static int key_field_ok(uint64_t count, uint32_t offset, uint32_t size, uint32_t record_size) {
  return count >= 1 && count <= MMBUS_KEY_COUNT_MAX && (size == 1 || size == 2 || size == 4 || size == 8) &&
         (uint64_t)offset + size <= record_size;
}

static int path_of(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s.db", dir, name);
  if (n < 0 || (size_t)n >= cap) return mmbus_set_err(MMBUS_E_NAME, "path of channel '%s' is too long", name);
  return 0;
}

static int log2_exact(uint64_t v) {
  if (v == 0 || (v & (v - 1))) return -1;
  return ctz64(v);
}

static int timeout_in_range(int64_t v) { return v >= 0 && v <= MMBUS_TIMEOUT_MAX_MS; }

/* Checks a header read from disk. Every field is verified before any offset is used. */
static int validate_header(const file_header_t *h, uint64_t actual_size, const char *path) {
  if (memcmp(h->magic, MMBUS_MAGIC, 8) != 0)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is not an mmbus channel file (bad magic)", path);
  if (h->endian != MMBUS_ENDIAN_MARK)
    return mmbus_set_err(MMBUS_E_VERSION, "'%s' was written with another byte order", path);
  if (h->version == 1)
    return mmbus_set_err(MMBUS_E_VERSION, "'%s' has format version 1 (libmmbus 0.1), whose commit protocol this "
                                          "library does not speak: remove it (mmbus rm) and it is re-created", path);
  if (h->version != MMBUS_FORMAT_VERSION)
    return mmbus_set_err(MMBUS_E_VERSION, "'%s' has format version %u; this library reads version %u", path,
                         h->version, MMBUS_FORMAT_VERSION);
  if (header_checksum(h) != h->header_checksum)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has a corrupt header (checksum mismatch)", path);
  if (h->flags & ~HFLAGS_KNOWN)
    return mmbus_set_err(MMBUS_E_VERSION, "'%s' uses header flags 0x%x this library does not know", path,
                         h->flags & ~HFLAGS_KNOWN);
  if (h->reserved)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has non-zero reserved header bytes (at %zu)", path,
                         offsetof(file_header_t, reserved));
  if (h->record_size == 0 || h->record_size > MMBUS_RECORD_SIZE_MAX)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has an invalid record size %u", path, h->record_size);
  int lg = log2_exact(h->capacity);
  if (lg < 1 || h->capacity > MMBUS_CAPACITY_MAX || (uint32_t)lg != h->capacity_log2)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has an invalid capacity %llu", path, (unsigned long long)h->capacity);
  if (h->max_subscribers == 0 || h->max_subscribers > MMBUS_MAX_SUBSCRIBERS_LIMIT || h->max_publishers == 0 ||
      h->max_publishers > MMBUS_MAX_PUBLISHERS_LIMIT)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has invalid table sizes", path);
  if (h->policy < MMBUS_POLICY_BLOCK || h->policy > MMBUS_POLICY_OVERWRITE)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has an invalid policy %u", path, h->policy);
  if (memchr(h->schema_name, 0, sizeof h->schema_name) == NULL)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has an unterminated schema name", path);
  if (!timeout_in_range(h->block_timeout_ms) || !timeout_in_range(h->heartbeat_timeout_ms) ||
      !timeout_in_range(h->unblock_timeout_ms))
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has a time-out outside 0..%lld ms", path,
                         (long long)MMBUS_TIMEOUT_MAX_MS);
  if (h->flags & HFLAG_KEYED) {
    if (!key_field_ok(h->key_count, h->key_offset, h->key_size, h->record_size))
      return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has an invalid key table (%llu keys, a %u-byte key at %u)", path,
                           (unsigned long long)h->key_count, h->key_size, h->key_offset);
  } else if (h->key_count || h->key_offset || h->key_size || h->keys_offset) {
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has key table fields but is not keyed", path);
  }
  if (h->flags & HFLAG_LAYOUT) {
    if (h->layout_size == 0 || h->layout_size > MMBUS_LAYOUT_MAX)
      return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has a layout description of %u bytes (1..%u)", path, h->layout_size,
                           MMBUS_LAYOUT_MAX);
  } else if (h->layout_offset || h->layout_size || h->layout_checksum) {
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has layout description fields but no layout flag", path);
  }
  file_header_t expect = *h;
  compute_layout(&expect);
  if (expect.header_size != h->header_size || expect.record_stride != h->record_stride ||
      expect.subs_offset != h->subs_offset || expect.pubs_offset != h->pubs_offset ||
      expect.stamps_offset != h->stamps_offset || expect.data_offset != h->data_offset ||
      expect.keys_offset != h->keys_offset || expect.layout_offset != h->layout_offset ||
      expect.file_size != h->file_size)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has inconsistent area offsets", path);
  if (actual_size < h->file_size)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is truncated: %llu bytes, the header says %llu", path,
                         (unsigned long long)actual_size, (unsigned long long)h->file_size);
  if (actual_size > h->file_size)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is %llu bytes, the header says %llu", path,
                         (unsigned long long)actual_size, (unsigned long long)h->file_size);
  return 0;
}

static const char *policy_name(uint32_t p) {
  static const char *names[] = {"unset", "block", "reject", "overwrite"};
  return p < 4 ? names[p] : "unknown";
}

/* Options given on open must agree with the file. The schema is checked first: it names both sides. */
static int check_options(const file_header_t *h, const mmbus_options_t *o, const char *path) {
  if (o->schema_name && *o->schema_name && strcmp(o->schema_name, h->schema_name) != 0)
    return mmbus_set_err(MMBUS_E_SCHEMA, "'%s' holds schema '%s' (fingerprint %016llx), not '%s' (fingerprint %016llx)",
                         path, h->schema_name, (unsigned long long)h->fingerprint, o->schema_name,
                         (unsigned long long)o->fingerprint);
  if (o->fingerprint && o->fingerprint != h->fingerprint)
    return mmbus_set_err(MMBUS_E_SCHEMA, "'%s' holds schema '%s' with fingerprint %016llx, not %s%s%s fingerprint %016llx",
                         path, h->schema_name, (unsigned long long)h->fingerprint,
                         o->schema_name ? "'" : "", o->schema_name ? o->schema_name : "the caller's",
                         o->schema_name ? "' with" : "", (unsigned long long)o->fingerprint);
  if (o->record_size && o->record_size != h->record_size)
    return mmbus_set_err(MMBUS_E_MISMATCH, "'%s' holds records of %u bytes, not %u", path, h->record_size,
                         o->record_size);
  if (o->capacity && o->capacity != h->capacity)
    return mmbus_set_err(MMBUS_E_MISMATCH, "'%s' has capacity %llu, not %llu", path,
                         (unsigned long long)h->capacity, (unsigned long long)o->capacity);
  if (o->policy != MMBUS_POLICY_UNSET && (uint32_t)o->policy != h->policy)
    return mmbus_set_err(MMBUS_E_MISMATCH, "'%s' has policy %s, not %s", path, policy_name(h->policy),
                         policy_name((uint32_t)o->policy));
  if (o->max_subscribers && o->max_subscribers != h->max_subscribers)
    return mmbus_set_err(MMBUS_E_MISMATCH, "'%s' has %u subscriber slots, not %u", path, h->max_subscribers,
                         o->max_subscribers);
  if (o->max_publishers && o->max_publishers != h->max_publishers)
    return mmbus_set_err(MMBUS_E_MISMATCH, "'%s' has %u publisher slots, not %u", path, h->max_publishers,
                         o->max_publishers);
  if (o->key_count && !(h->flags & HFLAG_KEYED))
    return mmbus_set_err(MMBUS_E_MISMATCH, "'%s' is not a keyed channel (it was created without keys)", path);
  if (o->key_count && o->key_count != h->key_count)
    return mmbus_set_err(MMBUS_E_MISMATCH, "'%s' has %llu keys, not %llu", path, (unsigned long long)h->key_count,
                         (unsigned long long)o->key_count);
  if (o->key_size && (h->flags & HFLAG_KEYED) && (o->key_size != h->key_size || o->key_offset != h->key_offset))
    return mmbus_set_err(MMBUS_E_MISMATCH, "'%s' keys its records by the %u bytes at %u, not the %u bytes at %u", path,
                         h->key_size, h->key_offset, o->key_size, o->key_offset);
  return 0;
}

/* Options every open checks, whether it creates or not. */
static int check_option_ranges(const mmbus_options_t *o) {
  if (o->flags & ~(MMBUS_CREATE | MMBUS_EXCL | MMBUS_READONLY))
    return mmbus_set_err(MMBUS_E_INVAL, "unknown flags 0x%x", o->flags);
  if ((o->flags & MMBUS_READONLY) && (o->flags & (MMBUS_CREATE | MMBUS_EXCL)))
    return mmbus_set_err(MMBUS_E_INVAL, "MMBUS_READONLY cannot be combined with MMBUS_CREATE or MMBUS_EXCL");
  if ((int)o->policy < MMBUS_POLICY_UNSET || o->policy > MMBUS_POLICY_OVERWRITE)
    return mmbus_set_err(MMBUS_E_INVAL, "unknown policy %d", (int)o->policy);
  const struct { int64_t v; const char *name; } t[] = {
      {o->block_timeout_ms, "block_timeout_ms"},
      {o->heartbeat_timeout_ms, "heartbeat_timeout_ms"},
      {o->unblock_timeout_ms, "unblock_timeout_ms"},
      {o->lock_timeout_ms, "lock_timeout_ms"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (t[i].v < -1 || t[i].v > MMBUS_TIMEOUT_MAX_MS)
      return mmbus_set_err(MMBUS_E_INVAL, "%s %lld is out of range (-1 = default, 0..%lld)", t[i].name,
                           (long long)t[i].v, (long long)MMBUS_TIMEOUT_MAX_MS);
  if (o->mode & ~0777u) return mmbus_set_err(MMBUS_E_INVAL, "mode %#o has bits beyond 0777", o->mode);
  if (o->max_subscribers > MMBUS_MAX_SUBSCRIBERS_LIMIT || o->max_publishers > MMBUS_MAX_PUBLISHERS_LIMIT)
    return mmbus_set_err(MMBUS_E_INVAL, "at most %u subscribers and %u publishers", MMBUS_MAX_SUBSCRIBERS_LIMIT,
                         MMBUS_MAX_PUBLISHERS_LIMIT);
  if (o->capacity) {
    int lg = log2_exact(o->capacity);
    if (lg < 1 || o->capacity > MMBUS_CAPACITY_MAX)
      return mmbus_set_err(MMBUS_E_INVAL, "capacity %llu is not a power of two in 2..2^32", (unsigned long long)o->capacity);
  }
  if (o->record_size > MMBUS_RECORD_SIZE_MAX)
    return mmbus_set_err(MMBUS_E_INVAL, "record size %u is out of range 1..%u", o->record_size, MMBUS_RECORD_SIZE_MAX);
  if (o->key_count > MMBUS_KEY_COUNT_MAX)
    return mmbus_set_err(MMBUS_E_INVAL, "key_count %llu is beyond %llu", (unsigned long long)o->key_count,
                         (unsigned long long)MMBUS_KEY_COUNT_MAX);
  if (o->key_size && o->key_size != 1 && o->key_size != 2 && o->key_size != 4 && o->key_size != 8)
    return mmbus_set_err(MMBUS_E_INVAL, "key_size %u: a key is an unsigned integer of 1, 2, 4 or 8 bytes", o->key_size);
  if (!o->layout != !o->layout_size)
    return mmbus_set_err(MMBUS_E_INVAL, "layout and layout_size go together (a description and its length)");
  if (o->layout_size > MMBUS_LAYOUT_MAX)
    return mmbus_set_err(MMBUS_E_TOOBIG, "a layout description of %llu bytes is beyond %u",
                         (unsigned long long)o->layout_size, MMBUS_LAYOUT_MAX);
  if (o->layout && memchr(o->layout, 0, (size_t)o->layout_size))
    return mmbus_set_err(MMBUS_E_INVAL, "a layout description is text: it has a NUL byte");
  return 0;
}

static int build_header(file_header_t *h, const mmbus_options_t *o) {
  memset(h, 0, sizeof *h);
  memcpy(h->magic, MMBUS_MAGIC, 8);
  h->version = MMBUS_FORMAT_VERSION;
  h->endian = MMBUS_ENDIAN_MARK;
  if (o->record_size == 0)
    return mmbus_set_err(MMBUS_E_INVAL, "record size 0: creating a channel needs the record size (1..%u)",
                         MMBUS_RECORD_SIZE_MAX);
  h->record_size = o->record_size;
  h->capacity = o->capacity ? o->capacity : MMBUS_DEFAULT_CAPACITY;
  h->capacity_log2 = (uint32_t)log2_exact(h->capacity);
  h->max_subscribers = o->max_subscribers ? o->max_subscribers : MMBUS_DEFAULT_MAX_SUBS;
  h->max_publishers = o->max_publishers ? o->max_publishers : MMBUS_DEFAULT_MAX_PUBS;
  h->policy = o->policy == MMBUS_POLICY_UNSET ? MMBUS_POLICY_BLOCK : (uint32_t)o->policy;
  if (o->schema_name) {
    if (strlen(o->schema_name) > MMBUS_SCHEMA_NAME_MAX)
      return mmbus_set_err(MMBUS_E_INVAL, "schema name is longer than %d bytes", MMBUS_SCHEMA_NAME_MAX);
    strcpy(h->schema_name, o->schema_name);
  }
  h->fingerprint = o->fingerprint;
  h->created_ns = os_real_ns();
  h->block_timeout_ms = o->block_timeout_ms < 0 ? MMBUS_DEFAULT_BLOCK_TIMEOUT_MS : o->block_timeout_ms;
  h->heartbeat_timeout_ms = o->heartbeat_timeout_ms < 0 ? MMBUS_DEFAULT_HEARTBEAT_TIMEOUT_MS : o->heartbeat_timeout_ms;
  h->unblock_timeout_ms = o->unblock_timeout_ms < 0 ? MMBUS_DEFAULT_UNBLOCK_TIMEOUT_MS : o->unblock_timeout_ms;
  if (o->key_count) {
    if (!key_field_ok(o->key_count, o->key_offset, o->key_size, o->record_size))
      return mmbus_set_err(MMBUS_E_INVAL, "a keyed channel needs key_size 1, 2, 4 or 8 and the key field inside the "
                                          "%u-byte record (key_offset %u, key_size %u)", o->record_size, o->key_offset,
                           o->key_size);
    h->flags |= HFLAG_KEYED;
    h->key_count = o->key_count;
    h->key_offset = o->key_offset;
    h->key_size = o->key_size;
  }
  if (o->layout) {
    h->flags |= HFLAG_LAYOUT;
    h->layout_size = (uint32_t)o->layout_size;
    h->layout_checksum = fnv1a64(o->layout, (size_t)o->layout_size);
  }
  /* where the system has the barrier, commits need no CAS (docs/format.md §8.8) */
  if (os_global_barrier_available()) h->flags |= HFLAG_BARRIER_DECIDES;
  h->flags |= HFLAG_EXCLUSIONS_COUNTED;
  compute_layout(h);
  h->header_checksum = header_checksum(h);
  return 0;
}

typedef struct new_file {
  const file_header_t *hdr;
  const void *layout; /* the layout description, hdr->layout_size bytes (HFLAG_LAYOUT) */
} new_file_t;

static int init_file(os_file_t f, void *ctx) {
  const new_file_t *n = ctx;
  if (n->hdr->flags & HFLAG_LAYOUT) {
    int rc = os_pwrite_all(f, n->layout, n->hdr->layout_size, n->hdr->layout_offset);
    if (rc) return rc;
  }
  return os_pwrite_all(f, n->hdr, sizeof(file_header_t), 0); /* one write: the magic comes with it */
}

/* The layout description's bytes still have the checksum of the header (they are never written after creation). */
static int layout_intact(const mmbus_channel_t *ch, const void *bytes) {
  if (fnv1a64(bytes, ch->hdr.layout_size) != ch->hdr.layout_checksum || memchr(bytes, 0, ch->hdr.layout_size))
    return mmbus_set_err(MMBUS_E_CORRUPT, "'%s': the record layout description does not match its checksum", ch->path);
  return 0;
}

int mmbus_layout(const mmbus_channel_t *ch, void *buf, size_t cap, size_t *size) {
  if (!ch || !size || (!buf && cap)) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  *size = (ch->hdr.flags & HFLAG_LAYOUT) ? ch->hdr.layout_size : 0;
  if (*size == 0) return 0;
  if (cap < *size)
    return mmbus_set_err(MMBUS_E_TOOBIG, "the layout description is %zu bytes, the buffer %zu", *size, cap);
  memcpy(buf, ch->base + ch->hdr.layout_offset, *size); /* checked on the copy: the file may change under us */
  return layout_intact(ch, buf);
}

int mmbus_default_dir(char *buf, size_t cap) {
  if (!buf) return mmbus_set_err(MMBUS_E_INVAL, "NULL buffer");
  const char *env = getenv("MMBUS_DIR");
  char dir[MMBUS_PATH_MAX + 1];
  int private_dir = 0;
  if (env && *env) {
    snprintf(dir, sizeof dir, "%s", env); /* the user's explicit choice: checked like any directory */
  } else {
    int rc = os_default_dir(dir, sizeof dir);
    if (rc) return rc;
    private_dir = 1;
  }
  size_t len = strlen(dir);
  while (len > 1 && dir[len - 1] == '/') dir[--len] = 0;
  if (len + 1 > cap) return mmbus_set_err(MMBUS_E_INVAL, "buffer of %zu bytes for a %zu-byte directory", cap, len);
  if (private_dir) {
    int rc = os_private_dir(dir);
    if (rc) return rc;
  }
  memcpy(buf, dir, len + 1);
  return 0;
}

/* ---- the table lock and liveness ---------------------------------------------------------------- */

typedef struct lock_line {
  int32_t holder_pid;
  uint32_t zero;
  uint64_t holder_pid_ns;
} lock_line_t;

int chan_lock(mmbus_channel_t *ch) {
  if (ch->readonly) return mmbus_set_err(MMBUS_E_PERM, "'%s' was opened read-only", ch->path);
  os_table_lock();
  int rc = os_lock_byte(ch->file, LOCK_TABLE, ch->lock_timeout_ms);
  if (rc == MMBUS_E_BUSY) {
    lock_line_t *l = (lock_line_t *)(ch->base + OFF_LOCK_LINE);
    os_identity_t me;
    os_self_identity(&me);
    int32_t pid = ld_relaxed(&l->holder_pid);
    uint64_t ns = ld_relaxed(&l->holder_pid_ns);
    rc = mmbus_set_err(MMBUS_E_BUSY, "the table lock of '%s' stayed held for %lld ms (last taken by pid %d%s): "
                                     "a process holding it is stopped or hung", ch->path, (long long)ch->lock_timeout_ms,
                       (int)pid, ns && ns != me.ns ? " of another PID namespace" : "");
  }
  if (rc) {
    os_table_unlock();
    return rc;
  }
  os_identity_t me;
  os_self_identity(&me);
  lock_line_t *l = (lock_line_t *)(ch->base + OFF_LOCK_LINE);
  st_relaxed(&l->holder_pid, me.pid);
  st_relaxed(&l->holder_pid_ns, me.ns);
  return 0;
}

void chan_unlock(mmbus_channel_t *ch) {
  os_unlock_byte(ch->file, LOCK_TABLE);
  os_table_unlock();
}

/* An error while testing a lock counts as alive: never reclaim what may still be in use. */
int sub_slot_alive(mmbus_channel_t *ch, uint32_t i) {
  if (ch->own_subs && ch->own_subs[i]) return 1;
  return os_byte_locked(ch->file, LOCK_SUB(i)) != 0;
}

int pub_slot_alive(mmbus_channel_t *ch, uint32_t i) {
  int own = ld_acquire(&ch->pub_index); /* waiter threads ask too */
  if (own >= 0 && (uint32_t)own == i) return 1;
  return os_byte_locked(ch->file, LOCK_PUB(i)) != 0;
}

void sub_reclaim_locked(mmbus_channel_t *ch, uint32_t i) {
  sub_slot_t *s = &ch->subs[i];
  st_relaxed(&s->pid, 0);
  st_release(&s->state, ld_relaxed(&s->durable) ? (uint32_t)SUB_OFFLINE : (uint32_t)SUB_FREE);
}

void wake(mmbus_channel_t *ch, wake_line_t *w, os_waker_t *waker) {
  (void)ch;
  if (ld_relaxed(&w->need_wake) && xchg_seq_cst(&w->need_wake, 0)) {
    fetch_add_seq_cst(&w->futex, 1);
    os_wake_word(waker, &w->futex);
  }
}

int watch_init(stuck_watch_t *w, uint32_t publishers) {
  w->pending = calloc(publishers, sizeof *w->pending);
  w->progress = calloc(publishers, sizeof *w->progress);
  w->since_ns = calloc(publishers, sizeof *w->since_ns);
  w->hole_seq = UINT64_MAX;
  w->hole_since_ns = 0;
  if (!w->pending || !w->progress || !w->since_ns) {
    watch_free(w);
    return mmbus_set_err(MMBUS_E_NOMEM, "out of memory");
  }
  for (uint32_t i = 0; i < publishers; i++) w->pending[i] = MMBUS_NO_CLAIM; /* no claim seen yet */
  return 0;
}

void watch_free(stuck_watch_t *w) {
  free(w->pending);
  free(w->progress);
  free(w->since_ns);
  w->pending = w->progress = w->since_ns = NULL;
}

/* ---- is the file still ours? -------------------------------------------------------------------- */

/* ch->failed is set once, from whichever thread notices (a waiter thread too). */
static void set_failed(mmbus_channel_t *ch, int code) {
  int none = 0;
  cas_acq_rel(&ch->failed, &none, code);
}

static int check_now(mmbus_channel_t *ch) {
  if (!ld_relaxed(&ch->failed) && !*ch->broken) {
    uint64_t size;
    if (os_file_size(ch->file, &size) == 0 && size < ch->size) set_failed(ch, MMBUS_E_CORRUPT);
    os_file_id_t now;
    int rc = os_path_id(ch->path, &now);
    if (rc == MMBUS_E_NOENT || (rc == 0 && (now.dev != ch->file_id.dev || now.ino != ch->file_id.ino)))
      set_failed(ch, MMBUS_E_STALE);
  }
  return chan_usable(ch);
}

int chan_unusable(mmbus_channel_t *ch) {
  if (*ch->broken) set_failed(ch, MMBUS_E_CORRUPT);
  int failed = ld_relaxed(&ch->failed);
  if (!failed) return 0;
  if (failed == MMBUS_E_CORRUPT)
    return mmbus_set_err(MMBUS_E_CORRUPT, "'%s' was truncated while mapped: its contents are gone for this process; "
                                          "close the channel and open it again", ch->path);
  return mmbus_set_err(MMBUS_E_STALE, "'%s' was removed or replaced by another file: this handle maps the old "
                                        "one, which no new process will see; close it and open the channel again",
                       ch->path);
}

void chan_periodic_check(mmbus_channel_t *ch, uint64_t now) {
  if (now < ch->next_check_ns) return;
  ch->next_check_ns = now + CHECK_INTERVAL_NS;
  check_now(ch);
}

int mmbus_check(mmbus_channel_t *ch) {
  if (!ch) return mmbus_set_err(MMBUS_E_INVAL, "channel is NULL");
  return check_now(ch);
}

/* ---- open and close ------------------------------------------------------------------------------ */

static void free_channel(mmbus_channel_t *ch) {
  if (ch->base) os_unmap(ch->base, ch->size);
  os_close(&ch->file);
  os_waker_close(&ch->data_waker);
  os_waker_close(&ch->space_waker);
  free(ch->verified_ns);
  free(ch->verified_gen);
  free(ch->hb_value);
  free(ch->hb_changed_ns);
  free(ch->own_subs);
  watch_free(&ch->watch);
  free(ch);
}

/* The directory (the default one, written to default_dir, when NULL) and a valid channel name. */
static int dir_and_name(const char **dir, char default_dir[MMBUS_PATH_MAX + 1], const char *name) {
  if (!*dir) {
    int rc = mmbus_default_dir(default_dir, MMBUS_PATH_MAX + 1);
    if (rc) return rc;
    *dir = default_dir;
  }
  if (!**dir) return mmbus_set_err(MMBUS_E_DIR, "directory is empty");
  return mmbus_check_name(name);
}

int mmbus_open(const char *dir, const char *name, const mmbus_options_t *opts, mmbus_channel_t **out) {
  if (!out) return mmbus_set_err(MMBUS_E_INVAL, "out is NULL");
  *out = NULL;
  mmbus_options_t defaults;
  if (!opts) {
    mmbus_options_init(&defaults);
    opts = &defaults;
  }
  char default_dir[MMBUS_PATH_MAX + 1];
  int rc = dir_and_name(&dir, default_dir, name);
  if (rc) return rc;
  rc = check_option_ranges(opts);
  if (rc) return rc;
  int readonly = (opts->flags & MMBUS_READONLY) != 0;
  rc = os_check_dir(dir, 0); /* writability matters only if we create: checked then */
  if (rc) return rc;

  mmbus_channel_t *ch = calloc(1, sizeof *ch);
  if (!ch) return mmbus_set_err(MMBUS_E_NOMEM, "out of memory");
  ch->file = OS_FILE_NONE;
  ch->readonly = readonly;
  ch->mode = opts->mode;
  rc = path_of(ch->path, sizeof ch->path, dir, name);
  if (rc) goto fail;

  for (int attempt = 0, created = 0;; attempt++) {
    if (created) break;
    rc = os_open_existing(ch->path, readonly, &ch->file);
    if (rc == 0) {
      if (opts->flags & MMBUS_EXCL) {
        rc = mmbus_set_err(MMBUS_E_EXIST, "channel '%s' already exists", ch->path);
        goto fail;
      }
      if (!readonly) rc = os_check_sharing(ch->file, opts->mode, ch->path);
      if (rc) goto fail;
      break;
    }
    if (rc != MMBUS_E_NOENT || !(opts->flags & MMBUS_CREATE) || attempt > 3) goto fail;
    file_header_t h;
    rc = build_header(&h, opts);
    if (rc == 0) rc = os_check_dir(dir, 1);
    if (rc) goto fail;
    new_file_t nf = {&h, opts->layout};
    rc = os_create_file_atomic(dir, ch->path, h.file_size, opts->mode ? opts->mode : 0600, init_file, &nf, &ch->file);
    if (rc == MMBUS_E_EXIST && !(opts->flags & MMBUS_EXCL)) continue; /* lost a create race: open theirs */
    if (rc) goto fail;
    created = 1;
  }

  uint64_t size;
  rc = os_file_size(ch->file, &size);
  if (rc) goto fail;
  if (size < sizeof(file_header_t)) {
    rc = mmbus_set_err(MMBUS_E_BADFILE, "'%s' is truncated (%llu bytes)", ch->path, (unsigned long long)size);
    goto fail;
  }
  rc = os_pread_all(ch->file, &ch->hdr, sizeof ch->hdr, 0);
  if (rc) goto fail;
  rc = validate_header(&ch->hdr, size, ch->path);
  if (rc) goto fail;
  rc = check_options(&ch->hdr, opts, ch->path);
  if (rc) goto fail;
  if (size > SIZE_MAX) {
    rc = mmbus_set_err(MMBUS_E_NOMEM, "'%s' is too large to map", ch->path);
    goto fail;
  }
  /* A copied sparse file (or one whose blocks were punched out) would SIGBUS its first writer on a
   * full disk: writers make sure every byte has its space before mapping. */
  if (!readonly) {
    rc = os_reserve(ch->file, size, ch->path);
    if (rc) goto fail;
  }
  rc = os_file_id(ch->file, &ch->file_id);
  if (rc) goto fail;
  void *base;
  rc = os_map(ch->file, (size_t)size, readonly, &base, &ch->broken);
  if (rc) goto fail;
  ch->base = base;
  ch->size = (size_t)size;
  ch->prefetchw = cpu_has_prefetchw();
  ch->head = (uint64_t *)(ch->base + OFF_HEAD_LINE);
  ch->attach_epoch = ch->head + 1;
  ch->data_wake = (wake_line_t *)(ch->base + OFF_DATA_WAKE);
  ch->space_wake = (wake_line_t *)(ch->base + OFF_SPACE_WAKE);
  ch->helped_claims = (uint32_t *)(ch->base + OFF_FENCE_LINE);
  ch->barrier_decides = (ch->hdr.flags & HFLAG_BARRIER_DECIDES) != 0;
  ch->excluding = (ch->hdr.flags & HFLAG_EXCLUSIONS_COUNTED) ? ch->helped_claims + 1 : NULL;
  if (ch->hdr.flags & HFLAG_LAYOUT) {
    rc = layout_intact(ch, ch->base + ch->hdr.layout_offset);
    if (rc) {
      rc = mmbus_set_err(MMBUS_E_BADFILE, "'%s' has a corrupt record layout description (checksum mismatch)", ch->path);
      goto fail;
    }
  }
  if (ch->hdr.flags & HFLAG_KEYED) {
    ch->keys = ch->base + ch->hdr.keys_offset;
    ch->key_count = ch->hdr.key_count;
    ch->key_entry_size = key_entry_bytes(ch->hdr.record_stride);
    ch->key_offset = ch->hdr.key_offset;
    ch->key_size = ch->hdr.key_size;
  }
  ch->subs = (sub_slot_t *)(ch->base + ch->hdr.subs_offset);
  ch->pubs = (pub_slot_t *)(ch->base + ch->hdr.pubs_offset);
  ch->stamps = (uint64_t *)(ch->base + ch->hdr.stamps_offset);
  ch->data = ch->base + ch->hdr.data_offset;
  ch->capacity = ch->hdr.capacity;
  ch->mask = ch->capacity - 1;
  ch->record_size = ch->hdr.record_size;
  ch->stride = ch->hdr.record_stride;
  ch->policy = (mmbus_policy_t)ch->hdr.policy;
  ch->block_timeout_ms = opts->block_timeout_ms >= 0 ? opts->block_timeout_ms : ch->hdr.block_timeout_ms;
  int64_t hb = opts->heartbeat_timeout_ms >= 0 ? opts->heartbeat_timeout_ms : ch->hdr.heartbeat_timeout_ms;
  ch->heartbeat_timeout_ns = (uint64_t)hb * 1000000u;
  int64_t ub = opts->unblock_timeout_ms >= 0 ? opts->unblock_timeout_ms : ch->hdr.unblock_timeout_ms;
  ch->unblock_timeout_ns = (uint64_t)ub * 1000000u;
  ch->lock_timeout_ms = opts->lock_timeout_ms >= 0 ? opts->lock_timeout_ms : MMBUS_DEFAULT_LOCK_TIMEOUT_MS;
  ch->pub_index = -1;
  ch->next_check_ns = os_mono_ns() + CHECK_INTERVAL_NS;
  uint32_t ns = ch->hdr.max_subscribers;
  ch->verified_ns = calloc(ns, sizeof *ch->verified_ns);
  ch->verified_gen = calloc(ns, sizeof *ch->verified_gen);
  ch->hb_value = calloc(ns, sizeof *ch->hb_value);
  ch->hb_changed_ns = calloc(ns, sizeof *ch->hb_changed_ns);
  ch->own_subs = calloc(ns, 1);
  if (!ch->verified_ns || !ch->verified_gen || !ch->hb_value || !ch->hb_changed_ns || !ch->own_subs) {
    rc = mmbus_set_err(MMBUS_E_NOMEM, "out of memory");
    goto fail;
  }
  rc = watch_init(&ch->watch, ch->hdr.max_publishers);
  if (rc) goto fail;
  rc = os_waker_open(&ch->data_waker, ch->file, 0, &ch->data_wake->os_word);
  if (rc == 0) rc = os_waker_open(&ch->space_waker, ch->file, 1, &ch->space_wake->os_word);
  if (rc) goto fail;
  *out = ch;
  return 0;

fail:
  free_channel(ch);
  return rc;
}

int mmbus_close(mmbus_channel_t *ch) {
  if (!ch) return mmbus_set_err(MMBUS_E_INVAL, "channel is NULL");
  if (ch->open_subs > 0)
    return mmbus_set_err(MMBUS_E_STATE, "%d subscriber(s) of '%s' are still open: close them first", ch->open_subs,
                         ch->path);
  if (ch->pub) {
    pub_slot_t *p = ch->pub;
    if (pub_finish_own(ch) != 0) {
      /* a decided commit that cannot be finished now: leave the slot to look dead (its lock goes with
       * the handle), so that the next process to take it over or to wait for it completes the claim */
      free_channel(ch);
      return 0;
    }
    if (ld_relaxed(&p->pending) != MMBUS_NO_CLAIM) {
      /* closed with a claim outstanding: give it up, so nobody waits for it */
      mmbus_claim_t c = {PENDING_SEQ(ld_relaxed(&p->pending)), claim_len(ch, &p->pending_n), ch->stride, ch->data, ch->mask};
      if (c.n) mmbus_claim_abort(ch, &c); /* (an impossible length: the file was damaged; nothing to give up) */
    }
    pub_settle_exclusion(ch);
    if (chan_lock(ch) == 0) {
      pub_resolve_locked(ch, p);
      st_relaxed(&p->pending, MMBUS_NO_CLAIM);
      st_relaxed(&p->pid, 0);
      st_release(&p->state, (uint32_t)PUB_FREE);
      os_unlock_byte(ch->file, LOCK_PUB(ch->pub_index));
      chan_unlock(ch);
    }
  }
  free_channel(ch);
  return 0;
}

int mmbus_unlink(const char *dir, const char *name) {
  char default_dir[MMBUS_PATH_MAX + 1];
  int rc = dir_and_name(&dir, default_dir, name);
  if (rc) return rc;
  char path[MMBUS_PATH_MAX + 1];
  rc = path_of(path, sizeof path, dir, name);
  if (rc) return rc;
  return os_unlink(path);
}

int mmbus_flush(mmbus_channel_t *ch) {
  if (!ch) return mmbus_set_err(MMBUS_E_INVAL, "channel is NULL");
  int rc = chan_usable(ch);
  if (rc) return rc;
  return os_msync(ch->file, ch->base, ch->size);
}

int mmbus_info(const mmbus_channel_t *ch, mmbus_info_t *i) {
  if (!ch || !i) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  memset(i, 0, sizeof *i);
  const file_header_t *h = &ch->hdr;
  i->format_version = h->version;
  i->record_size = h->record_size;
  i->record_stride = h->record_stride;
  i->readonly = (uint32_t)ch->readonly;
  i->capacity = h->capacity;
  i->policy = (mmbus_policy_t)h->policy;
  i->fingerprint = h->fingerprint;
  memcpy(i->schema_name, h->schema_name, sizeof i->schema_name);
  i->schema_name[MMBUS_SCHEMA_NAME_MAX] = 0;
  i->created_ns = h->created_ns;
  i->block_timeout_ms = ch->block_timeout_ms;
  i->heartbeat_timeout_ms = (int64_t)(ch->heartbeat_timeout_ns / 1000000u);
  i->unblock_timeout_ms = (int64_t)(ch->unblock_timeout_ns / 1000000u);
  i->max_subscribers = h->max_subscribers;
  i->max_publishers = h->max_publishers;
  i->file_size = h->file_size;
  i->data_offset = h->data_offset;
  i->stamps_offset = h->stamps_offset;
  i->key_count = h->key_count;
  i->key_offset = h->key_offset;
  i->key_size = h->key_size;
  i->keys_offset = h->keys_offset;
  i->key_entry_size = ch->key_entry_size;
  i->key_header_size = ch->keys ? KEY_HEADER_SIZE : 0;
  i->barrier_decides = (uint32_t)ch->barrier_decides;
  i->layout_size = (h->flags & HFLAG_LAYOUT) ? h->layout_size : 0;
  return 0;
}

void *mmbus_base(const mmbus_channel_t *ch) { return ch ? ch->base : NULL; }
size_t mmbus_mapped_size(const mmbus_channel_t *ch) { return ch ? ch->size : 0; }

/* ---- subscriber table ------------------------------------------------------------------------ */

static void attach_slot(sub_slot_t *s, int keep_cursor, uint64_t cursor) {
  os_identity_t me;
  os_self_identity(&me);
  st_relaxed(&s->pid, me.pid);
  st_relaxed(&s->pid_ns, me.ns);
  st_relaxed(&s->heartbeat_ns, os_mono_ns());
  st_relaxed(&s->attached_ns, os_real_ns());
  st_relaxed(&s->generation, ld_relaxed(&s->generation) + 1);
  if (!keep_cursor) {
    st_relaxed(&s->cursor, cursor);
    st_relaxed(&s->lost, 0);
    st_relaxed(&s->owed_since, 0);
  }
  st_release(&s->state, (uint32_t)SUB_ACTIVE);
}

int mmbus_subscribe(mmbus_channel_t *ch, const mmbus_sub_options_t *opts, mmbus_sub_t **out) {
  if (!ch || !out) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  *out = NULL;
  mmbus_sub_options_t none;
  mmbus_sub_options_init(&none);
  if (!opts) opts = &none;
  if (ch->readonly) return mmbus_set_err(MMBUS_E_PERM, "'%s' was opened read-only: subscribing writes a cursor", ch->path);
  int rc = chan_usable(ch);
  if (rc) return rc;
  int durable = opts->name && *opts->name;
  if (durable) {
    rc = valid_name_chars(opts->name, MMBUS_SUB_NAME_MAX, "subscriber");
    if (rc) return rc;
  }
  if (opts->start != MMBUS_START_NEWEST && opts->start != MMBUS_START_OLDEST)
    return mmbus_set_err(MMBUS_E_INVAL, "unknown start position %d", (int)opts->start);
  if (opts->spin_us != MMBUS_SPIN_NONE && (opts->spin_us < 0 || opts->spin_us > MMBUS_SPIN_MAX_US))
    return mmbus_set_err(MMBUS_E_INVAL, "spin_us %d: 0 (the default, %d us), MMBUS_SPIN_NONE or up to %d us",
                         (int)opts->spin_us, MMBUS_SPIN_DEFAULT_US, MMBUS_SPIN_MAX_US);
  if (opts->coalesce_us < 0 || opts->coalesce_us > MMBUS_COALESCE_MAX_US)
    return mmbus_set_err(MMBUS_E_INVAL, "coalesce_us %d: 0 (off) up to %d us", (int)opts->coalesce_us, MMBUS_COALESCE_MAX_US);
  mmbus_sub_t *sub = calloc(1, sizeof *sub);
  if (!sub) return mmbus_set_err(MMBUS_E_NOMEM, "out of memory");
  sub->spin_ns = opts->spin_us == MMBUS_SPIN_NONE ? 0 : opts->spin_us ? (uint64_t)opts->spin_us * 1000u : SPIN_DEFAULT_NS;
  sub->coalesce_ns = (uint64_t)opts->coalesce_us * 1000u;
  rc = watch_init(&sub->watch, ch->hdr.max_publishers);
  if (rc) {
    free(sub);
    return rc;
  }
  rc = chan_lock(ch);
  if (rc) {
    watch_free(&sub->watch);
    free(sub);
    return rc;
  }
  int found = -1, resume = 0;
  uint32_t n = ch->hdr.max_subscribers;
  if (durable) {
    for (uint32_t i = 0; i < n; i++) {
      sub_slot_t *s = &ch->subs[i];
      uint32_t st = ld_acquire(&s->state);
      if (st == SUB_FREE || !s->durable || strncmp(s->name, opts->name, sizeof s->name) != 0) continue;
      if (st == SUB_ACTIVE && sub_slot_alive(ch, i)) {
        int32_t pid = s->pid;
        chan_unlock(ch);
        watch_free(&sub->watch);
        free(sub);
        return mmbus_set_err(MMBUS_E_BUSY, "durable subscriber '%s' of '%s' is attached in live process %d",
                             opts->name, ch->path, (int)pid);
      }
      found = (int)i;
      resume = 1;
      break;
    }
  }
  if (found < 0) {
    for (uint32_t i = 0; i < n && found < 0; i++)
      if (ld_acquire(&ch->subs[i].state) == SUB_FREE) found = (int)i;
    for (uint32_t i = 0; i < n && found < 0; i++) { /* reclaim an anonymous slot of a dead process */
      sub_slot_t *s = &ch->subs[i];
      if (ld_acquire(&s->state) == SUB_ACTIVE && !s->durable && !sub_slot_alive(ch, i)) found = (int)i;
    }
  }
  if (found >= 0 && (rc = os_lock_byte(ch->file, LOCK_SUB(found), -1)) != 0) {
    chan_unlock(ch); /* cannot happen unless the file is forged: the slot's lock is held by nobody */
    watch_free(&sub->watch);
    free(sub);
    return mmbus_set_err(MMBUS_E_BUSY, "the lock of subscriber slot %d of '%s' is held by another process", found, ch->path);
  }
  if (found < 0) {
    chan_unlock(ch);
    watch_free(&sub->watch);
    free(sub);
    return mmbus_set_err(MMBUS_E_NOSLOT, "all %u subscriber slots of '%s' are in use", n, ch->path);
  }
  sub_slot_t *s = &ch->subs[found];
  uint64_t h0 = ld_acquire(ch->head);
  if (!resume) {
    memset(s->name, 0, sizeof s->name);
    if (durable) strcpy(s->name, opts->name);
    st_relaxed(&s->durable, (uint32_t)durable);
  }
  uint64_t start = opts->start == MMBUS_START_OLDEST ? (h0 > ch->capacity ? h0 - ch->capacity : 0) : h0;
  attach_slot(s, resume, start);
  /* Publishers re-read the subscriber table on their next claim, and check again right after it: one
   * that claimed without seeing us waits before it writes (docs/format.md §8.4). What was claimed
   * before this point is in `head` now: records below head - capacity may be being overwritten by
   * those claims, so a subscriber joining behind head starts no lower than that. */
  fetch_add_seq_cst(ch->attach_epoch, 1);
  uint64_t h = ld_seq_cst(ch->head);
  uint64_t bound = h > ch->capacity ? h - ch->capacity : 0;
  uint64_t cursor = ld_relaxed(&s->cursor), lost = ld_relaxed(&s->lost);
  int align = cursor == h0 || cursor == 0 ? ALIGNED : SKIP_FREE; /* head is always a claim's end */
  if (resume) align = ALIGNED; /* a durable cursor was stored right after consumed records */
  /* keyed: a snapshot it was given in for records it missed and did not take in full is still owed */
  uint64_t owed = resume && ch->keys ? ld_relaxed(&s->owed_since) : 0;
  if (cursor > h || owed > h + 1) {
    sub_reclaim_locked(ch, (uint32_t)found);
    os_unlock_byte(ch->file, LOCK_SUB(found));
    chan_unlock(ch);
    watch_free(&sub->watch);
    free(sub);
    return mmbus_set_err(MMBUS_E_CORRUPT, "durable subscriber '%s' of '%s' has cursor %llu (owed records from "
                                          "%llu + 1) beyond head %llu: the file was damaged", opts->name, ch->path,
                         (unsigned long long)cursor, (unsigned long long)owed, (unsigned long long)h);
  }
  int owes = 0;
  uint64_t behind_from = UINT64_MAX, resumed_at = owed ? owed - 1 : resume ? cursor : 0;
  if (cursor < bound || owed) {
    if (resume && ch->keys) { /* keyed: a snapshot of what changed may stand in for what it missed */
      behind_from = resumed_at;
      align = SKIP_LOST;
      /* until that snapshot is taken, a restart starts from here again, not from the cursor below */
      if (!owed) st_relaxed(&s->owed_since, resumed_at + 1);
      owes = 1;
    } else if (resume) { /* away for more than a lap: what it missed is lost */
      lost += bound - cursor;
      align = SKIP_LOST;
    } else {
      align = SKIP_FREE;
    }
    if (cursor < bound) cursor = bound;
    st_relaxed(&s->lost, lost);
    st_release(&s->cursor, cursor);
  }
  ch->own_subs[found] = 1;
  chan_unlock(ch);
  sub->ch = ch;
  sub->slot = s;
  sub->index = found;
  sub->generation = ld_relaxed(&s->generation);
  sub->durable = durable;
  sub->cursor = cursor;
  sub->align = align;
  sub->lost = lost;
  sub->behind_from = behind_from;
  sub->resumed_at = resumed_at;
  sub->behind_to = cursor;
  sub->owes = owes;
  sub->snap_next = UINT64_MAX;
  sub->last_heartbeat_ns = os_mono_ns();
  sub->next_check_ns = sub->last_heartbeat_ns;
  ch->open_subs++;
  *out = sub;
  return 0;
}

int mmbus_sub_close(mmbus_sub_t *sub) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  mmbus_channel_t *ch = sub->ch;
  sub_slot_t *s = sub->slot;
  if (chan_lock(ch) == 0) {
    /* Only detach if the slot is still ours (a gc of another process may have taken it). */
    if (ld_acquire(&s->state) == SUB_ACTIVE && ld_relaxed(&s->generation) == sub->generation) {
      /* a close after the whole snapshot was taken: it had what it was owed */
      if (!sub->snap_count && sub->behind_from == UINT64_MAX) owed_settled(sub);
      sub_reclaim_locked(ch, (uint32_t)sub->index);
    }
    chan_unlock(ch);
  }
  ch->own_subs[sub->index] = 0;
  os_unlock_byte(ch->file, LOCK_SUB(sub->index)); /* even without the table lock: we are gone */
  wake(ch, ch->space_wake, &ch->space_waker); /* a publisher may be waiting on this subscriber */
  ch->open_subs--;
  watch_free(&sub->watch);
  sub_keys_free(sub);
  free(sub);
  return 0;
}

int mmbus_gc(mmbus_channel_t *ch) {
  if (!ch) return mmbus_set_err(MMBUS_E_INVAL, "channel is NULL");
  int rc = chan_usable(ch);
  if (rc) return rc;
  rc = chan_lock(ch);
  if (rc) return rc;
  int reclaimed = 0;
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++) {
    if (ld_acquire(&ch->subs[i].state) == SUB_ACTIVE && !sub_slot_alive(ch, i)) {
      sub_reclaim_locked(ch, i);
      reclaimed++;
    }
  }
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    if (ld_acquire(&p->state) == PUB_ACTIVE && !pub_slot_alive(ch, i) && pub_take_over_locked(ch, i) == 0) {
      pub_resolve_locked(ch, p); /* a dead publisher writes nothing late */
      st_relaxed(&p->pending, MMBUS_NO_CLAIM);
      st_release(&p->state, (uint32_t)PUB_FREE);
      reclaimed++;
    }
  }
  chan_unlock(ch);
  if (reclaimed) wake(ch, ch->space_wake, &ch->space_waker);
  return reclaimed;
}

int mmbus_stats(mmbus_channel_t *ch, mmbus_stats_t *stats, mmbus_sub_stats_t *subs, uint32_t max_subs) {
  if (!ch || !stats || (max_subs && !subs)) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  int rc = chan_usable(ch);
  if (rc) return rc;
  memset(stats, 0, sizeof *stats);
  uint64_t head = ld_acquire(ch->head);
  uint64_t now = os_mono_ns();
  os_identity_t me;
  os_self_identity(&me);
  stats->head = head;
  stats->capacity = ch->capacity;
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    if (ld_acquire(&p->state) != PUB_ACTIVE) continue;
    if (!pub_slot_alive(ch, i)) continue;
    stats->publishers_alive++;
    if (ld_acquire(&p->revoked)) stats->claims_revoked++;
  }
  uint32_t count = 0;
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++) {
    sub_slot_t *s = &ch->subs[i];
    uint32_t st = ld_acquire(&s->state);
    if (st == SUB_FREE) continue;
    mmbus_sub_state_t state = st == SUB_OFFLINE ? MMBUS_SUB_OFFLINE : MMBUS_SUB_ACTIVE;
    uint64_t hb = ld_relaxed(&s->heartbeat_ns);
    /* the heartbeat is the owner's monotonic clock: the same as ours unless it lives in another
     * time namespace, so its age is only shown, never trusted, when the PID namespace differs */
    int same_ns = !ld_relaxed(&s->pid_ns) || ld_relaxed(&s->pid_ns) == me.ns;
    if (state == MMBUS_SUB_ACTIVE) {
      int silent = ch->heartbeat_timeout_ns && same_ns && now > hb && now - hb > ch->heartbeat_timeout_ns;
      if (silent || !sub_slot_alive(ch, i)) state = MMBUS_SUB_DEAD;
    }
    uint64_t cursor = ld_acquire(&s->cursor);
    uint64_t lag = head > cursor ? head - cursor : 0;
    if (state == MMBUS_SUB_ACTIVE) {
      stats->subscribers_active++;
      if (lag > stats->max_lag) stats->max_lag = lag;
    } else if (state == MMBUS_SUB_OFFLINE) {
      stats->subscribers_offline++;
    } else {
      stats->subscribers_dead++;
    }
    if (count < max_subs) {
      mmbus_sub_stats_t *e = &subs[count];
      memset(e, 0, sizeof *e);
      e->slot = (int)i;
      e->state = state;
      e->durable = (int)ld_relaxed(&s->durable);
      memcpy(e->name, s->name, MMBUS_SUB_NAME_MAX);
      e->name[MMBUS_SUB_NAME_MAX] = 0;
      e->pid = ld_relaxed(&s->pid);
      e->other_pid_ns = !same_ns;
      e->cursor = cursor;
      e->lag = lag;
      e->lost = ld_relaxed(&s->lost);
      e->heartbeat_age_ms = st == SUB_ACTIVE && now >= hb ? (int64_t)((now - hb) / 1000000u) : -1;
    }
    count++;
  }
  return (int)(count < max_subs ? count : max_subs);
}

int mmbus_verify(const mmbus_channel_t *ch, char *buf, size_t cap) {
  if (!ch || (!buf && cap)) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  if (cap) buf[0] = 0;
  int problems = 0;
#define PROBLEM(...)                                     \
  do {                                                   \
    if (problems++ == 0 && cap) snprintf(buf, cap, __VA_ARGS__); \
  } while (0)
  uint64_t head = ld_acquire(ch->head);
  if (head & STAMP_CONT) PROBLEM("head %llu is beyond the 62-bit sequence range", (unsigned long long)head);
  if ((ch->hdr.flags & HFLAG_LAYOUT) && fnv1a64(ch->base + ch->hdr.layout_offset, ch->hdr.layout_size) != ch->hdr.layout_checksum)
    PROBLEM("the record layout description does not match its checksum: it was changed after creation");
  /* Publishers may be running: what is read after `head` (stamps, cursors, claims, keys) may belong to
   * records claimed since. Head only grows and is advanced before any of them is written, so "beyond
   * head" is decided against head read again after the value (acquire): a live channel is no problem. */
#define BEYOND_HEAD(q) ((q) > head && (q) > (head = ld_acquire(ch->head)))
  uint64_t newest = 0; /* highest stamped sequence + 1 */
  for (uint64_t slot = 0; slot < ch->capacity; slot++) {
    uint64_t v = ld_acquire(&ch->stamps[slot]);
    uint64_t q = v & STAMP_SEQ_MASK;
    if (q <= head && q > newest) newest = q;
    if (q == 0) {
      if (v) PROBLEM("slot %llu: stamp %016llx has flags but no sequence", (unsigned long long)slot, (unsigned long long)v);
      continue;
    }
    if (((q - 1) & ch->mask) != slot)
      PROBLEM("slot %llu: stamp %016llx is for sequence %llu, which lives in slot %llu", (unsigned long long)slot,
              (unsigned long long)v, (unsigned long long)(q - 1), (unsigned long long)((q - 1) & ch->mask));
    else if (BEYOND_HEAD(q))
      PROBLEM("slot %llu: stamp of sequence %llu is beyond head %llu", (unsigned long long)slot,
              (unsigned long long)(q - 1), (unsigned long long)head);
  }
  /* claims in flight can leave head ahead of the newest stamp, but not by more than a lap once any
   * reader has stepped over the gaps of dead publishers */
  if (head - newest > ch->capacity)
    PROBLEM("head %llu is %llu sequence numbers ahead of the newest record in the ring: nobody fills them",
            (unsigned long long)head, (unsigned long long)(head - newest));
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++) {
    const sub_slot_t *s = &ch->subs[i];
    uint32_t st = ld_acquire(&s->state);
    if (st > SUB_OFFLINE) {
      PROBLEM("subscriber slot %u has state %u", i, st);
      continue;
    }
    if (st == SUB_FREE) continue;
    uint64_t cursor = ld_acquire(&s->cursor);
    if (BEYOND_HEAD(cursor))
      PROBLEM("subscriber slot %u: cursor %llu is beyond head %llu", i, (unsigned long long)cursor, (unsigned long long)head);
    if (s->durable && (memchr(s->name, 0, sizeof s->name) == NULL || valid_name_chars(s->name, MMBUS_SUB_NAME_MAX, "subscriber")))
      PROBLEM("subscriber slot %u: the durable name is not a valid name", i);
  }
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    const pub_slot_t *p = &ch->pubs[i];
    uint32_t st = ld_acquire(&p->state);
    if (st > PUB_ACTIVE) {
      PROBLEM("publisher slot %u has state %u", i, st);
      continue;
    }
    if (st == PUB_FREE) continue;
    uint64_t raw = ld_acquire(&p->pending), n = ld_relaxed(&p->pending_n), pending = PENDING_SEQ(raw);
    if (raw != MMBUS_NO_CLAIM && (!claim_len(ch, &p->pending_n) || BEYOND_HEAD(pending)))
      PROBLEM("publisher slot %u: claim of %llu records at %llu is impossible (head %llu)", i, (unsigned long long)n,
              (unsigned long long)pending, (unsigned long long)head);
    if (ld_relaxed(&p->revoked) && !claim_len(ch, &p->revoked_n))
      PROBLEM("publisher slot %u: given-up claim of %llu records is impossible", i, (unsigned long long)ld_relaxed(&p->revoked_n));
    if (ld_relaxed(&p->helped) && !claim_len(ch, &p->helped_n))
      PROBLEM("publisher slot %u: helped claim of %llu records is impossible", i, (unsigned long long)ld_relaxed(&p->helped_n));
  }
  for (uint64_t k = 0; ch->keys && k < ch->key_count; k++) {
    const key_entry_t *e = key_entry(ch, k);
    uint64_t v = ld_acquire(&e->ver), q = v & KEY_VER_SEQ;
    if ((v >> KEY_VER_CUR_SHIFT) >= KEY_BUFFERS)
      PROBLEM("key %llu names buffer %llu of %u", (unsigned long long)k, (unsigned long long)(v >> KEY_VER_CUR_SHIFT),
              KEY_BUFFERS);
    else if (BEYOND_HEAD(q))
      PROBLEM("key %llu holds sequence %llu, beyond head %llu", (unsigned long long)k, (unsigned long long)(q - 1),
              (unsigned long long)head);
    else if (q) {
      uint64_t held = record_key(ch, key_buffer(ch, (key_entry_t *)e, (uint32_t)(v >> KEY_VER_CUR_SHIFT)));
      fence_acquire();
      if (held != k && ld_relaxed(&e->ver) == v) /* unchanged while read: not a writer's moment */
        PROBLEM("key %llu holds a record of key %llu", (unsigned long long)k, (unsigned long long)held);
    }
  }
#undef BEYOND_HEAD
#undef PROBLEM
  return problems;
}
