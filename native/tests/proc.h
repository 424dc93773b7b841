/* The tests' process harness, one for Linux and Windows: child processes are this same test program
 * run again with a role (`t_x --role NAME ARG...`), never fork(); they talk to their parent through
 * a small shared file in the test directory (counters and results), and die with their parent
 * (Linux: PR_SET_PDEATHSIG; Windows: a job object that kills its processes when the parent goes).
 * kill_child is kill -9 (Windows: TerminateProcess, exit code 128 + 9 as on Linux), stop_child and
 * cont_child are SIGSTOP and SIGCONT (Windows: NtSuspendProcess / NtResumeProcess).
 *
 * A test with children starts main() with TEST_ROLES(argc, argv, { "name", fn }, ...): run as a
 * child, the program runs the role `fn(argc, argv)` (argv[0] is the first argument after the
 * role's name) and exits with what it returns. */
#ifndef MMBUS_TEST_PROC_H
#define MMBUS_TEST_PROC_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

#define TEST_KILLED (128 + 9) /* what wait_child returns for a child killed by kill_child */

#ifdef _WIN32
typedef struct child {
  HANDLE h;
  DWORD pid;
} child_t;
#else
typedef struct child {
  pid_t pid;
} child_t;
#endif

typedef int (*role_fn)(int argc, char **argv);
typedef struct role {
  const char *name;
  role_fn fn;
} role_t;

static inline int run_role(int argc, char **argv, const role_t *roles, size_t n) {
  if (argc < 3 || strcmp(argv[1], "--role") != 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (strcmp(roles[i].name, argv[2]) == 0) {
      fflush(NULL);
      int rc = roles[i].fn(argc - 3, argv + 3);
      fflush(NULL);
      exit(rc);
    }
  fprintf(stderr, "%s: unknown role '%s'\n", argv[0], argv[2]);
  exit(2);
}

#define TEST_ROLES(argc, argv, ...)                                             \
  do {                                                                          \
    static const role_t roles_[] = {__VA_ARGS__};                               \
    run_role((argc), (argv), roles_, sizeof roles_ / sizeof roles_[0]);         \
  } while (0)

/* ---- time ------------------------------------------------------------------------------------ */

static inline uint64_t now_ns(void) {
#ifdef _WIN32
  static LARGE_INTEGER f;
  if (!f.QuadPart) QueryPerformanceFrequency(&f);
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  return (uint64_t)c.QuadPart / (uint64_t)f.QuadPart * 1000000000u +
         (uint64_t)c.QuadPart % (uint64_t)f.QuadPart * 1000000000u / (uint64_t)f.QuadPart;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

static inline void sleep_us(unsigned us) {
#ifdef _WIN32
  Sleep((us + 999) / 1000);
#else
  usleep(us);
#endif
}

/* A small portable random generator (rand_r is POSIX only). */
static inline unsigned rand_next(unsigned *seed) {
  *seed = *seed * 1103515245u + 12345u;
  return (*seed >> 16) & 0x7fff;
}

#ifdef _WIN32
static HANDLE test_job;
static DWORD WINAPI deadline_thread(LPVOID arg) {
  Sleep((DWORD)(uintptr_t)arg * 1000u);
  fprintf(stderr, "test deadline of %u s reached: failing\n", (unsigned)(uintptr_t)arg);
  fflush(stderr);
  TerminateProcess(GetCurrentProcess(), 1); /* the job takes the children with it */
  return 0;
}
#endif

/* Bounds the whole test: a hang becomes a failure, and children die with us. */
static inline void test_deadline(unsigned seconds) {
#ifdef _WIN32
  HANDLE t = CreateThread(NULL, 0, deadline_thread, (LPVOID)(uintptr_t)seconds, 0, NULL);
  if (t) CloseHandle(t);
#else
  alarm(seconds);
#endif
}

/* ---- children -------------------------------------------------------------------------------- */

static inline const char *self_path(void) {
  static char path[4096];
  if (!path[0]) {
#ifdef _WIN32
    GetModuleFileNameA(NULL, path, sizeof path);
#else
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
      perror("readlink /proc/self/exe");
      exit(1);
    }
    path[n] = 0;
#endif
  }
  return path;
}

/* Starts this program as `role` with the given arguments (NULL-terminated list of strings). */
static inline child_t spawn_role(const char *role, ...) {
  const char *args[32];
  int n = 0;
  args[n++] = self_path();
  args[n++] = "--role";
  args[n++] = role;
  va_list ap;
  va_start(ap, role);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && n < 31) args[n++] = a;
  va_end(ap);
  args[n] = NULL;
  fflush(NULL);
  child_t c;
#ifdef _WIN32
  char cmd[8192];
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    int k = snprintf(cmd + len, sizeof cmd - len, "%s\"%s\"", i ? " " : "", args[i]);
    if (k < 0 || (size_t)k >= sizeof cmd - len) {
      fprintf(stderr, "spawn_role: command line too long\n");
      exit(1);
    }
    len += (size_t)k;
  }
  if (!test_job) { /* the children die with the parent: the job goes with its last handle */
    test_job = CreateJobObjectA(NULL, NULL);
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    memset(&li, 0, sizeof li);
    li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!test_job || !SetInformationJobObject(test_job, JobObjectExtendedLimitInformation, &li, sizeof li)) {
      fprintf(stderr, "spawn_role: job object: error %lu\n", GetLastError());
      exit(1);
    }
  }
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) {
    fprintf(stderr, "spawn_role %s: CreateProcess: error %lu\n", role, GetLastError());
    exit(1);
  }
  AssignProcessToJobObject(test_job, pi.hProcess); /* before it runs a single instruction of its own */
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  c.h = pi.hProcess;
  c.pid = pi.dwProcessId;
