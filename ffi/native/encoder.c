/* H.264 encoder sessions on libavcodec (API and rules: encoder.h, ffi/README.md).
 *
 * Threading: open and encode run as nonblocking FFI calls on Deno's worker threads, the setters
 * and getters on the JS thread. A registry of live handles with an in-flight count makes NULL,
 * closed and foreign handles fail cleanly and lets close wait for a call still running. */
#define _GNU_SOURCE
#include "encoder.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>

#include "convert.h"
#include "encoder_options.h"
#include "heap.h"
#include "sps_rewrite.h"

struct smx_encoder {
  /* registry (guarded by reg_mu) */
  smx_encoder *next;
  int busy;    /* calls in flight */
  int closing; /* close is waiting: new calls are refused */
  int encoding;

  const smx_encoder_option_set *set;
  AVCodecContext *c;
  AVFrame *frame; /* our refcounted picture: libavcodec refs it instead of copying it */
  AVPacket *pkt;  /* last output; its buffer is what smx_encoder_packet_data returns */
  uint8_t *fixed; /* the last IDR with its SPS rewritten (sps_rewrite.h), when fixed_len > 0 */
  size_t fixed_cap, fixed_len;
  int sps_warned;
  smx_converter conv;
  smx_encoder_params params; /* as applied to c */
  _Atomic uint32_t want_kbps, want_fps;
  atomic_int want_idr;
  int64_t last_idr_ns;
  int64_t next_pts;
  smx_packet_info info;
  char name[32];
  char codec[32];
  char skipped[1024];
  char err[512];
};

/* ---------------------------------------------------------------------------------------------
 * libavcodec log capture. The av_log callback is process-wide; while this thread opens or
 * encodes, error lines are kept (thread-local) so they can become the call's error message.
 * Other lines go to stderr from SMX_AV_LOG's level (default "warning"). */

static __thread int log_capturing;
static __thread char log_captured[512];
static int log_forward_level = AV_LOG_WARNING;
static int log_forward_explicit;

static void log_callback(void *avcl, int level, const char *fmt, va_list vl) {
  if (level <= AV_LOG_ERROR && log_capturing) {
    char line[256];
    va_list copy;
    va_copy(copy, vl);
    vsnprintf(line, sizeof line, fmt, copy);
    va_end(copy);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == ' ')) line[--n] = 0;
    size_t used = strlen(log_captured);
    snprintf(log_captured + used, sizeof log_captured - used, "%s%s", used ? " / " : "", line);
  }
  /* A failing probe (NVENC without a GPU) is expected: quiet unless asked for. */
  if (level > log_forward_level || (log_capturing && !log_forward_explicit)) return;
  av_log_default_callback(avcl, level, fmt, vl);
}

static void log_init(void) {
  static const struct {
    const char *name;
    int level;
  } levels[] = {{"quiet", AV_LOG_QUIET}, {"error", AV_LOG_ERROR},     {"warning", AV_LOG_WARNING},
                {"info", AV_LOG_INFO},   {"verbose", AV_LOG_VERBOSE}, {"debug", AV_LOG_DEBUG}};
  const char *want = getenv("SMX_AV_LOG");
  for (size_t i = 0; want && i < sizeof levels / sizeof levels[0]; i++) {
    if (strcmp(want, levels[i].name) == 0) {
      log_forward_level = levels[i].level;
      log_forward_explicit = 1;
    }
  }
  av_log_set_level(log_forward_level > AV_LOG_INFO ? log_forward_level : AV_LOG_INFO);
  av_log_set_callback(log_callback);
}

static void log_capture_begin(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, log_init);
  log_captured[0] = 0;
  log_capturing = 1;
}

static const char *log_capture_end(void) {
  log_capturing = 0;
  return log_captured;
}

/* ---------------------------------------------------------------------------------------------
 * Registry of live handles. */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv = PTHREAD_COND_INITIALIZER;
static smx_encoder *live_head;

static int is_live_locked(const smx_encoder *e) {
  for (smx_encoder *it = live_head; it; it = it->next)
    if (it == e) return !it->closing;
  return 0;
}

