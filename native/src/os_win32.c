/* Windows: the whole platform seam (os.h) on Win32 (Windows 8 and later; mingw-w64 or MSVC).
 *
 * Files are opened with FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, so a channel can be
 * removed while processes have it mapped (as on Linux), and never through a reparse point (symbolic
 * link, junction). Creation writes a complete file under a temporary name, marked delete-on-close
 * until it is renamed (without replacing) to the channel's name through the same handle. Locks are
 * LockFileEx byte ranges at the offsets of format.md §7 (allowed beyond the end of the file, dropped
 * by the system when the process dies). Waking crosses processes with one named semaphore per
 * channel file and direction (WaitOnAddress wakes only threads of its own process). */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0602
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <winioctl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "internal.h"
#include "os.h"

#define WPATH_MAX (MMBUS_PATH_MAX + 16)

/* ---- errors -------------------------------------------------------------------------------------- */

void os_error_text(int err, char *buf, size_t cap) {
  char text[200];
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, (DWORD)err,
                           MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), text, sizeof text, NULL);
  if (n == 0) n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, (DWORD)err, 0,
                                 text, sizeof text, NULL);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ' || text[n - 1] == '.')) n--;
  text[n] = 0;
  snprintf(buf, cap, "%s (Windows error %d)", n ? text : "unknown error", err);
}

/* The code a failed file call of the system maps to, given what the caller was doing. */
static int code_of(DWORD e, int otherwise) {
  switch (e) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
    return MMBUS_E_NOENT;
  case ERROR_ACCESS_DENIED:
  case ERROR_WRITE_PROTECT:
    return MMBUS_E_PERM;
  case ERROR_DISK_FULL:
  case ERROR_HANDLE_DISK_FULL:
    return MMBUS_E_NOSPACE;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
    return MMBUS_E_NOMEM;
  default:
    return otherwise;
  }
}

/* ---- paths: UTF-8 in, UTF-16 to the system, long paths through \\?\ ------------------------------ */

static int widen(const char *path, wchar_t *out, size_t cap) {
  wchar_t tmp[WPATH_MAX];
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, tmp, WPATH_MAX);
  if (n <= 0) return mmbus_set_err(MMBUS_E_NAME, "'%s' is not valid UTF-8 or is too long", path);
  for (wchar_t *c = tmp; *c; c++)
    if (*c == L'/') *c = L'\\';
  if (wcsncmp(tmp, L"\\\\?\\", 4) == 0 || wcslen(tmp) < MAX_PATH - 12) {
    if ((size_t)n > cap) return mmbus_set_err(MMBUS_E_NAME, "path '%s' is too long", path);
    memcpy(out, tmp, (size_t)n * sizeof(wchar_t));
    return 0;
  }
  /* past MAX_PATH: an absolute \\?\ path (which the system takes literally: no '/', '.' or '..') */
  wchar_t full[WPATH_MAX];
  DWORD len = GetFullPathNameW(tmp, WPATH_MAX, full, NULL);
  if (len == 0 || len >= WPATH_MAX) return mmbus_set_err(MMBUS_E_NAME, "path '%s' is too long", path);
  const wchar_t *prefix = L"\\\\?\\";
  const wchar_t *rest = full;
  if (full[0] == L'\\' && full[1] == L'\\') { /* \\server\share\... */
    prefix = L"\\\\?\\UNC\\";
    rest = full + 2;
  }
  if (wcslen(prefix) + wcslen(rest) + 1 > cap) return mmbus_set_err(MMBUS_E_NAME, "path '%s' is too long", path);
  wcscpy(out, prefix);
  wcscat(out, rest);
  return 0;
}

/* STATUS_DELETE_PENDING: a name removed while open elsewhere, that goes when the last handle does. */
static int delete_pending(void) {
  typedef LONG(WINAPI * last_status_fn)(void);
  static last_status_fn last_status;
  if (!last_status) last_status = (last_status_fn)(void (*)(void))GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "RtlGetLastNtStatus");
  return last_status && (unsigned long)last_status() == 0xC0000056ul;
}

/* ---- clocks, sleeping, the process-wide mutex ------------------------------------------------- */

uint64_t os_mono_ns(void) {
  static LARGE_INTEGER freq;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq); /* the same value in every thread */
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  uint64_t f = (uint64_t)freq.QuadPart, t = (uint64_t)c.QuadPart;
  return t / f * 1000000000u + t % f * 1000000000u / f;
}

uint64_t os_real_ns(void) {
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime; /* 100 ns since 1601 */
  return (t - UINT64_C(116444736000000000)) * 100u;
}

void os_yield(void) { SwitchToThread(); }

