/* The platform seam: every OS call libmmbus makes goes through these functions, and the OS objects
 * a channel owns (its file, its mapping, its wake-up objects) are opaque values of this header.
 * os_posix.c holds what every POSIX system shares; os_linux.c the Linux-only parts (futex, O_TMPFILE
 * creation, open file description locks, PID namespace identity); os_win32.c is Windows whole.
 * Another POSIX OS adds one small file beside os_linux.c; macOS would take: waits with
 * os_sync_wait_on_address/os_sync_wake_by_address_all (..._SHARED flags; __ulock_wait/__ulock_wake
 * with UL_COMPARE_AND_WAIT_SHARED before macOS 14.4), creation by a hidden temporary name + link,
 * and byte locks without OFD locks (macOS has none): per-process fcntl locks on one descriptor kept
 * per file, each process remembering the bytes it holds itself. The
 * ring and the tables never call the OS directly. All functions returning int give 0 or a negative
 * MMBUS_E_* code with the per-thread detail message set. */
#ifndef MMBUS_OS_H
#define MMBUS_OS_H

#include <stddef.h>
#include <stdint.h>

/* Storage class of per-thread variables (the error detail). */
#if defined(_MSC_VER) && !defined(__clang__)
#define OS_THREAD_LOCAL __declspec(thread)
#else
#define OS_THREAD_LOCAL _Thread_local
#endif

/* The OS's description of one of its error numbers, with the number (errno; Windows: GetLastError()). */
void os_error_text(int err, char *buf, size_t cap);

/* ---- clocks, sleeping, the process-wide mutex ----------------------------------------------- */
/* Monotonic nanoseconds of this process (only ever compared with other readings of this process). */
uint64_t os_mono_ns(void);
/* Wall-clock nanoseconds since the epoch (creation and attach times shown to people). */
uint64_t os_real_ns(void);
void os_yield(void);
void os_sleep_ns(uint64_t ns);
/* A memory barrier in every thread of every process on the machine (Linux: membarrier GLOBAL), so that
 * one side of a Dekker-style handshake can do without a fence of its own (docs/format.md §8.8).
 * available: whether the system has one; barrier: 0 done, -1 not possible (then nothing is certain). */
int os_global_barrier_available(void);
int os_global_barrier(void);
/* One mutex for the threads of this process around table changes (file locks are per open file). */
void os_table_lock(void);
void os_table_unlock(void);

/* ---- process identity (informational: liveness is decided by slot locks, not by pids) --------- */
typedef struct os_identity {
  int32_t pid;   /* in the process's own PID namespace */
  uint64_t ns;   /* an id of that namespace (Linux: inode of /proc/self/ns/pid), 0 when unknown or
                    when the OS has one process id space per host (Windows) */
} os_identity_t;
void os_self_identity(os_identity_t *out);

/* ---- names and the default directory ---------------------------------------------------------- */
/* Refuses (MMBUS_E_NAME) a channel name the OS gives a meaning of its own as a file name (Windows:
 * CON, NUL, COM1... with any extension); the portable rules (characters, length) are checked first. */
int os_check_name(const char *name);
/* The OS's default channel directory when MMBUS_DIR is not set (a per-user private directory,
 * which the caller then creates or checks with os_private_dir). */
int os_default_dir(char *buf, size_t cap);

/* ---- files ------------------------------------------------------------------------------------ */
typedef struct os_file {
  intptr_t h; /* POSIX: file descriptor; -1 when closed */
} os_file_t;
#define OS_FILE_NONE ((os_file_t){-1})

typedef struct os_file_id {
  uint64_t dev, ino; /* what the name refers to: a re-created file has another id */
} os_file_id_t;

/* Checks a directory without following a final symlink: it must be a directory; need_write also
 * demands write+search permission. */
int os_check_dir(const char *dir, int need_write);
/* Makes sure `dir` is a private directory of the calling user, creating it (mode 0700) if missing:
 * refused (MMBUS_E_DIR, saying why) when it is a symlink, not a directory, owned by someone else or
 * open to group or others. */
int os_private_dir(const char *dir);
/* Whether an existing channel file may be used read-write by a caller who asked for `share_mode`
 * (permission bits; 0 = private): a file writable by everyone, or owned by another user, is refused
 * (MMBUS_E_PERM) unless share_mode shares it that way. */
