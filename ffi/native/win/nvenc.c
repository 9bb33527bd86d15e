/* NVENC on D3D11 without FFmpeg (nvenc.h). API order, per NVIDIA's NVENC programming guide:
 * NvEncodeAPIGetMaxSupportedVersion → NvEncodeAPICreateInstance → nvEncOpenEncodeSessionEx →
 * nvEncGetEncodePresetConfigEx → nvEncInitializeEncoder → nvEncCreateBitstreamBuffer →
 * (per texture) nvEncRegisterResource → per frame: nvEncMapInputResource → nvEncEncodePicture →
 * nvEncLockBitstream → copy → nvEncUnlockBitstream → nvEncUnmapInputResource. Teardown in
 * reverse: unregister, destroy the bitstream buffer, nvEncDestroyEncoder. */
#include "nvenc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>

#include "smx_common.h"

typedef NVENCSTATUS(NVENCAPI *get_max_version_fn)(uint32_t *);
typedef NVENCSTATUS(NVENCAPI *create_instance_fn)(NV_ENCODE_API_FUNCTION_LIST *);

static SRWLOCK load_lock = SRWLOCK_INIT;
static int load_state; /* 0 not tried, 1 loaded, -1 failed */
static char load_error[512];
static NV_ENCODE_API_FUNCTION_LIST api;
static volatile LONG sessions_open;

/* Registered NV12 textures of one session (the video processor's output; one normally). */
#define MAX_REGISTERED 4

struct smx_nvenc {
  void *enc;
  ID3D11Device *dev;
  NV_ENC_OUTPUT_PTR bitstream;
  struct {
    ID3D11Texture2D *tex;
    NV_ENC_REGISTERED_PTR reg;
  } reg[MAX_REGISTERED];
  int nreg;
  NV_ENC_INITIALIZE_PARAMS init;
  NV_ENC_CONFIG cfg;
  smx_win_params params;
  uint8_t *out;
  size_t out_cap;
};

/* FARPROC → a specific function pointer, through void (*)(void) (which -Wcast-function-type
 * accepts for any function type). */
#define PROC(type, mod, name) ((type)(void (*)(void))GetProcAddress(mod, name))

int smx_nvenc_load(char *msg, size_t cap) {
  AcquireSRWLockExclusive(&load_lock);
  if (load_state == 0) {
    load_state = -1;
    /* The driver installs nvEncodeAPI64.dll into System32; searching nowhere else keeps a DLL
     * planted in the working directory from being loaded. */
    HMODULE lib = LoadLibraryExW(L"nvEncodeAPI64.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (!lib) {
      snprintf(load_error, sizeof load_error,
               "NVIDIA driver not installed: nvEncodeAPI64.dll is not loadable (error %lu); "
               "NVENC needs an NVIDIA GPU with a video encoder and its driver",
               (unsigned long)GetLastError());
    } else {
      get_max_version_fn get_max = PROC(get_max_version_fn, lib, "NvEncodeAPIGetMaxSupportedVersion");
      create_instance_fn create = PROC(create_instance_fn, lib, "NvEncodeAPICreateInstance");
      uint32_t driver = 0;
      if (!get_max || !create) {
        snprintf(load_error, sizeof load_error,
                 "nvEncodeAPI64.dll lacks NvEncodeAPIGetMaxSupportedVersion or "
                 "NvEncodeAPICreateInstance: a broken or very old NVIDIA driver");
      } else if (get_max(&driver) != NV_ENC_SUCCESS) {
        snprintf(load_error, sizeof load_error,
                 "NvEncodeAPIGetMaxSupportedVersion failed: the NVIDIA driver is not working");
      } else if (!smx_nvenc_version_ok(driver, load_error, sizeof load_error)) {
        /* message written */
      } else {
        memset(&api, 0, sizeof api);
        api.version = NV_ENCODE_API_FUNCTION_LIST_VER;
        NVENCSTATUS st = create(&api);
        /* Every entry point smx calls must be there: a NULL one would crash at first use. */
        const struct {
          const char *name;
          const void *fn;
        } used[] = {
#define USED(f) {#f, (const void *)api.f}
            USED(nvEncOpenEncodeSessionEx),  USED(nvEncGetEncodePresetConfigEx),
            USED(nvEncInitializeEncoder),    USED(nvEncCreateBitstreamBuffer),
            USED(nvEncDestroyBitstreamBuffer), USED(nvEncRegisterResource),
            USED(nvEncUnregisterResource),   USED(nvEncMapInputResource),
            USED(nvEncUnmapInputResource),   USED(nvEncEncodePicture),
            USED(nvEncLockBitstream),        USED(nvEncUnlockBitstream),
            USED(nvEncReconfigureEncoder),   USED(nvEncGetSequenceParams),
            USED(nvEncGetEncodeCaps),        USED(nvEncDestroyEncoder),
#undef USED
        };
        const char *missing = NULL;
        for (size_t i = 0; i < sizeof used / sizeof used[0] && !missing; i++)
          if (!used[i].fn) missing = used[i].name;
        if (st != NV_ENC_SUCCESS) {
          snprintf(load_error, sizeof load_error, "NvEncodeAPICreateInstance failed: %s",
                   smx_nvenc_status_name(st));
        } else if (missing) {
          snprintf(load_error, sizeof load_error,
                   "the NVIDIA driver's NVENC interface lacks %s: update the driver to %s or "
                   "newer",
                   missing, smx_nvenc_min_driver());
        } else {
          load_state = 1;
        }
      }
      if (load_state != 1) FreeLibrary(lib);
      /* else: kept loaded for the life of the process (sessions may come and go) */
    }
  }
  int ok = load_state == 1;
  ReleaseSRWLockExclusive(&load_lock);
  if (!ok) {
    snprintf(msg, cap, "%s", load_error);
    return SMX_E_NOT_FOUND;
  }
  return SMX_OK;
}

