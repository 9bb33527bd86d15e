/* Pattern sender: a native thread that renders a moving test picture (with a frame stamp) into a
 * frame ring it owns, at a given size and rate. The demo engine drives one per output and changes
 * its look through smx_pattern_set_params; the latency benchmark reads time from the stamps. */
#ifndef SMX_PATTERN_H
#define SMX_PATTERN_H

#include "smx_common.h"

typedef struct smx_pattern smx_pattern;

/* ABI struct passed from TS as a 64-byte buffer (little-endian, this exact order). */
typedef struct {
  float hue;           /* 0..1: base colour of the shapes */
  float saturation;    /* 0..1 */
  float brightness;    /* 0..1: background brightness */
  float speed;         /* shape motion, cycles per second (0 = frozen) */
  float shape_size;    /* 0..1 of the frame height */
  float cursor_x;      /* 0..1 texture space, x right */
  float cursor_y;      /* 0..1 texture space, y down */
  uint32_t shape_count;   /* 0..64 */
  uint32_t shape_kind;    /* 0 = circles, 1 = squares, 2 = bars */
  uint32_t cursor_visible;
  uint32_t cursor_buttons; /* bit mask; a pressed cursor is drawn filled */
  uint32_t paused;        /* 1 = keep sending the same picture (stamps still advance) */
  uint32_t reserved[4];
} smx_pattern_params;

SMX_EXPORT smx_pattern *smx_pattern_start(const char *ring_name, uint32_t width, uint32_t height,
                                          uint32_t fps, uint32_t format);
SMX_EXPORT int smx_pattern_set_params(smx_pattern *p, const smx_pattern_params *params);
SMX_EXPORT int smx_pattern_set_rate(smx_pattern *p, uint32_t fps);
SMX_EXPORT int smx_pattern_resize(smx_pattern *p, uint32_t width, uint32_t height);
/* Overlay: a square module matrix (a QR code) drawn over the picture, after the shapes and the
 * cursor and before the stamp. `modules` holds size*size bytes, row-major, nonzero = dark
 * (black), 0 = light (white); a white quiet zone of SMX_PATTERN_QUIET modules surrounds it. Each
 * module is scale x scale pixels; (x, y) is the top-left pixel of the quiet zone, so the overlay
 * covers (size + 2*QUIET) * scale pixels square, clipped to the frame. The matrix is copied in;
 * NULL or size 0 removes the overlay. Takes effect from the next frame. */
#define SMX_PATTERN_QUIET 4
#define SMX_PATTERN_OVERLAY_MAX_SIZE 255 /* modules per side (a QR code has at most 177) */
#define SMX_PATTERN_OVERLAY_MAX_SCALE 64
SMX_EXPORT int smx_pattern_set_overlay(smx_pattern *p, const uint8_t *modules, uint32_t size,
                                       uint32_t x, uint32_t y, uint32_t scale);
/* out: [frames_sent, frames_late, render_us_avg, render_us_max] */
SMX_EXPORT int smx_pattern_stats(smx_pattern *p, uint64_t *out);
SMX_EXPORT void smx_pattern_stop(smx_pattern *p); /* joins the thread, closes the ring */

#endif
