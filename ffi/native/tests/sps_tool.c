/* Test tool for sps_rewrite.c (tests/sps_rewrite_test.ts builds and runs it; not in the library).
 *
 *   sps_tool fix|strip|strip-vui < in.h264 > out.h264   rewrites every SPS of an Annex-B stream
 *   sps_tool info < in.h264                             one line per SPS: what it says
 *   sps_tool fuzz N SEED < in.h264                      N mutations of the stream's first SPS
 *                                                       (bit flips, cuts, inserted bytes, zero
 *                                                       runs) through parse and every rewrite;
 *                                                       exit 1 when an invariant breaks
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

static uint32_t rng_state;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Mutations of one SPS: whatever comes in, parse and rewrite must return a status (never touch
 * memory they do not own: ASan/UBSan watch), a FIX result must parse again with the restriction
 * and max_num_reorder_frames 0, a second FIX must change nothing, and no output may grow past
 * SMX_SPS_MAX_GROWTH. */
static int fuzz(const uint8_t *in, size_t n, long count, uint32_t seed) {
  const uint8_t *sps = NULL;
  size_t len = 0;
  for (size_t i = 0; i + 3 < n && !sps; i++)
    if (in[i] == 0 && in[i + 1] == 0 && in[i + 2] == 1 && (in[i + 3] & 0x1f) == 7) {
      sps = in + i + 3;
      len = 4;
      while (sps + len + 3 <= in + n && !(sps[len] == 0 && sps[len + 1] == 0 && sps[len + 2] <= 1))
        len++;
    }
  if (!sps) {
    fprintf(stderr, "fuzz: no SPS in the input\n");
    return 1;
  }
  rng_state = seed ? seed : 1;
  long parsed = 0, fixed = 0;
  for (long k = 0; k < count; k++) {
    uint8_t m[SMX_SPS_MAX_BYTES];
    size_t mlen = len;
    memcpy(m, sps, len);
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e < edits; e++) {
      switch (rnd() % 5) {
      case 0: /* bit flip (not the NAL type) */
        if (mlen > 1) m[1 + rnd() % (mlen - 1)] ^= (uint8_t)(1u << (rnd() % 8));
        break;
      case 1: /* cut */
        if (mlen > 2) mlen = 2 + rnd() % (mlen - 1);
        break;
      case 2: /* inserted byte */
        if (mlen + 1 < sizeof m) {
          size_t at = 1 + rnd() % mlen;
          memmove(m + at + 1, m + at, mlen - at);
          m[at] = (uint8_t)rnd();
          mlen++;
        }
        break;
      case 3: /* a run of zeros (escapes, long exp-Golomb prefixes) */
        if (mlen > 2) {
          size_t at = 1 + rnd() % (mlen - 1), run = 1 + rnd() % 6;
          for (size_t j = at; j < mlen && j < at + run; j++) m[j] = 0;
        }
        break;
      default: /* random tail */
        for (size_t j = 1 + rnd() % mlen; j < mlen; j++) m[j] = (uint8_t)rnd();
      }
    }
    m[0] = (uint8_t)((m[0] & 0xe0) | 7);
    smx_sps_info info;
    if (smx_sps_parse(m, mlen, &info) == 0) parsed++;
    for (int mode = 0; mode < 3; mode++) {
      uint8_t out[SMX_SPS_MAX_BYTES + SMX_SPS_MAX_GROWTH];
      int r = smx_sps_rewrite(m, mlen, (smx_sps_mode)mode, out, sizeof out);
      if (r > (int)(mlen + SMX_SPS_MAX_GROWTH)) {
        fprintf(stderr, "fuzz %ld: mode %d grew %zu -> %d bytes\n", k, mode, mlen, r);
        return 1;
      }
      if (mode != SMX_SPS_FIX || r <= 0) continue;
      fixed++;
      smx_sps_info a;
      uint8_t again[SMX_SPS_MAX_BYTES + SMX_SPS_MAX_GROWTH];
      if (smx_sps_parse(out, (size_t)r, &a) != 0 || !a.vui_present || !a.bitstream_restriction ||
          a.max_num_reorder_frames != 0 ||
          smx_sps_rewrite(out, (size_t)r, SMX_SPS_FIX, again, sizeof again) != 0) {
        fprintf(stderr, "fuzz %ld: a fixed SPS does not hold: %s\n", k, smx_last_error());
        return 1;
      }
      /* the escaped output has no start code inside */
      for (int j = 0; j + 2 < r; j++)
        if (out[j] == 0 && out[j + 1] == 0 && out[j + 2] <= 2) {
          fprintf(stderr, "fuzz %ld: emulation prevention missing at %d\n", k, j);
          return 1;
        }
    }
  }
  fprintf(stderr, "fuzz: %ld mutations, %ld parsed, %ld fixed\n", count, parsed, fixed);
  printf("%ld %ld %ld\n", count, parsed, fixed);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "fuzz") == 0) {
    size_t n;
    uint8_t *in = read_all(&n);
    int r = in ? fuzz(in, n, atol(argv[2]), (uint32_t)strtoul(argv[3], NULL, 10)) : 2;
    free(in);
    return r;
  }
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
