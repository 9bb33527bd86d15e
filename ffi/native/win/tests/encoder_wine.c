/* Wine run of the Windows encoder's C API (tests/win_encoder_test.ts builds it with mingw-w64 and
 * runs it under Wine; it runs as it is on Windows too). What Wine can show without an NVIDIA GPU:
 * the DLL's code loads and runs, NVENC is passed over with the real reason, the error model
 * (NULL/closed handles, bad arguments), and whatever Media Foundation and D3D11 Wine provides —
 * an encoder that opens is driven through a few frames, one that cannot is a "skip" with why.
 *
 *   encoder_wine.exe                 the above, with whatever drivers the system has
 *   encoder_wine.exe --fake-nvenc    with fake_nvenc.c as System32's nvEncodeAPI64.dll: NVENC's
 *                                    calls in their order up to the video processor, the
 *                                    session limit and the fallback after it
 *   encoder_wine.exe --fake-nvenc-old   the same DLL reporting an older API (driver too old)
 *
 * Output: "ok - …" / "not ok - …" / "skip - …" lines, "# …" notes, then
 * "harness: P passed, F failed, S skipped". Exit status 0 when nothing failed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smx_common.h"
#include "win/d3d11_video_processor.h"
#include "win/mf_convert.h"
#include "win/win_encoder.h"

static int passed, failed, skipped;

static void check(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf(ok ? "ok - " : "not ok - ");
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if (ok)
    passed++;
  else
    failed++;
}

static void skip(const char *what, const char *why) {
  printf("skip - %s # %s\n", what, why);
  skipped++;
}

/* A moving BGRA test picture. */
static void scene(uint8_t *px, uint32_t w, uint32_t h, int t) {
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      uint8_t *p = px + ((size_t)y * w + x) * 4;
      p[0] = (uint8_t)(x + t * 3), p[1] = (uint8_t)(y * 2), p[2] = 96, p[3] = 255;
    }
}

static int nal_types(const uint8_t *p, uint32_t n, int *types, int max) {
  int k = 0;
  for (uint32_t i = 0; i + 3 < n && k < max; i++)
    if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) types[k++] = p[i + 3] & 0x1f, i += 3;
  return k;
}

static void drive(smx_win_encoder *e, const char *label) {
  uint32_t w = 320, h = 180;
  uint8_t *px = malloc((size_t)w * h * 4);
  int keyframes = 0, frames = 0, first_key = 0, idr_at_8 = 0;
  for (int t = 0; t < 12; t++) {
    if (t == 8) smx_win_encoder_request_idr(e);
    scene(px, w, h, t);
    int n = smx_win_encoder_encode_bgra(e, px, (uint64_t)w * h * 4, w, h, w * 4, 1, (uint64_t)t + 1,
                                        0, 0);
    if (n < 0) {
      check(0, "%s: frame %d encodes: %s", label, t, smx_win_encoder_error(e));
      break;
    }
    smx_win_packet_info info;
    smx_win_encoder_packet_info(e, &info);
    const uint8_t *data = smx_win_encoder_packet_data(e);
    int types[32], k = nal_types(data, info.size, types, 32);
    int has_sps = 0;
    for (int i = 0; i < k; i++) has_sps |= types[i] == 7;
    frames++;
    if (info.keyframe) {
      keyframes++;
      if (!has_sps) check(0, "%s: IDR %d carries its SPS", label, t);
    }
    if (t == 0) first_key = info.keyframe;
    if (t == 8) idr_at_8 = info.keyframe;
  }
  check(frames == 12, "%s: 12 frames encoded", label);
  check(first_key, "%s: the first frame is an IDR", label);
  check(idr_at_8, "%s: request_idr gives an IDR in the next frame", label);
  check(keyframes <= 3, "%s: no IDRs besides those asked for (%d)", label, keyframes);
  const char *codec = smx_win_encoder_codec(e);
  check(strncmp(codec, "avc1.", 5) == 0, "%s: codec string %s", label, codec);
  check(smx_win_encoder_set_bitrate(e, 800) == SMX_OK, "%s: set_bitrate", label);
  scene(px, w, h, 99);
  check(smx_win_encoder_encode_bgra(e, px, (uint64_t)w * h * 4, w, h, w * 4, 1, 99, 0, 0) >= 0,
        "%s: a frame after the rate change", label);
  free(px);
}

static int open_nvenc(const char *pref, smx_win_encoder **out, char *err, size_t cap) {
  int32_t status = 0;
  *out = smx_win_encoder_open(NULL, 320, 180, 30, 1000, 0, pref, err, (uint32_t)cap, &status);
  return status;
}

