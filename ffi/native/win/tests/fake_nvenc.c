/* A stand-in nvEncodeAPI64.dll for the Wine harness (encoder_wine.c --fake-nvenc): no NVIDIA
 * driver exists there, so this DLL takes the driver's place in the prefix's System32 to run
 * nvenc.c's real calls in their real order. It checks what a driver checks (struct versions,
 * the device, a session handle) and what smx promises (P1 + ultra low latency, CBR, no
 * B-frames, infinite GOP, sync mode), and refuses a session beyond FAKE_NVENC_SESSIONS (default
 * 2) with NV_ENC_ERR_OUT_OF_MEMORY as consumer cards do. FAKE_NVENC_VERSION sets what
 * NvEncodeAPIGetMaxSupportedVersion reports ((major << 4) | minor, default the headers').
 * Nothing here encodes: the harness stops where the video processor (absent in Wine) begins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>

#include <nvEncodeAPI.h>

#define EXPORT __declspec(dllexport)

static LONG sessions;
static const uint8_t SPS_PPS[] = {0, 0, 0, 1, 0x67, 0x4d, 0x40, 0x20, 0xda, 0x01, 0x40, 0x16,
                                  0xe4, 0, 0, 0, 1, 0x68, 0xee, 0x0f, 0xc8};

typedef struct {
  uint32_t magic;
  void *device;
  int initialized;
} fake_session;
#define MAGIC 0x6e76656eu

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 0) : dflt;
}

static fake_session *session(void *enc) {
  fake_session *s = enc;
  return s && s->magic == MAGIC ? s : NULL;
}

static NVENCSTATUS NVENCAPI open_ex(NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS *p, void **enc) {
  if (!p || !enc) return NV_ENC_ERR_INVALID_PTR;
  if (p->version != NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER || p->apiVersion != NVENCAPI_VERSION)
    return NV_ENC_ERR_INVALID_VERSION;
  if (p->deviceType != NV_ENC_DEVICE_TYPE_DIRECTX || !p->device) return NV_ENC_ERR_INVALID_DEVICE;
  if (InterlockedIncrement(&sessions) > env_long("FAKE_NVENC_SESSIONS", 2)) {
    InterlockedDecrement(&sessions);
    *enc = NULL;
    return NV_ENC_ERR_OUT_OF_MEMORY;
  }
  fake_session *s = calloc(1, sizeof *s);
  s->magic = MAGIC;
  s->device = p->device;
  *enc = s;
  return NV_ENC_SUCCESS;
}

static NVENCSTATUS NVENCAPI destroy(void *enc) {
  fake_session *s = session(enc);
  if (!s) return NV_ENC_ERR_INVALID_PTR;
  s->magic = 0;
  free(s);
  InterlockedDecrement(&sessions);
  return NV_ENC_SUCCESS;
}

static NVENCSTATUS NVENCAPI preset_ex(void *enc, GUID codec, GUID preset, NV_ENC_TUNING_INFO t,
                                      NV_ENC_PRESET_CONFIG *out) {
  if (!session(enc) || !out) return NV_ENC_ERR_INVALID_PTR;
  if (out->version != NV_ENC_PRESET_CONFIG_VER || out->presetCfg.version != NV_ENC_CONFIG_VER)
    return NV_ENC_ERR_INVALID_VERSION;
  if (memcmp(&codec, &NV_ENC_CODEC_H264_GUID, sizeof codec) ||
      memcmp(&preset, &NV_ENC_PRESET_P1_GUID, sizeof preset) ||
      t != NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY)
    return NV_ENC_ERR_UNSUPPORTED_PARAM;
  /* a preset with values smx must override */
  out->presetCfg.gopLength = 250;
  out->presetCfg.frameIntervalP = 1;
  out->presetCfg.rcParams.rateControlMode = NV_ENC_PARAMS_RC_VBR;
  return NV_ENC_SUCCESS;
}

