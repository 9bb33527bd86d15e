/* The Windows encoder's decisions in portable C (nvenc_params.h). */
#include "nvenc_params.h"

#include <stdio.h>
#include <string.h>

smx_win_rate smx_win_rate_for(const smx_win_params *p) {
  uint32_t fps = p->fps ? p->fps : p->open_fps;
  uint64_t bps = (uint64_t)p->bitrate_kbps * 1000u * p->open_fps / (fps ? fps : 1);
  if (bps < 1000) bps = 1000;
  /* The scaled rate of a much lower fps can exceed anything H.264 allows (level 5.2 Main: 240
   * Mbit/s); the encoders refuse such values, so cap there. */
  if (bps > SMX_WIN_MAX_BPS) bps = SMX_WIN_MAX_BPS;
  uint64_t vbv = (bps + p->open_fps - 1) / (p->open_fps ? p->open_fps : 1);
  smx_win_rate r = {(uint32_t)bps, (uint32_t)bps, (uint32_t)vbv};
  return r;
}

static uint32_t even_down(uint64_t v) { return (uint32_t)(v & ~(uint64_t)1); }

void smx_win_fit(uint32_t src_w, uint32_t src_h, uint32_t dst_w, uint32_t dst_h,
                 smx_win_rect *src, smx_win_rect *dst) {
  *src = (smx_win_rect){0, 0, src_w, src_h};
  *dst = (smx_win_rect){0, 0, dst_w, dst_h};
  if (!src_w || !src_h || !dst_w || !dst_h) return;
  /* The picture's size in the output when fitted inside it. */
  uint64_t fit_w = dst_w, fit_h = dst_h;
  if ((uint64_t)src_w * dst_h > (uint64_t)dst_w * src_h) {
    fit_h = ((uint64_t)dst_w * src_h + src_w / 2) / src_w; /* wider source: bars above/below */
  } else {
    fit_w = ((uint64_t)dst_h * src_w + src_h / 2) / src_h; /* taller source: bars left/right */
  }
  /* Within 2 px of the whole output (even rounding of a rendition): use the whole output, as
   * the Linux converter does; a bar of 1 px would only be a dark line. */
  if (fit_w + 2 >= dst_w && fit_h + 2 >= dst_h) return;
  uint32_t w = even_down(fit_w), h = even_down(fit_h);
  if (w < 2) w = 2;
  if (h < 2) h = 2;
  uint32_t x = even_down((dst_w - w) / 2), y = even_down((dst_h - h) / 2);
  *dst = (smx_win_rect){x, y, x + w, y + h};
}

