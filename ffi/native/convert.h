/* BGRA/RGBA → 4:2:0 (NV12 or I420) with an optional resize, on libyuv (about 5x faster than
 * swscale here). Which order is faster depends on the ratio, so the converter measures both on
 * the first frames of each input geometry and keeps the faster one:
 *   scale-then-convert: ARGBScale (box) at 4 bytes/pixel, then convert the small image; wins
 *     for large downscales (1080p→360p: 0.27 ms vs 1.5 ms);
 *   convert-then-scale: convert at full size, then I420Scale/NV12Scale; wins where libyuv has a
 *     special plane scaler (3/4, 1/2) and for upscales (720p→540p: 0.4 ms vs 1.0 ms). */
#ifndef SMX_CONVERT_H
#define SMX_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* The destination picture (memory owned by the caller, e.g. an AVFrame's planes). */
typedef struct {
  uint8_t *plane[3]; /* Y, then U and V (I420) or interleaved UV (NV12, plane[2] unused) */
  int stride[3];
  uint32_t width, height; /* even */
  int nv12;               /* 1 = NV12, 0 = I420 */
} smx_yuv_image;

enum { SMX_CONVERT_TRIALS = 3 }; /* timed runs of each order before choosing */

typedef struct {
  int full_range;   /* set by the owner: 1 = full-range BT.601 output (JPEG's "J420", I420 only),
                       0 = limited range (video: what the H.264 encoder signals) */
  uint8_t *scratch; /* intermediate picture of either order */
  size_t scratch_cap;
  uint32_t in_w, in_h, out_w, out_h; /* geometry the choice below was made for */
  int runs;                          /* frames converted with this geometry */
  double best_ms[2];                 /* fastest run of each order so far */
  int order;                         /* chosen order once runs >= 2 * SMX_CONVERT_TRIALS */
} smx_converter;

/* Pixel formats of the source (same values as SMX_FORMAT_* in ring.h). */
enum { SMX_CONVERT_BGRA = 1, SMX_CONVERT_RGBA = 2 };

/* Converts (and resizes when the sizes differ) one picture. Returns 0, SMX_E_NO_MEMORY or
 * SMX_E_INVALID_ARG (message via smx_fail). `src` rows are `stride` bytes apart; any size. */
int smx_convert(smx_converter *cv, const uint8_t *src, uint32_t width, uint32_t height,
                uint32_t stride, uint32_t format, const smx_yuv_image *dst);
void smx_converter_free(smx_converter *cv);

#endif
