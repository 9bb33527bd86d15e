/* Media Foundation H.264 encoder MFT (mf_encoder.h). Setup order: MFTEnumEx → ActivateObject →
 * (async MFT) MF_TRANSFORM_ASYNC_UNLOCK → ICodecAPI values (rate control, low latency, GOP,
 * B-frames; some encoders take them only before the media types) → output type (H.264) → input
 * type (NV12; an MFT refuses an input type before its output type is set) → BEGIN_STREAMING /
 * START_OF_STREAM. Values from smx_mf_plan_for (nvenc_params.c). */
#include "mf_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <codecapi.h>
#include <mfapi.h>
#include <mferror.h>
#include <mfidl.h>
#include <mftransform.h>

#include "smx_common.h"

/* CODECAPI GUIDs from codecapi.h's STATIC_ lists (the named objects are not in mingw's
 * libuuid). */
#define SMX_GUID_(l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
  {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#define SMX_GUID(...) SMX_GUID_(__VA_ARGS__)
static const GUID CAPI_LowLatency = SMX_GUID(STATIC_CODECAPI_AVLowLatencyMode);
static const GUID CAPI_RateControl = SMX_GUID(STATIC_CODECAPI_AVEncCommonRateControlMode);
static const GUID CAPI_MeanBitRate = SMX_GUID(STATIC_CODECAPI_AVEncCommonMeanBitRate);
static const GUID CAPI_BufferSize = SMX_GUID(STATIC_CODECAPI_AVEncCommonBufferSize);
static const GUID CAPI_GopSize = SMX_GUID(STATIC_CODECAPI_AVEncMPVGOPSize);
static const GUID CAPI_BFrames = SMX_GUID(STATIC_CODECAPI_AVEncMPVDefaultBPictureCount);
static const GUID CAPI_ForceKeyFrame = SMX_GUID(STATIC_CODECAPI_AVEncVideoForceKeyFrame);
static const GUID CAPI_Cabac = SMX_GUID(STATIC_CODECAPI_AVEncH264CABACEnable);
/* IID_ICodecAPI (strmif.h declares it; only libstrmiids defines it, which smx does not link). */
static const GUID IID_CodecAPI = {0x901db4c7, 0x31ce, 0x41a2, {0x85, 0xdc, 0x8f, 0xa0, 0xbf, 0x41, 0xb8, 0xda}};

#define ASYNC_WAIT_MS 500 /* an async MFT that gives nothing for this long has failed */

struct smx_mf {
  IMFActivate *act; /* ShutdownObject at close, as MFTEnumEx's activates want */
  IMFTransform *t;
  ICodecAPI *codec;               /* may be NULL: then no rate changes or forced IDRs */
  IMFMediaEventGenerator *events; /* async MFTs only */
  int need_input;                 /* async: METransformNeedInput events not yet used */
  smx_mf_plan plan;
  int provides_samples;
  uint32_t out_size;
  uint8_t *out;
  size_t out_cap;
};

#define RELEASE(p)                  \
  do {                              \
    if (p) (p)->lpVtbl->Release(p); \
    (p) = NULL;                     \
  } while (0)

/* mfplat.dll is loaded at run time, not imported: Windows N editions have no Media Foundation
 * until the Media Feature Pack is installed, and an import would keep smx.dll (and so smx, even
 * with NVENC) from loading at all there. */
typedef HRESULT(WINAPI *startup_fn)(ULONG, DWORD);
typedef HRESULT(WINAPI *create_type_fn)(IMFMediaType **);
typedef HRESULT(WINAPI *create_sample_fn)(IMFSample **);
typedef HRESULT(WINAPI *create_buffer_fn)(DWORD, IMFMediaBuffer **);
typedef HRESULT(WINAPI *enum_ex_fn)(GUID, UINT32, const MFT_REGISTER_TYPE_INFO *,
                                    const MFT_REGISTER_TYPE_INFO *, IMFActivate ***, UINT32 *);
static struct {
  startup_fn startup;
  create_type_fn create_type;
  create_sample_fn create_sample;
  create_buffer_fn create_buffer;
  enum_ex_fn enum_ex;
} mf;
#define PROC(type, mod, name) ((type)(void (*)(void))GetProcAddress(mod, name))

static SRWLOCK startup_lock = SRWLOCK_INIT;
static int started; /* 0 not tried, 1 started, -1 failed */
static char startup_error[256];

static int mf_startup(char *msg, size_t cap) {
  /* Deno's worker threads have no COM apartment yet: join the multithreaded one (S_FALSE when
   * already in it; RPC_E_CHANGED_MODE for an STA thread, where MF objects still work). */
  CoInitializeEx(NULL, COINIT_MULTITHREADED);
  AcquireSRWLockExclusive(&startup_lock);
  if (started == 0) {
    started = -1;
    HMODULE lib = LoadLibraryExW(L"mfplat.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (lib) {
      mf.startup = PROC(startup_fn, lib, "MFStartup");
      mf.create_type = PROC(create_type_fn, lib, "MFCreateMediaType");
      mf.create_sample = PROC(create_sample_fn, lib, "MFCreateSample");
      mf.create_buffer = PROC(create_buffer_fn, lib, "MFCreateMemoryBuffer");
      mf.enum_ex = PROC(enum_ex_fn, lib, "MFTEnumEx");
    }
    HRESULT hr = E_FAIL;
    if (!lib || !mf.startup || !mf.create_type || !mf.create_sample || !mf.create_buffer ||
        !mf.enum_ex) {
      snprintf(startup_error, sizeof startup_error,
               "Media Foundation is missing (mfplat.dll %s): a Windows N edition without the "
               "Media Feature Pack?",
               lib ? "lacks MFStartup/MFTEnumEx" : "not loadable");
    } else if (FAILED(hr = mf.startup(MF_VERSION, MFSTARTUP_LITE))) {
      snprintf(startup_error, sizeof startup_error, "MFStartup failed (HRESULT 0x%08lx)",
               (unsigned long)hr);
    } else {
      started = 1; /* kept for the life of the process */
    }
  }
  int ok = started == 1;
  ReleaseSRWLockExclusive(&startup_lock);
  if (!ok) {
    snprintf(msg, cap, "%s", startup_error);
    return SMX_E_NOT_FOUND;
  }
  return SMX_OK;
}

static HRESULT set_u32(ICodecAPI *c, const GUID *api, uint32_t v) {
  VARIANT var;
  memset(&var, 0, sizeof var); /* VariantInit without oleaut32 */
  var.vt = VT_UI4;
  var.ulVal = v;
  return ICodecAPI_SetValue(c, api, &var);
}

static HRESULT set_bool(ICodecAPI *c, const GUID *api, int v) {
  VARIANT var;
  memset(&var, 0, sizeof var); /* VariantInit without oleaut32 */
  var.vt = VT_BOOL;
  var.boolVal = v ? VARIANT_TRUE : VARIANT_FALSE;
  return ICodecAPI_SetValue(c, api, &var);
}

static void note_add(char *note, size_t cap, const char *what, HRESULT hr) {
  size_t used = strlen(note);
  snprintf(note + used, cap - used, "%s%s refused (0x%08lx)", used ? "; " : "", what,
           (unsigned long)hr);
}

static HRESULT make_type(const smx_mf_plan *p, const GUID *subtype, uint32_t profile,
                         IMFMediaType **out) {
  IMFMediaType *t = NULL;
  HRESULT hr = mf.create_type(&t);
  if (FAILED(hr)) return hr;
  IMFMediaType_SetGUID(t, &MF_MT_MAJOR_TYPE, &MFMediaType_Video);
  IMFMediaType_SetGUID(t, &MF_MT_SUBTYPE, subtype);
  IMFMediaType_SetUINT64(t, &MF_MT_FRAME_SIZE, (UINT64)p->width << 32 | p->height);
  IMFMediaType_SetUINT64(t, &MF_MT_FRAME_RATE, (UINT64)p->fps_num << 32 | p->fps_den);
  IMFMediaType_SetUINT64(t, &MF_MT_PIXEL_ASPECT_RATIO, (UINT64)1 << 32 | 1);
  IMFMediaType_SetUINT32(t, &MF_MT_INTERLACE_MODE, p->interlace);
  if (profile) {
    IMFMediaType_SetUINT32(t, &MF_MT_AVG_BITRATE, p->average_bps);
    IMFMediaType_SetUINT32(t, &MF_MT_MPEG2_PROFILE, profile);
  }
  *out = t;
  return S_OK;
}

/* Configures an activated MFT; SMX_OK or a message. */
static int configure(smx_mf *m, char *note, size_t note_cap, char *msg, size_t cap) {
  const smx_mf_plan *p = &m->plan;
  HRESULT hr;
  if (m->codec) {
    if (FAILED(hr = set_u32(m->codec, &CAPI_RateControl, p->rate_control)))
      note_add(note, note_cap, "CBR rate control", hr);
    if (FAILED(hr = set_u32(m->codec, &CAPI_MeanBitRate, p->average_bps)))
      note_add(note, note_cap, "mean bitrate", hr);
    if (FAILED(hr = set_u32(m->codec, &CAPI_BufferSize, p->vbv_bytes)))
      note_add(note, note_cap, "one-frame buffer", hr);
    if (FAILED(hr = set_bool(m->codec, &CAPI_LowLatency, p->low_latency)))
      note_add(note, note_cap, "AVLowLatencyMode", hr);
    if (FAILED(hr = set_u32(m->codec, &CAPI_BFrames, p->b_frames)))
      note_add(note, note_cap, "no B-frames", hr);
    if (FAILED(hr = set_u32(m->codec, &CAPI_GopSize, p->gop)))
      note_add(note, note_cap, "long GOP", hr);
    /* Main: CABAC (Baseline has none; the profile decides). */
    if (p->profiles[0] == 77 && FAILED(hr = set_bool(m->codec, &CAPI_Cabac, 1)))
      note_add(note, note_cap, "CABAC", hr);
  } else {
    note_add(note, note_cap, "ICodecAPI (no rate control, no forced IDRs)", E_NOINTERFACE);
  }
  hr = E_FAIL;
  for (int i = 0; i < 2 && p->profiles[i] && FAILED(hr); i++) {
    IMFMediaType *out = NULL;
    if (SUCCEEDED(make_type(p, &MFVideoFormat_H264, p->profiles[i], &out))) {
      hr = IMFTransform_SetOutputType(m->t, 0, out, 0);
      RELEASE(out);
    }
  }
  if (FAILED(hr)) {
    snprintf(msg, cap, "SetOutputType (H.264 %ux%u@%u, profile %u) failed (0x%08lx)", p->width,
             p->height, p->fps_num, p->profiles[0], (unsigned long)hr);
    return SMX_E_ENCODER;
  }
  IMFMediaType *in = NULL;
  hr = make_type(p, &MFVideoFormat_NV12, 0, &in);
  if (SUCCEEDED(hr)) {
    hr = IMFTransform_SetInputType(m->t, 0, in, 0);
    RELEASE(in);
  }
  if (FAILED(hr)) {
    snprintf(msg, cap, "SetInputType (NV12 %ux%u) failed (0x%08lx)", p->width, p->height,
             (unsigned long)hr);
    return SMX_E_ENCODER;
  }
  MFT_OUTPUT_STREAM_INFO si;
  memset(&si, 0, sizeof si);
  if (SUCCEEDED(IMFTransform_GetOutputStreamInfo(m->t, 0, &si))) {
    m->provides_samples =
        (si.dwFlags & (MFT_OUTPUT_STREAM_PROVIDES_SAMPLES | MFT_OUTPUT_STREAM_CAN_PROVIDE_SAMPLES)) != 0;
    m->out_size = si.cbSize;
  }
  if (!m->out_size) m->out_size = p->width * p->height * 3 / 2; /* an access unit fits */
  IMFTransform_ProcessMessage(m->t, MFT_MESSAGE_NOTIFY_BEGIN_STREAMING, 0);
  IMFTransform_ProcessMessage(m->t, MFT_MESSAGE_NOTIFY_START_OF_STREAM, 0);
  return SMX_OK;
}

static void wide_to_utf8(const WCHAR *w, char *out, size_t cap) {
  if (!w || !WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)cap, NULL, NULL))
    snprintf(out, cap, "unnamed MFT");
}

