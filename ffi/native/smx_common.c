#define _GNU_SOURCE
#include "smx_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#endif

/* Thread-local so that nonblocking FFI calls (run on Deno's blocking thread pool) and the main
 * thread never read each other's messages. Callers read it right after the failing call on the
 * same thread: the TS wrappers for nonblocking calls fetch it through smx_*_error() accessors
 * kept on the handle instead (see encoder.c / ring.c). */
static __thread char last_error[512];
static __thread int last_code;

int smx_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  last_code = code;
  return code;
}

void smx_clear_error(void) {
  last_error[0] = 0;
  last_code = 0;
}

const char *smx_last_error(void) { return last_error; }
int smx_last_error_code(void) { return last_code; }
const char *smx_version(void) { return "smx-shim 1"; }

#ifdef _WIN32

/* FILETIME counts 100 ns since 1601-01-01; the Unix epoch is 11644473600 s later. The precise
 * variant (Windows 8+) has sub-µs resolution instead of the ~15.6 ms tick of GetSystemTime. */
int64_t smx_now_us(void) {
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  uint64_t t = (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime;
  return (int64_t)(t / 10) - INT64_C(11644473600000000);
}

int64_t smx_monotonic_ns(void) {
  static LARGE_INTEGER freq; /* constant after boot; a benign race writes the same value */
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
  LARGE_INTEGER now;
  QueryPerformanceCounter(&now);
  /* split to keep now * 1e9 from overflowing 64 bits */
  int64_t s = now.QuadPart / freq.QuadPart, rem = now.QuadPart % freq.QuadPart;
  return s * 1000000000 + rem * 1000000000 / freq.QuadPart;
}

#else

int64_t smx_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t smx_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