int smx_nvenc_sessions_open(void) { return (int)InterlockedCompareExchange(&sessions_open, 0, 0); }

static void *open_session(ID3D11Device *dev, NVENCSTATUS *st) {
  NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS op;
  memset(&op, 0, sizeof op);
  op.version = NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER;
  op.deviceType = NV_ENC_DEVICE_TYPE_DIRECTX;
  op.device = dev;
  op.apiVersion = NVENCAPI_VERSION;
  void *enc = NULL;
  *st = api.nvEncOpenEncodeSessionEx(&op, &enc);
  if (*st != NV_ENC_SUCCESS) {
    /* The guide: a failed open still needs nvEncDestroyEncoder when it returned a handle. */
    if (enc) api.nvEncDestroyEncoder(enc);
    return NULL;
  }
  InterlockedIncrement(&sessions_open);
  return enc;
}

static void destroy_session(void *enc) {
  api.nvEncDestroyEncoder(enc);
  InterlockedDecrement(&sessions_open);
}

void smx_nvenc_close(smx_nvenc *n) {
  if (!n) return;
  if (n->enc) {
    for (int i = 0; i < n->nreg; i++) {
      api.nvEncUnregisterResource(n->enc, n->reg[i].reg);
      ID3D11Texture2D_Release(n->reg[i].tex);
    }
    if (n->bitstream) api.nvEncDestroyBitstreamBuffer(n->enc, n->bitstream);
    destroy_session(n->enc);
  }
  if (n->dev) ID3D11Device_Release(n->dev);
  free(n->out);
  free(n);
}

