/* JPEG encoder sessions on TurboJPEG (API and rules: jpeg.h, ffi/README.md).
 *
 * Threading: encodes run as nonblocking FFI calls on Deno's worker threads, open and the small
 * calls on the JS thread. As for encoder.c, a registry of live handles with an in-flight count
 * makes NULL, closed and foreign handles fail cleanly and lets close wait for a call still
 * running. A TurboJPEG handle is not thread-safe; the single encode slot keeps it to one thread
 * at a time. */
#define _GNU_SOURCE
#include "jpeg.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "convert.h"

struct smx_jpeg {
  /* registry (guarded by reg_mu) */
  smx_jpeg *next;
  int busy;    /* calls in flight */
  int closing; /* close is waiting: new calls are refused */
  int encoding;

  tjhandle tj;
  uint32_t width, height;
  uint8_t *planes; /* Y, U, V of the session size (full-range J420), 64-byte aligned rows */
  smx_yuv_image img;
  smx_converter conv;
  unsigned char *out; /* tjAlloc'd, tjBufSize worst case: TurboJPEG never reallocates it */
  unsigned long out_cap;
  _Atomic uint32_t quality;
  smx_jpeg_info info;
  char err[512];
};

/* ---------------------------------------------------------------------------------------------
 * Registry of live handles (the same rules as encoder.c's). */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv = PTHREAD_COND_INITIALIZER;
static smx_jpeg *live_head;

static int is_live_locked(const smx_jpeg *j) {
  for (smx_jpeg *it = live_head; it; it = it->next)
    if (it == j) return !it->closing;
  return 0;
}

static int handle_error(const smx_jpeg *j) {
  return j ? smx_fail(SMX_E_CLOSED, "JPEG encoder handle is closed (or was never opened)")
           : smx_fail(SMX_E_INVALID_ARG, "JPEG encoder handle is NULL");
}

/* Starts a call on j; `encode` also claims the handle's single encode slot. */
static int enter(smx_jpeg *j, int encode) {
  pthread_mutex_lock(&reg_mu);
  if (!j || !is_live_locked(j)) {
    pthread_mutex_unlock(&reg_mu);
    return handle_error(j);
  }
  if (encode && j->encoding) {
    pthread_mutex_unlock(&reg_mu);
    return smx_fail(SMX_E_INVALID_ARG,
                    "another encode is in flight on this JPEG encoder: await it before the next");
  }
  j->busy++;
  if (encode) j->encoding = 1;
  pthread_mutex_unlock(&reg_mu);
  return SMX_OK;
}

static void leave(smx_jpeg *j, int encode) {
  pthread_mutex_lock(&reg_mu);
  if (encode) j->encoding = 0;
  if (--j->busy == 0) pthread_cond_broadcast(&reg_cv);
  pthread_mutex_unlock(&reg_mu);
}

static int is_live(smx_jpeg *j) {
  pthread_mutex_lock(&reg_mu);
  int live = j && is_live_locked(j);
  pthread_mutex_unlock(&reg_mu);
  return live;
}

/* Records a failure in the handle (read by TS after a nonblocking call) and thread-locally. */
static int fail_j(smx_jpeg *j, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_j(smx_jpeg *j, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->err, sizeof j->err, fmt, ap);
  va_end(ap);
  return smx_fail(code, "%s", j->err);
}

/* ---------------------------------------------------------------------------------------------
 * Open / close. */

