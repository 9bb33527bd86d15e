/* JPEG encoder sessions: every frame a standalone baseline JPEG (4:2:0, full-range BT.601 JFIF),
 * for pages whose browser has no WebCodecs (a LAN address over plain HTTP): they decode it with
 * createImageBitmap, and a dropped frame needs no keyframe.
 *
 * Input BGRA/RGBA from a frame ring slot (zero-copy, the slot's sequence re-checked before
 * compressing: a torn frame is never sent) or a caller's buffer; colour conversion and scaling to
 * the session size with libyuv (convert.h, full-range J420 into our own planes); compression with
 * libjpeg-turbo's TurboJPEG API straight from those planes (tjCompressFromYUVPlanes: measured
 * 10-20 % cheaper than tjCompress2 from BGRX at the same size, and scaling happens on 1.5 bytes a
 * pixel instead of 4). See ffi/README.md. */
#ifndef SMX_JPEG_H
#define SMX_JPEG_H

#include "smx_common.h"
#include "ring.h"

typedef struct smx_jpeg smx_jpeg;

/* Filled after each encode for TS (ABI: 64 bytes, little-endian, this order). */
typedef struct {
  uint32_t size;      /* bytes of JPEG available from smx_jpeg_packet_data */
  uint32_t quality;   /* the quality this frame was compressed at */
  uint64_t frame;     /* source frame number (ring) or the caller's */
  int64_t capture_us; /* source capture time */
  double convert_ms;  /* colour conversion + scale */
  double encode_ms;   /* tjCompressFromYUVPlanes */
  uint32_t in_width, in_height;
  uint32_t out_width, out_height;
  uint64_t reserved;
} smx_jpeg_info;

/* Output sizes: even (4:2:0), 16..8192 per side. Quality 1..100 (libjpeg's scale). */
#define SMX_JPEG_MIN_DIM 16
#define SMX_JPEG_MAX_DIM 8192
#define SMX_JPEG_MIN_QUALITY 1
#define SMX_JPEG_MAX_QUALITY 100

/* Opens a session for width x height at `quality` (synchronous: a TurboJPEG handle and the
 * session's planes, no encode). NULL on failure with the reason in smx_last_error():
 * SMX_E_INVALID_ARG for a size or quality out of range, SMX_E_NO_MEMORY, SMX_E_ENCODER when
 * TurboJPEG cannot be initialised. */
SMX_EXPORT smx_jpeg *smx_jpeg_open(uint32_t width, uint32_t height, uint32_t quality);
/* (nonblocking) Converts + compresses one frame of a caller's buffer (any size up to
 * SMX_RING_MAX_DIM, scaled to the session size). `pixels_len` is checked against stride and
 * height. Returns output bytes (> 0) or a negative status; details in smx_jpeg_error(). */
SMX_EXPORT int smx_jpeg_encode_rgba(smx_jpeg *j, const uint8_t *pixels, uint64_t pixels_len,
                                    uint32_t width, uint32_t height, uint32_t stride,
                                    uint32_t format, uint64_t frame, int64_t capture_us);
/* (nonblocking) Same, from the newest frame of a ring: SMX_E_TORN when the slot was overwritten
 * during conversion (nothing was compressed: retry), SMX_E_AGAIN when there is no frame yet. */
SMX_EXPORT int smx_jpeg_encode_ring(smx_jpeg *j, smx_ring_reader *r);
/* The last JPEG, valid until the next encode or close (NULL when there is none). */
SMX_EXPORT const uint8_t *smx_jpeg_packet_data(smx_jpeg *j);
SMX_EXPORT int smx_jpeg_packet_info(smx_jpeg *j, smx_jpeg_info *out);
/* Records a new quality for the next frame (safe while an encode runs on another thread). */
SMX_EXPORT int smx_jpeg_set_quality(smx_jpeg *j, uint32_t quality);
/* Message of the handle's last failure (set by calls on any thread). */
SMX_EXPORT const char *smx_jpeg_error(smx_jpeg *j);
/* Waits for a call in flight on another thread, then frees. NULL / closed handles are ignored;
 * any later call on the handle returns SMX_E_CLOSED. */
SMX_EXPORT void smx_jpeg_close(smx_jpeg *j);

#endif