static int handle_error(const smx_encoder *e) {
  return e ? smx_fail(SMX_E_CLOSED, "encoder handle is closed (or was never opened)")
           : smx_fail(SMX_E_INVALID_ARG, "encoder handle is NULL");
}

/* Starts a call on e; `encode` also claims the handle's single encode slot. */
static int enter(smx_encoder *e, int encode) {
  pthread_mutex_lock(&reg_mu);
  if (!e || !is_live_locked(e)) {
    pthread_mutex_unlock(&reg_mu);
    return handle_error(e);
  }
  if (encode && e->encoding) {
    pthread_mutex_unlock(&reg_mu);
    return smx_fail(SMX_E_INVALID_ARG,
                    "another encode is in flight on this encoder: await it before the next");
  }
  e->busy++;
  if (encode) e->encoding = 1;
  pthread_mutex_unlock(&reg_mu);
  return SMX_OK;
}

static void leave(smx_encoder *e, int encode) {
  pthread_mutex_lock(&reg_mu);
  if (encode) e->encoding = 0;
  if (--e->busy == 0) pthread_cond_broadcast(&reg_cv);
  pthread_mutex_unlock(&reg_mu);
}

/* For the string getters: the handle stays valid while the caller does not close it. */
static int is_live(smx_encoder *e) {
  pthread_mutex_lock(&reg_mu);
  int live = e && is_live_locked(e);
  pthread_mutex_unlock(&reg_mu);
  return live;
}

/* Records a failure in the handle (read by TS after a nonblocking call) and thread-locally. */
static int fail_e(smx_encoder *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_e(smx_encoder *e, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->err, sizeof e->err, fmt, ap);
  va_end(ap);
  return smx_fail(code, "%s", e->err);
}

/* ---------------------------------------------------------------------------------------------
 * Annex-B inspection: keyframe = the first slice is an IDR; the SPS gives the codec string. */

typedef struct {
  int keyframe;
  int sps_before_idr;
  const uint8_t *sps; /* NAL header byte of the first SPS */
  size_t sps_len;
} nal_summary;

static nal_summary scan_nals(const uint8_t *p, size_t n) {
  nal_summary s = {0};
  size_t i = 0;
  while (i + 3 <= n) {
    if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
      size_t start = i + 3;
      size_t end = start;
      while (end + 3 <= n && !(p[end] == 0 && p[end + 1] == 0 && (p[end + 2] == 1 ||
                                                                 (p[end + 2] == 0 && end + 3 < n &&
                                                                  p[end + 3] == 1))))
        end++;
      if (end + 3 > n) end = n;
      if (start >= n) break;
      int type = p[start] & 0x1f;
      if (type == 7 && !s.sps) {
        s.sps = p + start;
        s.sps_len = end - start;
      }
      if (type == 5 || type == 1) { /* first slice decides */
        s.keyframe = type == 5;
        s.sps_before_idr = s.keyframe && s.sps;
        break;
      }
      i = end;
    } else {
      i++;
    }
  }
  return s;
}

/* An SPS without VUI bitstream_restriction / max_num_reorder_frames = 0 makes decoders hold
 * frames back. FFmpeg 5.1's h264_nvenc writes none, so every SPS goes through sps_rewrite.c
 * (x264's already has it: the check costs a parse of ~20 bytes per IDR and changes nothing). An
 * SPS the module does not read is passed on unchanged, said once per session on stderr. */
static void fix_sps(smx_encoder *e) {
  size_t n = (size_t)e->pkt->size;
  size_t need = n + 4 * SMX_SPS_MAX_GROWTH;
  if (e->fixed_cap < need) {
    uint8_t *b = realloc(e->fixed, need);
    if (!b) return;
    e->fixed = b;
    e->fixed_cap = need;
  }
  int64_t m = smx_h264_rewrite_sps_annexb(e->pkt->data, n, SMX_SPS_FIX, e->fixed, e->fixed_cap);
  if (m > 0) {
    e->fixed_len = (size_t)m;
  } else if (m < 0 && !e->sps_warned) {
    e->sps_warned = 1;
    fprintf(stderr, "smx encoder %s: SPS left as it is: %s\n", e->name, smx_last_error());
  }
}