static void destroy(smx_jpeg *j) {
  if (!j) return;
  if (j->tj) tjDestroy(j->tj);
  tjFree(j->out);
  free(j->planes);
  smx_converter_free(&j->conv);
  free(j);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

smx_jpeg *smx_jpeg_open(uint32_t width, uint32_t height, uint32_t quality) {
  if (width < SMX_JPEG_MIN_DIM || height < SMX_JPEG_MIN_DIM || width > SMX_JPEG_MAX_DIM ||
      height > SMX_JPEG_MAX_DIM || (width & 1) || (height & 1)) {
    smx_fail(SMX_E_INVALID_ARG,
             "JPEG size %ux%u refused: width and height must be even (4:2:0) and within %u..%u",
             width, height, SMX_JPEG_MIN_DIM, SMX_JPEG_MAX_DIM);
    return NULL;
  }
  if (quality < SMX_JPEG_MIN_QUALITY || quality > SMX_JPEG_MAX_QUALITY) {
    smx_fail(SMX_E_INVALID_ARG, "JPEG quality %u refused: must be %u..%u", quality,
             SMX_JPEG_MIN_QUALITY, SMX_JPEG_MAX_QUALITY);
    return NULL;
  }
  smx_jpeg *j = calloc(1, sizeof *j);
  if (!j) {
    smx_fail(SMX_E_NO_MEMORY, "JPEG encoder: out of memory");
    return NULL;
  }
  j->width = width;
  j->height = height;
  atomic_store(&j->quality, quality);
  size_t ys = align64(width), cs = align64(width / 2);
  size_t ybytes = ys * height, cbytes = cs * (height / 2);
  j->planes = aligned_alloc(64, ybytes + 2 * cbytes);
  j->out_cap = tjBufSize((int)width, (int)height, TJSAMP_420);
  j->out = j->out_cap ? tjAlloc((int)j->out_cap) : NULL;
  if (!j->planes || !j->out) {
    smx_fail(SMX_E_NO_MEMORY, "JPEG encoder: cannot allocate a %ux%u picture", width, height);
    destroy(j);
    return NULL;
  }
  j->img = (smx_yuv_image){{j->planes, j->planes + ybytes, j->planes + ybytes + cbytes},
                           {(int)ys, (int)cs, (int)cs},
                           width,
                           height,
                           0};
  j->conv.full_range = 1; /* JFIF: decoders read JPEG planes as full range */
  j->tj = tjInitCompress();
  if (!j->tj) {
    smx_fail(SMX_E_ENCODER, "TurboJPEG: cannot initialise a compressor: %s",
             tjGetErrorStr2(NULL));
    destroy(j);
    return NULL;
  }
  pthread_mutex_lock(&reg_mu);
  j->next = live_head;
  live_head = j;
  pthread_mutex_unlock(&reg_mu);
  smx_clear_error();
  return j;
}

void smx_jpeg_close(smx_jpeg *j) {
  if (!j) return;
  pthread_mutex_lock(&reg_mu);
  smx_jpeg **link = &live_head;
  while (*link && *link != j) link = &(*link)->next;
  if (!*link || j->closing) { /* unknown, or another close is already waiting */
    pthread_mutex_unlock(&reg_mu);
    return;
  }
  j->closing = 1;
  while (j->busy) pthread_cond_wait(&reg_cv, &reg_mu);
  for (link = &live_head; *link != j;) link = &(*link)->next; /* list may have changed */
  *link = j->next;
  pthread_mutex_unlock(&reg_mu);
  destroy(j);
}

/* ---------------------------------------------------------------------------------------------
 * Encode. */

static double ms_since(int64_t t0_ns) { return (double)(smx_monotonic_ns() - t0_ns) / 1e6; }

static int check_input(smx_jpeg *j, uint32_t w, uint32_t h, uint32_t stride, uint32_t format) {
  if (w < 1 || h < 1 || w > SMX_RING_MAX_DIM || h > SMX_RING_MAX_DIM)
    return fail_j(j, SMX_E_INVALID_ARG, "input size %ux%u refused: must be 1..%u per side", w, h,
                  SMX_RING_MAX_DIM);
  if (stride < w * 4)
    return fail_j(j, SMX_E_INVALID_ARG, "input stride %u is less than width*4 (%u)", stride,
                  w * 4);
  if (format != SMX_FORMAT_BGRA && format != SMX_FORMAT_RGBA)
    return fail_j(j, SMX_E_INVALID_ARG, "input format %u refused: 1 = BGRA, 2 = RGBA", format);
  return SMX_OK;
}

static int convert(smx_jpeg *j, const uint8_t *px, uint32_t w, uint32_t h, uint32_t stride,
                   uint32_t format) {
  int st = smx_convert(&j->conv, px, w, h, stride, format, &j->img);
  return st < 0 ? fail_j(j, st, "%s", smx_last_error()) : SMX_OK;
}

static void note_input(smx_jpeg *j, uint32_t w, uint32_t h, uint64_t frame, int64_t cap_us,
                       double convert_ms) {
  j->info.in_width = w;
  j->info.in_height = h;
  j->info.frame = frame;
  j->info.capture_us = cap_us;
  j->info.convert_ms = convert_ms;
}

/* Compresses the session's planes into j->out. */
static int compress(smx_jpeg *j) {
  uint32_t q = atomic_load(&j->quality);
  const unsigned char *planes[3] = {j->img.plane[0], j->img.plane[1], j->img.plane[2]};
  unsigned long size = j->out_cap;
  int64_t t0 = smx_monotonic_ns();
  /* Accurate (islow) DCT: libjpeg-turbo's SIMD makes it as fast as ifast here (1.5 ms at 720p
   * either way), and ifast loses precision at high qualities. */
  int r = tjCompressFromYUVPlanes(j->tj, planes, (int)j->width, j->img.stride, (int)j->height,
                                  TJSAMP_420, &j->out, &size, (int)q, TJFLAG_NOREALLOC);
  j->info.encode_ms = ms_since(t0);
  if (r != 0) {
    j->info.size = 0;
    return fail_j(j, SMX_E_ENCODER, "TurboJPEG: compression failed: %s", tjGetErrorStr2(j->tj));
  }
  j->info.size = (uint32_t)size;
  j->info.quality = q;
  j->info.out_width = j->width;
  j->info.out_height = j->height;
  return (int)size;
}

int smx_jpeg_encode_rgba(smx_jpeg *j, const uint8_t *pixels, uint64_t pixels_len, uint32_t width,
                         uint32_t height, uint32_t stride, uint32_t format, uint64_t frame,
                         int64_t capture_us) {
  int st = enter(j, 1);
  if (st) return st;
  if (!pixels) {
    st = fail_j(j, SMX_E_INVALID_ARG, "pixels is NULL");
  } else if (!(st = check_input(j, width, height, stride, format)) &&
             pixels_len < (uint64_t)stride * (height - 1) + (uint64_t)width * 4) {
    st = fail_j(j, SMX_E_INVALID_ARG,
                "pixel buffer of %llu bytes is too small for %ux%u with stride %u",
                (unsigned long long)pixels_len, width, height, stride);
  }
  if (!st) {
    int64_t t0 = smx_monotonic_ns();
    st = convert(j, pixels, width, height, stride, format);
    if (!st) {
      note_input(j, width, height, frame, capture_us, ms_since(t0));
      st = compress(j);
    }
  }
  leave(j, 1);
  return st;
}

int smx_jpeg_encode_ring(smx_jpeg *j, smx_ring_reader *r) {
  int st = enter(j, 1);
  if (st) return st;
  smx_frame_view v;
  if (!r) {
    st = fail_j(j, SMX_E_INVALID_ARG, "ring reader handle is NULL");
  } else if ((st = smx_ring_reader_acquire(r, &v)) < 0) {
    fail_j(j, st, "%s", st == SMX_E_AGAIN ? "no frame in the ring yet" : smx_last_error());
  } else if (!(st = check_input(j, v.width, v.height, v.stride, v.format))) {
    int64_t t0 = smx_monotonic_ns();
    st = convert(j, v.pixels, v.width, v.height, v.stride, v.format);
    double convert_ms = ms_since(t0);
    /* The planes are ours once converted; a slot the writer touched meanwhile may have mixed two
     * frames (a torn picture with the wrong stamp): nothing is compressed, the caller retries. */
    if (!st && !smx_ring_reader_still_valid(r, &v))
      st = fail_j(j, SMX_E_TORN,
                  "frame %llu was overwritten while it was converted; nothing was compressed "
                  "(retry)",
                  (unsigned long long)v.frame);
    if (!st) {
      note_input(j, v.width, v.height, v.frame, v.capture_us, convert_ms);
      st = compress(j);
    }
  }
  leave(j, 1);
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * Small calls. */

const uint8_t *smx_jpeg_packet_data(smx_jpeg *j) {
  return is_live(j) && j->info.size > 0 ? j->out : NULL;
}

int smx_jpeg_packet_info(smx_jpeg *j, smx_jpeg_info *out) {
  int st = enter(j, 0);
  if (st) return st;
  if (out) *out = j->info;
  leave(j, 0);
  return out ? SMX_OK : smx_fail(SMX_E_INVALID_ARG, "packet info buffer is NULL");
}

int smx_jpeg_set_quality(smx_jpeg *j, uint32_t quality) {
  int st = enter(j, 0);
  if (st) return st;
  if (quality < SMX_JPEG_MIN_QUALITY || quality > SMX_JPEG_MAX_QUALITY)
    st = fail_j(j, SMX_E_INVALID_ARG, "JPEG quality %u refused: must be %u..%u", quality,
                SMX_JPEG_MIN_QUALITY, SMX_JPEG_MAX_QUALITY);
  else
    atomic_store(&j->quality, quality);
  leave(j, 0);
  return st;
}

const char *smx_jpeg_error(smx_jpeg *j) {
  if (!j) return "JPEG encoder handle is NULL";
  return is_live(j) ? j->err : "JPEG encoder handle is closed (or was never opened)";
}
