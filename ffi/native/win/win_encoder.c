/* The Windows H.264 encoder (win_encoder.h): NVENC or Media Foundation behind one handle. */
#include "win_encoder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <d3d11.h>

#include "d3d11_video_processor.h"
#include "mf_convert.h"
#include "mf_encoder.h"
#include "nvenc.h"
#include "nvenc_params.h"
#include "sps_rewrite.h"
#include "spout.h"

enum { KIND_NVENC = 1, KIND_MF = 2 };

struct smx_win_encoder {
  /* registry (guarded by reg_lock) */
  smx_win_encoder *next;
  int busy, closing, encoding;

  int kind;
  smx_win_params params; /* as applied */
  volatile LONG want_kbps, want_fps, want_idr;
  ID3D11Device *dev;  /* NULL: CPU-only Media Foundation */
  smx_d3d11_vp *vp;   /* NULL until the first frame (size known) or with no device */
  int vp_failed;      /* the device has no video processor: Media Foundation converts on the CPU */
  smx_nvenc *nv;
  smx_mf *mf;
  uint8_t *nv12;      /* Media Foundation input (width*height*3/2) */
  uint8_t *cpu;       /* Spout CPU readback */
  size_t cpu_cap;
  uint8_t *fixed;     /* the access unit with its SPS rewritten */
  size_t fixed_cap;
  const uint8_t *pkt;
  uint32_t pkt_size;
  smx_win_packet_info info;
  int64_t last_idr_ns;
  uint64_t next_pts;
  char name[192], codec[32], skipped[1024], err[512];
};

/* ---- registry (as encoder.c) ------------------------------------------------------------ */

static SRWLOCK reg_lock = SRWLOCK_INIT;
static CONDITION_VARIABLE reg_cv = CONDITION_VARIABLE_INIT;
static smx_win_encoder *live_head;

static int is_live_locked(const smx_win_encoder *e) {
  for (smx_win_encoder *it = live_head; it; it = it->next)
    if (it == e) return !it->closing;
  return 0;
}

static int handle_error(const smx_win_encoder *e) {
  return e ? smx_fail(SMX_E_CLOSED, "encoder handle is closed (or was never opened)")
           : smx_fail(SMX_E_INVALID_ARG, "encoder handle is NULL");
}

static int enter(smx_win_encoder *e, int encode) {
  AcquireSRWLockExclusive(&reg_lock);
  if (!e || !is_live_locked(e)) {
    ReleaseSRWLockExclusive(&reg_lock);
    return handle_error(e);
  }
  if (encode && e->encoding) {
    ReleaseSRWLockExclusive(&reg_lock);
    return smx_fail(SMX_E_INVALID_ARG,
                    "another encode is in flight on this encoder: await it before the next");
  }
  e->busy++;
  if (encode) e->encoding = 1;
  ReleaseSRWLockExclusive(&reg_lock);
  return SMX_OK;
}

static void leave(smx_win_encoder *e, int encode) {
  AcquireSRWLockExclusive(&reg_lock);
  if (encode) e->encoding = 0;
  if (--e->busy == 0) WakeAllConditionVariable(&reg_cv);
  ReleaseSRWLockExclusive(&reg_lock);
}

static int is_live(smx_win_encoder *e) {
  AcquireSRWLockShared(&reg_lock);
  int live = e && is_live_locked(e);
  ReleaseSRWLockShared(&reg_lock);
  return live;
}

static int fail_e(smx_win_encoder *e, int code, const char *fmt, ...) SMX_PRINTF(3, 4);
static int fail_e(smx_win_encoder *e, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->err, sizeof e->err, fmt, ap);
  va_end(ap);
  return smx_fail(code, "%s", e->err);
}

/* ---- Annex-B: keyframe and codec string (as encoder.c) ------------------------------------ */