static void update_codec(smx_encoder *e, const nal_summary *s) {
  if (s->sps && s->sps_len >= 4)
    snprintf(e->codec, sizeof e->codec, "avc1.%02x%02x%02x", s->sps[1], s->sps[2], s->sps[3]);
}

/* ---------------------------------------------------------------------------------------------
 * Open. */

static int64_t monotonic_ns(void) { return smx_monotonic_ns(); }

static int check_session(uint32_t w, uint32_t h, uint32_t fps, uint32_t kbps, char *msg,
                         size_t cap) {
  if (w < SMX_ENCODER_MIN_DIM || h < SMX_ENCODER_MIN_DIM || w > SMX_ENCODER_MAX_DIM ||
      h > SMX_ENCODER_MAX_DIM || (w & 1) || (h & 1)) {
    snprintf(msg, cap,
             "encoder size %ux%u refused: width and height must be even (4:2:0) and within "
             "%u..%u",
             w, h, SMX_ENCODER_MIN_DIM, SMX_ENCODER_MAX_DIM);
    return SMX_E_INVALID_ARG;
  }
  if ((uint64_t)((w + 15) / 16) * ((h + 15) / 16) > SMX_ENCODER_MAX_MBS) {
    snprintf(msg, cap,
             "encoder size %ux%u refused: more than %u macroblocks (H.264 level 5.2 allows up "
             "to 4096x2304)",
             w, h, SMX_ENCODER_MAX_MBS);
    return SMX_E_INVALID_ARG;
  }
  if (fps < 1 || fps > SMX_ENCODER_MAX_FPS) {
    snprintf(msg, cap, "encoder fps %u refused: must be 1..%u", fps, SMX_ENCODER_MAX_FPS);
    return SMX_E_INVALID_ARG;
  }
  if (kbps < SMX_ENCODER_MIN_KBPS || kbps > SMX_ENCODER_MAX_KBPS) {
    snprintf(msg, cap, "encoder bitrate %u kbps refused: must be %u..%u", kbps,
             SMX_ENCODER_MIN_KBPS, SMX_ENCODER_MAX_KBPS);
    return SMX_E_INVALID_ARG;
  }
  return SMX_OK;
}

enum { MAX_PREFERENCE = 8 };

/* Splits "a, b,c" into known option sets; unknown names are a caller mistake. */
static int parse_preference(const char *list, const smx_encoder_option_set **out, int *count,
                            char *msg, size_t cap) {
  *count = 0;
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    const char *start = p;
    while (*p && *p != ',') p++;
    const char *end = p;
    while (end > start && end[-1] == ' ') end--;
    if (end == start) continue;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(end - start), start);
    const smx_encoder_option_set *set = smx_encoder_options_find(name);
    if (!set) {
      snprintf(msg, cap, "unknown encoder '%s' in preference \"%s\" (supported: %s)", name, list,
               smx_encoder_options_names());
      return SMX_E_INVALID_ARG;
    }
    if (*count == MAX_PREFERENCE) {
      snprintf(msg, cap, "encoder preference \"%s\" lists more than %d names", list,
               MAX_PREFERENCE);
      return SMX_E_INVALID_ARG;
    }
    out[(*count)++] = set;
  }
  if (*count == 0) {
    snprintf(msg, cap, "encoder preference \"%s\" names no encoder (supported: %s)", list,
             smx_encoder_options_names());
    return SMX_E_INVALID_ARG;
  }
  return SMX_OK;
}

