/* Linux parts of the platform seam (os.h): futex waits, atomic creation with O_TMPFILE, open file
 * description locks (they work across PID namespaces and die with their owner), and the PID
 * namespace a process lives in. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "os.h"

void os_self_identity(os_identity_t *out) {
  out->pid = (int32_t)getpid();
  struct stat st;
  out->ns = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* ---- the system-wide barrier: membarrier(2) GLOBAL (since Linux 4.3; Docker's default seccomp
 * profile allows it since 20.10). It waits for an RCU grace period (milliseconds), which only giving
 * up a stuck claim pays. */

static int membarrier(int cmd) { return (int)syscall(__NR_membarrier, cmd, 0, 0); }

int os_global_barrier_available(void) {
  static int known = -1; /* a benign race: every thread computes the same answer */
  int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
  if (k < 0) {
    int mask = membarrier(MEMBARRIER_CMD_QUERY);
    k = mask > 0 && (mask & MEMBARRIER_CMD_GLOBAL) != 0;
    __atomic_store_n(&known, k, __ATOMIC_RELAXED);
  }
  return k;
}

int os_global_barrier(void) { return os_global_barrier_available() && membarrier(MEMBARRIER_CMD_GLOBAL) == 0 ? 0 : -1; }

/* ---- waiting: a shared futex on the word itself ------------------------------------------------- */

int os_waker_open(os_waker_t *w, os_file_t f, int which, uint32_t *os_word) {
  (void)f;
  (void)which;
  w->h = 0;
  w->os_word = os_word; /* unused: the futex is the word itself */
  return 0;
}

void os_waker_close(os_waker_t *w) { w->h = 0; }

int os_wait_word(os_waker_t *w, uint32_t *word, uint32_t expected, int64_t timeout_ns) {
  (void)w;
  struct timespec ts, *tsp = NULL;
  if (timeout_ns >= 0) {
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    tsp = &ts;
  }
  /* Not FUTEX_PRIVATE: the word lives in a MAP_SHARED file mapping used by other processes. */
  long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0);
  if (r == -1 && errno == ETIMEDOUT) return 1;
  return 0;
}

void os_wake_word(os_waker_t *w, uint32_t *word) {
  (void)w;
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void os_wait_local(uint32_t *word, uint32_t expected, uint64_t timeout_ns) {
  struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, NULL, 0);
}

void os_wake_local(uint32_t *word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); }

/* ---- creation ----------------------------------------------------------------------------------- */

int os_create_file_atomic(const char *dir, const char *path, uint64_t size, uint32_t mode,
                          int (*init)(os_file_t f, void *ctx), void *ctx, os_file_t *out) {
  char tmp[MMBUS_PATH_MAX + 64];
  int named = 0;
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
  if (fd == -1) { /* no O_TMPFILE on this file system: a hidden temporary name instead */
    snprintf(tmp, sizeof tmp, "%s.%d.%llx.tmp", path, (int)getpid(), (unsigned long long)os_mono_ns());
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd == -1) return mmbus_set_errno(MMBUS_E_DIR, errno, "creating a file in '%s'", dir);
    named = 1;
  }
  os_file_t f = {fd};
  int rc = fchmod(fd, (mode_t)mode) == -1 ? mmbus_set_errno(MMBUS_E_IO, errno, "chmod '%s'", path) : 0;
  if (rc == 0) rc = os_reserve(f, size, path);
  if (rc == 0) rc = init(f, ctx);
  if (rc == 0) {
    int r;
    if (named) {
      r = link(tmp, path);
    } else {
      char proc[64];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
      r = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
    }
    if (r == -1) {
      rc = errno == EEXIST ? mmbus_set_err(MMBUS_E_EXIST, "'%s' already exists", path)
                           : mmbus_set_errno(MMBUS_E_IO, errno, "linking '%s'", path);
    }
  }
  if (named) unlink(tmp);
  if (rc) {
    close(fd);
    return rc;
  }
  out->h = fd; /* the very file that was linked: never re-opened by name */
  return 0;
}

/* ---- open file description locks ---------------------------------------------------------------- */

static int ofd_lock(int fd, int cmd, short type, uint64_t off, struct flock *fl) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = type;
  fl->l_whence = SEEK_SET;
  fl->l_start = (off_t)off;
  fl->l_len = 1;
  fl->l_pid = 0; /* required by F_OFD_* */
  return fcntl(fd, cmd, fl);
}

int os_lock_byte(os_file_t f, uint64_t off, int64_t wait_ms) {
  struct flock fl;
  uint64_t deadline = wait_ms > 0 ? os_mono_ns() + (uint64_t)wait_ms * 1000000u : 0;
  uint64_t pause = 100000; /* 0.1 ms, doubling to 10 ms: contention is rare (attach, detach, gc) */
  for (;;) {
    if (ofd_lock((int)f.h, F_OFD_SETLK, F_WRLCK, off, &fl) == 0) return 0;
    int e = errno;
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EACCES)
      return mmbus_set_errno(MMBUS_E_IO, e,
                             "locking byte %llu of the channel file (the file system must support "
                             "open file description locks)", (unsigned long long)off);
    if (wait_ms <= 0 || os_mono_ns() >= deadline) return mmbus_set_err(MMBUS_E_BUSY, "byte %llu is locked", (unsigned long long)off);
    os_sleep_ns(pause);
    if (pause < 10000000) pause *= 2;
  }
}

void os_unlock_byte(os_file_t f, uint64_t off) {
  struct flock fl;
  ofd_lock((int)f.h, F_OFD_SETLK, F_UNLCK, off, &fl);
}

int os_byte_locked(os_file_t f, uint64_t off) {
  struct flock fl;
  /* F_RDLCK: a read-only handle may ask too; any lock of another open file conflicts with nothing
   * less than a write lock, and every slot lock is a write lock. */
  while (ofd_lock((int)f.h, F_OFD_GETLK, F_RDLCK, off, &fl) == -1) {
    if (errno != EINTR) return mmbus_set_errno(MMBUS_E_IO, errno, "testing lock byte %llu", (unsigned long long)off);
  }
  return fl.l_type != F_UNLCK;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

static void prefault(const void *p, size_t len, int advice) {
  uintptr_t page = 4096, start = (uintptr_t)p & ~(page - 1);
  (void)madvise((void *)start, len + ((uintptr_t)p - start), advice); /* older kernels: EINVAL, no harm */
}

void os_prefault_write(void *p, size_t len) { prefault(p, len, MADV_POPULATE_WRITE); }
void os_prefault_read(const void *p, size_t len) { prefault(p, len, MADV_POPULATE_READ); }
