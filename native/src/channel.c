/* Channel files: create, validate, open, close; the subscriber and publisher tables; stats. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "internal.h"
#include "os.h"

static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER; /* threads of this process */

void mmbus_options_init(mmbus_options_t *o) {
  memset(o, 0, sizeof *o);
  o->block_timeout_ms = -1;
  o->heartbeat_timeout_ms = -1;
}

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

int mmbus_check_name(const char *name) { return valid_name_chars(name, MMBUS_NAME_MAX, "channel"); }

uint64_t header_checksum(const file_header_t *h) {
  const uint8_t *p = (const uint8_t *)h;
  const size_t field = offsetof(file_header_t, header_checksum);
  uint64_t x = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < sizeof *h; i++) {
    uint8_t byte = (i >= field && i < field + 8) ? 0 : p[i];
    x = (x ^ byte) * UINT64_C(0x100000001b3);
  }
  return x;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Offsets of every area, computed from the sizes alone (never read from the file and trusted). */
static void compute_layout(file_header_t *h) {
  h->header_size = MMBUS_HEADER_SIZE;
  h->record_stride = (uint32_t)align_up(h->record_size, 8);
  h->subs_offset = MMBUS_HEADER_SIZE;
  h->pubs_offset = h->subs_offset + (uint64_t)h->max_subscribers * MMBUS_SLOT_SIZE;
  h->stamps_offset = align_up(h->pubs_offset + (uint64_t)h->max_publishers * MMBUS_SLOT_SIZE, MMBUS_LINE);
  h->data_offset = align_up(h->stamps_offset + h->capacity * 8, 4096);
  h->file_size = align_up(h->data_offset + h->capacity * h->record_stride, 4096);
}

static int path_of(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s.db", dir, name);
  if (n < 0 || (size_t)n >= cap) return mmbus_set_err(MMBUS_E_NAME, "path of channel '%s' is too long", name);
  return 0;
}

static int log2_exact(uint64_t v) {
  if (v == 0 || (v & (v - 1))) return -1;
  return __builtin_ctzll(v);
}