void smx_mf_close(smx_mf *m) {
  if (!m) return;
  if (m->t) {
    IMFTransform_ProcessMessage(m->t, MFT_MESSAGE_NOTIFY_END_OF_STREAM, 0);
    IMFTransform_ProcessMessage(m->t, MFT_MESSAGE_NOTIFY_END_STREAMING, 0);
  }
  RELEASE(m->events);
  RELEASE(m->codec);
  RELEASE(m->t);
  if (m->act) {
    IMFActivate_ShutdownObject(m->act);
    RELEASE(m->act);
  }
  free(m->out);
  free(m);
}

int smx_mf_open(const smx_win_params *p, smx_mf **out, char *name, size_t name_cap, char *note,
                size_t note_cap, char *msg, size_t cap) {
  *out = NULL;
  if (note_cap) note[0] = 0;
  int st = mf_startup(msg, cap);
  if (st) return st;
  MFT_REGISTER_TYPE_INFO in_info = {MFMediaType_Video, MFVideoFormat_NV12};
  MFT_REGISTER_TYPE_INFO out_info = {MFMediaType_Video, MFVideoFormat_H264};
  static const UINT32 passes[2] = {MFT_ENUM_FLAG_HARDWARE | MFT_ENUM_FLAG_ASYNCMFT |
                                       MFT_ENUM_FLAG_SORTANDFILTER,
                                   MFT_ENUM_FLAG_SYNCMFT | MFT_ENUM_FLAG_SORTANDFILTER};
  char tried[768];
  tried[0] = 0;
  for (int pass = 0; pass < 2; pass++) {
    IMFActivate **acts = NULL;
    UINT32 n = 0;
    if (FAILED(mf.enum_ex(MFT_CATEGORY_VIDEO_ENCODER, passes[pass], &in_info, &out_info, &acts,
                         &n)))
      continue;
    for (UINT32 i = 0; i < n && !*out; i++) {
      char mft_name[160];
      WCHAR *wname = NULL;
      UINT32 wlen = 0;
      IMFActivate_GetAllocatedString(acts[i], &MFT_FRIENDLY_NAME_Attribute, &wname, &wlen);
      wide_to_utf8(wname, mft_name, sizeof mft_name);
      CoTaskMemFree(wname);
      smx_mf *m = calloc(1, sizeof *m);
      if (!m) break;
      smx_mf_plan_for(p, &m->plan);
      m->act = acts[i];
      IMFActivate_AddRef(m->act);
      HRESULT hr = IMFActivate_ActivateObject(acts[i], &IID_IMFTransform, (void **)&m->t);
      char why[256];
      why[0] = 0;
      if (SUCCEEDED(hr)) {
        IMFAttributes *attrs = NULL;
        UINT32 async = 0;
        if (SUCCEEDED(IMFTransform_GetAttributes(m->t, &attrs)) && attrs) {
          IMFAttributes_GetUINT32(attrs, &MF_TRANSFORM_ASYNC, &async);
          if (async) IMFAttributes_SetUINT32(attrs, &MF_TRANSFORM_ASYNC_UNLOCK, TRUE);
          /* MF_LOW_LATENCY on the transform too (the same GUID as CODECAPI_AVLowLatencyMode;
           * some hardware MFTs read only this one). */
          IMFAttributes_SetUINT32(attrs, &MF_LOW_LATENCY, TRUE);
          RELEASE(attrs);
        }
        if (async &&
            FAILED(IMFTransform_QueryInterface(m->t, &IID_IMFMediaEventGenerator,
                                               (void **)&m->events))) {
          snprintf(why, sizeof why, "asynchronous MFT without an event generator");
        } else {
          IMFTransform_QueryInterface(m->t, &IID_CodecAPI, (void **)&m->codec);
          char mnote[384];
          mnote[0] = 0;
          if (configure(m, mnote, sizeof mnote, why, sizeof why) == SMX_OK) {
            snprintf(name, name_cap, "Media Foundation: %s (%s)", mft_name,
                     pass == 0 ? "hardware" : "software");
            if (note_cap) snprintf(note, note_cap, "%s", mnote);
            *out = m;
            continue;
          }
        }
      } else {
        snprintf(why, sizeof why, "ActivateObject failed (0x%08lx)", (unsigned long)hr);
      }
      size_t used = strlen(tried);
      snprintf(tried + used, sizeof tried - used, "%s%s: %s", used ? "; " : "", mft_name, why);
      smx_mf_close(m); /* shuts the activated object down too */
    }
    for (UINT32 i = 0; i < n; i++) IMFActivate_Release(acts[i]);
    CoTaskMemFree(acts);
    if (*out) return SMX_OK;
  }
  snprintf(msg, cap, "no Media Foundation H.264 encoder accepted %ux%u@%u NV12%s%s", p->width,
           p->height, p->open_fps, tried[0] ? ": " : " (none installed)", tried);
  return SMX_E_ENCODER;
}

