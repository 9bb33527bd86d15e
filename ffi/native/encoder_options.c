#define _GNU_SOURCE
#include "encoder_options.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/pixfmt.h>

/* Both encoders get "no IDR unless asked": encoder.c forces one on request and at its own safety
 * interval (time-based, so it holds whatever the frame rate), which also keeps the two encoders
 * behaving the same. 2^30 is x264's X264_KEYINT_MAX_INFINITE and ~200 days at 60 fps for NVENC. */
#define GOP_INFINITE (1 << 30)

/* Fields every H.264 session shares: size, time base, no B-frames, and the colour description.
 * libyuv's ARGBToI420/ARGBToNV12 use BT.601 limited-range coefficients; saying so in the VUI
 * stops decoders guessing BT.709 for HD sizes (a visible hue shift). */
static void configure_common(AVCodecContext *c, const smx_encoder_params *p) {
  c->width = (int)p->width;
  c->height = (int)p->height;
  c->time_base = (AVRational){1, (int)p->open_fps};
  c->framerate = (AVRational){(int)p->open_fps, 1};
  c->max_b_frames = 0;
  c->gop_size = GOP_INFINITE;
  c->color_range = AVCOL_RANGE_MPEG;
  c->colorspace = AVCOL_SPC_SMPTE170M;
  c->color_primaries = AVCOL_PRI_BT709; /* sRGB content: BT.709 primaries */
  c->color_trc = AVCOL_TRC_IEC61966_2_1;
  smx_encoder_options_rate(c, p);
}

void smx_encoder_options_rate(AVCodecContext *c, const smx_encoder_params *p) {
  uint64_t kbps = (uint64_t)p->bitrate_kbps * p->open_fps / (p->fps ? p->fps : p->open_fps);
  if (kbps < 1) kbps = 1;
  /* x264 takes the buffer in whole kbit and warns (then enlarges it) when it is below one
   * frame, so round the one-frame size up. */
  uint64_t buffer_kbit = (kbps + p->open_fps - 1) / p->open_fps;
  c->bit_rate = (int64_t)(kbps * 1000);
  c->rc_max_rate = (int64_t)(kbps * 1000);
  c->rc_buffer_size = (int)(buffer_kbit * 1000);
}

/* ---- libx264 ---- */

static int x264_available(char *why, size_t cap) {
  (void)why;
  (void)cap;
  return 1; /* linked into libavcodec itself; avcodec_find_encoder_by_name decides */
}

static void x264_configure(AVCodecContext *c, AVDictionary **opts, const smx_encoder_params *p) {
  configure_common(c, p);
  /* NV12 is x264's internal layout: it copies NV12 input plane by plane instead of
   * interleaving I420 chroma on every frame. */
  c->pix_fmt = AV_PIX_FMT_NV12;
  /* One thread. Measured on the 2-core target: two slice threads cut 720p/1080p wall time by
   * only 0-15% while occupying the second core, which another rendition (or the conversion of
   * the next frame) needs more; frame threads would add a frame of latency. */
  c->thread_count = 1;
  av_dict_set(opts, "preset", "ultrafast", 0);
  av_dict_set(opts, "tune", "zerolatency", 0); /* no lookahead, no B-frames, no frame threads */
  av_dict_set(opts, "forced-idr", "1", 0); /* pict_type I means IDR, not a recovery-point I */
  /* Capped CRF: constant quality, but never above the 1-frame VBV at the target bitrate (see
   * smx_encoder_options_rate). Unlike plain ABR/CBR at maxrate == bitrate, easy frames (a paused
   * or slow scene) do not burn the whole budget and the CPU time that goes with it: measured on
   * a static 720p scene, ~40 B and ~3.1 ms of x264 a frame instead of ~2.9 KB and ~4.5 ms. */
  av_dict_set(opts, "crf", "23", 0);
  /* scenecut=0 keeps IDRs to the ones we ask for. bframes=0 makes x264 write VUI
   * bitstream_restriction with max_num_reorder_frames=0 (decoders then output at once). */
  if (p->profile == SMX_PROFILE_BASELINE) {
    /* Constrained Baseline: x264's profile caps the features (CAVLC, no 8x8 transform, no
     * B-frames, no weighted prediction) and its SPS says profile_idc 66 with constraint_set0
     * and constraint_set1 (x264 never sets constraint_set2): codec "avc1.42c0xx". The options
     * are spelled out too so that a preset change cannot bring CABAC back unnoticed. */
    av_dict_set(opts, "profile", "baseline", 0);
    av_dict_set(opts, "x264-params", "cabac=0:8x8dct=0:scenecut=0:bframes=0", 0);
  } else {
    /* ultrafast turns CABAC off, which makes the stream Baseline whatever profile says. */
    av_dict_set(opts, "profile", "main", 0);
    av_dict_set(opts, "x264-params", "cabac=1:scenecut=0:bframes=0", 0);
  }
}

/* ---- h264_nvenc ---- */

/* libavcodec's NVENC loads these at run time; without them avcodec_open2 fails with
 * "Operation not permitted", which sends people looking at permissions. */
static int nvenc_available(char *why, size_t cap) {
  static const char *const libs[] = {"libcuda.so.1", "libnvidia-encode.so.1"};
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    void *h = dlopen(libs[i], RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
      const char *detail = dlerror();
      snprintf(why, cap,
               "NVIDIA driver not installed: %s is not loadable (%s); NVENC needs an NVIDIA GPU "
               "with a video encoder and its driver (data-centre GPUs such as H100/H200 have no "
               "NVENC)",
               libs[i], detail ? detail : "not found");
      return 0;
    }
    dlclose(h);
  }
  return 1;
}

static void nvenc_configure(AVCodecContext *c, AVDictionary **opts, const smx_encoder_params *p) {
  configure_common(c, p);
  c->pix_fmt = AV_PIX_FMT_NV12; /* NVENC's native input layout */
  av_dict_set(opts, "preset", "p1", 0);
  av_dict_set(opts, "tune", "ull", 0);
  if (p->profile == SMX_PROFILE_BASELINE) {
    av_dict_set(opts, "profile", "baseline", 0); /* CAVLC, no 8x8 transform, no B-frames */
    av_dict_set(opts, "coder", "cavlc", 0);
  } else {
    av_dict_set(opts, "profile", "main", 0);
    av_dict_set(opts, "coder", "cabac", 0);
  }
  av_dict_set(opts, "rc", "cbr", 0);
  av_dict_set(opts, "zerolatency", "1", 0); /* no reordering delay */
  av_dict_set(opts, "rc-lookahead", "0", 0);
  av_dict_set(opts, "forced-idr", "1", 0);
  /* The default delay (INT_MAX, clamped to surfaces-1) holds output until several surfaces are
   * queued: every frame would come out frames late. */
  av_dict_set(opts, "delay", "0", 0);
}

static const smx_encoder_option_set SETS[] = {
    {"h264_nvenc", nvenc_available, nvenc_configure},
    {"libx264", x264_available, x264_configure},
};

const smx_encoder_option_set *smx_encoder_options_find(const char *name) {
  for (size_t i = 0; i < sizeof SETS / sizeof SETS[0]; i++) {
    if (strcmp(SETS[i].name, name) == 0) return &SETS[i];
  }
  return NULL;
}

const char *smx_encoder_options_names(void) { return "h264_nvenc, libx264"; }