void os_sleep_ns(uint64_t ns) {
  if (ns >= 1000000u) {
    Sleep((DWORD)((ns + 999999u) / 1000000u));
    return;
  }
  /* below a millisecond: a high-resolution waitable timer where the system has one */
  HANDLE t = CreateWaitableTimerExW(NULL, NULL, 0x00000002 /* CREATE_WAITABLE_TIMER_HIGH_RESOLUTION */,
                                    TIMER_MODIFY_STATE | SYNCHRONIZE);
  if (t) {
    LARGE_INTEGER due;
    due.QuadPart = -(LONGLONG)((ns + 99u) / 100u); /* relative, in 100 ns */
    if (SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE)) WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
  } else {
    Sleep(1);
  }
}

static SRWLOCK table_mutex = SRWLOCK_INIT;
void os_table_lock(void) { AcquireSRWLockExclusive(&table_mutex); }
void os_table_unlock(void) { ReleaseSRWLockExclusive(&table_mutex); }

/* ---- identity --------------------------------------------------------------------------------- */

/* No system-wide barrier: FlushProcessWriteBuffers reaches this process's threads only, so channels
 * created here decide commits by a CAS (docs/format.md §8.8). */
int os_global_barrier_available(void) { return 0; }
int os_global_barrier(void) { return -1; }

void os_self_identity(os_identity_t *out) {
  out->pid = (int32_t)GetCurrentProcessId();
  out->ns = 0; /* one process id space per host */
}

/* ---- names and the default directory ---------------------------------------------------------- */

int os_check_name(const char *name) {
  static const char *const devices[] = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"};
  size_t base = strcspn(name, "."); /* "NUL.x.db" is the device NUL too */
  char up[16];
  if (base < sizeof up) {
    for (size_t i = 0; i < base; i++) up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    up[base] = 0;
    int reserved = (base == 4 && (memcmp(up, "COM", 3) == 0 || memcmp(up, "LPT", 3) == 0) && up[3] >= '0' && up[3] <= '9');
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) reserved |= strcmp(up, devices[i]) == 0;
    if (reserved)
      return mmbus_set_err(MMBUS_E_NAME, "channel name '%s' names the Windows device %s: its file would not be a file",
                           name, up);
  }
  return 0; /* a trailing '.' is harmless: the file's name ends with ".db" */
}

static int utf8_of(const wchar_t *w, char *buf, size_t cap) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, (int)cap, NULL, NULL);
  return n > 0 ? 0 : -1;
}

int os_default_dir(char *buf, size_t cap) {
  wchar_t base[WPATH_MAX];
  DWORD n = GetEnvironmentVariableW(L"LOCALAPPDATA", base, WPATH_MAX); /* private to the user */
  if (n == 0 || n >= WPATH_MAX) n = GetTempPathW(WPATH_MAX, base);
  if (n == 0 || n >= WPATH_MAX) return mmbus_set_err(MMBUS_E_DIR, "neither LOCALAPPDATA nor a temporary directory is set");
  char dir[MMBUS_PATH_MAX + 1];
  if (utf8_of(base, dir, sizeof dir)) return mmbus_set_err(MMBUS_E_DIR, "the default channel directory's path is too long");
  size_t len = strlen(dir);
  while (len && (dir[len - 1] == '\\' || dir[len - 1] == '/')) dir[--len] = 0;
  int k = snprintf(buf, cap, "%s\\mmbus", dir);
  if (k < 0 || (size_t)k >= cap) return mmbus_set_err(MMBUS_E_DIR, "the default channel directory's path is too long");
  return 0;
}

/* ---- owners --------------------------------------------------------------------------------------- */

/* Whether `owner` is the calling user, or the owner it gives what it creates (an elevated
 * administrator's files belong to the Administrators group). 1 yes, 0 no. */
static int owner_is_me(PSID owner) {
  HANDLE tok;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) return 1; /* cannot tell: do not refuse */
  union {
    TOKEN_USER user;
    TOKEN_OWNER owner;
    char bytes[256];
  } info;
  DWORD len;
  int mine = 0;
  if (GetTokenInformation(tok, TokenUser, &info, sizeof info, &len) && EqualSid(owner, info.user.User.Sid)) mine = 1;
  if (!mine && GetTokenInformation(tok, TokenOwner, &info, sizeof info, &len) && EqualSid(owner, info.owner.Owner))
    mine = 1;
  CloseHandle(tok);
  return mine;
}