int smx_nvenc_open(ID3D11Device *device, const smx_win_params *p, smx_nvenc **out, int *why,
                   char *msg, size_t cap) {
  *out = NULL;
  *why = 0;
  int st = smx_nvenc_load(msg, cap);
  if (st) return st;
  smx_nvenc *n = calloc(1, sizeof *n);
  if (!n) {
    snprintf(msg, cap, "NVENC: out of memory");
    return SMX_E_NO_MEMORY;
  }
  n->params = *p;
  NVENCSTATUS nst;
  n->enc = open_session(device, &nst);
  if (!n->enc) {
    *why = smx_nvenc_open_failure(nst, 1, smx_nvenc_sessions_open(), msg, cap);
    free(n);
    return *why == 2 ? SMX_E_NOT_FOUND : SMX_E_ENCODER;
  }
  n->dev = device;
  ID3D11Device_AddRef(device);

  NV_ENC_PRESET_CONFIG preset;
  memset(&preset, 0, sizeof preset);
  preset.version = NV_ENC_PRESET_CONFIG_VER;
  preset.presetCfg.version = NV_ENC_CONFIG_VER;
  nst = api.nvEncGetEncodePresetConfigEx(n->enc, NV_ENC_CODEC_H264_GUID, NV_ENC_PRESET_P1_GUID,
                                         NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY, &preset);
  if (nst != NV_ENC_SUCCESS) {
    snprintf(msg, cap, "nvEncGetEncodePresetConfigEx (P1, ultra low latency) failed: %s",
             smx_nvenc_status_name(nst));
    smx_nvenc_close(n);
    return SMX_E_ENCODER;
  }
  smx_nvenc_fill(p, &preset.presetCfg, &n->init, &n->cfg);
  nst = api.nvEncInitializeEncoder(n->enc, &n->init);
  if (nst != NV_ENC_SUCCESS) {
    *why = smx_nvenc_open_failure(nst, 0, smx_nvenc_sessions_open(), msg, cap);
    smx_nvenc_close(n);
    return SMX_E_ENCODER;
  }
  NV_ENC_CREATE_BITSTREAM_BUFFER bb;
  memset(&bb, 0, sizeof bb);
  bb.version = NV_ENC_CREATE_BITSTREAM_BUFFER_VER;
  nst = api.nvEncCreateBitstreamBuffer(n->enc, &bb);
  if (nst != NV_ENC_SUCCESS) {
    snprintf(msg, cap, "nvEncCreateBitstreamBuffer failed: %s", smx_nvenc_status_name(nst));
    smx_nvenc_close(n);
    return SMX_E_ENCODER;
  }
  n->bitstream = bb.bitstreamBuffer;
  *out = n;
  return SMX_OK;
}

static int registered(smx_nvenc *n, ID3D11Texture2D *tex, NV_ENC_REGISTERED_PTR *reg, char *msg,
                      size_t cap) {
  for (int i = 0; i < n->nreg; i++) {
    if (n->reg[i].tex == tex) {
      *reg = n->reg[i].reg;
      return SMX_OK;
    }
  }
  if (n->nreg == MAX_REGISTERED) { /* the oldest goes (a processor rebuilt its output) */
    api.nvEncUnregisterResource(n->enc, n->reg[0].reg);
    ID3D11Texture2D_Release(n->reg[0].tex);
    memmove(&n->reg[0], &n->reg[1], sizeof n->reg[0] * (MAX_REGISTERED - 1));
    n->nreg--;
  }
  NV_ENC_REGISTER_RESOURCE r;
  memset(&r, 0, sizeof r);
  r.version = NV_ENC_REGISTER_RESOURCE_VER;
  r.resourceType = NV_ENC_INPUT_RESOURCE_TYPE_DIRECTX;
  r.width = n->params.width;
  r.height = n->params.height;
  r.pitch = 0; /* D3D resources: 0 */
  r.subResourceIndex = 0;
  r.resourceToRegister = tex;
  r.bufferFormat = NV_ENC_BUFFER_FORMAT_NV12;
  r.bufferUsage = NV_ENC_INPUT_IMAGE;
  NVENCSTATUS st = api.nvEncRegisterResource(n->enc, &r);
  if (st != NV_ENC_SUCCESS) {
    snprintf(msg, cap, "nvEncRegisterResource (NV12 %ux%u texture) failed: %s", n->params.width,
             n->params.height, smx_nvenc_status_name(st));
    return SMX_E_ENCODER;
  }
  ID3D11Texture2D_AddRef(tex); /* the address stays ours while registered */
  n->reg[n->nreg].tex = tex;
  n->reg[n->nreg].reg = r.registeredResource;
  n->nreg++;
  *reg = r.registeredResource;
  return SMX_OK;
}