static int scan(const uint8_t *p, size_t n, const uint8_t **sps, size_t *sps_len) {
  *sps = NULL;
  *sps_len = 0;
  size_t i = 0;
  while (i + 3 <= n) {
    if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
      size_t start = i + 3, end = start;
      while (end + 3 <= n && !(p[end] == 0 && p[end + 1] == 0 && p[end + 2] <= 1)) end++;
      if (end + 3 > n) end = n;
      if (start >= n) break;
      int type = p[start] & 0x1f;
      if (type == 7 && !*sps) {
        *sps = p + start;
        *sps_len = end - start;
      }
      if (type == 5 || type == 1) return type == 5;
      i = end;
    } else {
      i++;
    }
  }
  return 0;
}

static void set_codec(smx_win_encoder *e, const uint8_t *sps, size_t len) {
  if (sps && len >= 4)
    snprintf(e->codec, sizeof e->codec, "avc1.%02x%02x%02x", sps[1], sps[2], sps[3]);
}

/* Keyframe flag, codec string and the SPS rewrite for one access unit. */
static int finish_packet(smx_win_encoder *e, const uint8_t *data, uint32_t size) {
  const uint8_t *sps;
  size_t sps_len;
  int key = scan(data, size, &sps, &sps_len);
  set_codec(e, sps, sps_len);
  e->pkt = data;
  e->pkt_size = size;
  if (sps) {
    size_t need = (size_t)size + 4 * SMX_SPS_MAX_GROWTH;
    if (e->fixed_cap < need) {
      uint8_t *b = realloc(e->fixed, need);
      if (!b) return fail_e(e, SMX_E_NO_MEMORY, "out of memory for the SPS rewrite");
      e->fixed = b;
      e->fixed_cap = need;
    }
    int64_t m = smx_h264_rewrite_sps_annexb(data, size, SMX_SPS_FIX, e->fixed, e->fixed_cap);
    if (m > 0) {
      e->pkt = e->fixed;
      e->pkt_size = (uint32_t)m;
    }
  }
  if (key) e->last_idr_ns = smx_monotonic_ns();
  e->info.size = e->pkt_size;
  e->info.keyframe = (uint32_t)key;
  e->info.out_width = e->params.width;
  e->info.out_height = e->params.height;
  return (int)e->pkt_size;
}

/* ---- open ------------------------------------------------------------------------------- */

static int check_session(uint32_t w, uint32_t h, uint32_t fps, uint32_t kbps, uint32_t profile,
                         char *msg, size_t cap) {
  if (w < 16 || h < 16 || w > 4096 || h > 4096 || (w & 1) || (h & 1)) {
    snprintf(msg, cap,
             "encoder size %ux%u refused: width and height must be even (4:2:0) and within "
             "16..4096",
             w, h);
    return SMX_E_INVALID_ARG;
  }
  if ((uint64_t)((w + 15) / 16) * ((h + 15) / 16) > 36864) {
    snprintf(msg, cap, "encoder size %ux%u refused: more than 36864 macroblocks", w, h);
    return SMX_E_INVALID_ARG;
  }
  if (fps < 1 || fps > 240) {
    snprintf(msg, cap, "encoder fps %u refused: must be 1..240", fps);
    return SMX_E_INVALID_ARG;
  }
  if (kbps < 16 || kbps > 240000) {
    snprintf(msg, cap, "encoder bitrate %u kbps refused: must be 16..240000", kbps);
    return SMX_E_INVALID_ARG;
  }
  if (profile > 1) {
    snprintf(msg, cap, "H.264 profile %u refused: 0 = Main, 1 = Constrained Baseline", profile);
    return SMX_E_INVALID_ARG;
  }
  return SMX_OK;
}

static void destroy(smx_win_encoder *e) {
  if (!e) return;
  smx_nvenc_close(e->nv);
  smx_mf_close(e->mf);
  smx_vp_free(e->vp);
  if (e->dev) ID3D11Device_Release(e->dev);
  free(e->nv12);
  free(e->cpu);
  free(e->fixed);
  free(e);
}

static void add_skip(smx_win_encoder *e, const char *who, const char *why) {
  size_t used = strlen(e->skipped);
  snprintf(e->skipped + used, sizeof e->skipped - used, "%s%s: %s", used ? "; " : "", who, why);
}