/* The owner of an open file or directory: 1 the caller's, 0 someone else's (name in who), -1 unknown. */
static int handle_owner_is_me(HANDLE h, char *who, size_t cap) {
  PSID owner = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  if (GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, &owner, NULL, NULL, NULL, &sd) != ERROR_SUCCESS)
    return -1; /* a file system without owners (FAT) */
  int mine = owner ? owner_is_me(owner) : -1;
  if (mine == 0) {
    char name[128], domain[128];
    DWORD nl = sizeof name, dl = sizeof domain;
    SID_NAME_USE use;
    if (LookupAccountSidA(NULL, owner, name, &nl, domain, &dl, &use)) snprintf(who, cap, "%s\\%s", domain, name);
    else snprintf(who, cap, "another account");
  }
  LocalFree(sd);
  return mine;
}

/* ---- files ------------------------------------------------------------------------------------ */

static HANDLE H(os_file_t f) { return (HANDLE)f.h; }

int os_check_dir(const char *dir, int need_write) {
  (void)need_write; /* Windows decides at creation (ACLs): a refusal then is MMBUS_E_DIR too */
  wchar_t w[WPATH_MAX];
  int rc = widen(dir, w, WPATH_MAX);
  if (rc) return rc == MMBUS_E_NAME ? mmbus_set_err(MMBUS_E_DIR, "directory '%s': %s", dir, mmbus_errmsg()) : rc;
  DWORD a = GetFileAttributesW(w);
  if (a == INVALID_FILE_ATTRIBUTES) return mmbus_set_errno(MMBUS_E_DIR, (int)GetLastError(), "directory '%s'", dir);
  if (a & FILE_ATTRIBUTE_REPARSE_POINT)
    return mmbus_set_err(MMBUS_E_DIR, "'%s' is a symbolic link or junction; channel directories are never used "
                                      "through links (pass the directory it points to)", dir);
  if (!(a & FILE_ATTRIBUTE_DIRECTORY)) return mmbus_set_err(MMBUS_E_DIR, "'%s' is not a directory", dir);
  return 0;
}

int os_private_dir(const char *dir) {
  wchar_t w[WPATH_MAX];
  int rc = widen(dir, w, WPATH_MAX);
  if (rc) return rc == MMBUS_E_NAME ? mmbus_set_err(MMBUS_E_DIR, "directory '%s': %s", dir, mmbus_errmsg()) : rc;
  /* created with the ACL it inherits from the user's profile, which only the user can reach */
  if (GetFileAttributesW(w) == INVALID_FILE_ATTRIBUTES && !CreateDirectoryW(w, NULL) &&
      GetLastError() != ERROR_ALREADY_EXISTS)
    return mmbus_set_errno(MMBUS_E_DIR, (int)GetLastError(), "creating '%s'", dir);
  rc = os_check_dir(dir, 1);
  if (rc) {
    if (strstr(mmbus_errmsg(), "symbolic link"))
      return mmbus_set_err(MMBUS_E_DIR, "'%s' is a symbolic link or junction: refusing it as the default channel "
                                        "directory (another user may have planted it); remove it or set MMBUS_DIR", dir);
    return rc;
  }
  HANDLE h = CreateFileW(w, READ_CONTROL, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                         FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE) return mmbus_set_errno(MMBUS_E_DIR, (int)GetLastError(), "directory '%s'", dir);
  char who[300];
  int mine = handle_owner_is_me(h, who, sizeof who);
  CloseHandle(h);
  if (mine == 0)
    return mmbus_set_err(MMBUS_E_DIR, "'%s' belongs to %s, not to you: refusing a directory another user may "
                                      "control; remove it or set MMBUS_DIR", dir, who);
  return 0;
}

int os_check_sharing(os_file_t f, uint32_t share_mode, const char *path) {
  char who[300];
  if (handle_owner_is_me(H(f), who, sizeof who) == 0 && !(share_mode & 066))
    return mmbus_set_err(MMBUS_E_PERM, "'%s' belongs to %s, not to you: channels of other users are only used when "
                                       "sharing is asked for (mode 0660 or 0666)", path, who);
  return 0;
}

/* What is at an open handle: a plain file on a disk, or why not. */
static int check_regular(HANDLE h, const char *path) {
  BY_HANDLE_FILE_INFORMATION fi;
  if (GetFileType(h) != FILE_TYPE_DISK || !GetFileInformationByHandle(h, &fi))
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is not a regular file", path);
  if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
    return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is a symbolic link or another reparse point; channel files are never "
                                          "opened through links", path);
  if (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) return mmbus_set_err(MMBUS_E_BADFILE, "'%s' is not a regular file", path);
  return 0;
}

#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

