/* Frame stamp: frame number and capture time drawn as pixels at the top of a frame so they
 * survive H.264 encode, decode and downscale to 320 px wide. Spec: docs/frame-ring.md#frame-stamp
 * (mirrored in TS by protocol/stamp.ts, which the browser and tests use to read it back).
 *
 * Band: 2 rows x 40 cells across the full width, from y=0. Cell i spans x in
 * [floor(i*W/40), floor((i+1)*W/40)); each row is `cell_h = max(2, round(W/40))` pixels tall.
 * Row 0: frame number (32 bits, MSB first) + CRC-8 (poly 0x07, init 0) of the 8 bytes
 *        frame(BE32) || time_low(BE32).
 * Row 1: capture time µs modulo 2^32 (32 bits, MSB first) + marker 0xA5.
 * Bit 1 = white (255,255,255), 0 = black. A reader samples the middle half of each cell, takes
 * luma, thresholds at 128, checks marker and CRC, and widens the time to the 64-bit value
 * nearest its own clock. */
#ifndef SMX_STAMP_H
#define SMX_STAMP_H

#include "smx_common.h"

#define SMX_STAMP_CELLS 40
#define SMX_STAMP_ROWS 2
#define SMX_STAMP_MARKER 0xA5

/* Height in pixels of the band for a frame `width` wide. */
SMX_EXPORT uint32_t smx_stamp_band_height(uint32_t width);
SMX_EXPORT int smx_stamp_write(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                               uint32_t format, uint32_t frame, int64_t capture_us);
/* Reads a stamp; out[0] = frame, out[1] = capture µs (widened against smx_now_us()). */
SMX_EXPORT int smx_stamp_read(const uint8_t *pixels, uint32_t width, uint32_t height,
                              uint32_t stride, uint32_t format, int64_t *out);

#endif
