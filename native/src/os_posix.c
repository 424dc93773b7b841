/* The parts of the platform seam (os.h) that every POSIX system shares: clocks, files, mappings and
 * their SIGBUS guard. Linux-only calls live in os_linux.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

void os_yield(void) { sched_yield(); }

void os_sleep_ns(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

void os_error_text(int err, char *buf, size_t cap) { snprintf(buf, cap, "%s (errno %d)", strerror(err), err); }

int os_check_name(const char *name) {
  (void)name; /* every portable name is a plain file name here */
  return 0;
}

int os_default_dir(char *buf, size_t cap) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  int n;
  if (xdg && xdg[0] == '/') {
    n = snprintf(buf, cap, "%s/mmbus", xdg);
  } else {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/') tmp = "/tmp";
    n = snprintf(buf, cap, "%s/mmbus-%llu", tmp, (unsigned long long)geteuid());
  }
  if (n < 0 || (size_t)n >= cap) return mmbus_set_err(MMBUS_E_DIR, "the default channel directory's path is too long");
  return 0;
}

static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER;
void os_table_lock(void) { pthread_mutex_lock(&table_mutex); }
void os_table_unlock(void) { pthread_mutex_unlock(&table_mutex); }

/* ---- files ------------------------------------------------------------------------------------ */

int os_check_dir(const char *dir, int need_write) {
  struct stat st;
  if (lstat(dir, &st) == -1) return mmbus_set_errno(MMBUS_E_DIR, errno, "directory '%s'", dir);
  if (S_ISLNK(st.st_mode))
    return mmbus_set_err(MMBUS_E_DIR, "'%s' is a symbolic link; channel directories are never used through links "
                                      "(pass the directory it points to)", dir);
  if (!S_ISDIR(st.st_mode)) return mmbus_set_err(MMBUS_E_DIR, "'%s' is not a directory", dir);
  if (need_write && access(dir, W_OK | X_OK) == -1)
    return mmbus_set_errno(MMBUS_E_DIR, errno, "directory '%s' is not writable", dir);
  return 0;
}

int os_private_dir(const char *dir) {
  struct stat st;
  if (lstat(dir, &st) == -1) {
    if (errno != ENOENT) return mmbus_set_errno(MMBUS_E_DIR, errno, "directory '%s'", dir);
    if (mkdir(dir, 0700) == -1 && errno != EEXIST) return mmbus_set_errno(MMBUS_E_DIR, errno, "creating '%s'", dir);
    if (lstat(dir, &st) == -1) return mmbus_set_errno(MMBUS_E_DIR, errno, "directory '%s'", dir);
  }
  if (S_ISLNK(st.st_mode))
    return mmbus_set_err(MMBUS_E_DIR, "'%s' is a symbolic link: refusing it as the default channel directory "
                                      "(another user may have planted it); remove it or set MMBUS_DIR", dir);
  if (!S_ISDIR(st.st_mode)) return mmbus_set_err(MMBUS_E_DIR, "'%s' is not a directory", dir);
  if (st.st_uid != geteuid())
    return mmbus_set_err(MMBUS_E_DIR, "'%s' belongs to uid %u, not to you (uid %u): refusing a directory another "
                                      "user may control; remove it or set MMBUS_DIR", dir, (unsigned)st.st_uid,
                         (unsigned)geteuid());
  if (st.st_mode & 077)
    return mmbus_set_err(MMBUS_E_DIR, "'%s' is open to group or others (mode %04o): the default channel directory "
                                      "must be private; chmod 700 it, or share through MMBUS_DIR and `mode`", dir,
                         (unsigned)(st.st_mode & 07777));
  return 0;
}