/* Opens NVENC on e->dev. */
static int try_nvenc(smx_win_encoder *e, int *limit) {
  char msg[512];
  *limit = 0;
  if (!e->dev) {
    /* The driver's absence is the more useful reason when there is no device either. */
    int st = smx_nvenc_load(msg, sizeof msg);
    add_skip(e, "nvenc", st ? msg : "no D3D11 device to open a session on");
    return SMX_E_NOT_FOUND;
  }
  int why = 0;
  int st = smx_nvenc_open(e->dev, &e->params, &e->nv, &why, msg, sizeof msg);
  if (st) {
    *limit = why == 1;
    add_skip(e, "nvenc", msg);
    return st;
  }
  uint8_t sp[256];
  uint32_t n = 0;
  if (smx_nvenc_sequence_params(e->nv, sp, sizeof sp, &n, msg, sizeof msg) == SMX_OK) {
    const uint8_t *sps;
    size_t len;
    scan(sp, n, &sps, &len);
    set_codec(e, sps, len);
  }
  e->kind = KIND_NVENC;
  snprintf(e->name, sizeof e->name, "nvenc");
  return SMX_OK;
}

static int encode_nv12_mf(smx_win_encoder *e, int idr);

static int try_mf(smx_win_encoder *e) {
  char msg[768], note[384];
  int st = smx_mf_open(&e->params, &e->mf, e->name, sizeof e->name, note, sizeof note, msg,
                       sizeof msg);
  if (st) {
    add_skip(e, "mf", msg);
    return st;
  }
  e->kind = KIND_MF;
  e->nv12 = calloc((size_t)e->params.width * e->params.height * 3 / 2, 1);
  if (!e->nv12) return SMX_E_NO_MEMORY;
  if (note[0]) {
    size_t used = strlen(e->name);
    snprintf(e->name + used, sizeof e->name - used, " [%s]", note);
  }
  /* Prime with one black frame: its SPS gives the codec string the encoder really writes. */
  memset(e->nv12, 16, (size_t)e->params.width * e->params.height);
  memset(e->nv12 + (size_t)e->params.width * e->params.height, 128,
         (size_t)e->params.width * e->params.height / 2);
  st = encode_nv12_mf(e, 1);
  if (st < 0) {
    add_skip(e, "mf", e->err);
    return st;
  }
  InterlockedExchange(&e->want_idr, 1);
  return SMX_OK;
}

smx_win_encoder *smx_win_encoder_open(void *device, uint32_t width, uint32_t height,
                                      uint32_t fps, uint32_t bitrate_kbps, uint32_t profile,
                                      const char *preference, char *err, uint32_t err_cap,
                                      int32_t *status) {
  char msg[1536];
  msg[0] = 0;
  int st = check_session(width, height, fps, bitrate_kbps, profile, msg, sizeof msg);
  const char *list = preference && *preference ? preference : getenv("SMX_WIN_ENCODERS");
  if (!list || !*list) list = SMX_WIN_DEFAULT_ORDER;
  int want_nvenc = 0, want_mf = 0;
  if (!st) {
    char copy[128];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *tok = strtok(copy, ", "); tok; tok = strtok(NULL, ", ")) {
      if (strcmp(tok, "nvenc") == 0 || strcmp(tok, "h264_nvenc") == 0) {
        want_nvenc = want_mf ? 2 : 1; /* 2: after mf */
      } else if (strcmp(tok, "mf") == 0) {
        want_mf = 1;
      } else {
        st = SMX_E_INVALID_ARG;
        snprintf(msg, sizeof msg, "unknown encoder '%s' in preference \"%s\" (supported: nvenc, mf)",
                 tok, list);
        break;
      }
    }
    if (!st && !want_nvenc && !want_mf) {
      st = SMX_E_INVALID_ARG;
      snprintf(msg, sizeof msg, "encoder preference \"%s\" names no encoder (nvenc, mf)", list);
    }
  }
  smx_win_encoder *e = NULL;
  if (!st && !(e = calloc(1, sizeof *e))) {
    st = SMX_E_NO_MEMORY;
    snprintf(msg, sizeof msg, "encoder: out of memory");
  }
  int limit = 0;
  if (!st) {
    e->params = (smx_win_params){width, height, fps, fps, bitrate_kbps, profile};
    e->want_kbps = (LONG)bitrate_kbps;
    e->want_fps = (LONG)fps;
    if (device) {
      e->dev = device;
      ID3D11Device_AddRef(e->dev);
      smx_d3d11_protect(e->dev);
    } else {
      char why[256];
      e->dev = smx_d3d11_create_device(why, sizeof why);
      if (!e->dev && want_nvenc) add_skip(e, "d3d11", why);
    }
    st = SMX_E_ENCODER;
    if (want_nvenc == 1) st = try_nvenc(e, &limit);
    if (st && want_mf) st = try_mf(e);
    if (st && want_nvenc == 2) st = try_nvenc(e, &limit);
    if (st) {
      st = limit && !want_mf ? SMX_E_SESSION_LIMIT : SMX_E_ENCODER;
      snprintf(msg, sizeof msg, "no H.264 encoder could be opened: %s", e->skipped);
    }
  }
  if (!st) {
    /* Which encoder and why, once, where a person looks first. */
    fprintf(stderr, "smx: H.264 %ux%u@%u encoder: %s%s%s%s\n", width, height, fps, e->name,
            e->skipped[0] ? " (passed over: " : "", e->skipped, e->skipped[0] ? ")" : "");
    AcquireSRWLockExclusive(&reg_lock);
    e->next = live_head;
    live_head = e;
    ReleaseSRWLockExclusive(&reg_lock);
  } else {
    destroy(e);
    e = NULL;
    smx_fail(st, "%s", msg);
  }
  if (err && err_cap) snprintf(err, err_cap, "%s", st ? msg : "");
  if (status) *status = st;
  return e;
}