int os_open_existing(const char *path, int readonly, os_file_t *out) {
  wchar_t w[WPATH_MAX];
  int rc = widen(path, w, WPATH_MAX);
  if (rc) return rc;
  HANDLE h = CreateFileW(w, GENERIC_READ | (readonly ? 0 : GENERIC_WRITE), SHARE_ALL, NULL, OPEN_EXISTING,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND || (e == ERROR_ACCESS_DENIED && delete_pending()))
      return mmbus_set_err(MMBUS_E_NOENT, "channel file '%s' does not exist", path);
    DWORD a = GetFileAttributesW(w);
    if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY))
      return mmbus_set_err(MMBUS_E_IO, "open '%s': it is a directory", path);
    if (e == ERROR_ACCESS_DENIED || e == ERROR_SHARING_VIOLATION)
      return mmbus_set_errno(MMBUS_E_PERM, (int)e, "cannot open '%s' %s", path, readonly ? "for reading" : "read-write");
    return mmbus_set_errno(MMBUS_E_IO, (int)e, "open '%s'", path);
  }
  rc = check_regular(h, path);
  if (rc) {
    CloseHandle(h);
    return rc;
  }
  out->h = (intptr_t)h;
  return 0;
}

int os_file_size(os_file_t f, uint64_t *size) {
  LARGE_INTEGER s;
  if (!GetFileSizeEx(H(f), &s)) return mmbus_set_errno(MMBUS_E_IO, (int)GetLastError(), "file size");
  *size = (uint64_t)s.QuadPart;
  return 0;
}

static void id_of(const BY_HANDLE_FILE_INFORMATION *fi, os_file_id_t *id) {
  id->dev = fi->dwVolumeSerialNumber;
  id->ino = ((uint64_t)fi->nFileIndexHigh << 32) | fi->nFileIndexLow;
}

int os_file_id(os_file_t f, os_file_id_t *id) {
  BY_HANDLE_FILE_INFORMATION fi;
  if (!GetFileInformationByHandle(H(f), &fi)) return mmbus_set_errno(MMBUS_E_IO, (int)GetLastError(), "file identity");
  id_of(&fi, id);
  return 0;
}

int os_path_id(const char *path, os_file_id_t *id) {
  wchar_t w[WPATH_MAX];
  int rc = widen(path, w, WPATH_MAX);
  if (rc) return rc;
  HANDLE h = CreateFileW(w, FILE_READ_ATTRIBUTES, SHARE_ALL, NULL, OPEN_EXISTING,
                         FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND || (e == ERROR_ACCESS_DENIED && delete_pending()))
      return mmbus_set_err(MMBUS_E_NOENT, "'%s' does not exist", path);
    return mmbus_set_errno(MMBUS_E_IO, (int)e, "looking at '%s'", path);
  }
  BY_HANDLE_FILE_INFORMATION fi;
  FILE_STANDARD_INFO si;
  int ok = GetFileInformationByHandle(h, &fi);
  /* removed while others keep it open: the name is going, the file is no longer the channel */
  int pending = GetFileInformationByHandleEx(h, FileStandardInfo, &si, sizeof si) && si.DeletePending;
  CloseHandle(h);
  if (pending) return mmbus_set_err(MMBUS_E_NOENT, "'%s' is being removed", path);
  if (!ok) return mmbus_set_errno(MMBUS_E_IO, (int)GetLastError(), "looking at '%s'", path);
  id_of(&fi, id);
  return 0;
}

int os_reserve(os_file_t f, uint64_t size, const char *path) {
  FILE_STANDARD_INFO si;
  if (!GetFileInformationByHandleEx(H(f), FileStandardInfo, &si, sizeof si))
    return mmbus_set_errno(MMBUS_E_IO, (int)GetLastError(), "sizing '%s'", path);
  FILE_BASIC_INFO bi;
  if (GetFileInformationByHandleEx(H(f), FileBasicInfo, &bi, sizeof bi) && (bi.FileAttributes & FILE_ATTRIBUTE_SPARSE_FILE)) {
    FILE_SET_SPARSE_BUFFER dense = {FALSE}; /* a sparse file gets its clusters allocated */
    DWORD got;
    DeviceIoControl(H(f), FSCTL_SET_SPARSE, &dense, sizeof dense, NULL, 0, &got, NULL);
  }
  int allocated = 1;
  if ((uint64_t)si.AllocationSize.QuadPart < size) {
    FILE_ALLOCATION_INFO ai;
    ai.AllocationSize.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(H(f), FileAllocationInfo, &ai, sizeof ai)) {
      DWORD e = GetLastError();
      if (e != ERROR_CALL_NOT_IMPLEMENTED && e != ERROR_INVALID_PARAMETER)
        return mmbus_set_errno(code_of(e, MMBUS_E_IO) == MMBUS_E_NOSPACE ? MMBUS_E_NOSPACE : MMBUS_E_IO, (int)e,
                               "reserving %llu bytes for '%s'", (unsigned long long)size, path);
      allocated = 0; /* a system without allocation sizes (Wine): the new bytes are written below */
    }
  }
  uint64_t old_end = (uint64_t)si.EndOfFile.QuadPart;
  if (old_end < size) {
    FILE_END_OF_FILE_INFO ei;
    ei.EndOfFile.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(H(f), FileEndOfFileInfo, &ei, sizeof ei)) {
      DWORD e = GetLastError();
      return mmbus_set_errno(code_of(e, MMBUS_E_IO) == MMBUS_E_NOSPACE ? MMBUS_E_NOSPACE : MMBUS_E_IO, (int)e,
                             "sizing '%s'", path);
    }
    if (!allocated) { /* zeros over what was past the end (zeros already): the space is taken now, not at a page fault */
      static const char zeros[1 << 16];
      for (uint64_t off = old_end; off < size; off += sizeof zeros) {
        size_t n = size - off < sizeof zeros ? (size_t)(size - off) : sizeof zeros;
        int rc = os_pwrite_all(f, zeros, n, off);
        if (rc) return rc;
      }
    }
  }
  return 0;
}