static NVENCSTATUS NVENCAPI initialize(void *enc, NV_ENC_INITIALIZE_PARAMS *p) {
  fake_session *s = session(enc);
  if (!s || !p || !p->encodeConfig) return NV_ENC_ERR_INVALID_PTR;
  const NV_ENC_CONFIG *c = p->encodeConfig;
  if (p->version != NV_ENC_INITIALIZE_PARAMS_VER || c->version != NV_ENC_CONFIG_VER ||
      c->rcParams.version != NV_ENC_RC_PARAMS_VER)
    return NV_ENC_ERR_INVALID_VERSION;
  if (c->frameIntervalP != 1 || c->gopLength != NVENC_INFINITE_GOPLENGTH ||
      c->rcParams.rateControlMode != NV_ENC_PARAMS_RC_CBR || p->enableEncodeAsync ||
      !p->enablePTD || p->tuningInfo != NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY ||
      !c->encodeCodecConfig.h264Config.repeatSPSPPS || !p->encodeWidth || !p->frameRateNum)
    return NV_ENC_ERR_INVALID_PARAM;
  s->initialized = 1;
  return NV_ENC_SUCCESS;
}

static NVENCSTATUS NVENCAPI create_bitstream(void *enc, NV_ENC_CREATE_BITSTREAM_BUFFER *b) {
  fake_session *s = session(enc);
  if (!s || !b) return NV_ENC_ERR_INVALID_PTR;
  if (!s->initialized) return NV_ENC_ERR_ENCODER_NOT_INITIALIZED;
  if (b->version != NV_ENC_CREATE_BITSTREAM_BUFFER_VER) return NV_ENC_ERR_INVALID_VERSION;
  b->bitstreamBuffer = malloc(16);
  return NV_ENC_SUCCESS;
}

static NVENCSTATUS NVENCAPI destroy_bitstream(void *enc, NV_ENC_OUTPUT_PTR b) {
  if (!session(enc)) return NV_ENC_ERR_INVALID_PTR;
  free(b);
  return NV_ENC_SUCCESS;
}

static NVENCSTATUS NVENCAPI sequence_params(void *enc, NV_ENC_SEQUENCE_PARAM_PAYLOAD *p) {
  fake_session *s = session(enc);
  if (!s || !p || !p->spsppsBuffer || !p->outSPSPPSPayloadSize) return NV_ENC_ERR_INVALID_PTR;
  if (p->version != NV_ENC_SEQUENCE_PARAM_PAYLOAD_VER) return NV_ENC_ERR_INVALID_VERSION;
  if (!s->initialized) return NV_ENC_ERR_ENCODER_NOT_INITIALIZED;
  if (p->inBufferSize < sizeof SPS_PPS) return NV_ENC_ERR_NOT_ENOUGH_BUFFER;
  memcpy(p->spsppsBuffer, SPS_PPS, sizeof SPS_PPS);
  *p->outSPSPPSPayloadSize = sizeof SPS_PPS;
  return NV_ENC_SUCCESS;
}

static NVENCSTATUS NVENCAPI caps(void *enc, GUID codec, NV_ENC_CAPS_PARAM *p, int *v) {
  if (!session(enc) || !p || !v) return NV_ENC_ERR_INVALID_PTR;
  if (p->version != NV_ENC_CAPS_PARAM_VER) return NV_ENC_ERR_INVALID_VERSION;
  switch (p->capsToQuery) {
  case NV_ENC_CAPS_WIDTH_MAX:
  case NV_ENC_CAPS_HEIGHT_MAX:
    *v = 4096;
    return NV_ENC_SUCCESS;
  case NV_ENC_CAPS_LEVEL_MAX:
    *v = 52;
    return NV_ENC_SUCCESS;
  case NV_ENC_CAPS_ASYNC_ENCODE_SUPPORT:
    *v = 1;
    return NV_ENC_SUCCESS;
  default:
    *v = 0;
    return NV_ENC_SUCCESS;
  }
}

