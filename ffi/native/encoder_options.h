/* Per-encoder libavcodec option sets: which run-time pieces an encoder needs, and the options
 * that make it a zero-latency H.264 4:2:0 encoder (Main, or Constrained Baseline on request) with
 * a 1-frame VBV. encoder.c knows only this interface, so adding an encoder (VA-API, QSV, ...)
 * means adding one entry here. */
#ifndef SMX_ENCODER_OPTIONS_H
#define SMX_ENCODER_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavutil/dict.h>

/* H.264 profile of a session (the values cross the FFI: ffi/encoder.ts PROFILE).
 * MAIN: CABAC, what WebCodecs decodes best per bit. BASELINE: Constrained Baseline (CAVLC, no
 * 8x8 transform, no B-frames, no FMO/ASO), for decoders without CABAC such as the WASM decoder
 * of pages that are not a secure context (ui/video/wasm_h264/). */
typedef enum {
  SMX_PROFILE_MAIN = 0,
  SMX_PROFILE_BASELINE = 1,
} smx_h264_profile;

/* What a session asks for; `open_fps` is the rate the encoder is opened with (fixed for its
 * life), `fps` the current one (see smx_encoder_options_rate). */
typedef struct {
  uint32_t width, height;
  uint32_t open_fps, fps;
  uint32_t bitrate_kbps;
  smx_h264_profile profile;
} smx_encoder_params;

typedef struct {
  const char *name; /* libavcodec encoder name */
  /* 1 when the run-time pieces (drivers) are loadable, else 0 with the reason in `why`.
   * Checked BEFORE avcodec_open2, whose own errors for a missing driver are misleading. */
  int (*available)(char *why, size_t cap);
  /* Fills context fields and private options for avcodec_open2. */
  void (*configure)(AVCodecContext *c, AVDictionary **opts, const smx_encoder_params *p);
} smx_encoder_option_set;

/* NULL when `name` has no option set here. */
const smx_encoder_option_set *smx_encoder_options_find(const char *name);
/* "h264_nvenc, libx264": for error messages. */
const char *smx_encoder_options_names(void);
/* The default preference order when neither the caller nor SMX_ENCODERS chose one. */
#define SMX_ENCODER_DEFAULT_ORDER "h264_nvenc,libx264"

/* Sets bit_rate / rc_max_rate / rc_buffer_size for `p->bitrate_kbps` at `p->fps` on a context
 * opened at `p->open_fps`. Both libx264 (zerolatency forces constant-frame-rate rate control) and
 * NVENC budget bits per frame as bitrate / open_fps and cannot change their frame rate after
 * open, so a new fps is expressed as a scaled bitrate: per-frame budget = bitrate / fps. The
 * VBV buffer is one frame's budget. Both encoders reconfigure on these fields at the next frame
 * without a new session: libx264 without an IDR; FFmpeg's NVENC wrapper resets the encoder and
 * forces an IDR with it. */
void smx_encoder_options_rate(AVCodecContext *c, const smx_encoder_params *p);

#endif
