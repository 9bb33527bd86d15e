#define _GNU_SOURCE
#include "convert.h"

#include <stdlib.h>
#include <time.h>

#include <libyuv.h>

#include "smx_common.h"

enum { ORDER_SCALE_FIRST = 0, ORDER_CONVERT_FIRST = 1 };

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int ensure_scratch(smx_converter *cv, size_t bytes) {
  if (cv->scratch_cap >= bytes) return SMX_OK;
  free(cv->scratch);
  cv->scratch_cap = 0;
  /* 64-byte rows and base keep libyuv on its aligned AVX2 paths */
  cv->scratch = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  if (!cv->scratch) return smx_fail(SMX_E_NO_MEMORY, "convert: cannot allocate %zu bytes", bytes);
  cv->scratch_cap = bytes;
  return SMX_OK;
}

/* Same-size colour conversion. libyuv's "ARGB" is B,G,R,A in memory (= our BGRA) and its
 * "ABGR" is R,G,B,A (= our RGBA). Video (H.264) is limited range (16..235, what the encoder
 * signals); JPEG/JFIF is full range (0..255), libyuv's "J" variants: decoding limited-range
 * planes as JFIF would grey the blacks and dull every colour. */
static int to_yuv(const uint8_t *src, int stride, int w, int h, uint32_t format,
                  uint8_t *const plane[3], const int pstride[3], int nv12, int full_range) {
  if (full_range) {
    if (nv12) return -1; /* no full-range NV12 converter; nothing asks for one */
    return format == SMX_CONVERT_RGBA ? ABGRToJ420(src, stride, plane[0], pstride[0], plane[1],
                                                   pstride[1], plane[2], pstride[2], w, h)
                                      : ARGBToJ420(src, stride, plane[0], pstride[0], plane[1],
                                                   pstride[1], plane[2], pstride[2], w, h);
  }
  if (nv12) {
    return format == SMX_CONVERT_RGBA
               ? ABGRToNV12(src, stride, plane[0], pstride[0], plane[1], pstride[1], w, h)
               : ARGBToNV12(src, stride, plane[0], pstride[0], plane[1], pstride[1], w, h);
  }
  return format == SMX_CONVERT_RGBA ? ABGRToI420(src, stride, plane[0], pstride[0], plane[1],
                                                 pstride[1], plane[2], pstride[2], w, h)
                                    : ARGBToI420(src, stride, plane[0], pstride[0], plane[1],
                                                 pstride[1], plane[2], pstride[2], w, h);
}

static int scale_then_convert(smx_converter *cv, const uint8_t *src, uint32_t w, uint32_t h,
                              uint32_t stride, uint32_t format, const smx_yuv_image *dst) {
  int ow = (int)dst->width, oh = (int)dst->height;
  int st = ensure_scratch(cv, (size_t)ow * 4 * (size_t)oh);
  if (st) return st;
  /* Channel order does not matter to a 4-byte-pixel scaler; box averages every source pixel
   * on downscales (no aliasing of thin lines or the frame stamp) and is bilinear upward. */
  if (ARGBScale(src, (int)stride, (int)w, (int)h, cv->scratch, ow * 4, ow, oh, kFilterBox))
    return smx_fail(SMX_E_INVALID_ARG, "convert: ARGBScale refused %ux%u -> %dx%d", w, h, ow, oh);
  if (to_yuv(cv->scratch, ow * 4, ow, oh, format, dst->plane, dst->stride, dst->nv12,
             cv->full_range))
    return smx_fail(SMX_E_INVALID_ARG, "convert: colour conversion refused %dx%d", ow, oh);
  return SMX_OK;
}

