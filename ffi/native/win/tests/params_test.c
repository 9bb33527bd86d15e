/* Linux harness for the portable parts of the Windows encoder (tests/win_encoder_test.ts builds
 * it with the host gcc and checks what it prints; not part of any library).
 *
 *   params_test params                         JSON: rate, fit, NVENC config, names, MF plan
 *   params_test convert SW SH DW DH FORMAT     BGRA/RGBA on stdin → NV12 on stdout (mf_convert) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mf_convert.h"
#include "../nvenc_params.h"

static int guid_eq(const GUID *a, const GUID *b) { return memcmp(a, b, sizeof *a) == 0; }

static void print_config(const char *label, const smx_win_params *p) {
  NV_ENC_INITIALIZE_PARAMS init;
  NV_ENC_CONFIG cfg;
  /* A "preset" with values smx must override, to show the override happens. */
  NV_ENC_CONFIG preset;
  memset(&preset, 0, sizeof preset);
  preset.gopLength = 250;
  preset.frameIntervalP = 3;
  preset.rcParams.rateControlMode = NV_ENC_PARAMS_RC_VBR;
  preset.rcParams.enableLookahead = 1;
  preset.rcParams.lookaheadDepth = 8;
  preset.rcParams.aqStrength = 5; /* kept: not smx's business */
  preset.encodeCodecConfig.h264Config.idrPeriod = 250;
  smx_nvenc_fill(p, &preset, &init, &cfg);
  const NV_ENC_CONFIG_H264 *h = &cfg.encodeCodecConfig.h264Config;
  const NV_ENC_RC_PARAMS *rc = &cfg.rcParams;
  printf("\"%s\":{\"initVersion\":%u,\"configVersion\":%u,\"h264\":%d,\"p1\":%d,\"tuning\":%d,"
         "\"width\":%u,\"height\":%u,\"fpsNum\":%u,\"fpsDen\":%u,\"async\":%u,\"ptd\":%u,"
         "\"configPtr\":%d,\"profileMain\":%d,\"profileBaseline\":%d,\"gop\":%u,"
         "\"frameIntervalP\":%d,\"rc\":%d,\"avg\":%u,\"max\":%u,\"vbv\":%u,\"vbvInit\":%u,"
         "\"lookahead\":%u,\"lookaheadDepth\":%u,\"zeroReorder\":%u,\"aqStrength\":%u,"
         "\"multiPass\":%d,\"idrPeriod\":%u,\"repeatSpsPps\":%u,\"disableSpsPps\":%u,"
         "\"entropy\":%d,\"adaptiveTransform\":%d,\"maxRefs\":%u,\"level\":%u,"
         "\"videoSignal\":%u,\"fullRange\":%u,\"colourDesc\":%u,\"primaries\":%u,"
         "\"transfer\":%u,\"matrix\":%u,\"bitstreamRestriction\":%u,\"rcVersion\":%u}",
         label, init.version, cfg.version, guid_eq(&init.encodeGUID, &NV_ENC_CODEC_H264_GUID),
         guid_eq(&init.presetGUID, &NV_ENC_PRESET_P1_GUID), (int)init.tuningInfo,
         init.encodeWidth, init.encodeHeight, init.frameRateNum, init.frameRateDen,
         init.enableEncodeAsync, init.enablePTD, init.encodeConfig == &cfg,
         guid_eq(&cfg.profileGUID, &NV_ENC_H264_PROFILE_MAIN_GUID),
         guid_eq(&cfg.profileGUID, &NV_ENC_H264_PROFILE_BASELINE_GUID), cfg.gopLength,
         cfg.frameIntervalP, (int)rc->rateControlMode, rc->averageBitRate, rc->maxBitRate,
         rc->vbvBufferSize, rc->vbvInitialDelay, rc->enableLookahead, rc->lookaheadDepth,
         rc->zeroReorderDelay, rc->aqStrength, (int)rc->multiPass, h->idrPeriod,
         h->repeatSPSPPS, h->disableSPSPPS, (int)h->entropyCodingMode,
         (int)h->adaptiveTransformMode, h->maxNumRefFrames, h->level,
         h->h264VUIParameters.videoSignalTypePresentFlag, h->h264VUIParameters.videoFullRangeFlag,
         h->h264VUIParameters.colourDescriptionPresentFlag, h->h264VUIParameters.colourPrimaries,
         h->h264VUIParameters.transferCharacteristics, h->h264VUIParameters.colourMatrix,
         h->h264VUIParameters.bitstreamRestrictionFlag, rc->version);
}