/* Async MFTs: waits for the next event of one of the two kinds, counting NeedInput events. */
static int wait_event(smx_mf *m, MediaEventType want, char *msg, size_t cap) {
  if (want == METransformNeedInput && m->need_input > 0) {
    m->need_input--;
    return SMX_OK;
  }
  ULONGLONG deadline = GetTickCount64() + ASYNC_WAIT_MS;
  for (;;) {
    IMFMediaEvent *ev = NULL;
    HRESULT hr = IMFMediaEventGenerator_GetEvent(m->events, MF_EVENT_FLAG_NO_WAIT, &ev);
    if (hr == MF_E_NO_EVENTS_AVAILABLE) {
      if (GetTickCount64() > deadline) {
        snprintf(msg, cap, "the asynchronous MFT sent no %s event within %d ms",
                 want == METransformNeedInput ? "need-input" : "have-output", ASYNC_WAIT_MS);
        return SMX_E_TIMEOUT;
      }
      Sleep(1);
      continue;
    }
    if (FAILED(hr)) {
      snprintf(msg, cap, "IMFMediaEventGenerator::GetEvent failed (0x%08lx)", (unsigned long)hr);
      return SMX_E_ENCODER;
    }
    MediaEventType type = MEUnknown;
    HRESULT ev_status = S_OK;
    IMFMediaEvent_GetType(ev, &type);
    IMFMediaEvent_GetStatus(ev, &ev_status);
    RELEASE(ev);
    if (type == MEError || FAILED(ev_status)) {
      snprintf(msg, cap, "the asynchronous MFT reported an error (event %lu, 0x%08lx)",
               (unsigned long)type, (unsigned long)ev_status);
      return SMX_E_ENCODER;
    }
    if (type == METransformNeedInput) {
      if (want == METransformNeedInput) return SMX_OK;
      m->need_input++;
    } else if (type == METransformHaveOutput && want == METransformHaveOutput) {
      return SMX_OK;
    }
  }
}

