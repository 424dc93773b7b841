/* Linux implementation of os.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "os.h"

uint64_t os_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t os_real_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int os_futex_wait(uint32_t *addr, uint32_t expected, int64_t timeout_ns) {
  struct timespec ts, *tsp = NULL;
  if (timeout_ns >= 0) {
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    tsp = &ts;
  }
  /* Not FUTEX_PRIVATE: the word lives in a MAP_SHARED file mapping used by other processes. */
  long r = syscall(SYS_futex, addr, FUTEX_WAIT, expected, tsp, NULL, 0);
  if (r == -1 && errno == ETIMEDOUT) return 1;
  return 0;
}

void os_futex_wake_all(uint32_t *addr) { syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

void os_yield(void) { sched_yield(); }

void os_sleep_ns(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

int32_t os_self_pid(void) { return (int32_t)getpid(); }

/* Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); state in *state. */
static uint64_t proc_start_time(int32_t pid, char *state) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  /* The command name (field 2) may hold spaces and parentheses: parse after the last ')'. */
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return 0;
  p += 2;
  if (state) *state = *p;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  return strtoull(p, NULL, 10);
}

static int32_t cached_pid;
static uint64_t cached_start;

uint64_t os_self_start_time(void) {
  int32_t pid = os_self_pid();
  if (pid != __atomic_load_n(&cached_pid, __ATOMIC_ACQUIRE)) { /* first call, or after fork */
    __atomic_store_n(&cached_start, proc_start_time(pid, NULL), __ATOMIC_RELAXED);
    __atomic_store_n(&cached_pid, pid, __ATOMIC_RELEASE);
  }
  return __atomic_load_n(&cached_start, __ATOMIC_RELAXED);
}

int os_process_alive(int32_t pid, uint64_t start_time) {
  if (pid <= 0) return 0;
  if (kill(pid, 0) == -1 && errno == ESRCH) return 0;
  char state = 0;
  uint64_t st = proc_start_time(pid, &state);
  if (st == 0) return 0;
  if (state == 'Z' || state == 'X') return 0;
  return start_time == 0 || st == start_time;
}

void os_boot_id(uint8_t out[16]) {
  memset(out, 0, 16);
  char buf[64];
  int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  int j = 0;
  for (ssize_t i = 0; i < n && j < 32; i++) {
    char c = buf[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    out[j / 2] = (uint8_t)(out[j / 2] | (j % 2 ? v : v << 4));
    j++;
  }
}

int os_check_dir(const char *dir, int need_write) {
  struct stat st;
  if (stat(dir, &st) == -1) return mmbus_set_errno(MMBUS_E_DIR, errno, "directory '%s'", dir);
  if (!S_ISDIR(st.st_mode)) return mmbus_set_err(MMBUS_E_DIR, "'%s' is not a directory", dir);
  if (need_write && access(dir, W_OK | X_OK) == -1)
    return mmbus_set_errno(MMBUS_E_DIR, errno, "directory '%s' is not writable", dir);
  return 0;
}

int os_open_existing(const char *path, int *fd_out) {
  int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd == -1) {
    int e = errno;
    if (e == ENOENT) return mmbus_set_err(MMBUS_E_NOENT, "channel file '%s' does not exist", path);
    if (e == ELOOP) return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is a symbolic link; channel files are never opened through links", path);
    if (e == EACCES || e == EPERM) return mmbus_set_errno(MMBUS_E_PERM, e, "cannot open '%s' read-write", path);
    return mmbus_set_errno(MMBUS_E_IO, e, "open '%s'", path);
  }
  struct stat st;
  if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
    close(fd);
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is not a regular file", path);
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl != -1) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  *fd_out = fd;
  return 0;
}

static int reserve(int fd, uint64_t size, const char *path) {
  int e = posix_fallocate(fd, 0, (off_t)size);
  if (e == 0) return 0;
  if (e == ENOSPC || e == EFBIG)
    return mmbus_set_errno(MMBUS_E_NOSPACE, e, "reserving %llu bytes for '%s'", (unsigned long long)size, path);
  if (e == EOPNOTSUPP || e == EINVAL) { /* file system without fallocate: at least size it */
    if (ftruncate(fd, (off_t)size) == 0) return 0;
    e = errno;
  }
  return mmbus_set_errno(MMBUS_E_IO, e, "sizing '%s'", path);
}

int os_create_file_atomic(const char *dir, const char *path, uint64_t size, uint32_t mode,
                          int (*init)(int fd, void *ctx), void *ctx) {
  char tmp[sizeof(((mmbus_channel_t *)0)->path) + 64];
  int named = 0;
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
  if (fd == -1) { /* no O_TMPFILE on this file system: a hidden temporary name instead */
    snprintf(tmp, sizeof tmp, "%s.%d.%llx.tmp", path, (int)getpid(), (unsigned long long)os_mono_ns());
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd == -1) return mmbus_set_errno(MMBUS_E_DIR, errno, "creating a file in '%s'", dir);
    named = 1;
  }
  int rc = fchmod(fd, (mode_t)mode) == -1 ? mmbus_set_errno(MMBUS_E_IO, errno, "chmod '%s'", path) : 0;
  if (rc == 0) rc = reserve(fd, size, path);
  if (rc == 0) rc = init(fd, ctx);
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
  close(fd);
  return rc;
}

int os_file_size(int fd, uint64_t *size) {
  struct stat st;
  if (fstat(fd, &st) == -1) return mmbus_set_errno(MMBUS_E_IO, errno, "fstat");
  *size = (uint64_t)st.st_size;
  return 0;
}

int os_pread_all(int fd, void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return mmbus_set_errno(MMBUS_E_IO, errno, "read");
    if (n == 0) return mmbus_set_err(MMBUS_E_BADFILE, "file is truncated");
    done += (size_t)n;
  }
  return 0;
}

int os_pwrite_all(int fd, const void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return mmbus_set_errno(errno == ENOSPC ? MMBUS_E_NOSPACE : MMBUS_E_IO, errno, "write");
    done += (size_t)n;
  }
  return 0;
}

int os_map(int fd, size_t size, void **base) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return mmbus_set_errno(errno == ENOMEM ? MMBUS_E_NOMEM : MMBUS_E_IO, errno, "mmap of %zu bytes", size);
  *base = p;
  return 0;
}

void os_unmap(void *base, size_t size) { munmap(base, size); }

int os_msync(void *base, size_t size) {
  if (msync(base, size, MS_SYNC) == -1) return mmbus_set_errno(MMBUS_E_IO, errno, "msync");
  return 0;
}

void os_close(int fd) { close(fd); }

int os_unlink(const char *path) {
  if (unlink(path) == -1) {
    if (errno == ENOENT) return mmbus_set_err(MMBUS_E_NOENT, "channel file '%s' does not exist", path);
    return mmbus_set_errno(errno == EACCES || errno == EPERM ? MMBUS_E_PERM : MMBUS_E_IO, errno, "unlink '%s'", path);
  }
  return 0;
}

int os_lock(int fd) {
  while (flock(fd, LOCK_EX) == -1) {
    if (errno != EINTR) return mmbus_set_errno(MMBUS_E_IO, errno, "flock");
  }
  return 0;
}

void os_unlock(int fd) { flock(fd, LOCK_UN); }