static OVERLAPPED at(uint64_t off) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.Offset = (DWORD)off;
  ov.OffsetHigh = (DWORD)(off >> 32);
  return ov;
}

int os_pread_all(os_file_t f, void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    OVERLAPPED ov = at(off + done);
    DWORD chunk = len - done > 0x40000000u ? 0x40000000u : (DWORD)(len - done), n = 0;
    if (!ReadFile(H(f), (char *)buf + done, chunk, &n, &ov)) {
      DWORD e = GetLastError();
      if (e == ERROR_HANDLE_EOF) return mmbus_set_err(MMBUS_E_BADFILE, "file is truncated");
      return mmbus_set_errno(MMBUS_E_IO, (int)e, "read");
    }
    if (n == 0) return mmbus_set_err(MMBUS_E_BADFILE, "file is truncated");
    done += n;
  }
  return 0;
}

int os_pwrite_all(os_file_t f, const void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    OVERLAPPED ov = at(off + done);
    DWORD chunk = len - done > 0x40000000u ? 0x40000000u : (DWORD)(len - done), n = 0;
    if (!WriteFile(H(f), (const char *)buf + done, chunk, &n, &ov) || n == 0) {
      DWORD e = GetLastError();
      return mmbus_set_errno(code_of(e, MMBUS_E_IO) == MMBUS_E_NOSPACE ? MMBUS_E_NOSPACE : MMBUS_E_IO, (int)e, "write");
    }
    done += n;
  }
  return 0;
}

void os_close(os_file_t *f) {
  if (f->h != -1 && f->h != 0) CloseHandle(H(*f));
  f->h = -1;
}

/* Marks an open file for removal (1) or takes the mark back (0). POSIX semantics first (the name
 * goes at once, while others still have the file open: as unlink), then the classic kind (the name
 * stays, unusable, until the last handle is closed). */
static BOOL set_delete(HANDLE h, int del) {
  struct {
    ULONG Flags;
  } ex = {del ? 0x1u | 0x2u : 0u}; /* FILE_DISPOSITION_FLAG_DELETE | _POSIX_SEMANTICS */
  if (SetFileInformationByHandle(h, (FILE_INFO_BY_HANDLE_CLASS)21 /* FileDispositionInfoEx */, &ex, sizeof ex)) return TRUE;
  FILE_DISPOSITION_INFO di = {(BOOLEAN)(del != 0)};
  return SetFileInformationByHandle(h, FileDispositionInfo, &di, sizeof di);
}

int os_unlink(const char *path) {
  wchar_t w[WPATH_MAX];
  int rc = widen(path, w, WPATH_MAX);
  if (rc) return rc;
  HANDLE h = CreateFileW(w, DELETE | FILE_READ_ATTRIBUTES, SHARE_ALL, NULL, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND || (e == ERROR_ACCESS_DENIED && delete_pending()))
      return mmbus_set_err(MMBUS_E_NOENT, "channel file '%s' does not exist", path);
    return mmbus_set_errno(code_of(e, MMBUS_E_IO) == MMBUS_E_PERM ? MMBUS_E_PERM : MMBUS_E_IO, (int)e, "removing '%s'", path);
  }
  BOOL ok = set_delete(h, 1);
  DWORD e = GetLastError();
  CloseHandle(h);
  if (!ok) return mmbus_set_errno(code_of(e, MMBUS_E_IO) == MMBUS_E_PERM ? MMBUS_E_PERM : MMBUS_E_IO, (int)e, "removing '%s'", path);
  return 0;
}

