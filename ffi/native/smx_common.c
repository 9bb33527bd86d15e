#define _GNU_SOURCE
#include "smx_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

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