static int convert_then_scale(smx_converter *cv, const uint8_t *src, uint32_t w, uint32_t h,
                              uint32_t stride, uint32_t format, const smx_yuv_image *dst) {
  int iw = (int)w, ih = (int)h, cw = (iw + 1) / 2, ch = (ih + 1) / 2; /* odd sizes round up */
  size_t ysize = (size_t)iw * (size_t)ih, csize = (size_t)cw * (size_t)ch;
  int st = ensure_scratch(cv, ysize + 2 * csize);
  if (st) return st;
  uint8_t *plane[3] = {cv->scratch, cv->scratch + ysize, cv->scratch + ysize + csize};
  int pstride[3] = {iw, dst->nv12 ? cw * 2 : cw, cw};
  if (to_yuv(src, (int)stride, iw, ih, format, plane, pstride, dst->nv12, cv->full_range))
    return smx_fail(SMX_E_INVALID_ARG, "convert: colour conversion refused %dx%d", iw, ih);
  int ow = (int)dst->width, oh = (int)dst->height, r;
  if (dst->nv12) {
    r = NV12Scale(plane[0], pstride[0], plane[1], pstride[1], iw, ih, dst->plane[0],
                  dst->stride[0], dst->plane[1], dst->stride[1], ow, oh, kFilterBox);
  } else {
    r = I420Scale(plane[0], pstride[0], plane[1], pstride[1], plane[2], pstride[2], iw, ih,
                  dst->plane[0], dst->stride[0], dst->plane[1], dst->stride[1], dst->plane[2],
                  dst->stride[2], ow, oh, kFilterBox);
  }
  if (r) return smx_fail(SMX_E_INVALID_ARG, "convert: scaler refused %dx%d -> %dx%d", iw, ih, ow, oh);
  return SMX_OK;
}

int smx_convert(smx_converter *cv, const uint8_t *src, uint32_t width, uint32_t height,
                uint32_t stride, uint32_t format, const smx_yuv_image *dst) {
  /* Same size, or an odd source into its even rendition (1917x1079 -> 1916x1078): convert the
   * top-left rectangle, dropping the last column/row. Resampling for one pixel would blur the
   * whole picture (and the frame stamp) for nothing. */
  if (width >= dst->width && height >= dst->height && width - dst->width <= 1 &&
      height - dst->height <= 1) {
    if (to_yuv(src, (int)stride, (int)dst->width, (int)dst->height, format, dst->plane,
               dst->stride, dst->nv12, cv->full_range))
      return smx_fail(SMX_E_INVALID_ARG, "convert: colour conversion refused %ux%u", width,
                      height);
    return SMX_OK;
  }
  if (cv->in_w != width || cv->in_h != height || cv->out_w != dst->width ||
      cv->out_h != dst->height) {
    cv->in_w = width, cv->in_h = height, cv->out_w = dst->width, cv->out_h = dst->height;
    cv->runs = 0;
    cv->best_ms[0] = cv->best_ms[1] = 1e9;
  }
  /* Alternate the two orders for the first frames, then keep the faster (best of each: the
   * first run of either pays for page faults in fresh scratch memory). */
  int deciding = cv->runs < 2 * SMX_CONVERT_TRIALS;
  int order = deciding ? cv->runs % 2 : cv->order;
  double t0 = deciding ? now_ms() : 0;
  int st = order == ORDER_SCALE_FIRST ? scale_then_convert(cv, src, width, height, stride, format, dst)
                                      : convert_then_scale(cv, src, width, height, stride, format, dst);
  if (st) return st;
  if (deciding) {
    double ms = now_ms() - t0;
    if (ms < cv->best_ms[order]) cv->best_ms[order] = ms;
    if (++cv->runs == 2 * SMX_CONVERT_TRIALS)
      cv->order = cv->best_ms[ORDER_CONVERT_FIRST] < cv->best_ms[ORDER_SCALE_FIRST]
                      ? ORDER_CONVERT_FIRST
                      : ORDER_SCALE_FIRST;
  }
  return SMX_OK;
}

void smx_converter_free(smx_converter *cv) {
  free(cv->scratch);
  cv->scratch = NULL;
  cv->scratch_cap = 0;
}