/* Checks a header read from disk. Every field is verified before any offset is used. */
static int validate_header(const file_header_t *h, uint64_t actual_size, const char *path) {
  if (memcmp(h->magic, MMBUS_MAGIC, 8) != 0)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is not an mmbus channel file (bad magic)", path);
  if (h->endian != MMBUS_ENDIAN_MARK)
    return mmbus_set_err(MMBUS_E_VERSION, "'%s' was written with another byte order", path);
  if (h->version != MMBUS_FORMAT_VERSION)
    return mmbus_set_err(MMBUS_E_VERSION, "'%s' has format version %u; this library reads version %u", path,
                         h->version, MMBUS_FORMAT_VERSION);
  if (header_checksum(h) != h->header_checksum)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' has a corrupt header (checksum mismatch)", path);
  if (h->flags != 0)
    return mmbus_set_err(MMBUS_E_VERSION, "'%s' uses header flags 0x%x this library does not know", path, h->flags);
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
  file_header_t expect = *h;
  compute_layout(&expect);
  if (expect.header_size != h->header_size || expect.record_stride != h->record_stride ||
      expect.subs_offset != h->subs_offset || expect.pubs_offset != h->pubs_offset ||
      expect.stamps_offset != h->stamps_offset || expect.data_offset != h->data_offset ||
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
  return 0;
}

static int build_header(file_header_t *h, const mmbus_options_t *o) {
  memset(h, 0, sizeof *h);
  memcpy(h->magic, MMBUS_MAGIC, 8);
  h->version = MMBUS_FORMAT_VERSION;
  h->endian = MMBUS_ENDIAN_MARK;
  if (o->record_size == 0 || o->record_size > MMBUS_RECORD_SIZE_MAX)
    return mmbus_set_err(MMBUS_E_INVAL, "record size %u is out of range 1..%u", o->record_size, MMBUS_RECORD_SIZE_MAX);
  h->record_size = o->record_size;
  h->capacity = o->capacity ? o->capacity : MMBUS_DEFAULT_CAPACITY;
  int lg = log2_exact(h->capacity);
  if (lg < 1 || h->capacity > MMBUS_CAPACITY_MAX)
    return mmbus_set_err(MMBUS_E_INVAL, "capacity %llu is not a power of two in 2..2^32", (unsigned long long)h->capacity);
  h->capacity_log2 = (uint32_t)lg;
  h->max_subscribers = o->max_subscribers ? o->max_subscribers : MMBUS_DEFAULT_MAX_SUBS;
  h->max_publishers = o->max_publishers ? o->max_publishers : MMBUS_DEFAULT_MAX_PUBS;
  if (h->max_subscribers > MMBUS_MAX_SUBSCRIBERS_LIMIT || h->max_publishers > MMBUS_MAX_PUBLISHERS_LIMIT)
    return mmbus_set_err(MMBUS_E_INVAL, "at most %u subscribers and %u publishers", MMBUS_MAX_SUBSCRIBERS_LIMIT,
                         MMBUS_MAX_PUBLISHERS_LIMIT);
  if ((int)o->policy < MMBUS_POLICY_UNSET || o->policy > MMBUS_POLICY_OVERWRITE)
    return mmbus_set_err(MMBUS_E_INVAL, "unknown policy %d", (int)o->policy);
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
  compute_layout(h);
  h->header_checksum = header_checksum(h);
  return 0;
}

static int init_file(int fd, void *ctx) {
  const file_header_t *h = ctx;
  uint8_t boot[16];
  os_boot_id(boot);
  int rc = os_pwrite_all(fd, boot, sizeof boot, OFF_BOOT_LINE);
  if (rc == 0) rc = os_pwrite_all(fd, h, sizeof *h, 0); /* the magic goes in last of all */
  return rc;
}

int chan_lock(mmbus_channel_t *ch) {
  pthread_mutex_lock(&table_mutex);
  int rc = os_lock(ch->fd);
  if (rc) pthread_mutex_unlock(&table_mutex);
  return rc;
}

void chan_unlock(mmbus_channel_t *ch) {
  os_unlock(ch->fd);
  pthread_mutex_unlock(&table_mutex);
}

int sub_owner_alive(const sub_slot_t *s) { return os_process_alive(ld_relaxed(&s->pid), ld_relaxed(&s->start_time)); }

void sub_reclaim_locked(sub_slot_t *s) {
  st_relaxed(&s->pid, 0);
  st_release(&s->state, ld_relaxed(&s->durable) ? (uint32_t)SUB_OFFLINE : (uint32_t)SUB_FREE);
}

void wake(wake_line_t *w) {
  if (ld_relaxed(&w->need_wake) && xchg_seq_cst(&w->need_wake, 0)) {
    fetch_add_seq_cst(&w->futex, 1);
    os_futex_wake_all(&w->futex);
  }
}

/* After a reboot every pid and heartbeat in the tables is stale: detach everyone. Called locked. */
static void reset_if_new_boot(mmbus_channel_t *ch) {
  uint8_t boot[16];
  os_boot_id(boot);
  uint8_t *stored = ch->base + OFF_BOOT_LINE;
  if (memcmp(boot, stored, 16) == 0) return;
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++)
    if (ld_acquire(&ch->subs[i].state) == SUB_ACTIVE) sub_reclaim_locked(&ch->subs[i]);
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) st_release(&ch->pubs[i].state, (uint32_t)PUB_FREE);
  st_relaxed(&ch->data_wake->need_wake, 0);
  st_relaxed(&ch->space_wake->need_wake, 0);
  memcpy(stored, boot, 16);
}