void smx_nvenc_fill(const smx_win_params *p, const NV_ENC_CONFIG *preset,
                    NV_ENC_INITIALIZE_PARAMS *init, NV_ENC_CONFIG *cfg) {
  if (preset)
    *cfg = *preset;
  else
    memset(cfg, 0, sizeof *cfg);
  cfg->version = NV_ENC_CONFIG_VER;
  memset(init, 0, sizeof *init);
  init->version = NV_ENC_INITIALIZE_PARAMS_VER;
  init->encodeGUID = NV_ENC_CODEC_H264_GUID;
  init->presetGUID = NV_ENC_PRESET_P1_GUID;
  init->tuningInfo = NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY;
  init->encodeWidth = init->maxEncodeWidth = init->darWidth = p->width;
  init->encodeHeight = init->maxEncodeHeight = init->darHeight = p->height;
  init->frameRateNum = p->open_fps;
  init->frameRateDen = 1;
  init->enableEncodeAsync = 0; /* synchronous: lock the bitstream right after encoding */
  init->enablePTD = 1;         /* the encoder decides P; we force IDRs per picture */
  init->encodeConfig = cfg;

  cfg->profileGUID = p->profile == SMX_WIN_PROFILE_BASELINE ? NV_ENC_H264_PROFILE_BASELINE_GUID
                                                            : NV_ENC_H264_PROFILE_MAIN_GUID;
  cfg->gopLength = NVENC_INFINITE_GOPLENGTH;
  cfg->frameIntervalP = 1; /* IPPP: no B-frames */
  cfg->frameFieldMode = NV_ENC_PARAMS_FRAME_FIELD_MODE_FRAME;

  NV_ENC_RC_PARAMS *rc = &cfg->rcParams;
  smx_win_rate rate = smx_win_rate_for(p);
  rc->version = NV_ENC_RC_PARAMS_VER;
  rc->rateControlMode = NV_ENC_PARAMS_RC_CBR;
  rc->multiPass = NV_ENC_MULTI_PASS_DISABLED;
  rc->averageBitRate = rate.average_bps;
  rc->maxBitRate = rate.max_bps;
  rc->vbvBufferSize = rate.vbv_bits;
  rc->vbvInitialDelay = rate.vbv_bits;
  rc->enableLookahead = 0;
  rc->lookaheadDepth = 0;
  rc->zeroReorderDelay = 1;
  rc->enableNonRefP = 0;
  rc->enableTemporalAQ = 0;

  NV_ENC_CONFIG_H264 *h = &cfg->encodeCodecConfig.h264Config;
  h->idrPeriod = NVENC_INFINITE_GOPLENGTH;
  h->repeatSPSPPS = 1; /* SPS/PPS in front of every IDR: a viewer can join at any IDR */
  h->disableSPSPPS = 0;
  h->outputAUD = 0;
  h->enableIntraRefresh = 0;
  h->enableLTR = 0;
  h->hierarchicalBFrames = 0;
  h->hierarchicalPFrames = 0;
  h->level = NV_ENC_LEVEL_AUTOSELECT;
  h->chromaFormatIDC = 1;
  h->maxNumRefFrames = 1; /* one reference: decoders' DPB (max_dec_frame_buffering) stays 1 */
  h->sliceMode = 0;
  h->sliceModeData = 0; /* one slice per picture */
  h->useBFramesAsRef = NV_ENC_BFRAME_REF_MODE_DISABLED;
  if (p->profile == SMX_WIN_PROFILE_BASELINE) {
    /* Constrained Baseline: CAVLC, no 8x8 transform (Baseline has neither), no B-frames. */
    h->entropyCodingMode = NV_ENC_H264_ENTROPY_CODING_MODE_CAVLC;
    h->adaptiveTransformMode = NV_ENC_H264_ADAPTIVE_TRANSFORM_DISABLE;
  } else {
    h->entropyCodingMode = NV_ENC_H264_ENTROPY_CODING_MODE_CABAC;
    h->adaptiveTransformMode = NV_ENC_H264_ADAPTIVE_TRANSFORM_AUTOSELECT;
  }
  h->bdirectMode = NV_ENC_H264_BDIRECT_MODE_DISABLE;
  h->fmoMode = NV_ENC_H264_FMO_DISABLE;

  /* VUI: the video processor converts with BT.601 limited range (its default for NV12 output,
   * set explicitly in d3d11_video_processor.c); sRGB content has BT.709 primaries and the sRGB
   * transfer. Without these decoders guess BT.709 for HD sizes (a hue shift). */
  NV_ENC_CONFIG_H264_VUI_PARAMETERS *vui = &h->h264VUIParameters;
  vui->videoSignalTypePresentFlag = 1;
  vui->videoFormat = 5; /* unspecified */
  vui->videoFullRangeFlag = 0;
  vui->colourDescriptionPresentFlag = 1;
  vui->colourPrimaries = 1;          /* BT.709 */
  vui->transferCharacteristics = 13; /* IEC 61966-2-1 (sRGB) */
  vui->colourMatrix = 6;             /* SMPTE 170M (BT.601) */
  /* Asks the driver to write bitstream_restriction; whatever it writes, win_encoder.c passes
   * every SPS through sps_rewrite.c, which guarantees max_num_reorder_frames = 0. */
  vui->bitstreamRestrictionFlag = 1;
}

const char *smx_nvenc_status_name(int status) {
  switch ((NVENCSTATUS)status) {
#define NAME(x) \
  case x:       \
    return #x;
    NAME(NV_ENC_SUCCESS)
    NAME(NV_ENC_ERR_NO_ENCODE_DEVICE)
    NAME(NV_ENC_ERR_UNSUPPORTED_DEVICE)
    NAME(NV_ENC_ERR_INVALID_ENCODERDEVICE)
    NAME(NV_ENC_ERR_INVALID_DEVICE)
    NAME(NV_ENC_ERR_DEVICE_NOT_EXIST)
    NAME(NV_ENC_ERR_INVALID_PTR)
    NAME(NV_ENC_ERR_INVALID_EVENT)
    NAME(NV_ENC_ERR_INVALID_PARAM)
    NAME(NV_ENC_ERR_INVALID_CALL)
    NAME(NV_ENC_ERR_OUT_OF_MEMORY)
    NAME(NV_ENC_ERR_ENCODER_NOT_INITIALIZED)
    NAME(NV_ENC_ERR_UNSUPPORTED_PARAM)
    NAME(NV_ENC_ERR_LOCK_BUSY)
    NAME(NV_ENC_ERR_NOT_ENOUGH_BUFFER)
    NAME(NV_ENC_ERR_INVALID_VERSION)
    NAME(NV_ENC_ERR_MAP_FAILED)
    NAME(NV_ENC_ERR_NEED_MORE_INPUT)
    NAME(NV_ENC_ERR_ENCODER_BUSY)
    NAME(NV_ENC_ERR_EVENT_NOT_REGISTERD)
    NAME(NV_ENC_ERR_GENERIC)
    NAME(NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY)
    NAME(NV_ENC_ERR_UNIMPLEMENTED)
    NAME(NV_ENC_ERR_RESOURCE_REGISTER_FAILED)
    NAME(NV_ENC_ERR_RESOURCE_NOT_REGISTERED)
    NAME(NV_ENC_ERR_RESOURCE_NOT_MAPPED)
#undef NAME
  }
  static _Thread_local char unknown[32];
  snprintf(unknown, sizeof unknown, "NV_ENC_ERR_%d", status);
  return unknown;
}