int os_check_sharing(os_file_t f, uint32_t share_mode, const char *path) {
  struct stat st;
  if (fstat((int)f.h, &st) == -1) return mmbus_set_errno(MMBUS_E_IO, errno, "fstat '%s'", path);
  if ((st.st_mode & S_IWOTH) && !(share_mode & S_IWOTH))
    return mmbus_set_err(MMBUS_E_PERM, "'%s' is writable by every user (mode %04o): anyone could forge or read its "
                                       "records; refusing it unless the caller shares the same way (mode 0666)", path,
                         (unsigned)(st.st_mode & 07777));
  if (st.st_uid != geteuid() && !(share_mode & (S_IWGRP | S_IWOTH)))
    return mmbus_set_err(MMBUS_E_PERM, "'%s' belongs to uid %u, not to you (uid %u): channels of other users are "
                                       "only used when sharing is asked for (mode 0660 for a group)", path,
                         (unsigned)st.st_uid, (unsigned)geteuid());
  return 0;
}

int os_open_existing(const char *path, int readonly, os_file_t *out) {
  int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd == -1) {
    int e = errno;
    if (e == ENOENT) return mmbus_set_err(MMBUS_E_NOENT, "channel file '%s' does not exist", path);
    if (e == ELOOP) return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is a symbolic link; channel files are never opened through links", path);
    if (e == EACCES || e == EPERM)
      return mmbus_set_errno(MMBUS_E_PERM, e, "cannot open '%s' %s", path, readonly ? "for reading" : "read-write");
    return mmbus_set_errno(MMBUS_E_IO, e, "open '%s'", path);
  }
  struct stat st;
  if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
    close(fd);
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is not a regular file", path);
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl != -1) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK); /* O_NONBLOCK only kept a FIFO from blocking open */
  out->h = fd;
  return 0;
}

int os_file_size(os_file_t f, uint64_t *size) {
  struct stat st;
  if (fstat((int)f.h, &st) == -1) return mmbus_set_errno(MMBUS_E_IO, errno, "fstat");
  *size = (uint64_t)st.st_size;
  return 0;
}

int os_file_id(os_file_t f, os_file_id_t *id) {
  struct stat st;
  if (fstat((int)f.h, &st) == -1) return mmbus_set_errno(MMBUS_E_IO, errno, "fstat");
  id->dev = (uint64_t)st.st_dev;
  id->ino = (uint64_t)st.st_ino;
  return 0;
}

int os_path_id(const char *path, os_file_id_t *id) {
  struct stat st;
  if (lstat(path, &st) == -1) {
    if (errno == ENOENT) return mmbus_set_err(MMBUS_E_NOENT, "'%s' does not exist", path);
    return mmbus_set_errno(MMBUS_E_IO, errno, "lstat '%s'", path);
  }
  id->dev = (uint64_t)st.st_dev;
  id->ino = (uint64_t)st.st_ino;
  return 0;
}

int os_reserve(os_file_t f, uint64_t size, const char *path) {
  int e = posix_fallocate((int)f.h, 0, (off_t)size);
  if (e == 0) return 0;
  if (e == ENOSPC || e == EFBIG)
    return mmbus_set_errno(MMBUS_E_NOSPACE, e, "reserving %llu bytes for '%s'", (unsigned long long)size, path);
  if (e == EOPNOTSUPP || e == EINVAL) { /* a file system without fallocate: at least size it */
    struct stat st;
    if (fstat((int)f.h, &st) == 0 && (uint64_t)st.st_size >= size) return 0;
    if (ftruncate((int)f.h, (off_t)size) == 0) return 0;
    e = errno;
  }
  return mmbus_set_errno(MMBUS_E_IO, e, "sizing '%s'", path);
}

int os_pread_all(os_file_t f, void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread((int)f.h, (char *)buf + done, len - done, (off_t)(off + done));
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return mmbus_set_errno(MMBUS_E_IO, errno, "read");
    if (n == 0) return mmbus_set_err(MMBUS_E_BADFILE, "file is truncated");
    done += (size_t)n;
  }
  return 0;
}

int os_pwrite_all(os_file_t f, const void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite((int)f.h, (const char *)buf + done, len - done, (off_t)(off + done));
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return mmbus_set_errno(errno == ENOSPC ? MMBUS_E_NOSPACE : MMBUS_E_IO, errno, "write");
    done += (size_t)n;
  }
  return 0;
}

void os_close(os_file_t *f) {
  if (f->h >= 0) close((int)f->h);
  f->h = -1;
}