int mmbus_open(const char *dir, const char *name, const mmbus_options_t *opts, mmbus_channel_t **out) {
  if (!out) return mmbus_set_err(MMBUS_E_INVAL, "out is NULL");
  *out = NULL;
  mmbus_options_t defaults;
  if (!opts) {
    mmbus_options_init(&defaults);
    opts = &defaults;
  }
  if (!dir || !*dir) return mmbus_set_err(MMBUS_E_DIR, "directory is empty");
  int rc = mmbus_check_name(name);
  if (rc) return rc;
  if (opts->flags & ~(MMBUS_CREATE | MMBUS_EXCL)) return mmbus_set_err(MMBUS_E_INVAL, "unknown flags 0x%x", opts->flags);
  rc = os_check_dir(dir, 0); /* writability matters only if we create: checked then */
  if (rc) return rc;

  mmbus_channel_t *ch = calloc(1, sizeof *ch);
  if (!ch) return mmbus_set_err(MMBUS_E_NOMEM, "out of memory");
  ch->fd = -1;
  rc = path_of(ch->path, sizeof ch->path, dir, name);
  if (rc) goto fail;

  for (int attempt = 0, created = 0;; attempt++) {
    rc = os_open_existing(ch->path, &ch->fd);
    if (rc == 0) {
      if ((opts->flags & MMBUS_EXCL) && !created) {
        rc = mmbus_set_err(MMBUS_E_EXIST, "channel '%s' already exists", ch->path);
        goto fail;
      }
      break;
    }
    if (rc != MMBUS_E_NOENT || !(opts->flags & MMBUS_CREATE) || attempt > 3) goto fail;
    file_header_t h;
    rc = build_header(&h, opts);
    if (rc == 0) rc = os_check_dir(dir, 1);
    if (rc) goto fail;
    rc = os_create_file_atomic(dir, ch->path, h.file_size, opts->mode ? opts->mode : 0600, init_file, &h);
    if (rc == MMBUS_E_EXIST && !(opts->flags & MMBUS_EXCL)) continue; /* lost a create race: open theirs */
    if (rc) goto fail;
    created = 1;
  }

  uint64_t size;
  rc = os_file_size(ch->fd, &size);
  if (rc) goto fail;
  if (size < sizeof(file_header_t)) {
    rc = mmbus_set_err(MMBUS_E_BADFILE, "'%s' is truncated (%llu bytes)", ch->path, (unsigned long long)size);
    goto fail;
  }
  rc = os_pread_all(ch->fd, &ch->hdr, sizeof ch->hdr, 0);
  if (rc) goto fail;
  rc = validate_header(&ch->hdr, size, ch->path);
  if (rc) goto fail;
  rc = check_options(&ch->hdr, opts, ch->path);
  if (rc) goto fail;
  if (size > SIZE_MAX) {
    rc = mmbus_set_err(MMBUS_E_NOMEM, "'%s' is too large to map", ch->path);
    goto fail;
  }
  void *base;
  rc = os_map(ch->fd, (size_t)size, &base);
  if (rc) goto fail;
  ch->base = base;
  ch->size = (size_t)size;
  ch->head = (uint64_t *)(ch->base + OFF_HEAD_LINE);
  ch->attach_epoch = ch->head + 1;
  ch->data_wake = (wake_line_t *)(ch->base + OFF_DATA_WAKE);
  ch->space_wake = (wake_line_t *)(ch->base + OFF_SPACE_WAKE);
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
  ch->heartbeat_timeout_ns = hb > 0 ? (uint64_t)hb * 1000000u : 0;
  ch->limit = 0;
  ch->verified_ns = calloc(ch->hdr.max_subscribers, sizeof *ch->verified_ns);
  ch->verified_gen = calloc(ch->hdr.max_subscribers, sizeof *ch->verified_gen);
  if (!ch->verified_ns || !ch->verified_gen) {
    rc = mmbus_set_err(MMBUS_E_NOMEM, "out of memory");
    goto fail;
  }
  rc = chan_lock(ch);
  if (rc) goto fail;
  reset_if_new_boot(ch);
  chan_unlock(ch);
  *out = ch;
  return 0;

fail:
  if (ch->base) os_unmap(ch->base, ch->size);
  if (ch->fd >= 0) os_close(ch->fd);
  free(ch->verified_ns);
  free(ch->verified_gen);
  free(ch);
  return rc;
}

int mmbus_close(mmbus_channel_t *ch) {
  if (!ch) return mmbus_set_err(MMBUS_E_INVAL, "channel is NULL");
  if (ch->open_subs > 0)
    return mmbus_set_err(MMBUS_E_STATE, "%d subscriber(s) of '%s' are still open: close them first", ch->open_subs,
                         ch->path);
  if (ch->pub) {
    chan_lock(ch);
    st_relaxed(&ch->pub->pending, MMBUS_NO_CLAIM);
    st_relaxed(&ch->pub->pid, 0);
    st_release(&ch->pub->state, (uint32_t)PUB_FREE);
    chan_unlock(ch);
  }
  os_unmap(ch->base, ch->size);
  os_close(ch->fd);
  free(ch->verified_ns);
  free(ch->verified_gen);
  free(ch);
  return 0;
}

