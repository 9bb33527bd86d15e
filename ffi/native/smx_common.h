/* smx native shim: shared definitions.
 *
 * Every exported function that can fail returns a negative smx_status (or NULL) and leaves a
 * human-readable message in a thread-local buffer that smx_last_error() returns. The Deno side
 * turns these into typed errors (ffi/errors.ts). Keep the codes in sync with that file. */
#ifndef SMX_COMMON_H
#define SMX_COMMON_H

#include <stdint.h>
#include <stddef.h>

/* The only symbols the library exports: visibility on ELF (built with -fvisibility=hidden), and
 * dllexport on Windows (once one symbol is dllexport, MinGW exports nothing else). */
#ifdef _WIN32
#define SMX_EXPORT __declspec(dllexport)
#else
#define SMX_EXPORT __attribute__((visibility("default")))
#endif

typedef enum {
  SMX_OK = 0,
  SMX_E_INVALID_ARG = -1,   /* a caller mistake: bad size, NULL handle, unknown option */
  SMX_E_NOT_FOUND = -2,     /* unknown sender / encoder not present */
  SMX_E_IO = -3,            /* shm_open, mmap, ftruncate ... failed (errno in message) */
  SMX_E_FORMAT = -4,        /* the shared memory does not hold a ring of a version we read */
  SMX_E_WRITER_GONE = -5,   /* the writer process died or stopped its heartbeat */
  SMX_E_TIMEOUT = -6,       /* waited and nothing came */
  SMX_E_TORN = -7,          /* the slot was overwritten while we read it; frame discarded */
  SMX_E_ENCODER = -8,       /* libavcodec refused or failed */
  SMX_E_NO_MEMORY = -9,
  SMX_E_CLOSED = -10,       /* the handle was already closed */
  SMX_E_AGAIN = -11,        /* nothing new yet (non-waiting read) */
  SMX_E_RESIZED = -12,      /* the writer re-created the ring with a larger size; reopen */
} smx_status;

/* Records a printf-style message for smx_last_error() and returns `code` for tail calls. */
/* MinGW builds with __USE_MINGW_ANSI_STDIO=1: C99 printf (%zu, %lld), checked as gnu_printf. */
#ifdef __MINGW32__
#define SMX_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define SMX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif
int smx_fail(int code, const char *fmt, ...) SMX_PRINTF(2, 3);
void smx_clear_error(void);

SMX_EXPORT const char *smx_last_error(void);
SMX_EXPORT int smx_last_error_code(void);
SMX_EXPORT const char *smx_version(void);

/* Wall-clock microseconds since the Unix epoch (CLOCK_REALTIME; Windows:
 * GetSystemTimePreciseAsFileTime): the clock frame stamps use, so a browser on the same machine
 * can compare it with performance.timeOrigin + performance.now(). */
SMX_EXPORT int64_t smx_now_us(void);
/* CLOCK_MONOTONIC nanoseconds (Windows: QueryPerformanceCounter): heartbeats and durations. */
SMX_EXPORT int64_t smx_monotonic_ns(void);

#endif