#else
  pid_t parent = getpid();
  c.pid = fork();
  if (c.pid < 0) {
    perror("fork");
    exit(1);
  }
  if (c.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    execv(args[0], (char *const *)args);
    perror("execv");
    _exit(127);
  }
#endif
  return c;
}

/* Waits for a child; returns its exit code (TEST_KILLED after kill_child). */
static inline int wait_child(child_t c) {
#ifdef _WIN32
  DWORD code = 1;
  WaitForSingleObject(c.h, INFINITE);
  GetExitCodeProcess(c.h, &code);
  CloseHandle(c.h);
  return (int)code;
#else
  int st;
  while (waitpid(c.pid, &st, 0) == -1)
    if (errno != EINTR) return -1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
#endif
}

/* 1 if the child has ended (its code in *code, the child reaped), 0 if it still runs. */
static inline int child_ended(child_t *c, int *code) {
#ifdef _WIN32
  if (WaitForSingleObject(c->h, 0) != WAIT_OBJECT_0) return 0;
  *code = wait_child(*c);
  return 1;
#else
  int st;
  pid_t r = waitpid(c->pid, &st, WNOHANG);
  if (r != c->pid) return 0;
  *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return 1;
#endif
}

static inline void kill_child(child_t c) {
#ifdef _WIN32
  TerminateProcess(c.h, TEST_KILLED);
#else
  kill(c.pid, SIGKILL);
#endif
}

/* Dies at once, as if killed -9 (between two instructions of its own). */
static inline void die_now(void) {
  fflush(NULL);
#ifdef _WIN32
  TerminateProcess(GetCurrentProcess(), TEST_KILLED);
#else
  raise(SIGKILL);
#endif
  _exit(2);
}

#ifdef _WIN32
typedef LONG(NTAPI *nt_process_fn)(HANDLE);
static inline int nt_process_call(const char *name, HANDLE h) {
  nt_process_fn f = (nt_process_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("ntdll.dll"), name);
  return f && f(h) == 0 ? 0 : -1;
}
#endif

/* SIGSTOP / SIGCONT: 0, or -1 where the system cannot. */
static inline int stop_child(child_t c) {
#ifdef _WIN32
  return nt_process_call("NtSuspendProcess", c.h);
#else
  return kill(c.pid, SIGSTOP);
#endif
}

static inline int cont_child(child_t c) {
#ifdef _WIN32
  return nt_process_call("NtResumeProcess", c.h);
#else
  return kill(c.pid, SIGCONT);
#endif
}

static inline int child_pid(child_t c) { return (int)c.pid; }

/* ---- memory shared with the children: a file of the test directory, mapped by each ---------------- */

static inline void *shared_map(const char *dir, const char *name, size_t size, int create) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
#ifdef _WIN32
  HANDLE f = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                         create ? CREATE_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  if (f == INVALID_HANDLE_VALUE) {
    fprintf(stderr, "shared_map %s: error %lu\n", path, GetLastError());
    exit(1);
  }
  HANDLE m = CreateFileMappingA(f, NULL, PAGE_READWRITE, (DWORD)((uint64_t)size >> 32), (DWORD)size, NULL);
  void *p = m ? MapViewOfFile(m, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size) : NULL;
  if (m) CloseHandle(m);
  CloseHandle(f);
  if (!p) {
    fprintf(stderr, "shared_map %s: error %lu\n", path, GetLastError());
    exit(1);
  }
  if (create) memset(p, 0, size);
  return p;
#else
  int fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600);
  if (fd < 0 || (create && ftruncate(fd, (off_t)size) != 0)) {
    perror(path);
    exit(1);
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return p;
#endif
}

/* Counters in shared memory, and waiting for one to reach a value (polling, with sleeps). */
static inline int32_t shared_get(const int32_t *w) { return __atomic_load_n(w, __ATOMIC_ACQUIRE); }
static inline void shared_set(int32_t *w, int32_t v) { __atomic_store_n(w, v, __ATOMIC_RELEASE); }
static inline int32_t shared_add(int32_t *w, int32_t v) { return __atomic_add_fetch(w, v, __ATOMIC_ACQ_REL); }

/* 0 once *w >= v, -1 after timeout_ms (a child that died never counts). */
static inline int shared_wait(const int32_t *w, int32_t v, unsigned timeout_ms) {
  uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (shared_get(w) < v) {
    if (now_ns() > deadline) return -1;
    sleep_us(500);
  }
  return 0;
}

#endif