const char *smx_nvenc_min_driver(void) {
  /* NVIDIA Video Codec SDK release notes: the minimum driver per NVENC API version. */
#if NVENCAPI_MAJOR_VERSION == 11 && NVENCAPI_MINOR_VERSION == 1
  return "471.41 (Windows) / 470.57.02 (Linux)";
#elif NVENCAPI_MAJOR_VERSION == 11 && NVENCAPI_MINOR_VERSION == 0
  return "456.71 (Windows) / 455.28 (Linux)";
#elif NVENCAPI_MAJOR_VERSION == 12 && NVENCAPI_MINOR_VERSION == 0
  return "522.25 (Windows) / 520.56.06 (Linux)";
#else
  return "the one the NVIDIA Video Codec SDK of these headers names";
#endif
}

int smx_nvenc_version_ok(uint32_t driver_max, char *msg, size_t cap) {
  uint32_t want = ((uint32_t)NVENCAPI_MAJOR_VERSION << 4) | NVENCAPI_MINOR_VERSION;
  if (driver_max >= want) return 1;
  snprintf(msg, cap,
           "the NVIDIA driver is too old for NVENC API %d.%d (it supports up to %u.%u): update "
           "the driver to %s or newer",
           NVENCAPI_MAJOR_VERSION, NVENCAPI_MINOR_VERSION, driver_max >> 4, driver_max & 15,
           smx_nvenc_min_driver());
  return 0;
}

int smx_nvenc_open_failure(int status, int during_open, int open_sessions, char *msg,
                           size_t cap) {
  switch ((NVENCSTATUS)status) {
  case NV_ENC_ERR_OUT_OF_MEMORY:
  case NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY:
    if (during_open || status == NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY) {
      snprintf(msg, cap,
               "NVENC session limit reached: %d sessions open in smx (%s); consumer GeForce "
               "cards allow only a few at once, counting every program that encodes (OBS, "
               "browsers, games' recorders): share renditions or close another encoder",
               open_sessions, smx_nvenc_status_name(status));
      return 1;
    }
    break;
  case NV_ENC_ERR_NO_ENCODE_DEVICE:
  case NV_ENC_ERR_UNSUPPORTED_DEVICE:
  case NV_ENC_ERR_INVALID_ENCODERDEVICE:
  case NV_ENC_ERR_INVALID_DEVICE:
  case NV_ENC_ERR_DEVICE_NOT_EXIST:
    snprintf(msg, cap,
             "no NVENC on this GPU (%s): the D3D11 device is not an NVIDIA GPU with a video "
             "encoder (data-centre GPUs such as H100 have none)",
             smx_nvenc_status_name(status));
    return 2;
  default:
    break;
  }
  snprintf(msg, cap, "%s failed: %s", during_open ? "nvEncOpenEncodeSessionEx"
                                                  : "nvEncInitializeEncoder",
           smx_nvenc_status_name(status));
  return 0;
}

void smx_mf_plan_for(const smx_win_params *p, smx_mf_plan *out) {
  memset(out, 0, sizeof *out);
  smx_win_rate rate = smx_win_rate_for(p);
  out->width = p->width;
  out->height = p->height;
  out->fps_num = p->open_fps;
  out->fps_den = 1;
  out->average_bps = rate.average_bps;
  out->vbv_bytes = (rate.vbv_bits + 7) / 8;
  if (p->profile == SMX_WIN_PROFILE_BASELINE) {
    out->profiles[0] = 256; /* eAVEncH264VProfile_ConstrainedBase (Windows 8+) */
    out->profiles[1] = 66;  /* eAVEncH264VProfile_Base: older encoders */
  } else {
    out->profiles[0] = 77; /* eAVEncH264VProfile_Main */
  }
  /* A GOP far longer than any session: IDRs come on request (AVEncVideoForceKeyFrame) and from
   * the 5 s safety interval, as with the other encoders. 0 would mean "encoder's default". */
  out->gop = 0x7fffffff;
  out->b_frames = 0;
  out->rate_control = 0; /* eAVEncCommonRateControlMode_CBR */
  out->low_latency = 1;
  out->interlace = 2; /* MFVideoInterlace_Progressive */
}
