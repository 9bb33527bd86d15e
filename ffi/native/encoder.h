/* H.264 encoder: libavcodec with an ordered preference (h264_nvenc first, libx264 fallback).
 * Input BGRA/RGBA from a frame ring slot or a buffer; colour conversion and downscale to the
 * session size with libyuv; H.264 Main (or Constrained Baseline on request) 4:2:0, no B-frames, zero latency, SPS/PPS in-band with
 * every IDR, VUI max_num_reorder_frames=0; Annex-B output. See ffi/README.md. */
#ifndef SMX_ENCODER_H
#define SMX_ENCODER_H

#include "smx_common.h"
#include "ring.h"

typedef struct smx_encoder smx_encoder;

/* Filled after each encode for TS (ABI: 64 bytes, little-endian, this order). */
typedef struct {
  uint32_t size;       /* bytes of Annex-B output available from smx_encoder_packet_data */
  uint32_t keyframe;   /* 1 = IDR (with SPS/PPS) */
  uint64_t frame;      /* source frame number (ring) or caller's counter */
  int64_t capture_us;  /* source capture time */
  double convert_ms;   /* colour conversion + scale */
  double encode_ms;    /* avcodec send/receive */
  uint32_t in_width, in_height;
  uint32_t out_width, out_height;
  uint64_t reserved;
} smx_packet_info;

/* Session limits. Output sizes must be even (4:2:0) and within [16, 4096] per side and 36864
 * macroblocks per frame: H.264 level 5.1/5.2's MaxFS (4096x2304), the highest level browsers'
 * decoders commonly accept and NVENC's H.264 limit per side. Input may be any size up to
 * SMX_RING_MAX_DIM (it is scaled to the session size). */
#define SMX_ENCODER_MIN_DIM 16
#define SMX_ENCODER_MAX_DIM 4096
#define SMX_ENCODER_MAX_MBS 36864
#define SMX_ENCODER_MAX_FPS 240
#define SMX_ENCODER_MIN_KBPS 16
#define SMX_ENCODER_MAX_KBPS 240000
/* An IDR is forced when none was produced for this long (a decoder that lost its state without
 * asking recovers within it); IDRs are otherwise only made on request. */
#define SMX_ENCODER_SAFETY_IDR_S 5

/* (nonblocking) Opens an encoder for width x height at fps. `preference` is a comma list of
 * libavcodec encoder names ("h264_nvenc,libx264"); NULL or "" uses that default; SMX_ENCODERS in
 * the environment overrides the default. On failure returns NULL, writes the reason for every
 * encoder tried into err (NUL-terminated) and the status into *status (may be NULL):
 * SMX_E_INVALID_ARG for bad arguments or an unknown encoder name, SMX_E_ENCODER when no encoder
 * could be opened. The encoder is primed with one discarded frame so that smx_encoder_codec()
 * reports the SPS it really writes; the first real frame is an IDR. */
SMX_EXPORT smx_encoder *smx_encoder_open(const char *preference, uint32_t width, uint32_t height,
                                         uint32_t fps, uint32_t bitrate_kbps, char *err,
                                         uint32_t err_cap, int32_t *status);
/* (nonblocking) Same, with an H.264 profile: 0 = Main (what smx_encoder_open gives), 1 =
 * Constrained Baseline (CAVLC, no 8x8 transform: for decoders without CABAC, such as the WASM
 * decoder of pages that are not a secure context). Any other value is SMX_E_INVALID_ARG. */
SMX_EXPORT smx_encoder *smx_encoder_open_profile(const char *preference, uint32_t width,
                                                 uint32_t height, uint32_t fps,
                                                 uint32_t bitrate_kbps, uint32_t profile,
                                                 char *err, uint32_t err_cap, int32_t *status);
SMX_EXPORT const char *smx_encoder_name(smx_encoder *e);    /* "libx264" / "h264_nvenc" */
SMX_EXPORT const char *smx_encoder_skipped(smx_encoder *e); /* "h264_nvenc: <why>; …" or "" */
/* WebCodecs codec string from the last SPS produced, e.g. "avc1.4d401f" (Main) or
 * "avc1.42c01f" (Constrained Baseline). */
SMX_EXPORT const char *smx_encoder_codec(smx_encoder *e);
/* (nonblocking) Converts + encodes one frame. `pixels_len` is the buffer's size in bytes (checked
 * against stride and height). Returns output bytes (>= 0) or a negative status; details in
 * smx_encoder_error(). */
SMX_EXPORT int smx_encoder_encode_rgba(smx_encoder *e, const uint8_t *pixels, uint64_t pixels_len,
                                       uint32_t width, uint32_t height, uint32_t stride,
                                       uint32_t format, uint64_t frame, int64_t capture_us,
                                       int32_t force_idr);
/* (nonblocking) Same, from the latest frame of a ring; SMX_E_TORN when the slot was overwritten
 * during conversion (nothing was encoded: retry), SMX_E_AGAIN when no frame is there yet. */
SMX_EXPORT int smx_encoder_encode_ring(smx_encoder *e, smx_ring_reader *r, int32_t force_idr);
/* The last packet, valid until the next encode or close (NULL when there is none). */
SMX_EXPORT const uint8_t *smx_encoder_packet_data(smx_encoder *e);
SMX_EXPORT int smx_encoder_packet_info(smx_encoder *e, smx_packet_info *out);
/* These three only record a request (safe while an encode runs on another thread); the next
 * encode applies it: an IDR, or a new rate without a new session (see encoder_options.h). */
SMX_EXPORT int smx_encoder_request_idr(smx_encoder *e);
SMX_EXPORT int smx_encoder_set_bitrate(smx_encoder *e, uint32_t kbps);
SMX_EXPORT int smx_encoder_set_fps(smx_encoder *e, uint32_t fps);
/* Message of the handle's last failure (set by calls on any thread). */
SMX_EXPORT const char *smx_encoder_error(smx_encoder *e);
/* Waits for a call in flight on another thread, then frees. NULL / closed handles are ignored;
 * any later call on the handle returns SMX_E_CLOSED. */
SMX_EXPORT void smx_encoder_close(smx_encoder *e);

#endif