/* NVENC through the stand-in driver (fake_nvenc.c; FAKE_NVENC_SESSIONS=2). */
static int fake_nvenc(void) {
  char err[2048], caps[4096];
  int n = smx_win_encoder_caps(NULL, caps, sizeof caps);
  printf("# caps: %s\n", n > 0 ? caps : smx_last_error());
  if (n > 0 && strstr(caps, "no D3D11")) {
    skip("NVENC through the stand-in driver", "no D3D11 device here (run under a display)");
    printf("harness: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return 0;
  }
  check(n > 0 && strstr(caps, "\"api\":\"11.1\"") && strstr(caps, "\"widthMax\":4096") &&
            strstr(caps, "\"levelMax\":52") && strstr(caps, "\"asyncEncode\":1"),
        "caps through a session opened for the query");
  smx_win_encoder *a, *b, *c;
  int st = open_nvenc("nvenc", &a, err, sizeof err);
  check(a && st == SMX_OK, "NVENC opens: session, P1/ULL preset, initialize, bitstream (%s)",
        a ? smx_win_encoder_name(a) : err);
  if (!a) goto done;
  check(strcmp(smx_win_encoder_name(a), "nvenc") == 0, "named nvenc");
  check(strcmp(smx_win_encoder_codec(a), "avc1.4d4020") == 0,
        "codec string from nvEncGetSequenceParams (%s)", smx_win_encoder_codec(a));
  st = open_nvenc("nvenc", &b, err, sizeof err);
  check(b != NULL, "a second session");
  st = open_nvenc("nvenc", &c, err, sizeof err);
  printf("# third, nvenc alone: %s\n", err);
  check(!c && st == SMX_E_SESSION_LIMIT, "a third session: the session limit status (%d)", st);
  check(strstr(err, "NVENC session limit reached: 2 sessions open in smx") != NULL,
        "and the sentence naming it");
  st = open_nvenc(NULL, &c, err, sizeof err);
  printf("# third, default order: %s\n", c ? smx_win_encoder_name(c) : err);
  if (c) {
    check(strstr(smx_win_encoder_skipped(c), "session limit") != NULL,
          "the fallback says why NVENC was passed over");
    smx_win_encoder_close(c);
  } else {
    check(st == SMX_E_ENCODER && strstr(err, "session limit") && strstr(err, "mf:"),
          "default order: Media Foundation tried after the limit, both reasons named");
  }
  smx_win_encoder_close(b);
  st = open_nvenc("nvenc", &c, err, sizeof err);
  check(c != NULL, "a session is free again after close");
  smx_win_encoder_close(c);
  check(smx_win_encoder_set_bitrate(a, 2000) == SMX_OK, "set_bitrate recorded");
  uint8_t *px = calloc(320 * 180, 4);
  int r = smx_win_encoder_encode_bgra(a, px, 320 * 180 * 4, 320, 180, 320 * 4, 1, 1, 0, 1);
  printf("# encode: %d %s\n", r, r < 0 ? smx_win_encoder_error(a) : "");
  if (r >= 0) {
    check(1, "a frame encoded");
  } else {
    check(strstr(smx_win_encoder_error(a), "video processor") != NULL,
          "encode stops at the video processor, with its reason");
    skip("NVENC frames", "Wine's D3D11 has no video processor");
  }
  free(px);
  smx_win_encoder_close(a);
done:
  printf("harness: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}

static int fake_nvenc_old(void) {
  char err[2048];
  smx_win_encoder *e;
  int st = open_nvenc("nvenc", &e, err, sizeof err);
  printf("# %s\n", err);
  check(!e && st != SMX_OK, "an older driver: NVENC does not open");
  check(strstr(err, "too old for NVENC API 11.1 (it supports up to 11.0)") &&
            strstr(err, "471.41"),
        "and the message names the versions and the driver to install");
  printf("harness: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--fake-nvenc") == 0) return fake_nvenc();
  if (argc > 1 && strcmp(argv[1], "--fake-nvenc-old") == 0) return fake_nvenc_old();
  char err[2048];
  int32_t status = 0;

  /* The error model. */
  check(smx_win_encoder_request_idr(NULL) == SMX_E_INVALID_ARG, "NULL handle: invalid argument");
  check(strcmp(smx_win_encoder_error(NULL), "encoder handle is NULL") == 0, "NULL handle's error");
  smx_win_encoder *bad = smx_win_encoder_open(NULL, 321, 180, 30, 1000, 0, "mf", err, sizeof err,
                                              &status);
  check(!bad && status == SMX_E_INVALID_ARG && strstr(err, "even"), "odd width refused: %s", err);
  bad = smx_win_encoder_open(NULL, 320, 180, 30, 1000, 0, "x264", err, sizeof err, &status);
  check(!bad && status == SMX_E_INVALID_ARG && strstr(err, "unknown encoder 'x264'"),
        "unknown encoder name refused: %s", err);
  bad = smx_win_encoder_open(NULL, 320, 180, 30, 1000, 2, "mf", err, sizeof err, &status);
  check(!bad && status == SMX_E_INVALID_ARG, "profile 2 refused");

  /* NVENC without an NVIDIA driver: passed over with the reason, never a crash. */
  smx_win_encoder *nv = smx_win_encoder_open(NULL, 320, 180, 30, 1000, 0, "nvenc", err,
                                             sizeof err, &status);
  if (nv) {
    printf("# NVENC opened: %s\n", smx_win_encoder_name(nv));
    drive(nv, "nvenc");
    smx_win_encoder_close(nv);
  } else {
    printf("# nvenc alone: %s\n", err);
    check(status == SMX_E_ENCODER || status == SMX_E_SESSION_LIMIT,
          "nvenc alone fails with an encoder status (%d)", status);
    check(strstr(err, "nvEncodeAPI64.dll is not loadable") || strstr(err, "no D3D11") ||
              strstr(err, "no NVENC"),
          "and names why");
  }

  /* The D3D11 video processor, where Wine's D3D11 has one (under a display): the GPU's NV12
   * against the CPU fallback's (same BT.601 limited matrix; scalers differ, so within 3). */
  char msg[512];
  ID3D11Device *dev = smx_d3d11_create_device(msg, sizeof msg);
  if (!dev) {
    skip("D3D11 video processor", msg);
  } else {
    smx_d3d11_vp *vp = NULL;
    if (smx_vp_create(dev, 64, 36, 30, &vp, msg, sizeof msg) != SMX_OK) {
      skip("D3D11 video processor", msg);
    } else {
      uint8_t *px = malloc(128 * 72 * 4), gpu[64 * 36 * 3 / 2], cpu[64 * 36 * 3 / 2];
      scene(px, 128, 72, 1);
      int st = smx_vp_convert_pixels(vp, px, 128, 72, 128 * 4, 1, msg, sizeof msg);
      if (!st) st = smx_vp_readback(vp, gpu, sizeof gpu, msg, sizeof msg);
      check(st == SMX_OK, "video processor converts and reads back (%s)", st ? msg : "ok");
      if (!st) {
        smx_rgba_to_nv12_fit(px, 128, 72, 128 * 4, 1, cpu, 64, 36);
        int worst = 0;
        for (size_t i = 0; i < sizeof gpu; i++) {
          int d = abs((int)gpu[i] - (int)cpu[i]);
          if (d > worst) worst = d;
        }
        check(worst <= 3, "GPU NV12 matches the CPU conversion (max difference %d)", worst);
      }
      free(px);
      smx_vp_free(vp);
    }
    ID3D11Device_Release(dev);
  }

  /* Capabilities as JSON. */
  char caps[4096];
  int n = smx_win_encoder_caps(NULL, caps, sizeof caps);
  check(n > 0 && caps[0] == '{' && strstr(caps, "\"nvenc\"") && strstr(caps, "\"mf\""),
        "caps JSON (%d bytes)", n);
  printf("# caps: %s\n", n > 0 ? caps : smx_last_error());

  /* The default order: NVENC, then Media Foundation. */
  smx_win_encoder *e = smx_win_encoder_open(NULL, 320, 180, 30, 1000, 0, NULL, err, sizeof err,
                                            &status);
  if (!e) {
    printf("# default order: %s\n", err);
    check(strstr(err, "nvenc:") && strstr(err, "mf:"), "both encoders named in the failure");
    skip("encoding frames", "no H.264 encoder under this Wine (no NVENC, no Media Foundation "
                            "H.264 MFT)");
  } else {
    printf("# opened: %s; passed over: %s\n", smx_win_encoder_name(e), smx_win_encoder_skipped(e));
    check(strstr(smx_win_encoder_skipped(e), "nvenc:") != NULL, "NVENC's reason is kept");
    drive(e, smx_win_encoder_name(e));
    smx_win_encoder_close(e);
    check(smx_win_encoder_request_idr(e) == SMX_E_CLOSED, "closed handle: closed status");
  }
  printf("harness: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
