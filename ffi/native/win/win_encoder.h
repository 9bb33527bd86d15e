/* The Windows H.264 encoder: one C API over NVENC (nvenc.c, on D3D11 textures through the video
 * processor) and the Media Foundation fallback (mf_encoder.c), chosen at open:
 *
 *   preference "nvenc,mf" (default; SMX_WIN_ENCODERS overrides it): NVENC when
 *   nvEncodeAPI64.dll loads, the driver is new enough, the GPU has NVENC and a session is free;
 *   otherwise Media Foundation (hardware MFT first, then Microsoft's software encoder), with the
 *   reason NVENC was passed over in smx_win_encoder_skipped() ("nvenc: NVENC session limit
 *   reached: 3 sessions open …").
 *
 * Same rules and stream as the Linux encoder (encoder.h, ffi/README.md): the error model (status
 * + thread-local message + per-handle message, a registry of live handles, close waits for the
 * call in flight), one encode at a time per handle, Annex-B access units, SPS/PPS before every
 * IDR, IDR on request and after SMX_WIN_SAFETY_IDR_S without one, VUI bitstream_restriction with
 * max_num_reorder_frames = 0 (every SPS goes through sps_rewrite.c), the 64-byte packet info of
 * smx_packet_info. Windows only. */
#ifndef SMX_WIN_ENCODER_H
#define SMX_WIN_ENCODER_H

#include <stdint.h>

#include "smx_common.h"

typedef struct smx_win_encoder smx_win_encoder;
typedef struct smx_spout_receiver smx_spout_receiver; /* spout.h */

/* NVENC was wanted alone ("nvenc") and every consumer-card session is taken: the caller can
 * share an existing rendition or open with "mf". ffi/win_encoder.ts NvencSessionLimitError. */
#define SMX_E_SESSION_LIMIT (-100)

#define SMX_WIN_SAFETY_IDR_S 5
#define SMX_WIN_DEFAULT_ORDER "nvenc,mf"

/* Packet info (ABI identical to encoder.h's smx_packet_info, 64 bytes). */
typedef struct {
  uint32_t size, keyframe;
  uint64_t frame;
  int64_t capture_us;
  double convert_ms, encode_ms;
  uint32_t in_width, in_height, out_width, out_height;
  uint64_t reserved;
} smx_win_packet_info;

/* (nonblocking) Opens an encoder of width x height (even, 16..4096, ≤ 36864 macroblocks) at
 * fps (1..240) and bitrate_kbps (16..240000); profile 0 = Main, 1 = Constrained Baseline.
 * `device` is an ID3D11Device* (the Spout receiver's, multithread-protected) or NULL: then the
 * encoder creates its own on the default adapter and moves to the device of the first texture
 * it is given. NULL on failure with the reason in err and the status in *status. */
SMX_EXPORT smx_win_encoder *smx_win_encoder_open(void *device, uint32_t width, uint32_t height,
                                                 uint32_t fps, uint32_t bitrate_kbps,
                                                 uint32_t profile, const char *preference,
                                                 char *err, uint32_t err_cap, int32_t *status);
/* (nonblocking) Encodes a BGRA/RGBA ID3D11Texture2D* of any size (converted and scaled on the
 * GPU). Returns the access unit's size or a negative status. */
SMX_EXPORT int smx_win_encoder_encode_texture(smx_win_encoder *e, void *texture, uint64_t frame,
                                              int64_t capture_us, int32_t force_idr);
/* (nonblocking) Encodes a CPU picture (format 1 = BGRA, 2 = RGBA), uploaded to the GPU when the
 * encoder has a device, else converted on the CPU (Media Foundation only). */
SMX_EXPORT int smx_win_encoder_encode_bgra(smx_win_encoder *e, const uint8_t *pixels,
                                           uint64_t pixels_len, uint32_t width, uint32_t height,
                                           uint32_t stride, uint32_t format, uint64_t frame,
                                           int64_t capture_us, int32_t force_idr);
/* (nonblocking) Encodes the newest frame of a Spout receiver (spout.h), on the GPU when the
 * receiver's device has video support, else through its CPU readback. SMX_E_AGAIN: no frame
 * yet; SMX_E_TORN: the sender held its lock too long (nothing encoded; a requested IDR carries
 * over); SMX_E_WRITER_GONE: the sender went away. */
SMX_EXPORT int smx_win_encoder_encode_spout(smx_win_encoder *e, smx_spout_receiver *r,
                                            int32_t force_idr);
SMX_EXPORT const uint8_t *smx_win_encoder_packet_data(smx_win_encoder *e);
SMX_EXPORT int smx_win_encoder_packet_info(smx_win_encoder *e, smx_win_packet_info *out);
/* "nvenc" or "Media Foundation: <MFT> (hardware|software)". */
SMX_EXPORT const char *smx_win_encoder_name(smx_win_encoder *e);
SMX_EXPORT const char *smx_win_encoder_skipped(smx_win_encoder *e);
SMX_EXPORT const char *smx_win_encoder_codec(smx_win_encoder *e);
SMX_EXPORT const char *smx_win_encoder_error(smx_win_encoder *e);
/* Record a request (safe while an encode runs); the next encode applies it. */
SMX_EXPORT int smx_win_encoder_request_idr(smx_win_encoder *e);
SMX_EXPORT int smx_win_encoder_set_bitrate(smx_win_encoder *e, uint32_t kbps);
SMX_EXPORT int smx_win_encoder_set_fps(smx_win_encoder *e, uint32_t fps);
/* The D3D11 device the encoder works on (NULL for a CPU-only Media Foundation encoder). */
SMX_EXPORT void *smx_win_encoder_device(smx_win_encoder *e);
SMX_EXPORT void smx_win_encoder_close(smx_win_encoder *e);
/* (nonblocking) What this machine offers, as JSON for the verification script:
 * {"nvenc":{…caps…} or {"error":"…"}, "mf":"<name>" or {"error":"…"}, "device":"…"}. */
SMX_EXPORT int smx_win_encoder_caps(void *device, char *out, uint32_t cap);

#endif