/* Tries one encoder; on failure writes why into `why` and returns NULL. */
static AVCodecContext *try_open(const smx_encoder_option_set *set, const smx_encoder_params *p,
                                char *why, size_t cap) {
  const AVCodec *codec = avcodec_find_encoder_by_name(set->name);
  if (!codec) {
    snprintf(why, cap, "not compiled into this libavcodec (%s)", av_version_info());
    return NULL;
  }
  if (!set->available(why, cap)) return NULL;
  AVCodecContext *c = avcodec_alloc_context3(codec);
  if (!c) {
    snprintf(why, cap, "out of memory");
    return NULL;
  }
  AVDictionary *opts = NULL;
  set->configure(c, &opts, p);
  log_capture_begin();
  int r = avcodec_open2(c, codec, &opts);
  const char *logged = log_capture_end();
  if (r < 0) {
    char averr[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(r, averr, sizeof averr);
    snprintf(why, cap, "avcodec_open2 failed: %.300s%s%.60s", logged[0] ? logged : averr,
             logged[0] ? " — " : "", logged[0] ? averr : "");
    av_dict_free(&opts);
    avcodec_free_context(&c);
    return NULL;
  }
  if (av_dict_count(opts)) {
    /* An option this libavcodec does not know would silently change behaviour (e.g. NVENC
     * without delay=0 holds frames back): treat the encoder as unusable. */
    const AVDictionaryEntry *left = av_dict_get(opts, "", NULL, AV_DICT_IGNORE_SUFFIX);
    snprintf(why, cap, "this libavcodec does not know option %s=%s", left->key, left->value);
    av_dict_free(&opts);
    avcodec_free_context(&c);
    return NULL;
  }
  av_dict_free(&opts);
  return c;
}

static int encode_frame(smx_encoder *e, int force_idr);

static void destroy(smx_encoder *e) {
  if (!e) return;
  avcodec_free_context(&e->c);
  av_frame_free(&e->frame);
  av_packet_free(&e->pkt);
  free(e->fixed);
  smx_converter_free(&e->conv);
  free(e);
  smx_heap_release(); /* the session's ~26 MB (at 720p) back to the system: heap.h */
}

/* Encodes one black frame and drops it: the SPS it carries is what this encoder really writes
 * (profile, constraint flags, level), so the codec string is exact before the first real frame.
 * The first real frame is forced to be an IDR, so nothing refers to the dropped one. */
static int prime(smx_encoder *e) {
  AVFrame *f = e->frame;
  for (int y = 0; y < f->height; y++) memset(f->data[0] + (size_t)y * f->linesize[0], 16, f->width);
  int planes = e->c->pix_fmt == AV_PIX_FMT_NV12 ? 1 : 2;
  int cw = e->c->pix_fmt == AV_PIX_FMT_NV12 ? f->width : f->width / 2;
  for (int i = 1; i <= planes; i++)
    for (int y = 0; y < f->height / 2; y++)
      memset(f->data[i] + (size_t)y * f->linesize[i], 128, cw);
  int st = encode_frame(e, 1);
  if (st < 0) return st;
  atomic_store(&e->want_idr, 1);
  return SMX_OK;
}

smx_encoder *smx_encoder_open(const char *preference, uint32_t width, uint32_t height,
                              uint32_t fps, uint32_t bitrate_kbps, char *err, uint32_t err_cap,
                              int32_t *status) {
  return smx_encoder_open_profile(preference, width, height, fps, bitrate_kbps, SMX_PROFILE_MAIN,
                                  err, err_cap, status);
}

smx_encoder *smx_encoder_open_profile(const char *preference, uint32_t width, uint32_t height,
                                      uint32_t fps, uint32_t bitrate_kbps, uint32_t profile,
                                      char *err, uint32_t err_cap, int32_t *status) {
  smx_heap_tune(); /* before the first session allocates its pictures: heap.h */
  char msg[1536];
  msg[0] = 0;
  int st = check_session(width, height, fps, bitrate_kbps, msg, sizeof msg);
  if (!st && profile != SMX_PROFILE_MAIN && profile != SMX_PROFILE_BASELINE) {
    st = SMX_E_INVALID_ARG;
    snprintf(msg, sizeof msg, "H.264 profile %u refused: 0 = Main, 1 = Constrained Baseline",
             profile);
  }
  const smx_encoder_option_set *sets[MAX_PREFERENCE];
  int nsets = 0;
  if (!st) {
    const char *list = preference && *preference ? preference : getenv("SMX_ENCODERS");
    if (!list || !*list) list = SMX_ENCODER_DEFAULT_ORDER;
    st = parse_preference(list, sets, &nsets, msg, sizeof msg);
  }
  smx_encoder *e = NULL;
  if (!st) {
    e = calloc(1, sizeof *e);
    if (!e) {
      st = SMX_E_NO_MEMORY;
      snprintf(msg, sizeof msg, "encoder: out of memory");
    }
  }
  if (!st) {
    e->params = (smx_encoder_params){width, height, fps, fps, bitrate_kbps,
                                    (smx_h264_profile)profile};
    atomic_store(&e->want_kbps, bitrate_kbps);
    atomic_store(&e->want_fps, fps);
    for (int i = 0; i < nsets && !e->c; i++) {
      char why[512];
      why[0] = 0;
      e->c = try_open(sets[i], &e->params, why, sizeof why);
      if (e->c) {
        e->set = sets[i];
      } else {
        size_t used = strlen(e->skipped);
        snprintf(e->skipped + used, sizeof e->skipped - used, "%s%s: %s", used ? "; " : "",
                 sets[i]->name, why);
      }
    }
    if (!e->c) {
      st = SMX_E_ENCODER;
      snprintf(msg, sizeof msg, "no H.264 encoder could be opened: %s", e->skipped);
    }
  }
  if (!st) {
    snprintf(e->name, sizeof e->name, "%s", e->set->name);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (e->frame) {
      e->frame->format = e->c->pix_fmt;
      e->frame->width = (int)width;
      e->frame->height = (int)height;
    }
    if (!e->frame || !e->pkt || av_frame_get_buffer(e->frame, 64) < 0) {
      st = SMX_E_NO_MEMORY;
      snprintf(msg, sizeof msg, "encoder: cannot allocate a %ux%u picture", width, height);
    }
  }
  if (!st && (st = prime(e)) < 0) snprintf(msg, sizeof msg, "%s: first frame failed: %s", e->name, e->err);
  if (!st) {
    pthread_mutex_lock(&reg_mu);
    e->next = live_head;
    live_head = e;
    pthread_mutex_unlock(&reg_mu);
  } else {
    destroy(e);
    e = NULL;
    smx_fail(st, "%s", msg);
  }
  if (err && err_cap) snprintf(err, err_cap, "%s", st ? msg : "");
  if (status) *status = st;
  return e;
}

/* ---------------------------------------------------------------------------------------------
 * Encode. */

static double ms_since(int64_t t0_ns) { return (double)(monotonic_ns() - t0_ns) / 1e6; }

/* Applies pending rate changes, then encodes e->frame into e->pkt. */
static int encode_frame(smx_encoder *e, int force_idr) {
  uint32_t kbps = atomic_load(&e->want_kbps), fps = atomic_load(&e->want_fps);
  if (kbps != e->params.bitrate_kbps || fps != e->params.fps) {
    e->params.bitrate_kbps = kbps;
    e->params.fps = fps;
    smx_encoder_options_rate(e->c, &e->params); /* picked up by the encoder at this frame */
  }
  int64_t now = monotonic_ns();
  int safety = now - e->last_idr_ns >= (int64_t)SMX_ENCODER_SAFETY_IDR_S * 1000000000;
  int idr = atomic_exchange(&e->want_idr, 0) || force_idr || safety;
  e->frame->pict_type = idr ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  e->frame->pts = e->next_pts++; /* one tick of 1/open_fps per frame (see options_rate) */
  av_packet_unref(e->pkt);

  log_capture_begin();
  int r = avcodec_send_frame(e->c, e->frame);
  if (r >= 0) r = avcodec_receive_packet(e->c, e->pkt);
  const char *logged = log_capture_end();
  if (r < 0) {
    if (idr) atomic_store(&e->want_idr, 1);
    if (r == AVERROR(EAGAIN))
      return fail_e(e, SMX_E_ENCODER, "%s held the frame back (encoder delay is not zero)",
                    e->name);
    char averr[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(r, averr, sizeof averr);
    return fail_e(e, SMX_E_ENCODER, "%s: encoding failed: %s%s%s", e->name, averr,
                  logged[0] ? " — " : "", logged);
  }
  nal_summary s = scan_nals(e->pkt->data, (size_t)e->pkt->size);
  update_codec(e, &s);
  if (s.keyframe) e->last_idr_ns = now;
  e->fixed_len = 0;
  if (s.sps) fix_sps(e);
  e->info.size = e->fixed_len ? (uint32_t)e->fixed_len : (uint32_t)e->pkt->size;
  e->info.keyframe = (uint32_t)s.keyframe;
  e->info.out_width = e->params.width;
  e->info.out_height = e->params.height;
  return (int)e->info.size;
}

static smx_yuv_image frame_image(const AVFrame *f) {
  smx_yuv_image img = {{f->data[0], f->data[1], f->data[2]},
                       {f->linesize[0], f->linesize[1], f->linesize[2]},
                       (uint32_t)f->width,
                       (uint32_t)f->height,
                       f->format == AV_PIX_FMT_NV12};
  return img;
}

static int check_input(smx_encoder *e, uint32_t w, uint32_t h, uint32_t stride, uint32_t format) {
  if (w < 1 || h < 1 || w > SMX_RING_MAX_DIM || h > SMX_RING_MAX_DIM)
    return fail_e(e, SMX_E_INVALID_ARG, "input size %ux%u refused: must be 1..%u per side", w, h,
                  SMX_RING_MAX_DIM);
  if (stride < w * 4)
    return fail_e(e, SMX_E_INVALID_ARG, "input stride %u is less than width*4 (%u)", stride,
                  w * 4);
  if (format != SMX_FORMAT_BGRA && format != SMX_FORMAT_RGBA)
    return fail_e(e, SMX_E_INVALID_ARG, "input format %u refused: 1 = BGRA, 2 = RGBA", format);
  return SMX_OK;
}

/* Converts into our picture; the encoder has dropped its reference to it after the last
 * receive_packet, so make_writable is a check, not a copy. */
static int convert_input(smx_encoder *e, const uint8_t *px, uint32_t w, uint32_t h,
                         uint32_t stride, uint32_t format) {
  if (av_frame_make_writable(e->frame) < 0)
    return fail_e(e, SMX_E_NO_MEMORY, "encoder: cannot make the picture writable");
  smx_yuv_image img = frame_image(e->frame);
  int st = smx_convert(&e->conv, px, w, h, stride, format, &img);
  if (st < 0) return fail_e(e, st, "%s", smx_last_error());
  return SMX_OK;
}

static void note_input(smx_encoder *e, uint32_t w, uint32_t h, uint64_t frame, int64_t cap_us,
                       double convert_ms) {
  e->info.in_width = w;
  e->info.in_height = h;
  e->info.frame = frame;
  e->info.capture_us = cap_us;
  e->info.convert_ms = convert_ms;
}

int smx_encoder_encode_rgba(smx_encoder *e, const uint8_t *pixels, uint64_t pixels_len,
                            uint32_t width, uint32_t height, uint32_t stride, uint32_t format,
                            uint64_t frame, int64_t capture_us, int32_t force_idr) {
  int st = enter(e, 1);
  if (st) return st;
  if (!pixels) {
    st = fail_e(e, SMX_E_INVALID_ARG, "pixels is NULL");
  } else if (!(st = check_input(e, width, height, stride, format)) &&
             pixels_len < (uint64_t)stride * (height - 1) + (uint64_t)width * 4) {
    st = fail_e(e, SMX_E_INVALID_ARG,
                "pixel buffer of %llu bytes is too small for %ux%u with stride %u",
                (unsigned long long)pixels_len, width, height, stride);
  }
  if (!st) {
    int64_t t0 = monotonic_ns();
    st = convert_input(e, pixels, width, height, stride, format);
    if (!st) {
      note_input(e, width, height, frame, capture_us, ms_since(t0));
      int64_t t1 = monotonic_ns();
      st = encode_frame(e, force_idr);
      e->info.encode_ms = ms_since(t1);
    } else if (force_idr) {
      atomic_store(&e->want_idr, 1);
    }
  }
  leave(e, 1);
  return st;
}

int smx_encoder_encode_ring(smx_encoder *e, smx_ring_reader *r, int32_t force_idr) {
  int st = enter(e, 1);
  if (st) return st;
  smx_frame_view v;
  if (!r) {
    st = fail_e(e, SMX_E_INVALID_ARG, "ring reader handle is NULL");
  } else if ((st = smx_ring_reader_acquire(r, &v)) < 0) {
    fail_e(e, st, "%s", st == SMX_E_AGAIN ? "no frame in the ring yet" : smx_last_error());
  } else if (!(st = check_input(e, v.width, v.height, v.stride, v.format))) {
    int64_t t0 = monotonic_ns();
    st = convert_input(e, v.pixels, v.width, v.height, v.stride, v.format);
    double convert_ms = ms_since(t0);
    /* Check BEFORE encoding: a torn frame must never reach the encoder, because dropping a
     * packet afterwards (possibly an IDR) would break the stream for every viewer. */
    if (!st && !smx_ring_reader_still_valid(r, &v))
      st = fail_e(e, SMX_E_TORN,
                  "frame %llu was overwritten while it was converted; nothing was encoded "
                  "(retry)",
                  (unsigned long long)v.frame);
    if (!st) {
      note_input(e, v.width, v.height, v.frame, v.capture_us, convert_ms);
      int64_t t1 = monotonic_ns();
      st = encode_frame(e, force_idr);
      e->info.encode_ms = ms_since(t1);
    }
  }
  if (st < 0 && force_idr) atomic_store(&e->want_idr, 1); /* the retry must still be an IDR */
  leave(e, 1);
  return st;
}

/* ---------------------------------------------------------------------------------------------
 * Small calls. */

const uint8_t *smx_encoder_packet_data(smx_encoder *e) {
  if (!is_live(e) || e->pkt->size <= 0) return NULL;
  return e->fixed_len ? e->fixed : e->pkt->data;
}

int smx_encoder_packet_info(smx_encoder *e, smx_packet_info *out) {
  int st = enter(e, 0);
  if (st) return st;
  if (out) *out = e->info;
  leave(e, 0);
  return out ? SMX_OK : smx_fail(SMX_E_INVALID_ARG, "packet info buffer is NULL");
}

int smx_encoder_request_idr(smx_encoder *e) {
  int st = enter(e, 0);
  if (st) return st;
  atomic_store(&e->want_idr, 1);
  leave(e, 0);
  return SMX_OK;
}

int smx_encoder_set_bitrate(smx_encoder *e, uint32_t kbps) {
  int st = enter(e, 0);
  if (st) return st;
  if (kbps < SMX_ENCODER_MIN_KBPS || kbps > SMX_ENCODER_MAX_KBPS)
    st = fail_e(e, SMX_E_INVALID_ARG, "bitrate %u kbps refused: must be %u..%u", kbps,
                SMX_ENCODER_MIN_KBPS, SMX_ENCODER_MAX_KBPS);
  else
    atomic_store(&e->want_kbps, kbps);
  leave(e, 0);
  return st;
}

int smx_encoder_set_fps(smx_encoder *e, uint32_t fps) {
  int st = enter(e, 0);
  if (st) return st;
  if (fps < 1 || fps > SMX_ENCODER_MAX_FPS)
    st = fail_e(e, SMX_E_INVALID_ARG, "fps %u refused: must be 1..%u", fps, SMX_ENCODER_MAX_FPS);
  else
    atomic_store(&e->want_fps, fps);
  leave(e, 0);
  return st;
}

const char *smx_encoder_name(smx_encoder *e) { return is_live(e) ? e->name : ""; }
const char *smx_encoder_skipped(smx_encoder *e) { return is_live(e) ? e->skipped : ""; }
const char *smx_encoder_codec(smx_encoder *e) { return is_live(e) ? e->codec : ""; }

const char *smx_encoder_error(smx_encoder *e) {
  if (!e) return "encoder handle is NULL";
  return is_live(e) ? e->err : "encoder handle is closed (or was never opened)";
}

void smx_encoder_close(smx_encoder *e) {
  if (!e) return;
  pthread_mutex_lock(&reg_mu);
  smx_encoder **link = &live_head;
  while (*link && *link != e) link = &(*link)->next;
  if (!*link || e->closing) { /* unknown, or another close is already waiting */
    pthread_mutex_unlock(&reg_mu);
    return;
  }
  e->closing = 1;
  while (e->busy) pthread_cond_wait(&reg_cv, &reg_mu);
  for (link = &live_head; *link != e;) link = &(*link)->next; /* list may have changed */
  *link = e->next;
  pthread_mutex_unlock(&reg_mu);
  destroy(e);
}