int os_create_file_atomic(const char *dir, const char *path, uint64_t size, uint32_t mode,
                          int (*init)(os_file_t f, void *ctx), void *ctx, os_file_t *out) {
  (void)mode; /* access comes from the directory's inherited ACL; `mode` only decides sharing checks */
  char tmp[MMBUS_PATH_MAX + 64];
  snprintf(tmp, sizeof tmp, "%s.%lu.%llx.tmp", path, (unsigned long)GetCurrentProcessId(), (unsigned long long)os_mono_ns());
  wchar_t wtmp[WPATH_MAX], wpath[WPATH_MAX];
  int rc = widen(tmp, wtmp, WPATH_MAX);
  if (rc == 0) rc = widen(path, wpath, WPATH_MAX);
  if (rc) return rc;
  HANDLE h = CreateFileW(wtmp, GENERIC_READ | GENERIC_WRITE | DELETE, SHARE_ALL, NULL, CREATE_NEW,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE) return mmbus_set_errno(MMBUS_E_DIR, (int)GetLastError(), "creating a file in '%s'", dir);
  /* until it has its name, the file goes with its handle: a creator that dies leaves nothing */
  int marked = set_delete(h, 1) != 0;
  os_file_t f = {(intptr_t)h};
  rc = os_reserve(f, size, path);
  if (rc == 0) rc = init(f, ctx);
  if (rc == 0 && marked && !set_delete(h, 0)) rc = mmbus_set_errno(MMBUS_E_IO, (int)GetLastError(), "creating '%s'", path);
  if (rc == 0) {
    marked = 0;
    size_t wlen = wcslen(wpath);
    size_t bytes = sizeof(FILE_RENAME_INFO) + (wlen + 1) * sizeof(wchar_t);
    FILE_RENAME_INFO *ri = calloc(1, bytes);
    if (!ri) {
      rc = mmbus_set_err(MMBUS_E_NOMEM, "out of memory");
    } else {
      ri->ReplaceIfExists = FALSE; /* never over a channel created meanwhile */
      ri->RootDirectory = NULL;
      ri->FileNameLength = (DWORD)(wlen * sizeof(wchar_t));
      memcpy(ri->FileName, wpath, (wlen + 1) * sizeof(wchar_t));
      if (!SetFileInformationByHandle(h, FileRenameInfo, ri, (DWORD)bytes)) {
        DWORD e = GetLastError();
        rc = e == ERROR_ALREADY_EXISTS || e == ERROR_FILE_EXISTS ? mmbus_set_err(MMBUS_E_EXIST, "'%s' already exists", path)
                                                                  : mmbus_set_errno(MMBUS_E_IO, (int)e, "naming '%s'", path);
      }
      free(ri);
    }
  }
  if (rc) {
    if (!marked) set_delete(h, 1);
    CloseHandle(h);
    if (!marked) DeleteFileW(wtmp); /* if the mark could not be set at all */
    return rc;
  }
  out->h = (intptr_t)h; /* the very file that was named: never re-opened by name */
  return 0;
}

/* ---- mappings --------------------------------------------------------------------------------- */
/* A file with a mapped view cannot be shortened on Windows (SetEndOfFile fails with
 * ERROR_USER_MAPPED_FILE): nothing vanishes under a mapping, and the channel never breaks. */
static volatile int never_broken;