/* ---- encode ------------------------------------------------------------------------------ */

/* Pending rate changes and the IDR decision for this frame. */
static int begin_frame(smx_win_encoder *e, int force_idr) {
  uint32_t kbps = (uint32_t)InterlockedCompareExchange(&e->want_kbps, 0, 0);
  uint32_t fps = (uint32_t)InterlockedCompareExchange(&e->want_fps, 0, 0);
  if (kbps != e->params.bitrate_kbps || fps != e->params.fps) {
    smx_win_params p = e->params;
    p.bitrate_kbps = kbps;
    p.fps = fps;
    char msg[256];
    int st = SMX_OK;
    if (e->kind == KIND_NVENC && e->nv)
      st = smx_nvenc_reconfigure(e->nv, &p, msg, sizeof msg);
    else if (e->kind == KIND_MF)
      st = smx_mf_set_rate(e->mf, &p, msg, sizeof msg);
    if (st) fprintf(stderr, "smx: %s: rate change kept the old rate: %s\n", e->name, msg);
    e->params.bitrate_kbps = kbps; /* tried once; not retried every frame */
    e->params.fps = fps;
  }
  int64_t now = smx_monotonic_ns();
  int safety = now - e->last_idr_ns >= (int64_t)SMX_WIN_SAFETY_IDR_S * 1000000000;
  return InterlockedExchange(&e->want_idr, 0) || force_idr || safety;
}

static int encode_nv12_mf(smx_win_encoder *e, int idr) {
  const uint8_t *data;
  uint32_t size;
  char msg[512];
  int64_t t0 = smx_monotonic_ns();
  int st = smx_mf_encode(e->mf, e->nv12, idr, e->next_pts++, &data, &size, msg, sizeof msg);
  e->info.encode_ms = (double)(smx_monotonic_ns() - t0) / 1e6;
  if (st) return fail_e(e, st, "%s: %s", e->name, msg);
  return finish_packet(e, data, size);
}

/* The video processor for this device and output size. */
static int ensure_vp(smx_win_encoder *e) {
  if (e->vp) return SMX_OK;
  char msg[512];
  int st = smx_vp_create(e->dev, e->params.width, e->params.height, e->params.open_fps, &e->vp,
                         msg, sizeof msg);
  if (st && !e->vp_failed) {
    e->vp_failed = 1; /* said once; Media Foundation goes on with CPU conversion */
    fprintf(stderr, "smx: %s: %s\n", e->name, msg);
  }
  return st ? fail_e(e, st, "%s", msg) : SMX_OK;
}