int os_unlink(const char *path) {
  if (unlink(path) == -1) {
    if (errno == ENOENT) return mmbus_set_err(MMBUS_E_NOENT, "channel file '%s' does not exist", path);
    return mmbus_set_errno(errno == EACCES || errno == EPERM ? MMBUS_E_PERM : MMBUS_E_IO, errno, "unlink '%s'", path);
  }
  return 0;
}

/* ---- mappings and their SIGBUS guard ------------------------------------------------------------
 * Anyone who can write a channel file can truncate it; every process mapping it would then die of
 * SIGBUS at its next access to a vanished page. The guard turns that into an error: the handler
 * maps anonymous zero pages over the vanished range, flags the channel broken, and the faulting
 * access is retried on them. Faults outside our mappings go to the previous handler. */

#define GUARD_SLOTS 1024

typedef struct guard {
  uintptr_t base; /* 0 = free slot */
  size_t size;
  int prot;
  volatile int broken;
} guard_t;

static guard_t guards[GUARD_SLOTS];
static pthread_mutex_t guard_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous_bus;
static int guard_installed;
static uintptr_t page_mask; /* read in the handler: sysconf is not async-signal-safe */

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
  uintptr_t a = (uintptr_t)si->si_addr;
  for (int i = 0; i < GUARD_SLOTS; i++) {
    uintptr_t b = __atomic_load_n(&guards[i].base, __ATOMIC_ACQUIRE);
    if (!b || a < b || a >= b + guards[i].size) continue;
    uintptr_t page = a & ~page_mask;
    mmap((void *)page, b + guards[i].size - page, guards[i].prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    guards[i].broken = 1;
    return; /* the access is retried on the zero pages */
  }
  if ((previous_bus.sa_flags & SA_SIGINFO) && previous_bus.sa_sigaction) {
    previous_bus.sa_sigaction(sig, si, uc);
  } else if (previous_bus.sa_handler != SIG_DFL && previous_bus.sa_handler != SIG_IGN) {
    previous_bus.sa_handler(sig);
  } else {
    signal(SIGBUS, SIG_DFL); /* not ours: the fault repeats and takes the default action */
  }
}

static volatile int *guard_add(void *base, size_t size, int prot) {
  static volatile int unguarded; /* when every slot is taken: no guard, never flagged */
  volatile int *flag = &unguarded;
  pthread_mutex_lock(&guard_mutex);
  if (!guard_installed) {
    page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous_bus) == 0) guard_installed = 1;
  }
  for (int i = 0; i < GUARD_SLOTS; i++) {
    if (guards[i].base) continue;
    guards[i].size = size;
    guards[i].prot = prot;
    guards[i].broken = 0;
    __atomic_store_n(&guards[i].base, (uintptr_t)base, __ATOMIC_RELEASE);
    flag = &guards[i].broken;
    break;
  }
  pthread_mutex_unlock(&guard_mutex);
  return flag;
}

static void guard_remove(void *base) {
  pthread_mutex_lock(&guard_mutex);
  for (int i = 0; i < GUARD_SLOTS; i++)
    if (guards[i].base == (uintptr_t)base) __atomic_store_n(&guards[i].base, (uintptr_t)0, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&guard_mutex);
}

int os_map(os_file_t f, size_t size, int readonly, void **base, volatile int **broken) {
  int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
  void *p = mmap(NULL, size, prot, MAP_SHARED, (int)f.h, 0);
  if (p == MAP_FAILED)
    return mmbus_set_errno(errno == ENOMEM ? MMBUS_E_NOMEM : MMBUS_E_IO, errno, "mmap of %zu bytes", size);
  *base = p;
  *broken = guard_add(p, size, prot);
  return 0;
}

void os_unmap(void *base, size_t size) {
  guard_remove(base);
  munmap(base, size);
}

int os_msync(os_file_t f, void *base, size_t size) {
  (void)f;
  if (msync(base, size, MS_SYNC) == -1) return mmbus_set_errno(MMBUS_E_IO, errno, "msync");
  return 0;
}