static NVENCSTATUS NVENCAPI reconfigure(void *enc, NV_ENC_RECONFIGURE_PARAMS *p) {
  fake_session *s = session(enc);
  if (!s || !p || !p->reInitEncodeParams.encodeConfig) return NV_ENC_ERR_INVALID_PTR;
  if (p->version != NV_ENC_RECONFIGURE_PARAMS_VER) return NV_ENC_ERR_INVALID_VERSION;
  const NV_ENC_RC_PARAMS *rc = &p->reInitEncodeParams.encodeConfig->rcParams;
  if (p->resetEncoder || p->forceIDR || rc->rateControlMode != NV_ENC_PARAMS_RC_CBR ||
      !rc->averageBitRate)
    return NV_ENC_ERR_INVALID_PARAM;
  return NV_ENC_SUCCESS;
}

/* The frame path, which nothing in the harness reaches (there is no video processor under
 * Wine): present, as in a real driver, but failing. */
static NVENCSTATUS NVENCAPI register_res(void *e, NV_ENC_REGISTER_RESOURCE *p) {
  return NV_ENC_ERR_UNIMPLEMENTED;
}
static NVENCSTATUS NVENCAPI map_res(void *e, NV_ENC_MAP_INPUT_RESOURCE *p) {
  return NV_ENC_ERR_UNIMPLEMENTED;
}
static NVENCSTATUS NVENCAPI unmap_res(void *e, NV_ENC_INPUT_PTR p) {
  return NV_ENC_ERR_UNIMPLEMENTED;
}
static NVENCSTATUS NVENCAPI encode_pic(void *e, NV_ENC_PIC_PARAMS *p) {
  return NV_ENC_ERR_UNIMPLEMENTED;
}
static NVENCSTATUS NVENCAPI lock_bs(void *e, NV_ENC_LOCK_BITSTREAM *p) {
  return NV_ENC_ERR_UNIMPLEMENTED;
}
static NVENCSTATUS NVENCAPI unlock_bs(void *e, NV_ENC_OUTPUT_PTR p) {
  return NV_ENC_ERR_UNIMPLEMENTED;
}

static NVENCSTATUS NVENCAPI unregister(void *enc, NV_ENC_REGISTERED_PTR r) {
  return session(enc) ? NV_ENC_SUCCESS : NV_ENC_ERR_INVALID_PTR;
}

EXPORT NVENCSTATUS NVENCAPI NvEncodeAPIGetMaxSupportedVersion(uint32_t *version) {
  if (!version) return NV_ENC_ERR_INVALID_PTR;
  *version = (uint32_t)env_long("FAKE_NVENC_VERSION",
                                (NVENCAPI_MAJOR_VERSION << 4) | NVENCAPI_MINOR_VERSION);
  return NV_ENC_SUCCESS;
}

EXPORT NVENCSTATUS NVENCAPI NvEncodeAPICreateInstance(NV_ENCODE_API_FUNCTION_LIST *f) {
  if (!f) return NV_ENC_ERR_INVALID_PTR;
  if (f->version != NV_ENCODE_API_FUNCTION_LIST_VER) return NV_ENC_ERR_INVALID_VERSION;
  f->nvEncOpenEncodeSessionEx = open_ex;
  f->nvEncDestroyEncoder = destroy;
  f->nvEncGetEncodePresetConfigEx = preset_ex;
  f->nvEncInitializeEncoder = initialize;
  f->nvEncCreateBitstreamBuffer = create_bitstream;
  f->nvEncDestroyBitstreamBuffer = destroy_bitstream;
  f->nvEncGetSequenceParams = sequence_params;
  f->nvEncGetEncodeCaps = caps;
  f->nvEncUnregisterResource = unregister;
  f->nvEncReconfigureEncoder = reconfigure;
  f->nvEncRegisterResource = register_res;
  f->nvEncMapInputResource = map_res;
  f->nvEncUnmapInputResource = unmap_res;
  f->nvEncEncodePicture = encode_pic;
  f->nvEncLockBitstream = lock_bs;
  f->nvEncUnlockBitstream = unlock_bs;
  return NV_ENC_SUCCESS;
}