int os_map(os_file_t f, size_t size, int readonly, void **base, volatile int **broken) {
  HANDLE m = CreateFileMappingW(H(f), NULL, readonly ? PAGE_READONLY : PAGE_READWRITE, (DWORD)((uint64_t)size >> 32),
                                (DWORD)size, NULL);
  if (!m) {
    DWORD e = GetLastError();
    return mmbus_set_errno(code_of(e, MMBUS_E_IO) == MMBUS_E_NOMEM ? MMBUS_E_NOMEM : MMBUS_E_IO, (int)e,
                           "mapping %zu bytes", size);
  }
  void *p = MapViewOfFile(m, readonly ? FILE_MAP_READ : FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
  DWORD e = GetLastError();
  CloseHandle(m); /* the view keeps the mapping */
  if (!p)
    return mmbus_set_errno(code_of(e, MMBUS_E_IO) == MMBUS_E_NOMEM ? MMBUS_E_NOMEM : MMBUS_E_IO, (int)e,
                           "mapping %zu bytes", size);
  *base = p;
  *broken = &never_broken;
  return 0;
}

void os_unmap(void *base, size_t size) {
  (void)size;
  UnmapViewOfFile(base);
}

static void prefetch(const void *p, size_t len) {
  WIN32_MEMORY_RANGE_ENTRY r = {(PVOID)p, len};
  (void)PrefetchVirtualMemory(GetCurrentProcess(), 1, &r, 0); /* best effort */
}

void os_prefault_write(void *p, size_t len) { prefetch(p, len); }
void os_prefault_read(const void *p, size_t len) { prefetch(p, len); }

int os_msync(os_file_t f, void *base, size_t size) {
  if (!FlushViewOfFile(base, size)) return mmbus_set_errno(MMBUS_E_IO, (int)GetLastError(), "flushing the mapping");
  if (!FlushFileBuffers(H(f))) return mmbus_set_errno(MMBUS_E_IO, (int)GetLastError(), "flushing the file");
  return 0;
}

/* ---- byte-range locks ------------------------------------------------------------------------ */
/* Windows has no lock query: os_byte_locked takes a shared lock of the byte and lets it go again.
 * An owner taking its byte ("try once") can meet such a probe, so it tries for a moment. */
#define PROBE_GRACE_NS 100000000u

static DWORD lock_try(HANDLE h, uint64_t off, DWORD flags) {
  OVERLAPPED ov = at(off);
  if (LockFileEx(h, flags | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov)) return 0;
  return GetLastError();
}

static int held_by_other(DWORD e) { return e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING || e == ERROR_LOCK_FAILED; }

int os_lock_byte(os_file_t f, uint64_t off, int64_t wait_ms) {
  uint64_t now = os_mono_ns();
  uint64_t deadline = now + (wait_ms > 0 ? (uint64_t)wait_ms * 1000000u : PROBE_GRACE_NS);
  uint64_t pause = 100000; /* 0.1 ms, doubling to 10 ms: contention is rare (attach, detach, gc) */
  for (;;) {
    DWORD e = lock_try(H(f), off, LOCKFILE_EXCLUSIVE_LOCK);
    if (e == 0) return 0;
    if (!held_by_other(e))
      return mmbus_set_errno(MMBUS_E_IO, (int)e, "locking byte %llu of the channel file", (unsigned long long)off);
    if (os_mono_ns() >= deadline) return mmbus_set_err(MMBUS_E_BUSY, "byte %llu is locked", (unsigned long long)off);
    os_sleep_ns(pause);
    if (pause < 10000000) pause *= 2;
  }
}

void os_unlock_byte(os_file_t f, uint64_t off) {
  OVERLAPPED ov = at(off);
  UnlockFileEx(H(f), 0, 1, 0, &ov);
}

int os_byte_locked(os_file_t f, uint64_t off) {
  DWORD e = lock_try(H(f), off, 0); /* shared: probes never exclude each other */
  if (e == 0) {
    os_unlock_byte(f, off);
    return 0;
  }
  if (held_by_other(e)) return 1;
  return mmbus_set_errno(MMBUS_E_IO, (int)e, "testing lock byte %llu", (unsigned long long)off);
}

/* ---- waiting and waking across processes ----------------------------------------------------------
 * One named semaphore per channel file (volume serial and file index: every path to the file finds
 * it) and direction. The wake line's os_word counts the sleepers in its low 16 bits; its high 16
 * bits are a round number. A sleeper counts itself in, checks the word once more, and waits; a
 * waker that finds sleepers starts a new round (count 0) and releases as many tokens as it found.
 * A sleeper that timed out after being counted takes its token back if it is still there; one that
 * died is forgotten at the next wake (its token wakes someone once for nothing). Nobody makes a
 * system call unless someone sleeps. */
#define SLEEPERS_MASK 0xffffu

/* Who may open a channel's semaphores: the user (elevated or not: the same SID), SYSTEM and the
 * administrators. Built once; NULL (the token's default DACL) if that fails. */
static PSECURITY_DESCRIPTOR waker_sd(void) {
  static PSECURITY_DESCRIPTOR sd;
  static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
  BOOL pending;
  if (!InitOnceBeginInitialize(&once, 0, &pending, NULL) || !pending) return sd;
  HANDLE tok;
  union {
    TOKEN_USER user;
    char bytes[256];
  } info;
  DWORD len;
  wchar_t *sid = NULL;
  if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
    if (GetTokenInformation(tok, TokenUser, &info, sizeof info, &len)) ConvertSidToStringSidW(info.user.User.Sid, &sid);
    CloseHandle(tok);
  }
  if (sid) {
    wchar_t sddl[256];
    _snwprintf(sddl, sizeof sddl / sizeof sddl[0], L"D:(A;;GA;;;%ls)(A;;GA;;;SY)(A;;GA;;;BA)", sid);
    sddl[sizeof sddl / sizeof sddl[0] - 1] = 0;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL)) sd = NULL;
    LocalFree(sid);
  }
  InitOnceComplete(&once, 0, NULL);
  return sd;
}

