/* The Windows encoder's decisions, in portable C (no Windows headers): NVENC's configuration
 * from a session's parameters, the rate-control math, where the picture goes in the output
 * (aspect kept), Media Foundation's settings, NVENC status names and what an open failure means
 * (driver too old, session limit). win_encoder.c / nvenc.c / mf_encoder.c apply these on
 * Windows; ffi/native/win/tests/params_test.c runs them on Linux (tests/win_encoder_test.ts), so
 * every number the Windows encoder uses is checked here even though NVENC is not.
 *
 * Include with -I/usr/include/ffnvcodec (Debian libffmpeg-nvenc-dev); nvEncodeAPI.h brings its
 * own GUID type off Windows. */
#ifndef SMX_NVENC_PARAMS_H
#define SMX_NVENC_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <nvEncodeAPI.h>

/* smx_h264_profile's values (encoder_options.h), repeated: that header needs libavcodec. */
#define SMX_WIN_PROFILE_MAIN 0
#define SMX_WIN_PROFILE_BASELINE 1

/* What a session asks for. `open_fps` is fixed for the session's life; `fps` is the current rate
 * (set_fps), expressed as a scaled bitrate exactly like the Linux encoder (encoder_options.h). */
typedef struct {
  uint32_t width, height;
  uint32_t open_fps, fps;
  uint32_t bitrate_kbps;
  uint32_t profile; /* SMX_WIN_PROFILE_* */
} smx_win_params;

typedef struct {
  uint32_t average_bps; /* CBR target */
  uint32_t max_bps;     /* = average (CBR) */
  uint32_t vbv_bits;    /* one frame at the target: every frame fits one frame interval */
} smx_win_rate;

#define SMX_WIN_MAX_BPS 240000000u /* H.264 level 5.2 MaxBR (Main), smx's 240000 kbps cap */

/* Bits per frame = bitrate / fps, with the encoder opened at open_fps (NVENC cannot change its
 * frame rate without a new session): average = bitrate * open_fps / fps. */
smx_win_rate smx_win_rate_for(const smx_win_params *p);

typedef struct {
  uint32_t left, top, right, bottom; /* right/bottom exclusive, like D3D11's RECT */
} smx_win_rect;

/* Where a src_w x src_h picture goes in a dst_w x dst_h output, aspect kept: the whole source,
 * into the whole output when their aspects agree within rounding to even sizes (a rendition of
 * protocol/size_classes.ts always does), else centred with black bars (pillar- or letterbox),
 * the picture's rectangle on even coordinates (4:2:0). */
void smx_win_fit(uint32_t src_w, uint32_t src_h, uint32_t dst_w, uint32_t dst_h,
                 smx_win_rect *src, smx_win_rect *dst);

/* Fills NVENC's session parameters. `preset` is what nvEncGetEncodePresetConfigEx returned for
 * P1 + ULTRA_LOW_LATENCY (NULL: start from zero, for tests); the result overrides what smx
 * depends on: CBR with a one-frame VBV, no B-frames, infinite GOP (IDRs only on request, with
 * SPS/PPS repeated), no lookahead, zero reorder delay, the profile's entropy coding, VUI colour
 * (BT.601 limited range, BT.709 primaries, sRGB transfer: what the video processor's RGB→YUV
 * gives) and bitstream_restriction, synchronous mode, picture type decision by the encoder. */
void smx_nvenc_fill(const smx_win_params *p, const NV_ENC_CONFIG *preset,
                    NV_ENC_INITIALIZE_PARAMS *init, NV_ENC_CONFIG *cfg);

/* "NV_ENC_ERR_OUT_OF_MEMORY" etc.; "NV_ENC_ERR_<n>" for a value this header does not know. */
const char *smx_nvenc_status_name(int status);

/* NvEncodeAPIGetMaxSupportedVersion gives (major << 4) | minor. Returns 1 when the driver
 * supports the headers' NVENCAPI_MAJOR/MINOR_VERSION, else 0 with a message naming both and the
 * minimum driver (smx_nvenc_min_driver) in msg. */
int smx_nvenc_version_ok(uint32_t driver_max, char *msg, size_t cap);
/* Minimum NVIDIA driver for the headers' API version ("Windows 471.41 / Linux 470.57.02"). */
const char *smx_nvenc_min_driver(void);

/* Classifies a failure of nvEncOpenEncodeSessionEx / nvEncInitializeEncoder:
 * 1 = the consumer cards' concurrent session limit (NV_ENC_ERR_OUT_OF_MEMORY from open, or
 *     NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY as older drivers return it),
 * 2 = no NVENC on this device (NO_ENCODE_DEVICE, UNSUPPORTED_DEVICE, INVALID_DEVICE,
 *     DEVICE_NOT_EXIST: another vendor's GPU, or an NVIDIA GPU without NVENC),
 * 0 = anything else. Writes a sentence for the log into msg (with `open_sessions`, this
 * process's NVENC sessions at the time). */
int smx_nvenc_open_failure(int status, int during_open, int open_sessions, char *msg,
                           size_t cap);

/* Media Foundation H.264 encoder settings. mf_encoder.c applies them in this order: the codec
 * API values (rate control, bitrate, buffer, low latency, B-frames, GOP: some encoders take them
 * only before the media types), then the output type, then the input type (an MFT refuses an
 * input type before its output type is set). */
typedef struct {
  uint32_t width, height;
  uint32_t fps_num, fps_den;
  uint32_t average_bps;   /* MF_MT_AVG_BITRATE and CODECAPI_AVEncCommonMeanBitRate */
  uint32_t vbv_bytes;     /* CODECAPI_AVEncCommonBufferSize: one frame */
  uint32_t profiles[2];   /* eAVEncH264VProfile values to try in order (0 = none) */
  uint32_t gop;           /* CODECAPI_AVEncMPVGOPSize (0 would be the encoder's default) */
  uint32_t b_frames;      /* CODECAPI_AVEncMPVDefaultBPictureCount */
  uint32_t rate_control;  /* eAVEncCommonRateControlMode_CBR */
  uint32_t low_latency;   /* CODECAPI_AVLowLatencyMode */
  uint32_t interlace;     /* MFVideoInterlace_Progressive */
} smx_mf_plan;
void smx_mf_plan_for(const smx_win_params *p, smx_mf_plan *out);

#endif
