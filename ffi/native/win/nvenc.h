/* NVENC called directly (no FFmpeg): nvEncodeAPI64.dll loaded at run time through the ffnvcodec
 * headers' function list, an H.264 session on a D3D11 device (NV_ENC_DEVICE_TYPE_DIRECTX) fed
 * with the video processor's NV12 texture (registered once, mapped per frame), synchronous mode
 * (the bitstream is locked right after each picture), settings from nvenc_params.c.
 * Windows only. One thread at a time per session (win_encoder.c serializes). */
#ifndef SMX_NVENC_H
#define SMX_NVENC_H

#include <stddef.h>
#include <stdint.h>

#include <d3d11.h>

#include "nvenc_params.h"

typedef struct smx_nvenc smx_nvenc;

/* Loads nvEncodeAPI64.dll (from System32 only) once per process and checks that the driver
 * supports the headers' API version. SMX_OK, or SMX_E_NOT_FOUND with why (no NVIDIA driver,
 * driver too old). Thread-safe; a failure is remembered (and its message repeated). */
int smx_nvenc_load(char *msg, size_t cap);

/* Opens and initializes a session on `device`. On failure: a status and a message; *why is 1
 * for the session limit, 2 for "no NVENC on this GPU", 0 otherwise (smx_nvenc_open_failure). */
int smx_nvenc_open(ID3D11Device *device, const smx_win_params *p, smx_nvenc **out, int *why,
                   char *msg, size_t cap);
/* Encodes the NV12 texture (out size, on the session's device; registered on first use). The
 * access unit is copied into the session's buffer: *data and *size are valid until the next call. */
int smx_nvenc_encode(smx_nvenc *n, ID3D11Texture2D *nv12, int force_idr, uint64_t pts,
                     const uint8_t **data, uint32_t *size, int *keyframe, char *msg, size_t cap);
/* New rate (bitrate and fps of p; size and profile must be the session's) without a new session
 * and without an IDR (nvEncReconfigureEncoder, resetEncoder = 0). */
int smx_nvenc_reconfigure(smx_nvenc *n, const smx_win_params *p, char *msg, size_t cap);
/* SPS + PPS the session writes (Annex-B), for the codec string before the first frame. */
int smx_nvenc_sequence_params(smx_nvenc *n, uint8_t *buf, uint32_t cap, uint32_t *size,
                              char *msg, size_t msg_cap);
/* Capabilities of NVENC H.264 on `device` as JSON ({"widthMax":4096,…}), through a session
 * opened for the query and closed again. */
int smx_nvenc_caps_json(ID3D11Device *device, char *out, size_t cap, char *msg, size_t msg_cap);
void smx_nvenc_close(smx_nvenc *n);
/* NVENC sessions this process holds now. */
int smx_nvenc_sessions_open(void);

#endif
