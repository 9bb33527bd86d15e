/* Media Foundation H.264 encoder: the fallback when NVENC is missing (no NVIDIA driver, no
 * NVENC on the GPU, the session limit). An H.264 encoder MFT found with MFTEnumEx, hardware
 * first (Intel Quick Sync, AMD AMF, NVIDIA's own MFT; asynchronous MFTs are unlocked and driven
 * by their events), then Microsoft's software encoder. NV12 in system memory (the video
 * processor's readback, or mf_convert.c from a CPU picture), Annex-B out. Low latency mode, CBR
 * with a one-frame buffer, no B-frames, IDR on request (CODECAPI_AVEncVideoForceKeyFrame).
 * Windows only; one thread at a time per encoder (win_encoder.c serializes). */
#ifndef SMX_MF_ENCODER_H
#define SMX_MF_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "nvenc_params.h"

typedef struct smx_mf smx_mf;

/* Opens the first MFT that accepts the settings. `name` gets "Media Foundation: <MFT name>
 * (hardware|software)"; `note` any setting the MFT refused (logged, not fatal). */
int smx_mf_open(const smx_win_params *p, smx_mf **out, char *name, size_t name_cap, char *note,
                size_t note_cap, char *msg, size_t cap);
/* Encodes one tightly packed NV12 picture (width*height*3/2 bytes). *data and *size: the access
 * unit, valid until the next call. */
int smx_mf_encode(smx_mf *m, const uint8_t *nv12, int force_idr, uint64_t frame,
                  const uint8_t **data, uint32_t *size, char *msg, size_t cap);
/* New mean bitrate (CODECAPI_AVEncCommonMeanBitRate, allowed while encoding). */
int smx_mf_set_rate(smx_mf *m, const smx_win_params *p, char *msg, size_t cap);
void smx_mf_close(smx_mf *m);

#endif
