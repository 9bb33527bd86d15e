/* Process resource limits (API and why: proc_limits.h). */
#define _GNU_SOURCE
#include "proc_limits.h"

#ifdef _WIN32

int smx_raise_nofile(uint64_t *before_out, uint64_t *soft_out, uint64_t *hard_out) {
  /* Windows counts handles per process without an rlimit-style cap to raise (the CRT's
   * _setmaxstdio only concerns stdio streams, which smx does not use for sockets). */
  if (before_out) *before_out = SMX_NOFILE_UNLIMITED;
  if (soft_out) *soft_out = SMX_NOFILE_UNLIMITED;
  if (hard_out) *hard_out = SMX_NOFILE_UNLIMITED;
  smx_clear_error();
  return SMX_OK;
}

#else

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>

static uint64_t as_u64(rlim_t v) { return v == RLIM_INFINITY ? SMX_NOFILE_UNLIMITED : (uint64_t)v; }

int smx_raise_nofile(uint64_t *before_out, uint64_t *soft_out, uint64_t *hard_out) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    int e = errno;
    if (before_out) *before_out = 0;
    if (soft_out) *soft_out = 0;
    if (hard_out) *hard_out = 0;
    return smx_fail(SMX_E_IO, "smx_raise_nofile: getrlimit(RLIMIT_NOFILE): %s", strerror(e));
  }
  if (before_out) *before_out = as_u64(rl.rlim_cur);
  int st = SMX_OK;
  if (rl.rlim_cur != rl.rlim_max) {
    struct rlimit want = {rl.rlim_max, rl.rlim_max};
#ifdef __APPLE__
    /* macOS reports an unlimited hard limit but refuses a soft limit above OPEN_MAX. */
    if (want.rlim_cur == RLIM_INFINITY || want.rlim_cur > OPEN_MAX) want.rlim_cur = OPEN_MAX;
#endif
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
      rl.rlim_cur = want.rlim_cur;
    } else {
      int e = errno;
      st = smx_fail(SMX_E_IO, "smx_raise_nofile: setrlimit(RLIMIT_NOFILE, %llu): %s",
                    (unsigned long long)as_u64(want.rlim_cur), strerror(e));
    }
  }
  if (soft_out) *soft_out = as_u64(rl.rlim_cur);
  if (hard_out) *hard_out = as_u64(rl.rlim_max);
  if (st == SMX_OK) smx_clear_error();
  return st;
}

#endif
