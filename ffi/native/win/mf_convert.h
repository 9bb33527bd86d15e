/* CPU fallback conversion for the Media Foundation encoder when no D3D11 video processor is
 * available: BGRA/RGBA of any size → tightly packed NV12 at the session size, aspect kept
 * (smx_win_fit: black bars around a picture of another aspect), bilinear scaling, BT.601
 * limited range (the same matrix as libyuv's ARGBToNV12 and the video processor's output).
 * Portable C: tests/win_encoder_test.ts runs it on Linux against the formula. */
#ifndef SMX_MF_CONVERT_H
#define SMX_MF_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* format: 1 = BGRA, 2 = RGBA (SMX_FORMAT_*). dst holds dst_w*dst_h*3/2 bytes; sizes even. */
void smx_rgba_to_nv12_fit(const uint8_t *src, uint32_t src_w, uint32_t src_h,
                          uint32_t src_stride, uint32_t format, uint8_t *dst, uint32_t dst_w,
                          uint32_t dst_h);

#endif