int os_check_sharing(os_file_t f, uint32_t share_mode, const char *path);
/* Opens an existing regular file, never through a symlink; read-only or read-write. */
int os_open_existing(const char *path, int readonly, os_file_t *out);
/* Creates a complete file atomically at path and returns it open read-write: a nameless (or hidden
 * temporary) file of `size` bytes is reserved on disk, `init` writes its header, and only then is it
 * linked at path. The returned handle is the file that was linked (never re-opened by name).
 * Returns MMBUS_E_EXIST if path appeared meanwhile (the caller then opens it). */
int os_create_file_atomic(const char *dir, const char *path, uint64_t size, uint32_t mode,
                          int (*init)(os_file_t f, void *ctx), void *ctx, os_file_t *out);
int os_file_size(os_file_t f, uint64_t *size);
int os_file_id(os_file_t f, os_file_id_t *id);
/* What `path` refers to now (MMBUS_E_NOENT when nothing): compared with os_file_id to notice a
 * channel that was removed or replaced under us. */
int os_path_id(const char *path, os_file_id_t *id);
/* Makes sure every byte of [0, size) has disk space (a sparse or truncated-and-regrown file would
 * SIGBUS a writer on a full disk). */
int os_reserve(os_file_t f, uint64_t size, const char *path);
int os_pread_all(os_file_t f, void *buf, size_t len, uint64_t off);
int os_pwrite_all(os_file_t f, const void *buf, size_t len, uint64_t off);
void os_close(os_file_t *f);
int os_unlink(const char *path);

/* ---- mappings --------------------------------------------------------------------------------- */
/* Maps the whole file shared (read-only or read-write) and guards it: if the file shrinks under the
 * mapping, the vanished pages read as zeros instead of killing the process with SIGBUS, and
 * *broken becomes non-zero (the caller then fails every call with MMBUS_E_CORRUPT). */
int os_map(os_file_t f, size_t size, int readonly, void **base, volatile int **broken);
void os_unmap(void *base, size_t size);
/* Makes [p, p + len) of a mapping present and writable now, in one call, instead of a page fault at
 * each first write (best effort: nothing happens where the OS cannot). */
void os_prefault_write(void *p, size_t len);
/* The same for reading. */
void os_prefault_read(const void *p, size_t len);
/* Writes the mapping's changes to the file on disk and waits for it (msync; Windows: flush view + file). */
int os_msync(os_file_t f, void *base, size_t size);

/* ---- byte-range locks on the channel file (the kernel drops them when their owner dies) ---- */
/* Exclusive lock of one byte at `off` (may be beyond the end of the file). wait_ms < 0: try once.
 * Returns 0, or MMBUS_E_BUSY when another open file holds it (after wait_ms). */
int os_lock_byte(os_file_t f, uint64_t off, int64_t wait_ms);
void os_unlock_byte(os_file_t f, uint64_t off);
/* 1 if another open file description (any process, any PID namespace) holds a lock on the byte,
 * 0 if none, negative on error. Locks of this very handle are not seen: the caller knows those. */
int os_byte_locked(os_file_t f, uint64_t off);

/* ---- waiting and waking on a 32-bit word of the mapping ---------------------------------------- */
/* A waker is what a process needs to sleep on / wake the sleepers of one wake word of one channel
 * (Linux: nothing, the futex is the word itself; Windows, where WaitOnAddress stays inside one
 * process: a named semaphore of the channel file and direction, with a count of its sleepers in
 * `os_word`, a word of the wake line that the OS layer alone uses: docs/format.md §8.10). */
typedef struct os_waker {
  intptr_t h;
  uint32_t *os_word;
} os_waker_t;
/* `which` tells the directions of one channel apart (0 data, 1 space). */
int os_waker_open(os_waker_t *w, os_file_t f, int which, uint32_t *os_word);
void os_waker_close(os_waker_t *w);
/* wait returns 0 when woken or when *word != expected, 1 on time-out; timeout_ns < 0 waits forever. */
int os_wait_word(os_waker_t *w, uint32_t *word, uint32_t expected, int64_t timeout_ns);
void os_wake_word(os_waker_t *w, uint32_t *word);

/* ---- waiting and waking on a word of this process's own memory (threads of one process) ------- */
/* Sleeps while *word == expected, up to timeout_ns; os_wake_local(word) ends it early. */
void os_wait_local(uint32_t *word, uint32_t expected, uint64_t timeout_ns);
void os_wake_local(uint32_t *word);

#endif