/* NVENC has no session (a reopen on the source's device failed): said, never dereferenced. */
static int nvenc_lost(smx_win_encoder *e) {
  return e->kind == KIND_NVENC && !e->nv
             ? fail_e(e, SMX_E_ENCODER, "nvenc: no session on the source's D3D11 device (%s)",
                      e->skipped[0] ? e->skipped : "reopen failed")
             : SMX_OK;
}

/* Moves the GPU pipeline to `dev` (the texture's device differs from ours). NVENC sessions are
 * bound to their device, so NVENC is reopened there (the next frame is an IDR). */
static int rebind(smx_win_encoder *e, ID3D11Device *dev) {
  smx_vp_free(e->vp);
  e->vp = NULL;
  if (e->dev) ID3D11Device_Release(e->dev);
  e->dev = dev;
  ID3D11Device_AddRef(dev);
  if (e->kind == KIND_NVENC) {
    smx_nvenc_close(e->nv);
    e->nv = NULL;
    int why = 0;
    char msg[512];
    int st = smx_nvenc_open(dev, &e->params, &e->nv, &why, msg, sizeof msg);
    if (st) {
      add_skip(e, "nvenc (reopen on the source's device)", msg);
      return fail_e(e, why == 1 ? SMX_E_SESSION_LIMIT : st,
                    "nvenc: reopening on the source's D3D11 device failed: %s", msg);
    }
  }
  InterlockedExchange(&e->want_idr, 1);
  return SMX_OK;
}

/* Texture → NV12 (GPU) → the encoder. `idr` decided by the caller. */
static int encode_texture_locked(smx_win_encoder *e, ID3D11Texture2D *tex, int idr) {
  ID3D11Device *dev = NULL;
  ID3D11Texture2D_GetDevice(tex, &dev);
  int st = SMX_OK;
  if (dev != e->dev) st = rebind(e, dev);
  if (dev) ID3D11Device_Release(dev);
  if (st) return st;
  if (InterlockedExchange(&e->want_idr, 0)) idr = 1; /* a rebind asks for one */
  if ((st = nvenc_lost(e))) return st;
  if ((st = ensure_vp(e))) return st;
  D3D11_TEXTURE2D_DESC d;
  ID3D11Texture2D_GetDesc(tex, &d);
  e->info.in_width = d.Width;
  e->info.in_height = d.Height;
  char msg[512];
  int64_t t0 = smx_monotonic_ns();
  st = smx_vp_convert(e->vp, tex, msg, sizeof msg);
  if (!st && e->kind == KIND_MF) st = smx_vp_readback(e->vp, e->nv12, (size_t)e->params.width * e->params.height * 3 / 2, msg, sizeof msg);
  e->info.convert_ms = (double)(smx_monotonic_ns() - t0) / 1e6;
  if (st) return fail_e(e, st, "%s", msg);
  if (e->kind == KIND_MF) return encode_nv12_mf(e, idr);
  const uint8_t *data;
  uint32_t size;
  int key;
  int64_t t1 = smx_monotonic_ns();
  st = smx_nvenc_encode(e->nv, smx_vp_output(e->vp), idr, e->next_pts++, &data, &size, &key, msg,
                        sizeof msg);
  e->info.encode_ms = (double)(smx_monotonic_ns() - t1) / 1e6;
  if (st) return fail_e(e, st, "nvenc: %s", msg);
  return finish_packet(e, data, size);
}

static void note_input(smx_win_encoder *e, uint64_t frame, int64_t capture_us) {
  e->info.frame = frame;
  e->info.capture_us = capture_us;
  e->info.convert_ms = e->info.encode_ms = 0;
}

