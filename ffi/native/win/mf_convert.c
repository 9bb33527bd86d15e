/* BGRA/RGBA → NV12 with scaling on the CPU (mf_convert.h). */
#include "mf_convert.h"

#include <string.h>

#include "nvenc_params.h"

/* BT.601 limited range, 8-bit fixed point (libyuv's RGBToY / RGBToU / RGBToV). */
static uint8_t to_y(int r, int g, int b) { return (uint8_t)(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16); }
static uint8_t to_u(int r, int g, int b) {
  return (uint8_t)(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
}
static uint8_t to_v(int r, int g, int b) {
  return (uint8_t)(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
}

/* Bilinear sample of the source at (fx, fy) in 16.16 fixed point: r, g, b. */
static void sample(const uint8_t *src, uint32_t w, uint32_t h, uint32_t stride, int bgr,
                   int64_t fx, int64_t fy, int *r, int *g, int *b) {
  if (fx < 0) fx = 0;
  if (fy < 0) fy = 0;
  int64_t maxx = ((int64_t)w - 1) << 16, maxy = ((int64_t)h - 1) << 16;
  if (fx > maxx) fx = maxx;
  if (fy > maxy) fy = maxy;
  uint32_t x0 = (uint32_t)(fx >> 16), y0 = (uint32_t)(fy >> 16);
  uint32_t x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
  int ax = (int)((fx >> 8) & 0xff), ay = (int)((fy >> 8) & 0xff);
  const uint8_t *p00 = src + (size_t)y0 * stride + x0 * 4, *p01 = src + (size_t)y0 * stride + x1 * 4;
  const uint8_t *p10 = src + (size_t)y1 * stride + x0 * 4, *p11 = src + (size_t)y1 * stride + x1 * 4;
  int c[3];
  for (int i = 0; i < 3; i++) {
    int top = p00[i] * (256 - ax) + p01[i] * ax;
    int bot = p10[i] * (256 - ax) + p11[i] * ax;
    c[i] = (top * (256 - ay) + bot * ay + 32768) >> 16;
  }
  if (bgr) {
    *b = c[0], *g = c[1], *r = c[2];
  } else {
    *r = c[0], *g = c[1], *b = c[2];
  }
}

void smx_rgba_to_nv12_fit(const uint8_t *src, uint32_t src_w, uint32_t src_h,
                          uint32_t src_stride, uint32_t format, uint8_t *dst, uint32_t dst_w,
                          uint32_t dst_h) {
  uint8_t *Y = dst, *UV = dst + (size_t)dst_w * dst_h;
  memset(Y, 16, (size_t)dst_w * dst_h); /* black bars */
  memset(UV, 128, (size_t)dst_w * dst_h / 2);
  smx_win_rect s, d;
  smx_win_fit(src_w, src_h, dst_w, dst_h, &s, &d);
  uint32_t pw = d.right - d.left, ph = d.bottom - d.top;
  if (!pw || !ph) return;
  int bgr = format != 2;
  /* Source step per output pixel (16.16), sampling at pixel centres. */
  int64_t sx = ((int64_t)(s.right - s.left) << 16) / pw;
  int64_t sy = ((int64_t)(s.bottom - s.top) << 16) / ph;
  for (uint32_t y = 0; y < ph; y += 2) {
    for (uint32_t x = 0; x < pw; x += 2) {
      int rs = 0, gs = 0, bs = 0;
      for (uint32_t k = 0; k < 4; k++) {
        uint32_t xx = x + (k & 1), yy = y + (k >> 1);
        int64_t fx = ((int64_t)s.left << 16) + sx * xx + sx / 2 - 32768;
        int64_t fy = ((int64_t)s.top << 16) + sy * yy + sy / 2 - 32768;
        int r, g, b;
        sample(src, src_w, src_h, src_stride, bgr, fx, fy, &r, &g, &b);
        Y[(size_t)(d.top + yy) * dst_w + d.left + xx] = to_y(r, g, b);
        rs += r, gs += g, bs += b;
      }
      uint8_t *uv = UV + (size_t)((d.top + y) / 2) * dst_w + d.left + x;
      uv[0] = to_u((rs + 2) >> 2, (gs + 2) >> 2, (bs + 2) >> 2);
      uv[1] = to_v((rs + 2) >> 2, (gs + 2) >> 2, (bs + 2) >> 2);
    }
  }
}
