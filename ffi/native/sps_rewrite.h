/* H.264 SPS rewrite: make a decoder output every frame at once.
 *
 * Decoders hold frames back (up to a whole DPB) unless the SPS says no frame is ever reordered:
 * VUI bitstream_restriction_flag = 1 with max_num_reorder_frames = 0. x264 with bframes=0 writes
 * it; FFmpeg 5.1's h264_nvenc does not (no option exposes it). This module parses an SPS (exp-
 * Golomb fields, emulation prevention bytes removed), adds the VUI or its bitstream_restriction
 * when missing, sets max_num_reorder_frames = 0 and max_dec_frame_buffering = max_num_ref_frames,
 * keeps every other field bit for bit, and re-serialises with emulation prevention.
 *
 * Only for streams without B-frames (every smx encoder): a stream that does reorder would be
 * displayed out of order after it. Portable C, no allocation: the Linux encoder (encoder.c) and
 * the Windows one (win/) both apply it to the SPS in front of every IDR. */
#ifndef SMX_SPS_REWRITE_H
#define SMX_SPS_REWRITE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  /* Add or fix bitstream_restriction (max_num_reorder_frames = 0). */
  SMX_SPS_FIX = 0,
  /* For tests: drop bitstream_restriction (flag 0), keeping the rest of the VUI. */
  SMX_SPS_STRIP_RESTRICTION = 1,
  /* For tests: drop the whole VUI (vui_parameters_present_flag 0). */
  SMX_SPS_STRIP_VUI = 2,
} smx_sps_mode;

/* What an SPS says (the fields this module reads or writes). */
typedef struct {
  uint32_t profile_idc, level_idc;
  uint32_t max_num_ref_frames;
  uint32_t vui_present;
  uint32_t bitstream_restriction;  /* flag */
  uint32_t max_num_reorder_frames; /* valid when bitstream_restriction */
  uint32_t max_dec_frame_buffering;
} smx_sps_info;

/* Largest SPS NAL handled (real ones are 10-60 bytes; scaling lists and HRD push it past 100). */
#define SMX_SPS_MAX_BYTES 1024
/* An SPS grows by at most this much (a VUI holding only the restriction, plus escapes). */
#define SMX_SPS_MAX_GROWTH 16

/* Parses one SPS NAL unit (`nal` starts at the NAL header byte, escaped as in the stream).
 * Returns 0, or a negative smx_status with a message (smx_last_error) when it is not an SPS
 * this module reads. */
int smx_sps_parse(const uint8_t *nal, size_t len, smx_sps_info *out);

/* Rewrites one SPS NAL unit into `out` (capacity `cap`; len + SMX_SPS_MAX_GROWTH always
 * suffices). Returns the new length when it changed something, 0 when the SPS already satisfies
 * `mode` (out untouched), or a negative smx_status. */
int smx_sps_rewrite(const uint8_t *nal, size_t len, smx_sps_mode mode, uint8_t *out, size_t cap);

/* Applies smx_sps_rewrite to every SPS of an Annex-B buffer (start codes and every other NAL
 * unit copied as they are). Returns the new length when any SPS changed, 0 when none did (out
 * untouched; `in` is fine as it is), or a negative smx_status. `cap` >= in_len +
 * SMX_SPS_MAX_GROWTH * (number of SPS) suffices. */
int64_t smx_h264_rewrite_sps_annexb(const uint8_t *in, size_t in_len, smx_sps_mode mode,
                                    uint8_t *out, size_t cap);

#endif