int smx_win_encoder_encode_texture(smx_win_encoder *e, void *texture, uint64_t frame,
                                   int64_t capture_us, int32_t force_idr) {
  int st = enter(e, 1);
  if (st) return st;
  if (!texture) {
    st = fail_e(e, SMX_E_INVALID_ARG, "texture is NULL");
  } else {
    int idr = begin_frame(e, force_idr);
    note_input(e, frame, capture_us);
    st = encode_texture_locked(e, (ID3D11Texture2D *)texture, idr);
    if (st < 0 && idr) InterlockedExchange(&e->want_idr, 1);
  }
  leave(e, 1);
  return st;
}

/* A CPU picture: uploaded and converted on the GPU when there is a device, else converted here
 * (Media Foundation only: NVENC always has a device). */
static int encode_pixels_locked(smx_win_encoder *e, const uint8_t *px, uint32_t w, uint32_t h,
                                uint32_t stride, uint32_t format, int idr) {
  e->info.in_width = w;
  e->info.in_height = h;
  char msg[512];
  int64_t t0 = smx_monotonic_ns();
  int st = nvenc_lost(e);
  if (st) return st;
  if (e->dev && !(e->kind == KIND_MF && e->vp_failed)) {
    if ((st = ensure_vp(e)) && e->kind == KIND_MF) goto cpu; /* no video processor: CPU */
    if (st) return st;
    st = smx_vp_convert_pixels(e->vp, px, w, h, stride, format, msg, sizeof msg);
    if (!st && e->kind == KIND_MF)
      st = smx_vp_readback(e->vp, e->nv12, (size_t)e->params.width * e->params.height * 3 / 2,
                           msg, sizeof msg);
  } else {
  cpu:
    st = SMX_OK;
    smx_rgba_to_nv12_fit(px, w, h, stride, format, e->nv12, e->params.width, e->params.height);
  }
  e->info.convert_ms = (double)(smx_monotonic_ns() - t0) / 1e6;
  if (st) return fail_e(e, st, "%s", msg);
  if (e->kind == KIND_MF) return encode_nv12_mf(e, idr);
  const uint8_t *data;
  uint32_t size;
  int key;
  int64_t t1 = smx_monotonic_ns();
  st = smx_nvenc_encode(e->nv, smx_vp_output(e->vp), idr, e->next_pts++, &data, &size, &key, msg,
                        sizeof msg);
  e->info.encode_ms = (double)(smx_monotonic_ns() - t1) / 1e6;
  if (st) return fail_e(e, st, "nvenc: %s", msg);
  return finish_packet(e, data, size);
}

int smx_win_encoder_encode_bgra(smx_win_encoder *e, const uint8_t *pixels, uint64_t pixels_len,
                                uint32_t width, uint32_t height, uint32_t stride, uint32_t format,
                                uint64_t frame, int64_t capture_us, int32_t force_idr) {
  int st = enter(e, 1);
  if (st) return st;
  if (!pixels) {
    st = fail_e(e, SMX_E_INVALID_ARG, "pixels is NULL");
  } else if (width < 1 || height < 1 || width > 8192 || height > 8192) {
    st = fail_e(e, SMX_E_INVALID_ARG, "input size %ux%u refused: must be 1..8192 per side", width,
                height);
  } else if (stride < width * 4) {
    st = fail_e(e, SMX_E_INVALID_ARG, "input stride %u is less than width*4 (%u)", stride,
                width * 4);
  } else if (format != 1 && format != 2) {
    st = fail_e(e, SMX_E_INVALID_ARG, "input format %u refused: 1 = BGRA, 2 = RGBA", format);
  } else if (pixels_len < (uint64_t)stride * (height - 1) + (uint64_t)width * 4) {
    st = fail_e(e, SMX_E_INVALID_ARG,
                "pixel buffer of %llu bytes is too small for %ux%u with stride %u",
                (unsigned long long)pixels_len, width, height, stride);
  } else {
    int idr = begin_frame(e, force_idr);
    note_input(e, frame, capture_us);
    st = encode_pixels_locked(e, pixels, width, height, stride, format, idr);
    if (st < 0 && idr) InterlockedExchange(&e->want_idr, 1);
  }
  leave(e, 1);
  return st;
}