int mmbus_unlink(const char *dir, const char *name) {
  if (!dir || !*dir) return mmbus_set_err(MMBUS_E_DIR, "directory is empty");
  int rc = mmbus_check_name(name);
  if (rc) return rc;
  char path[sizeof(((mmbus_channel_t *)0)->path)];
  rc = path_of(path, sizeof path, dir, name);
  if (rc) return rc;
  return os_unlink(path);
}

int mmbus_flush(mmbus_channel_t *ch) {
  if (!ch) return mmbus_set_err(MMBUS_E_INVAL, "channel is NULL");
  return os_msync(ch->base, ch->size);
}

int mmbus_info(const mmbus_channel_t *ch, mmbus_info_t *i) {
  if (!ch || !i) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  memset(i, 0, sizeof *i);
  const file_header_t *h = &ch->hdr;
  i->format_version = h->version;
  i->record_size = h->record_size;
  i->record_stride = h->record_stride;
  i->capacity = h->capacity;
  i->policy = (mmbus_policy_t)h->policy;
  i->fingerprint = h->fingerprint;
  memcpy(i->schema_name, h->schema_name, sizeof i->schema_name);
  i->schema_name[MMBUS_SCHEMA_NAME_MAX] = 0;
  i->created_ns = h->created_ns;
  i->block_timeout_ms = ch->block_timeout_ms;
  i->heartbeat_timeout_ms = (int64_t)(ch->heartbeat_timeout_ns / 1000000u);
  i->max_subscribers = h->max_subscribers;
  i->max_publishers = h->max_publishers;
  i->file_size = h->file_size;
  i->data_offset = h->data_offset;
  i->stamps_offset = h->stamps_offset;
  return 0;
}

void *mmbus_base(const mmbus_channel_t *ch) { return ch ? ch->base : NULL; }
size_t mmbus_mapped_size(const mmbus_channel_t *ch) { return ch ? ch->size : 0; }

/* ---- subscriber table ------------------------------------------------------------------------ */

static void attach_slot(sub_slot_t *s, int keep_cursor, uint64_t cursor) {
  st_relaxed(&s->pid, os_self_pid());
  st_relaxed(&s->start_time, os_self_start_time());
  st_relaxed(&s->heartbeat_ns, os_mono_ns());
  st_relaxed(&s->attached_ns, os_real_ns());
  st_relaxed(&s->generation, ld_relaxed(&s->generation) + 1);
  if (!keep_cursor) {
    st_relaxed(&s->cursor, cursor);
    st_relaxed(&s->lost, 0);
  }
  st_release(&s->state, (uint32_t)SUB_ACTIVE);
}

static uint64_t start_cursor(mmbus_channel_t *ch, mmbus_start_t start) {
  uint64_t h = ld_acquire(ch->head);
  if (start == MMBUS_START_OLDEST) return h > ch->capacity ? h - ch->capacity : 0;
  return h;
}

int mmbus_subscribe(mmbus_channel_t *ch, const mmbus_sub_options_t *opts, mmbus_sub_t **out) {
  if (!ch || !out) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  *out = NULL;
  mmbus_sub_options_t none = {NULL, MMBUS_START_NEWEST};
  if (!opts) opts = &none;
  int durable = opts->name && *opts->name;
  if (durable) {
    int rc = valid_name_chars(opts->name, MMBUS_SUB_NAME_MAX, "subscriber");
    if (rc) return rc;
  }
  if (opts->start != MMBUS_START_NEWEST && opts->start != MMBUS_START_OLDEST)
    return mmbus_set_err(MMBUS_E_INVAL, "unknown start position %d", (int)opts->start);
  mmbus_sub_t *sub = calloc(1, sizeof *sub);
  if (!sub) return mmbus_set_err(MMBUS_E_NOMEM, "out of memory");
  int rc = chan_lock(ch);
  if (rc) {
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
      if (st == SUB_ACTIVE && sub_owner_alive(s)) {
        int32_t pid = s->pid;
        chan_unlock(ch);
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
      if (ld_acquire(&s->state) == SUB_ACTIVE && !s->durable && !sub_owner_alive(s)) found = (int)i;
    }
  }
  if (found < 0) {
    chan_unlock(ch);
    free(sub);
    return mmbus_set_err(MMBUS_E_NOSLOT, "all %u subscriber slots of '%s' are in use", n, ch->path);
  }
  sub_slot_t *s = &ch->subs[found];
  if (!resume) {
    memset(s->name, 0, sizeof s->name);
    if (durable) strcpy(s->name, opts->name);
    st_relaxed(&s->durable, (uint32_t)durable);
  }
  attach_slot(s, resume, start_cursor(ch, opts->start));
  /* Publishers re-read the subscriber table on their next claim: one that joined behind head
   * (oldest, or a durable one resuming) must hold them back from now on. */
  fetch_add_seq_cst(ch->attach_epoch, 1);
  chan_unlock(ch);
  sub->ch = ch;
  sub->slot = s;
  sub->index = found;
  sub->generation = ld_relaxed(&s->generation);
  sub->durable = durable;
  sub->cursor = ld_relaxed(&s->cursor);
  sub->lost = ld_relaxed(&s->lost);
  sub->last_heartbeat_ns = os_mono_ns();
  ch->open_subs++;
  *out = sub;
  return 0;
}