static void print_params(void) {
  printf("{\"constants\":{\"cbr\":%d,\"ull\":%d,\"cabac\":%d,\"cavlc\":%d,\"infinite\":%u,"
         "\"atDisable\":%d,\"atAuto\":%d,\"api\":\"%d.%d\",\"minDriver\":\"%s\"},\n",
         NV_ENC_PARAMS_RC_CBR, NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY,
         NV_ENC_H264_ENTROPY_CODING_MODE_CABAC, NV_ENC_H264_ENTROPY_CODING_MODE_CAVLC,
         NVENC_INFINITE_GOPLENGTH, NV_ENC_H264_ADAPTIVE_TRANSFORM_DISABLE,
         NV_ENC_H264_ADAPTIVE_TRANSFORM_AUTOSELECT, NVENCAPI_MAJOR_VERSION,
         NVENCAPI_MINOR_VERSION, smx_nvenc_min_driver());
  smx_win_params main = {1280, 720, 60, 60, 4650, SMX_WIN_PROFILE_MAIN};
  smx_win_params base = {640, 360, 30, 30, 800, SMX_WIN_PROFILE_BASELINE};
  print_config("main", &main);
  printf(",\n");
  print_config("baseline", &base);
  printf(",\n\"rate\":[");
  static const uint32_t rates[][3] = {{4650, 60, 60}, {4650, 60, 30}, {300, 30, 15},
                                      {240000, 60, 1}, {16, 240, 240}};
  for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
    smx_win_params p = {640, 360, rates[i][1], rates[i][2], rates[i][0], 0};
    smx_win_rate r = smx_win_rate_for(&p);
    printf("%s[%u,%u,%u,%u,%u,%u]", i ? "," : "", rates[i][0], rates[i][1], rates[i][2],
           r.average_bps, r.max_bps, r.vbv_bits);
  }
  printf("],\n\"fit\":[");
  static const uint32_t fits[][4] = {{1920, 1080, 1280, 720}, {1917, 1079, 1916, 1078},
                                     {1920, 1080, 640, 480},  {1080, 1920, 1280, 720},
                                     {1000, 1000, 1280, 720}, {1920, 1080, 1280, 722},
                                     {7, 3, 16, 16}};
  for (size_t i = 0; i < sizeof fits / sizeof fits[0]; i++) {
    smx_win_rect s, d;
    smx_win_fit(fits[i][0], fits[i][1], fits[i][2], fits[i][3], &s, &d);
    printf("%s[%u,%u,%u,%u,[%u,%u,%u,%u],[%u,%u,%u,%u]]", i ? "," : "", fits[i][0], fits[i][1],
           fits[i][2], fits[i][3], s.left, s.top, s.right, s.bottom, d.left, d.top, d.right,
           d.bottom);
  }
  printf("],\n\"names\":{");
  static const int codes[] = {NV_ENC_SUCCESS, NV_ENC_ERR_OUT_OF_MEMORY,
                              NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY, NV_ENC_ERR_NO_ENCODE_DEVICE,
                              NV_ENC_ERR_RESOURCE_NOT_MAPPED, 999};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    printf("%s\"%d\":\"%s\"", i ? "," : "", codes[i], smx_nvenc_status_name(codes[i]));
  printf("},\n\"version\":[");
  static const uint32_t drivers[] = {(11u << 4) | 1, (12u << 4) | 2, (11u << 4) | 0, (10u << 4)};
  for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
    char msg[512] = "";
    int ok = smx_nvenc_version_ok(drivers[i], msg, sizeof msg);
    printf("%s[%u,%d,\"%s\"]", i ? "," : "", drivers[i], ok, msg);
  }
  printf("],\n\"openFailure\":[");
  static const int fails[][2] = {{NV_ENC_ERR_OUT_OF_MEMORY, 1},
                                 {NV_ENC_ERR_OUT_OF_MEMORY, 0},
                                 {NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY, 0},
                                 {NV_ENC_ERR_UNSUPPORTED_DEVICE, 1},
                                 {NV_ENC_ERR_INVALID_PARAM, 0}};
  for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
    char msg[512] = "";
    int why = smx_nvenc_open_failure(fails[i][0], fails[i][1], 3, msg, sizeof msg);
    printf("%s[%d,%d,%d,\"%s\"]", i ? "," : "", fails[i][0], fails[i][1], why, msg);
  }
  printf("],\n\"mf\":{");
  smx_mf_plan mp, bp;
  smx_mf_plan_for(&main, &mp);
  smx_mf_plan_for(&base, &bp);
  printf("\"main\":[%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u],", mp.width, mp.height, mp.fps_num,
         mp.fps_den, mp.average_bps, mp.vbv_bytes, mp.profiles[0], mp.profiles[1], mp.gop,
         mp.b_frames, mp.rate_control, mp.low_latency, mp.interlace);
  printf("\"baseline\":[%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u]}}\n", bp.width, bp.height,
         bp.fps_num, bp.fps_den, bp.average_bps, bp.vbv_bytes, bp.profiles[0], bp.profiles[1],
         bp.gop, bp.b_frames, bp.rate_control, bp.low_latency, bp.interlace);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "params") == 0) {
    print_params();
    return 0;
  }
  if (argc == 7 && strcmp(argv[1], "convert") == 0) {
    uint32_t sw = (uint32_t)atoi(argv[2]), sh = (uint32_t)atoi(argv[3]);
    uint32_t dw = (uint32_t)atoi(argv[4]), dh = (uint32_t)atoi(argv[5]);
    uint32_t fmt = (uint32_t)atoi(argv[6]);
    size_t in_len = (size_t)sw * sh * 4, out_len = (size_t)dw * dh * 3 / 2;
    uint8_t *in = malloc(in_len), *out = malloc(out_len);
    if (!in || !out || fread(in, 1, in_len, stdin) != in_len) return 2;
    smx_rgba_to_nv12_fit(in, sw, sh, sw * 4, fmt, out, dw, dh);
    fwrite(out, 1, out_len, stdout);
    free(in);
    free(out);
    return 0;
  }
  fprintf(stderr, "usage: params_test params | convert SW SH DW DH FORMAT\n");
  return 2;
}