int smx_win_encoder_encode_spout(smx_win_encoder *e, smx_spout_receiver *r, int32_t force_idr) {
  int st = enter(e, 1);
  if (st) return st;
  if (!r) {
    st = fail_e(e, SMX_E_INVALID_ARG, "Spout receiver handle is NULL");
    leave(e, 1);
    return st;
  }
  int idr = begin_frame(e, force_idr);
  ID3D11Device *dev = NULL;
  ID3D11DeviceContext *ctx = NULL;
  ID3D11Texture2D *tex = NULL;
  smx_spout_info si;
  int video = 0;
  memset(&si, 0, sizeof si);
  st = smx_spout_receiver_gpu_frame(r, &dev, &ctx, &tex, &si, &video);
  /* GPU path: the receiver's texture through our video processor. Media Foundation on a device
   * without one, and a receiver without video support, take the CPU readback instead. */
  int gpu = st == SMX_OK && video && !(e->kind == KIND_MF && e->vp_failed);
  if (gpu) {
    note_input(e, si.frame, si.capture_us);
    st = encode_texture_locked(e, tex, idr);
    smx_spout_receiver_gpu_done(r);
    if ((st < 0 && e->kind == KIND_MF && e->vp_failed) || st == SMX_E_FORMAT) {
      /* the processor just failed for the first time, or refuses this texture's format (an
       * _SRGB sender): this frame goes the CPU way */
      gpu = 0;
      st = SMX_OK;
    }
  } else if (st == SMX_OK) {
    smx_spout_receiver_gpu_done(r);
  }
  if (!gpu && (st == SMX_OK || st == SMX_E_IO)) {
    /* CPU path: the receiver's readback, the buffer grown once when the sender is larger. */
    int64_t n = smx_spout_receiver_copy_latest(r, e->cpu, e->cpu_cap, &si);
    if (n == SMX_E_RESIZED) {
      size_t need = (size_t)si.width * si.height * 4;
      uint8_t *b = need ? realloc(e->cpu, need) : NULL;
      if (b) {
        e->cpu = b;
        e->cpu_cap = need;
        n = smx_spout_receiver_copy_latest(r, e->cpu, e->cpu_cap, &si);
      }
    }
    if (n < 0) {
      st = fail_e(e, (int)n, "%s", smx_spout_receiver_error(r));
    } else {
      note_input(e, si.frame, si.capture_us);
      st = encode_pixels_locked(e, e->cpu, si.width, si.height, si.stride ? si.stride : si.width * 4,
                                si.format ? si.format : 1, idr);
    }
  } else if (!gpu) {
    fail_e(e, st, "%s", smx_spout_receiver_error(r)); /* AGAIN, TORN, WRITER_GONE, … */
  }
  if (st < 0 && idr) InterlockedExchange(&e->want_idr, 1); /* the retry must still be an IDR */
  leave(e, 1);
  return st;
}

/* ---- small calls -------------------------------------------------------------------------- */

const uint8_t *smx_win_encoder_packet_data(smx_win_encoder *e) {
  return is_live(e) && e->pkt_size ? e->pkt : NULL;
}

int smx_win_encoder_packet_info(smx_win_encoder *e, smx_win_packet_info *out) {
  int st = enter(e, 0);
  if (st) return st;
  if (out) *out = e->info;
  leave(e, 0);
  return out ? SMX_OK : smx_fail(SMX_E_INVALID_ARG, "packet info buffer is NULL");
}

int smx_win_encoder_request_idr(smx_win_encoder *e) {
  int st = enter(e, 0);
  if (st) return st;
  InterlockedExchange(&e->want_idr, 1);
  leave(e, 0);
  return SMX_OK;
}

int smx_win_encoder_set_bitrate(smx_win_encoder *e, uint32_t kbps) {
  int st = enter(e, 0);
  if (st) return st;
  if (kbps < 16 || kbps > 240000)
    st = fail_e(e, SMX_E_INVALID_ARG, "bitrate %u kbps refused: must be 16..240000", kbps);
  else
    InterlockedExchange(&e->want_kbps, (LONG)kbps);
  leave(e, 0);
  return st;
}

