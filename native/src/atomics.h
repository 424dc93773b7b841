/* Atomics and barriers on words inside the shared mapping, and the few compiler hints the ring uses
 * (GCC/Clang builtins; mingw-w64 is GCC). The library's C uses only these macros, so a port to
 * another compiler replaces this one file: MSVC would map them to the Interlocked* and _mm_*
 * intrinsics (volatile loads and stores are acquire/release on x64). */
#ifndef MMBUS_ATOMICS_H
#define MMBUS_ATOMICS_H

#if defined(_MSC_VER) && !defined(__clang__)
#error "libmmbus: atomics.h has no MSVC branch yet (Interlocked* intrinsics); build with GCC, Clang or mingw-w64"
#endif

#define ld_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ld_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ld_seq_cst(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define st_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define st_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define st_seq_cst(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define xchg_seq_cst(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define fetch_add_seq_cst(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
/* Strong CAS; on failure *expected receives the current value. */
#define cas_acq_rel(p, expected, desired) \
  __atomic_compare_exchange_n((p), (expected), (desired), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define cas_seq_cst(p, expected, desired) \
  __atomic_compare_exchange_n((p), (expected), (desired), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
#define fence_seq_cst() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)
#define compiler_fence() __atomic_signal_fence(__ATOMIC_SEQ_CST) /* orders this thread's code, emits nothing */

/* Branch hints, code kept out of line, prefetch (for writing, for reading), count of trailing zero
 * bits, printf-style checking. */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define prefetch_write(p) __builtin_prefetch((p), 1, 3) /* prefetch_exclusive below when the CPU can */
#define prefetch_read(p) __builtin_prefetch((p), 0, 3)
#define ctz64(v) __builtin_ctzll(v)
#if defined(__MINGW32__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(gnu_printf, fmt, args))) /* __USE_MINGW_ANSI_STDIO */
#else
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

/* Prefetch for writing with the line taken exclusive, so that a locked CAS or a store on it later does
 * not wait for a second (ownership) transaction: x86's PREFETCHW. GCC emits it for prefetch_write only
 * when built for a CPU that has it (-mprfchw), and a few pre-2008 Intel cores fault on it, so here it
 * is chosen at run time: `have` = cpu_has_prefetchw(), asked once per channel handle. */
#if defined(__x86_64__) && !defined(__PRFCHW__)
#include <cpuid.h>
static inline int cpu_has_prefetchw(void) {
  unsigned a, b, c, d;
  return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & bit_PRFCHW) != 0;
}
#define prefetch_exclusive(have, p)                                      \
  do {                                                                   \
    if (likely(have)) __asm__("prefetchw %0" : : "m"(*(const char *)(p))); \
    else prefetch_write(p);                                              \
  } while (0)
#else
static inline int cpu_has_prefetchw(void) { return 0; }
#define prefetch_exclusive(have, p) ((void)(have), prefetch_write(p))
#endif

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#endif