int mmbus_sub_close(mmbus_sub_t *sub) {
  if (!sub) return mmbus_set_err(MMBUS_E_INVAL, "subscriber is NULL");
  mmbus_channel_t *ch = sub->ch;
  chan_lock(ch);
  sub_slot_t *s = sub->slot;
  /* Only detach if the slot is still ours (a gc of another process may have taken it). */
  if (ld_acquire(&s->state) == SUB_ACTIVE && ld_relaxed(&s->generation) == sub->generation &&
      ld_relaxed(&s->pid) == os_self_pid())
    sub_reclaim_locked(s);
  chan_unlock(ch);
  wake(ch->space_wake); /* a publisher may be waiting on this subscriber */
  ch->open_subs--;
  free(sub);
  return 0;
}

int mmbus_gc(mmbus_channel_t *ch) {
  if (!ch) return mmbus_set_err(MMBUS_E_INVAL, "channel is NULL");
  int rc = chan_lock(ch);
  if (rc) return rc;
  int reclaimed = 0;
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++) {
    sub_slot_t *s = &ch->subs[i];
    if (ld_acquire(&s->state) == SUB_ACTIVE && !sub_owner_alive(s)) {
      sub_reclaim_locked(s);
      reclaimed++;
    }
  }
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    if (ld_acquire(&p->state) == PUB_ACTIVE && !os_process_alive(p->pid, p->start_time)) {
      st_release(&p->state, (uint32_t)PUB_FREE);
      reclaimed++;
    }
  }
  chan_unlock(ch);
  if (reclaimed) wake(ch->space_wake);
  return reclaimed;
}

int mmbus_stats(mmbus_channel_t *ch, mmbus_stats_t *stats, mmbus_sub_stats_t *subs, uint32_t max_subs) {
  if (!ch || !stats || (max_subs && !subs)) return mmbus_set_err(MMBUS_E_INVAL, "NULL argument");
  memset(stats, 0, sizeof *stats);
  uint64_t head = ld_acquire(ch->head);
  uint64_t now = os_mono_ns();
  stats->head = head;
  stats->capacity = ch->capacity;
  for (uint32_t i = 0; i < ch->hdr.max_publishers; i++) {
    pub_slot_t *p = &ch->pubs[i];
    if (ld_acquire(&p->state) == PUB_ACTIVE && os_process_alive(p->pid, p->start_time)) stats->publishers_alive++;
  }
  uint32_t count = 0;
  for (uint32_t i = 0; i < ch->hdr.max_subscribers; i++) {
    sub_slot_t *s = &ch->subs[i];
    uint32_t st = ld_acquire(&s->state);
    if (st == SUB_FREE) continue;
    mmbus_sub_state_t state = st == SUB_OFFLINE ? MMBUS_SUB_OFFLINE : MMBUS_SUB_ACTIVE;
    uint64_t hb = ld_relaxed(&s->heartbeat_ns);
    if (state == MMBUS_SUB_ACTIVE) {
      int silent = ch->heartbeat_timeout_ns && now > hb && now - hb > ch->heartbeat_timeout_ns;
      if (silent || !sub_owner_alive(s)) state = MMBUS_SUB_DEAD;
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
      e->cursor = cursor;
      e->lag = lag;
      e->lost = ld_relaxed(&s->lost);
      e->heartbeat_age_ms = st == SUB_ACTIVE && now >= hb ? (int64_t)((now - hb) / 1000000u) : -1;
    }
    count++;
  }
  return (int)(count < max_subs ? count : max_subs);
}