int smx_win_encoder_set_fps(smx_win_encoder *e, uint32_t fps) {
  int st = enter(e, 0);
  if (st) return st;
  if (fps < 1 || fps > 240)
    st = fail_e(e, SMX_E_INVALID_ARG, "fps %u refused: must be 1..240", fps);
  else
    InterlockedExchange(&e->want_fps, (LONG)fps);
  leave(e, 0);
  return st;
}

const char *smx_win_encoder_name(smx_win_encoder *e) { return is_live(e) ? e->name : ""; }
const char *smx_win_encoder_skipped(smx_win_encoder *e) { return is_live(e) ? e->skipped : ""; }
const char *smx_win_encoder_codec(smx_win_encoder *e) { return is_live(e) ? e->codec : ""; }
void *smx_win_encoder_device(smx_win_encoder *e) { return is_live(e) ? (void *)e->dev : NULL; }

const char *smx_win_encoder_error(smx_win_encoder *e) {
  if (!e) return "encoder handle is NULL";
  return is_live(e) ? e->err : "encoder handle is closed (or was never opened)";
}

void smx_win_encoder_close(smx_win_encoder *e) {
  if (!e) return;
  AcquireSRWLockExclusive(&reg_lock);
  smx_win_encoder **link = &live_head;
  while (*link && *link != e) link = &(*link)->next;
  if (!*link || e->closing) {
    ReleaseSRWLockExclusive(&reg_lock);
    return;
  }
  e->closing = 1;
  while (e->busy) SleepConditionVariableSRW(&reg_cv, &reg_lock, INFINITE, 0);
  for (link = &live_head; *link != e;) link = &(*link)->next;
  *link = e->next;
  ReleaseSRWLockExclusive(&reg_lock);
  destroy(e);
}

int smx_win_encoder_caps(void *device, char *out, uint32_t cap) {
  if (!out || cap < 64) return smx_fail(SMX_E_INVALID_ARG, "caps buffer too small (64 bytes)");
  char msg[512];
  ID3D11Device *dev = device;
  int own = 0;
  if (!dev) {
    dev = smx_d3d11_create_device(msg, sizeof msg);
    own = dev != NULL;
  }
  size_t used = 0;
  char nv[1024];
  if (dev && smx_nvenc_caps_json(dev, nv, sizeof nv, msg, sizeof msg) == SMX_OK) {
    used += (size_t)snprintf(out + used, cap - used, "{\"nvenc\":%s", nv);
  } else {
    if (!dev) {
      char drv[512];
      if (smx_nvenc_load(drv, sizeof drv) != SMX_OK) /* the driver's absence says more */
        snprintf(msg, sizeof msg, "%s", drv);
      else
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (no D3D11 device)");
    }
    char esc[600];
    size_t j = 0;
    for (size_t i = 0; msg[i] && j + 2 < sizeof esc; i++) {
      if (msg[i] == '"' || msg[i] == '\\') esc[j++] = '\\';
      esc[j++] = msg[i];
    }
    esc[j] = 0;
    used += (size_t)snprintf(out + used, cap - used, "{\"nvenc\":{\"error\":\"%s\"}", esc);
  }
  /* Media Foundation: open a small session to learn which MFT would serve. */
  smx_win_params p = {640, 360, 30, 30, 1000, 0};
  smx_mf *mf = NULL;
  char name[192], note[384];
  int st = used < cap ? smx_mf_open(&p, &mf, name, sizeof name, note, sizeof note, msg, sizeof msg)
                      : SMX_E_NO_MEMORY;
  if (used < cap) {
    const char *s = st ? msg : name;
    char esc[800];
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 2 < sizeof esc; i++) {
      if (s[i] == '"' || s[i] == '\\') esc[j++] = '\\';
      esc[j++] = s[i];
    }
    esc[j] = 0;
    used += (size_t)snprintf(out + used, cap - used, st ? ",\"mf\":{\"error\":\"%s\"}}" : ",\"mf\":\"%s\"}", esc);
  }
  smx_mf_close(mf);
  if (own) ID3D11Device_Release(dev);
  if (used >= cap) return smx_fail(SMX_E_NO_MEMORY, "caps buffer of %u bytes too small", cap);
  return (int)used;
}