int smx_nvenc_encode(smx_nvenc *n, ID3D11Texture2D *nv12, int force_idr, uint64_t pts,
                     const uint8_t **data, uint32_t *size, int *keyframe, char *msg, size_t cap) {
  *data = NULL;
  *size = 0;
  *keyframe = 0;
  NV_ENC_REGISTERED_PTR reg;
  int st = registered(n, nv12, &reg, msg, cap);
  if (st) return st;
  NV_ENC_MAP_INPUT_RESOURCE map;
  memset(&map, 0, sizeof map);
  map.version = NV_ENC_MAP_INPUT_RESOURCE_VER;
  map.registeredResource = reg;
  NVENCSTATUS nst = api.nvEncMapInputResource(n->enc, &map);
  if (nst != NV_ENC_SUCCESS) {
    snprintf(msg, cap, "nvEncMapInputResource failed: %s", smx_nvenc_status_name(nst));
    return SMX_E_ENCODER;
  }
  NV_ENC_PIC_PARAMS pic;
  memset(&pic, 0, sizeof pic);
  pic.version = NV_ENC_PIC_PARAMS_VER;
  pic.inputWidth = n->params.width;
  pic.inputHeight = n->params.height;
  pic.inputPitch = n->params.width;
  pic.inputBuffer = map.mappedResource;
  pic.bufferFmt = map.mappedBufferFmt;
  pic.outputBitstream = n->bitstream;
  pic.pictureStruct = NV_ENC_PIC_STRUCT_FRAME;
  pic.inputTimeStamp = pts;
  pic.frameIdx = (uint32_t)pts;
  /* FORCEIDR alone is enough with repeatSPSPPS; OUTPUT_SPSPPS makes sure of it. */
  if (force_idr) pic.encodePicFlags = NV_ENC_PIC_FLAG_FORCEIDR | NV_ENC_PIC_FLAG_OUTPUT_SPSPPS;
  nst = api.nvEncEncodePicture(n->enc, &pic);
  if (nst != NV_ENC_SUCCESS) {
    api.nvEncUnmapInputResource(n->enc, map.mappedResource);
    if (nst == NV_ENC_ERR_NEED_MORE_INPUT) {
      snprintf(msg, cap, "NVENC held the frame back (B-frames or lookahead are on)");
    } else {
      snprintf(msg, cap, "nvEncEncodePicture failed: %s", smx_nvenc_status_name(nst));
    }
    return SMX_E_ENCODER;
  }
  NV_ENC_LOCK_BITSTREAM lock;
  memset(&lock, 0, sizeof lock);
  lock.version = NV_ENC_LOCK_BITSTREAM_VER;
  lock.outputBitstream = n->bitstream;
  lock.doNotWait = 0; /* synchronous: waits for this picture */
  nst = api.nvEncLockBitstream(n->enc, &lock);
  if (nst != NV_ENC_SUCCESS) {
    api.nvEncUnmapInputResource(n->enc, map.mappedResource);
    snprintf(msg, cap, "nvEncLockBitstream failed: %s", smx_nvenc_status_name(nst));
    return SMX_E_ENCODER;
  }
  uint32_t bytes = lock.bitstreamSizeInBytes;
  if (n->out_cap < bytes) {
    uint8_t *b = realloc(n->out, bytes);
    if (!b) {
      api.nvEncUnlockBitstream(n->enc, n->bitstream);
      api.nvEncUnmapInputResource(n->enc, map.mappedResource);
      snprintf(msg, cap, "NVENC: out of memory for a %u-byte access unit", bytes);
      return SMX_E_NO_MEMORY;
    }
    n->out = b;
    n->out_cap = bytes;
  }
  memcpy(n->out, lock.bitstreamBufferPtr, bytes);
  int idr = lock.pictureType == NV_ENC_PIC_TYPE_IDR;
  api.nvEncUnlockBitstream(n->enc, n->bitstream);
  api.nvEncUnmapInputResource(n->enc, map.mappedResource);
  *data = n->out;
  *size = bytes;
  *keyframe = idr;
  return SMX_OK;
}

int smx_nvenc_reconfigure(smx_nvenc *n, const smx_win_params *p, char *msg, size_t cap) {
  smx_win_rate rate = smx_win_rate_for(p);
  NV_ENC_CONFIG cfg = n->cfg;
  cfg.rcParams.averageBitRate = rate.average_bps;
  cfg.rcParams.maxBitRate = rate.max_bps;
  cfg.rcParams.vbvBufferSize = rate.vbv_bits;
  cfg.rcParams.vbvInitialDelay = rate.vbv_bits;
  NV_ENC_RECONFIGURE_PARAMS re;
  memset(&re, 0, sizeof re);
  re.version = NV_ENC_RECONFIGURE_PARAMS_VER;
  re.reInitEncodeParams = n->init;
  re.reInitEncodeParams.encodeConfig = &cfg;
  re.resetEncoder = 0; /* keep references: no IDR for a rate change */
  re.forceIDR = 0;
  NVENCSTATUS st = api.nvEncReconfigureEncoder(n->enc, &re);
  if (st != NV_ENC_SUCCESS) {
    snprintf(msg, cap, "nvEncReconfigureEncoder (%u kbps at %u fps) failed: %s",
             p->bitrate_kbps, p->fps, smx_nvenc_status_name(st));
    return SMX_E_ENCODER;
  }
  n->cfg = cfg;
  n->init.encodeConfig = &n->cfg;
  n->params.bitrate_kbps = p->bitrate_kbps;
  n->params.fps = p->fps;
  return SMX_OK;
}

