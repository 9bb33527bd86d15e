/* glibc malloc tuning for encoder sessions (why: heap.h).
 *
 * Measured in a Deno process, 240 x264 sessions of 10 frames each, three at a time, sizes
 * cycling through 720p, 360p, 1080p and 540p; RSS in MB after 12 sessions → after 240, with no
 * session open (the variants were tried with GLIBC_TUNABLES and a malloc_trim call from JS):
 *   glibc defaults                                 99 → 210, 153 → 299 (two runs)
 *   malloc_trim(0) after each close only          106 → 154,  94 → 141 (thread arenas' tops stay)
 *   fixed 128 KiB mmap threshold only              79 →  91,  79 →  89
 *   fixed threshold + malloc_trim(0) after close   74 →  78,  74 →  78 (this file)
 * tests/encoder_churn_test.ts (200 sessions at 720p, three at a time): +106 to +119 MB before,
 * +4 to +5 MB after. Per-frame cost: none measurable (720p encode 6.5-6.8 ms either way, and the
 * same number of mmap calls: x264 and libavcodec allocate pictures at open, and a P-frame's packet
 * is far below 128 KiB; an IDR's may get its own mapping). malloc_trim(0) takes ~0.05 ms on an
 * already-trimmed heap. Fewer arenas (M_ARENA_MAX 1 or 2) gained nothing on top of the fixed
 * threshold, so the arenas are left alone. */
#define _GNU_SOURCE
#include "heap.h"

#include <stdlib.h> /* defines __GLIBC__ (through <features.h>) where glibc is the C library */

#if defined(__GLIBC__)

#include <malloc.h>
#include <pthread.h>

/* glibc's initial (default) threshold: blocks of this size or more get their own mapping and go
 * back to the system when freed. Setting it explicitly is what turns off the dynamic raise. */
#define MMAP_THRESHOLD_BYTES (128 * 1024)

static void tune(void) { mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES); }

void smx_heap_tune(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, tune);
}

void smx_heap_release(void) { malloc_trim(0); }

#else

void smx_heap_tune(void) {}
void smx_heap_release(void) {}

#endif
