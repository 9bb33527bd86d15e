/* Frame stamp: writes and reads the two-row black/white band described in stamp.h and
 * docs/frame-ring.md#frame-stamp. protocol/stamp.ts is the TypeScript twin; keep them equal. */
#include "stamp.h"

#include "ring.h" /* SMX_FORMAT_* */

#include <string.h>

#define MIN_WIDTH SMX_STAMP_CELLS /* every cell at least one pixel wide */

uint32_t smx_stamp_band_height(uint32_t width) {
  uint32_t cell_h = (width + SMX_STAMP_CELLS / 2) / SMX_STAMP_CELLS; /* round(W / 40) */
  return SMX_STAMP_ROWS * (cell_h < 2 ? 2 : cell_h);
}

/* CRC-8, polynomial 0x07, initial value 0, no reflection, no final xor. */
static uint8_t crc8(const uint8_t *data, size_t len) {
  uint8_t crc = 0;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    for (int b = 0; b < 8; b++) crc = (uint8_t)(crc & 0x80 ? (crc << 1) ^ 0x07 : crc << 1);
  }
  return crc;
}

static uint8_t stamp_crc(uint32_t frame, uint32_t time_low) {
  uint8_t bytes[8] = {frame >> 24, frame >> 16, frame >> 8, frame,
                      time_low >> 24, time_low >> 16, time_low >> 8, time_low};
  return crc8(bytes, sizeof bytes);
}

/* The 40 bits of each row, MSB first: a 32-bit value followed by an 8-bit trailer. */
static uint64_t row_bits(uint32_t value, uint8_t trailer) { return (uint64_t)value << 8 | trailer; }

static uint32_t cell_x(uint32_t i, uint32_t width) {
  return (uint32_t)((uint64_t)i * width / SMX_STAMP_CELLS);
}

static int check_args(const char *fn, const uint8_t *pixels, uint32_t width, uint32_t height,
                      uint32_t stride, uint32_t format) {
  if (!pixels) return smx_fail(SMX_E_INVALID_ARG, "%s: pixels is NULL", fn);
  if (format != SMX_FORMAT_BGRA && format != SMX_FORMAT_RGBA)
    return smx_fail(SMX_E_INVALID_ARG, "%s: pixel format %u is unknown (1 = BGRA, 2 = RGBA)", fn,
                    format);
  if (width < MIN_WIDTH || width > SMX_RING_MAX_DIM)
    return smx_fail(SMX_E_INVALID_ARG, "%s: width %u is out of range (%d..%d)", fn, width,
                    MIN_WIDTH, SMX_RING_MAX_DIM);
  if (height < smx_stamp_band_height(width) || height > SMX_RING_MAX_DIM)
    return smx_fail(SMX_E_INVALID_ARG, "%s: height %u cannot hold the %u-pixel stamp band", fn,
                    height, smx_stamp_band_height(width));
  if (stride < width * 4)
    return smx_fail(SMX_E_INVALID_ARG, "%s: stride %u is shorter than a row (%u bytes)", fn,
                    stride, width * 4);
  return SMX_OK;
}

int smx_stamp_write(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                    uint32_t format, uint32_t frame, int64_t capture_us) {
  int st = check_args("smx_stamp_write", pixels, width, height, stride, format);
  if (st < 0) return st;
  uint32_t time_low = (uint32_t)(uint64_t)capture_us;
  uint64_t rows[SMX_STAMP_ROWS] = {row_bits(frame, stamp_crc(frame, time_low)),
                                   row_bits(time_low, SMX_STAMP_MARKER)};
  uint32_t cell_h = smx_stamp_band_height(width) / SMX_STAMP_ROWS;
  /* White and black are the same bytes in BGRA and RGBA; alpha is opaque either way. */
  static const uint8_t white[4] = {255, 255, 255, 255}, black[4] = {0, 0, 0, 255};
  for (uint32_t r = 0; r < SMX_STAMP_ROWS; r++) {
    uint8_t *first = pixels + (uint64_t)r * cell_h * stride;
    for (uint32_t i = 0; i < SMX_STAMP_CELLS; i++) {
      const uint8_t *px = (rows[r] >> (SMX_STAMP_CELLS - 1 - i)) & 1 ? white : black;
      for (uint32_t x = cell_x(i, width); x < cell_x(i + 1, width); x++)
        memcpy(first + x * 4, px, 4);
    }
    for (uint32_t y = 1; y < cell_h; y++) memcpy(first + (uint64_t)y * stride, first, width * 4);
  }
  return SMX_OK;
}

/* Mean luma (BT.601 weights; R and B weigh differently, so the format matters) of the middle
 * half of a cell, thresholded at 128. */
static int read_bit(const uint8_t *pixels, uint32_t stride, uint32_t format, uint32_t x0,
                    uint32_t x1, uint32_t y0, uint32_t y1) {
  uint32_t qx = (x1 - x0) / 4, qy = (y1 - y0) / 4;
  x0 += qx, x1 -= qx, y0 += qy, y1 -= qy;
  uint32_t ri = format == SMX_FORMAT_BGRA ? 2 : 0, bi = 2 - ri;
  uint64_t sum = 0, n = 0;
  for (uint32_t y = y0; y < y1; y++) {
    const uint8_t *row = pixels + (uint64_t)y * stride;
    for (uint32_t x = x0; x < x1; x++, n++)
      sum += 77u * row[x * 4 + ri] + 150u * row[x * 4 + 1] + 29u * row[x * 4 + bi];
  }
  return n && sum >= 128u * 256u * n;
}

int smx_stamp_read(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                   uint32_t format, int64_t *out) {
  static const char fn[] = "smx_stamp_read";
  int st = check_args(fn, pixels, width, height, stride, format);
  if (st < 0) return st;
  if (!out) return smx_fail(SMX_E_INVALID_ARG, "%s: out is NULL", fn);
  uint32_t cell_h = smx_stamp_band_height(width) / SMX_STAMP_ROWS;
  uint64_t rows[SMX_STAMP_ROWS] = {0, 0};
  for (uint32_t r = 0; r < SMX_STAMP_ROWS; r++)
    for (uint32_t i = 0; i < SMX_STAMP_CELLS; i++)
      rows[r] = rows[r] << 1 | (uint64_t)read_bit(pixels, stride, format, cell_x(i, width),
                                                  cell_x(i + 1, width), r * cell_h,
                                                  (r + 1) * cell_h);
  uint32_t frame = (uint32_t)(rows[0] >> 8), time_low = (uint32_t)(rows[1] >> 8);
  if ((rows[1] & 0xFF) != SMX_STAMP_MARKER)
    return smx_fail(SMX_E_NOT_FOUND, "%s: no frame stamp (marker mismatch)", fn);
  if ((rows[0] & 0xFF) != stamp_crc(frame, time_low))
    return smx_fail(SMX_E_NOT_FOUND, "%s: frame stamp damaged (CRC mismatch)", fn);
  /* Widen: the 64-bit value congruent to time_low (mod 2^32) nearest to our own clock. */
  int64_t now = smx_now_us();
  int32_t delta = (int32_t)(time_low - (uint32_t)(uint64_t)now);
  out[0] = frame;
  out[1] = now + delta;
  return SMX_OK;
}
