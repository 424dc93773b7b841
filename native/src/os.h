/* The platform layer: every OS call the ring makes goes through these functions. A Windows or macOS
 * port adds an os_<platform>.c implementing them; nothing else changes. */
#ifndef MMBUS_OS_H
#define MMBUS_OS_H

#include <stddef.h>
#include <stdint.h>

/* Clocks, nanoseconds. Monotonic time is shared by every process of one boot. */
uint64_t os_mono_ns(void);
uint64_t os_real_ns(void);

/* Futex on a 32-bit word of a shared (file) mapping. wait returns 0 when woken or when *addr != expected,
 * 1 on time-out. timeout_ns < 0 waits forever. */
int os_futex_wait(uint32_t *addr, uint32_t expected, int64_t timeout_ns);
void os_futex_wake_all(uint32_t *addr);
void os_yield(void);
void os_sleep_ns(uint64_t ns);

/* Processes. A process is identified by pid + start time (so a reused pid is not taken for alive). */
int32_t os_self_pid(void);
uint64_t os_self_start_time(void);
/* 1 if a process with this pid and start time runs (not a zombie), 0 if not. */
int os_process_alive(int32_t pid, uint64_t start_time);
/* 16 bytes identifying the current boot (pids and monotonic clocks are only valid within one). */
void os_boot_id(uint8_t out[16]);

/* Files. All return 0 or a negative MMBUS_E_* code with the detail message set. */
int os_check_dir(const char *dir, int need_write);
/* Opens an existing file read-write, never following a symlink. */
int os_open_existing(const char *path, int *fd_out);
/* Creates a complete file atomically at path: a nameless (or hidden temporary) file of `size` bytes is
 * reserved on disk, `init` writes its header through the fd, and only then is it linked at path.
 * Returns MMBUS_E_EXIST if path appeared meanwhile (the caller then opens it). */
int os_create_file_atomic(const char *dir, const char *path, uint64_t size, uint32_t mode,
                          int (*init)(int fd, void *ctx), void *ctx);
int os_file_size(int fd, uint64_t *size);
int os_pread_all(int fd, void *buf, size_t len, uint64_t off);
int os_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int os_map(int fd, size_t size, void **base);
void os_unmap(void *base, size_t size);
int os_msync(void *base, size_t size);
void os_close(int fd);
int os_unlink(const char *path);
/* Exclusive advisory lock on the open file (released by the kernel if the process dies). */
int os_lock(int fd);
void os_unlock(int fd);

#endif