/* One ProcessOutput; SMX_OK with the access unit, SMX_E_AGAIN when the MFT wants more input. */
static int pull_output(smx_mf *m, const uint8_t **data, uint32_t *size, char *msg, size_t cap) {
  for (int attempt = 0; attempt < 2; attempt++) {
    MFT_OUTPUT_DATA_BUFFER odb;
    memset(&odb, 0, sizeof odb);
    IMFSample *own = NULL;
    if (!m->provides_samples) {
      IMFMediaBuffer *buf = NULL;
      if (FAILED(mf.create_sample(&own)) || FAILED(mf.create_buffer(m->out_size, &buf))) {
        RELEASE(own);
        snprintf(msg, cap, "cannot allocate an output sample of %u bytes", m->out_size);
        return SMX_E_NO_MEMORY;
      }
      IMFSample_AddBuffer(own, buf);
      RELEASE(buf);
      odb.pSample = own;
    }
    DWORD status = 0;
    HRESULT hr = IMFTransform_ProcessOutput(m->t, 0, 1, &odb, &status);
    if (hr == MF_E_TRANSFORM_STREAM_CHANGE) { /* the MFT picked its output type anew */
      RELEASE(odb.pEvents);
      RELEASE(own);
      IMFMediaType *t = NULL;
      if (SUCCEEDED(IMFTransform_GetOutputAvailableType(m->t, 0, 0, &t))) {
        IMFTransform_SetOutputType(m->t, 0, t, 0);
        RELEASE(t);
      }
      continue;
    }
    if (hr == MF_E_TRANSFORM_NEED_MORE_INPUT) {
      RELEASE(odb.pEvents);
      RELEASE(own);
      return SMX_E_AGAIN;
    }
    if (FAILED(hr)) {
      RELEASE(odb.pEvents);
      RELEASE(own);
      snprintf(msg, cap, "ProcessOutput failed (0x%08lx)", (unsigned long)hr);
      return SMX_E_ENCODER;
    }
    IMFSample *s = odb.pSample;
    IMFMediaBuffer *buf = NULL;
    BYTE *p = NULL;
    DWORD len = 0;
    int st = SMX_OK;
    if (!s || FAILED(IMFSample_ConvertToContiguousBuffer(s, &buf)) ||
        FAILED(IMFMediaBuffer_Lock(buf, &p, NULL, &len))) {
      snprintf(msg, cap, "the MFT's output sample has no readable buffer");
      st = SMX_E_ENCODER;
    } else {
      if (m->out_cap < len) {
        uint8_t *b = realloc(m->out, len);
        if (b) {
          m->out = b;
          m->out_cap = len;
        }
      }
      if (m->out_cap >= len) {
        memcpy(m->out, p, len);
        *data = m->out;
        *size = len;
      } else {
        snprintf(msg, cap, "out of memory for a %lu-byte access unit", (unsigned long)len);
        st = SMX_E_NO_MEMORY;
      }
      IMFMediaBuffer_Unlock(buf);
    }
    RELEASE(buf);
    RELEASE(odb.pEvents);
    if (own) {
      RELEASE(own);
    } else if (s) {
      IMFSample_Release(s); /* the MFT's own sample */
    }
    return st;
  }
  snprintf(msg, cap, "the MFT keeps changing its output type");
  return SMX_E_ENCODER;
}