int os_waker_open(os_waker_t *w, os_file_t f, int which, uint32_t *os_word) {
  w->h = 0;
  w->os_word = os_word;
  BY_HANDLE_FILE_INFORMATION fi;
  if (!GetFileInformationByHandle(H(f), &fi)) return mmbus_set_errno(MMBUS_E_IO, (int)GetLastError(), "file identity");
  /* Local\: the login session's namespace, which needs no privilege (Global\ needs
   * SeCreateGlobalPrivilege, and processes that fell back would never meet the others). */
  wchar_t name[96];
  _snwprintf(name, sizeof name / sizeof name[0], L"Local\\mmbus-%08lx-%08lx%08lx-%d", (unsigned long)fi.dwVolumeSerialNumber,
             (unsigned long)fi.nFileIndexHigh, (unsigned long)fi.nFileIndexLow, which);
  name[sizeof name / sizeof name[0] - 1] = 0;
  SECURITY_ATTRIBUTES sa = {sizeof sa, waker_sd(), FALSE};
  HANDLE s = CreateSemaphoreW(sa.lpSecurityDescriptor ? &sa : NULL, 0, LONG_MAX, name);
  if (!s && GetLastError() == ERROR_ACCESS_DENIED) /* created by another account: open it for waiting and waking */
    s = OpenSemaphoreW(SYNCHRONIZE | SEMAPHORE_MODIFY_STATE, FALSE, name);
  /* Without it (another account's semaphore that does not let us in, or another session's
   * processes) waits are the ring's bounded sleeps (at most 250 ms): slower to wake, never wrong. */
  w->h = (intptr_t)s;
  return 0;
}

void os_waker_close(os_waker_t *w) {
  if (w->h) CloseHandle((HANDLE)w->h);
  w->h = 0;
}

static DWORD ms_of(int64_t timeout_ns) {
  if (timeout_ns < 0) return INFINITE;
  uint64_t ms = ((uint64_t)timeout_ns + 999999u) / 1000000u;
  return ms >= INFINITE ? INFINITE - 1 : (DWORD)ms;
}

int os_wait_word(os_waker_t *w, uint32_t *word, uint32_t expected, int64_t timeout_ns) {
  DWORD ms = ms_of(timeout_ns);
  uint32_t *c = w->os_word;
  uint32_t v = ld_relaxed(c);
  for (;;) {
    if (!w->h || (v & SLEEPERS_MASK) == SLEEPERS_MASK) { /* no semaphore, or too many sleepers to count */
      if (ld_acquire(word) != expected) return 0;
      Sleep(ms == INFINITE ? 250 : ms);
      return ld_acquire(word) != expected ? 0 : 1;
    }
    if (cas_seq_cst(c, &v, v + 1)) break;
  }
  uint32_t round = v >> 16;
  DWORD r = WAIT_TIMEOUT;
  if (ld_seq_cst(word) == expected) r = WaitForSingleObject((HANDLE)w->h, ms);
  else r = WAIT_ABANDONED; /* did not sleep: the word moved while we counted ourselves in */
  v = ld_relaxed(c);
  for (;;) {
    if ((v >> 16) != round) { /* a waker counted us and released a token for us */
      if (r != WAIT_OBJECT_0) WaitForSingleObject((HANDLE)w->h, 0); /* take it back: nobody else's to have */
      return 0;
    }
    if (cas_seq_cst(c, &v, v - 1)) break; /* still in our round: count ourselves out */
  }
  if (r == WAIT_ABANDONED) return 0;
  return r == WAIT_OBJECT_0 ? 0 : 1; /* a stray token (of a sleeper that died or timed out) wakes for nothing */
}

void os_wait_local(uint32_t *word, uint32_t expected, uint64_t timeout_ns) {
  WaitOnAddress(word, &expected, sizeof expected, ms_of((int64_t)(timeout_ns < INT64_MAX ? timeout_ns : INT64_MAX)));
}

void os_wake_local(uint32_t *word) { WakeByAddressAll(word); }

void os_wake_word(os_waker_t *w, uint32_t *word) {
  (void)word;
  if (!w->h) return;
  uint32_t *c = w->os_word;
  uint32_t v = ld_seq_cst(c);
  for (;;) {
    if ((v & SLEEPERS_MASK) == 0) return; /* nobody in the kernel: no system call */
    uint32_t next = ((v >> 16) + 1u) << 16;
    if (cas_seq_cst(c, &v, next)) break;
  }
  ReleaseSemaphore((HANDLE)w->h, (LONG)(v & SLEEPERS_MASK), NULL);
}
