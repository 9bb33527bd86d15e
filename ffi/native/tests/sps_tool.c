/* Test tool for sps_rewrite.c (tests/sps_rewrite_test.ts builds and runs it; not in the library).
 *
 *   sps_tool fix|strip|strip-vui < in.h264 > out.h264   rewrites every SPS of an Annex-B stream
 *   sps_tool info < in.h264                             one line per SPS: what it says
 *
 * The stream is cut into access units at each SPS so every rewrite call sees a buffer the size
 * the encoder hands it (an IDR with its parameter sets), and the unchanged case (return 0) is
 * exercised too. Exit status 1 with a message on stderr when the module refuses an SPS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../smx_common.h"
#include "../sps_rewrite.h"

static uint8_t *read_all(size_t *n) {
  size_t cap = 1 << 20, len = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + len, 1, cap - len, stdin)) > 0) {
    len += got;
    if (len == cap) buf = realloc(buf, cap *= 2);
  }
  *n = len;
  return buf;
}

/* Offset of the next SPS start code (00 00 01 67-ish) at or after `from`, or n. */
static size_t next_sps(const uint8_t *p, size_t n, size_t from) {
  for (size_t i = from; i + 3 < n; i++)
    if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1 && (p[i + 3] & 0x1f) == 7)
      return i > 0 && p[i - 1] == 0 ? i - 1 : i;
  return n;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: sps_tool fix|strip|strip-vui|info < in > out\n");
    return 2;
  }
  size_t n;
  uint8_t *in = read_all(&n);
  if (!in) return 2;
  if (strcmp(argv[1], "info") == 0) {
    for (size_t i = 0; i + 3 < n; i++) {
      if (in[i] == 0 && in[i + 1] == 0 && in[i + 2] == 1 && (in[i + 3] & 0x1f) == 7) {
        size_t end = i + 3;
        while (end + 3 <= n && !(in[end] == 0 && in[end + 1] == 0 && in[end + 2] <= 1)) end++;
        if (end + 3 > n) end = n;
        smx_sps_info s;
        if (smx_sps_parse(in + i + 3, end - i - 3, &s) < 0) {
          fprintf(stderr, "%s\n", smx_last_error());
          return 1;
        }
        printf("profile_idc=%u level_idc=%u max_num_ref_frames=%u vui=%u restriction=%u "
               "max_num_reorder_frames=%u max_dec_frame_buffering=%u\n",
               s.profile_idc, s.level_idc, s.max_num_ref_frames, s.vui_present,
               s.bitstream_restriction, s.max_num_reorder_frames, s.max_dec_frame_buffering);
      }
    }
    free(in);
    return 0;
  }
  smx_sps_mode mode = strcmp(argv[1], "fix") == 0     ? SMX_SPS_FIX
                      : strcmp(argv[1], "strip") == 0 ? SMX_SPS_STRIP_RESTRICTION
                      : strcmp(argv[1], "strip-vui") == 0
                          ? SMX_SPS_STRIP_VUI
                          : (smx_sps_mode)-1;
  if ((int)mode < 0) {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  size_t au = 0;
  long changed = 0, units = 0;
  while (au < n) {
    size_t end = next_sps(in, n, au + 4);
    size_t len = end - au;
    uint8_t *out = malloc(len + 64);
    int64_t m = smx_h264_rewrite_sps_annexb(in + au, len, mode, out, len + 64);
    if (m < 0) {
      fprintf(stderr, "%s\n", smx_last_error());
      return 1;
    }
    fwrite(m > 0 ? out : in + au, 1, m > 0 ? (size_t)m : len, stdout);
    changed += m > 0;
    units++;
    free(out);
    au = end;
  }
  fprintf(stderr, "sps_tool: %ld of %ld access-unit groups changed\n", changed, units);
  free(in);
  return 0;
}