int smx_mf_encode(smx_mf *m, const uint8_t *nv12, int force_idr, uint64_t frame,
                  const uint8_t **data, uint32_t *size, char *msg, size_t cap) {
  *data = NULL;
  *size = 0;
  CoInitializeEx(NULL, COINIT_MULTITHREADED); /* this worker thread may be new */
  const smx_mf_plan *p = &m->plan;
  DWORD bytes = p->width * p->height * 3 / 2;
  IMFSample *s = NULL;
  IMFMediaBuffer *buf = NULL;
  BYTE *dst = NULL;
  if (FAILED(mf.create_sample(&s)) || FAILED(mf.create_buffer(bytes, &buf)) ||
      FAILED(IMFMediaBuffer_Lock(buf, &dst, NULL, NULL))) {
    RELEASE(buf);
    RELEASE(s);
    snprintf(msg, cap, "cannot allocate an input sample of %lu bytes", (unsigned long)bytes);
    return SMX_E_NO_MEMORY;
  }
  memcpy(dst, nv12, bytes);
  IMFMediaBuffer_Unlock(buf);
  IMFMediaBuffer_SetCurrentLength(buf, bytes);
  IMFSample_AddBuffer(s, buf);
  RELEASE(buf);
  LONGLONG duration = 10000000LL * p->fps_den / p->fps_num; /* 100 ns units */
  IMFSample_SetSampleTime(s, (LONGLONG)frame * duration);
  IMFSample_SetSampleDuration(s, duration);
  if (force_idr && m->codec) set_u32(m->codec, &CAPI_ForceKeyFrame, 1);
  int st = SMX_OK;
  if (m->events) st = wait_event(m, METransformNeedInput, msg, cap);
  if (!st) {
    HRESULT hr = IMFTransform_ProcessInput(m->t, 0, s, 0);
    if (FAILED(hr)) {
      snprintf(msg, cap, "ProcessInput failed (0x%08lx)", (unsigned long)hr);
      st = SMX_E_ENCODER;
    }
  }
  RELEASE(s);
  if (!st && m->events) st = wait_event(m, METransformHaveOutput, msg, cap);
  if (!st) st = pull_output(m, data, size, msg, cap);
  if (st == SMX_E_AGAIN) {
    snprintf(msg, cap, "the MFT held the frame back (it buffers despite AVLowLatencyMode)");
    st = SMX_E_ENCODER;
  }
  return st;
}

int smx_mf_set_rate(smx_mf *m, const smx_win_params *p, char *msg, size_t cap) {
  smx_mf_plan plan;
  smx_mf_plan_for(p, &plan);
  if (!m->codec) {
    snprintf(msg, cap, "this MFT has no ICodecAPI: its bitrate cannot change");
    return SMX_E_ENCODER;
  }
  HRESULT hr = set_u32(m->codec, &CAPI_MeanBitRate, plan.average_bps);
  if (SUCCEEDED(hr)) set_u32(m->codec, &CAPI_BufferSize, plan.vbv_bytes);
  if (FAILED(hr)) {
    snprintf(msg, cap, "AVEncCommonMeanBitRate %u refused (0x%08lx)", plan.average_bps,
             (unsigned long)hr);
    return SMX_E_ENCODER;
  }
  return SMX_OK;
}