int smx_nvenc_sequence_params(smx_nvenc *n, uint8_t *buf, uint32_t cap, uint32_t *size,
                              char *msg, size_t msg_cap) {
  NV_ENC_SEQUENCE_PARAM_PAYLOAD sp;
  memset(&sp, 0, sizeof sp);
  sp.version = NV_ENC_SEQUENCE_PARAM_PAYLOAD_VER;
  sp.inBufferSize = cap;
  sp.spsppsBuffer = buf;
  sp.outSPSPPSPayloadSize = size;
  NVENCSTATUS st = api.nvEncGetSequenceParams(n->enc, &sp);
  if (st != NV_ENC_SUCCESS) {
    snprintf(msg, msg_cap, "nvEncGetSequenceParams failed: %s", smx_nvenc_status_name(st));
    return SMX_E_ENCODER;
  }
  return SMX_OK;
}

int smx_nvenc_caps_json(ID3D11Device *device, char *out, size_t cap, char *msg, size_t msg_cap) {
  int st = smx_nvenc_load(msg, msg_cap);
  if (st) return st;
  NVENCSTATUS nst;
  void *enc = open_session(device, &nst);
  if (!enc) {
    smx_nvenc_open_failure(nst, 1, smx_nvenc_sessions_open(), msg, msg_cap);
    return SMX_E_ENCODER;
  }
  static const struct {
    const char *name;
    NV_ENC_CAPS cap;
  } q[] = {
      {"widthMax", NV_ENC_CAPS_WIDTH_MAX},
      {"heightMax", NV_ENC_CAPS_HEIGHT_MAX},
      {"levelMax", NV_ENC_CAPS_LEVEL_MAX},
      {"mbPerFrameMax", NV_ENC_CAPS_MB_NUM_MAX},
      {"mbPerSecMax", NV_ENC_CAPS_MB_PER_SEC_MAX},
      {"asyncEncode", NV_ENC_CAPS_ASYNC_ENCODE_SUPPORT},
      {"bFramesMax", NV_ENC_CAPS_NUM_MAX_BFRAMES},
      {"cabac", NV_ENC_CAPS_SUPPORT_CABAC},
      {"dynamicBitrate", NV_ENC_CAPS_SUPPORT_DYN_BITRATE_CHANGE},
      {"customVbv", NV_ENC_CAPS_SUPPORT_CUSTOM_VBV_BUF_SIZE},
      {"encoderEngines", NV_ENC_CAPS_NUM_ENCODER_ENGINES},
  };
  size_t used = (size_t)snprintf(out, cap, "{\"api\":\"%d.%d\",\"sessionsOpen\":%d",
                                 NVENCAPI_MAJOR_VERSION, NVENCAPI_MINOR_VERSION,
                                 smx_nvenc_sessions_open() - 1);
  for (size_t i = 0; i < sizeof q / sizeof q[0] && used < cap; i++) {
    NV_ENC_CAPS_PARAM cp;
    memset(&cp, 0, sizeof cp);
    cp.version = NV_ENC_CAPS_PARAM_VER;
    cp.capsToQuery = q[i].cap;
    int v = -1;
    if (api.nvEncGetEncodeCaps(enc, NV_ENC_CODEC_H264_GUID, &cp, &v) != NV_ENC_SUCCESS) v = -1;
    used += (size_t)snprintf(out + used, cap - used, ",\"%s\":%d", q[i].name, v);
  }
  if (used < cap) snprintf(out + used, cap - used, "}");
  destroy_session(enc);
  if (used + 1 >= cap) {
    snprintf(msg, msg_cap, "NVENC capabilities: buffer of %zu bytes too small", cap);
    return SMX_E_NO_MEMORY;
  }
  return SMX_OK;
}
