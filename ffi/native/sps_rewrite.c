/* H.264 SPS rewrite (sps_rewrite.h). Field order: ITU-T H.264 7.3.2.1.1 (SPS), E.1.1 (VUI),
 * E.1.2 (HRD). The rewrite copies the SPS's own bits up to the point where something changes, so
 * every field it does not own stays exactly as the encoder wrote it. */
#include "sps_rewrite.h"

#include <string.h>

#include "smx_common.h"

/* ---- RBSP <-> NAL payload (emulation prevention, 7.4.1) ---------------------------------- */

/* Removes emulation prevention bytes (00 00 03 → 00 00). Returns the RBSP length. */
static size_t unescape(const uint8_t *in, size_t n, uint8_t *out) {
  size_t o = 0;
  int zeros = 0;
  for (size_t i = 0; i < n; i++) {
    if (zeros >= 2 && in[i] == 3) {
      zeros = 0;
      continue;
    }
    zeros = in[i] == 0 ? zeros + 1 : 0;
    out[o++] = in[i];
  }
  return o;
}

/* Inserts emulation prevention bytes: after two zero bytes, a byte <= 3 gets a 03 in front.
 * Returns the payload length or -1 when `cap` is too small. */
static long escape(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  size_t o = 0;
  int zeros = 0;
  for (size_t i = 0; i < n; i++) {
    if (zeros >= 2 && in[i] <= 3) {
      if (o >= cap) return -1;
      out[o++] = 3;
      zeros = 0;
    }
    if (o >= cap) return -1;
    out[o++] = in[i];
    zeros = in[i] == 0 ? zeros + 1 : 0;
  }
  return (long)o;
}

/* ---- bit reader / writer ----------------------------------------------------------------- */

typedef struct {
  const uint8_t *p;
  size_t bits; /* total */
  size_t pos;
  int bad; /* read past the end or an exp-Golomb code too long */
} bit_reader;

static uint32_t get_bit(bit_reader *r) {
  if (r->pos >= r->bits) {
    r->bad = 1;
    return 0;
  }
  uint32_t b = (r->p[r->pos >> 3] >> (7 - (r->pos & 7))) & 1;
  r->pos++;
  return b;
}

static uint32_t get_bits(bit_reader *r, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 1) | get_bit(r);
  return v;
}

static uint32_t get_ue(bit_reader *r) {
  int zeros = 0;
  while (!r->bad && get_bit(r) == 0) {
    if (++zeros > 31) {
      r->bad = 1;
      return 0;
    }
  }
  if (r->bad) return 0;
  return (uint32_t)((((uint64_t)1 << zeros) - 1) + get_bits(r, zeros));
}

static int32_t get_se(bit_reader *r) {
  uint32_t k = get_ue(r);
  return (k & 1) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

typedef struct {
  uint8_t *p;
  size_t cap; /* bytes */
  size_t pos; /* bits written */
  int full;
} bit_writer;

static void put_bit(bit_writer *w, uint32_t b) {
  if ((w->pos >> 3) >= w->cap) {
    w->full = 1;
    return;
  }
  uint8_t mask = (uint8_t)(0x80 >> (w->pos & 7));
  if (b)
    w->p[w->pos >> 3] |= mask;
  else
    w->p[w->pos >> 3] &= (uint8_t)~mask;
  w->pos++;
}

static void put_bits(bit_writer *w, uint32_t v, int n) {
  for (int i = n - 1; i >= 0; i--) put_bit(w, (v >> i) & 1);
}

static void put_ue(bit_writer *w, uint32_t v) {
  uint64_t x = (uint64_t)v + 1;
  int len = 0;
  while ((x >> len) > 1) len++;
  put_bits(w, 0, len);
  for (int i = len; i >= 0; i--) put_bit(w, (uint32_t)(x >> i) & 1);
}

/* Copies bits [from, to) of the reader's buffer. */
static void copy_bits(bit_writer *w, const bit_reader *r, size_t from, size_t to) {
  for (size_t i = from; i < to; i++) put_bit(w, (r->p[i >> 3] >> (7 - (i & 7))) & 1);
}

/* ---- SPS parse ---------------------------------------------------------------------------- */

typedef struct {
  smx_sps_info info;
  size_t vui_flag_pos;     /* bit position of vui_parameters_present_flag */
  size_t br_flag_pos;      /* bit position of bitstream_restriction_flag (VUI present) */
  size_t br_end_pos;       /* first bit after the bitstream_restriction fields */
  uint32_t mv_over_bounds; /* kept when the restriction is rewritten */
  uint32_t max_bytes_per_pic_denom, max_bits_per_mb_denom;
  uint32_t log2_mv_h, log2_mv_v;
  size_t stop_bit_pos; /* rbsp_stop_one_bit */
} sps_layout;

static void skip_hrd(bit_reader *r) {
  uint32_t cpb_cnt = get_ue(r) + 1;
  if (cpb_cnt > 32) {
    r->bad = 1;
    return;
  }
  get_bits(r, 4 + 4); /* bit_rate_scale, cpb_size_scale */
  for (uint32_t i = 0; i < cpb_cnt && !r->bad; i++) {
    get_ue(r); /* bit_rate_value_minus1 */
    get_ue(r); /* cpb_size_value_minus1 */
    get_bit(r); /* cbr_flag */
  }
  get_bits(r, 5 * 4); /* the four delay lengths and time_offset_length */
}

static void skip_scaling_list(bit_reader *r, int size) {
  int last = 8, next = 8;
  for (int j = 0; j < size && !r->bad; j++) {
    if (next != 0) {
      int32_t delta = get_se(r);
      if (delta < -128 || delta > 127) {
        r->bad = 1;
        return;
      }
      next = (last + delta + 256) % 256;
    }
    last = next == 0 ? last : next;
  }
}

static int has_chroma_fields(uint32_t profile_idc) {
  static const uint8_t high[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
  for (size_t i = 0; i < sizeof high; i++)
    if (profile_idc == high[i]) return 1;
  return 0;
}

static int fail_parse(const char *what) {
  return smx_fail(SMX_E_FORMAT, "SPS not understood: %s", what);
}

/* `rbsp` includes the NAL header byte. */
static int parse_rbsp(const uint8_t *rbsp, size_t n, sps_layout *L) {
  memset(L, 0, sizeof *L);
  if (n < 5) return fail_parse("shorter than 5 bytes");
  if ((rbsp[0] & 0x1f) != 7) return fail_parse("NAL unit type is not 7 (SPS)");
  /* rbsp_stop_one_bit: the last 1 bit of the payload. */
  size_t last = n;
  while (last > 1 && rbsp[last - 1] == 0) last--;
  if (last <= 1) return fail_parse("no rbsp_stop_one_bit");
  uint8_t lb = rbsp[last - 1];
  int tz = 0;
  while (!((lb >> tz) & 1)) tz++;
  L->stop_bit_pos = (last - 1) * 8 + (size_t)(7 - tz);

  bit_reader r = {rbsp, L->stop_bit_pos, 8, 0};
  smx_sps_info *s = &L->info;
  s->profile_idc = get_bits(&r, 8);
  get_bits(&r, 8); /* constraint_set flags + reserved */
  s->level_idc = get_bits(&r, 8);
  if (get_ue(&r) > 31) return fail_parse("seq_parameter_set_id > 31");
  if (has_chroma_fields(s->profile_idc)) {
    uint32_t chroma_format_idc = get_ue(&r);
    if (chroma_format_idc > 3) return fail_parse("chroma_format_idc > 3");
    if (chroma_format_idc == 3) get_bit(&r); /* separate_colour_plane_flag */
    get_ue(&r);                              /* bit_depth_luma_minus8 */
    get_ue(&r);                              /* bit_depth_chroma_minus8 */
    get_bit(&r);                             /* qpprime_y_zero_transform_bypass_flag */
    if (get_bit(&r)) {                       /* seq_scaling_matrix_present_flag */
      int lists = chroma_format_idc != 3 ? 8 : 12;
      for (int i = 0; i < lists && !r.bad; i++)
        if (get_bit(&r)) skip_scaling_list(&r, i < 6 ? 16 : 64);
    }
  }
  get_ue(&r); /* log2_max_frame_num_minus4 */
  uint32_t poc_type = get_ue(&r);
  if (poc_type == 0) {
    get_ue(&r); /* log2_max_pic_order_cnt_lsb_minus4 */
  } else if (poc_type == 1) {
    get_bit(&r); /* delta_pic_order_always_zero_flag */
    get_se(&r);  /* offset_for_non_ref_pic */
    get_se(&r);  /* offset_for_top_to_bottom_field */
    uint32_t cycle = get_ue(&r);
    if (cycle > 255) return fail_parse("num_ref_frames_in_pic_order_cnt_cycle > 255");
    for (uint32_t i = 0; i < cycle && !r.bad; i++) get_se(&r);
  } else if (poc_type != 2) {
    return fail_parse("pic_order_cnt_type > 2");
  }
  s->max_num_ref_frames = get_ue(&r);
  if (s->max_num_ref_frames > 16) return fail_parse("max_num_ref_frames > 16");
  get_bit(&r); /* gaps_in_frame_num_value_allowed_flag */
  get_ue(&r);  /* pic_width_in_mbs_minus1 */
  get_ue(&r);  /* pic_height_in_map_units_minus1 */
  if (!get_bit(&r)) get_bit(&r); /* frame_mbs_only_flag; mb_adaptive_frame_field_flag */
  get_bit(&r);                   /* direct_8x8_inference_flag */
  if (get_bit(&r)) {             /* frame_cropping_flag */
    for (int i = 0; i < 4; i++) get_ue(&r);
  }
  if (r.bad) return fail_parse("truncated before the VUI");
  L->vui_flag_pos = r.pos;
  s->vui_present = get_bit(&r);
  if (s->vui_present) {
    if (get_bit(&r)) {                 /* aspect_ratio_info_present_flag */
      if (get_bits(&r, 8) == 255) get_bits(&r, 32); /* Extended_SAR: sar_width, sar_height */
    }
    if (get_bit(&r)) get_bit(&r); /* overscan_info_present_flag, overscan_appropriate_flag */
    if (get_bit(&r)) {            /* video_signal_type_present_flag */
      get_bits(&r, 3 + 1);        /* video_format, video_full_range_flag */
      if (get_bit(&r)) get_bits(&r, 24); /* colour_description_present_flag + 3 bytes */
    }
    if (get_bit(&r)) { /* chroma_loc_info_present_flag */
      get_ue(&r);
      get_ue(&r);
    }
    if (get_bit(&r)) get_bits(&r, 32 + 32 + 1); /* timing info */
    int nal_hrd = (int)get_bit(&r);
    if (nal_hrd) skip_hrd(&r);
    int vcl_hrd = (int)get_bit(&r);
    if (vcl_hrd) skip_hrd(&r);
    if (nal_hrd || vcl_hrd) get_bit(&r); /* low_delay_hrd_flag */
    get_bit(&r);                         /* pic_struct_present_flag */
    if (r.bad) return fail_parse("truncated inside the VUI");
    L->br_flag_pos = r.pos;
    s->bitstream_restriction = get_bit(&r);
    if (s->bitstream_restriction) {
      L->mv_over_bounds = get_bit(&r);
      L->max_bytes_per_pic_denom = get_ue(&r);
      L->max_bits_per_mb_denom = get_ue(&r);
      L->log2_mv_h = get_ue(&r);
      L->log2_mv_v = get_ue(&r);
      s->max_num_reorder_frames = get_ue(&r);
      s->max_dec_frame_buffering = get_ue(&r);
    }
    L->br_end_pos = r.pos;
  }
  if (r.bad) return fail_parse("truncated");
  /* Nothing may follow the VUI but the stop bit: anything else is a syntax this module does not
   * know (an extension), and rewriting around it could corrupt it. */
  if (r.pos != L->stop_bit_pos) return fail_parse("unexpected bits after the VUI");
  return SMX_OK;
}

int smx_sps_parse(const uint8_t *nal, size_t len, smx_sps_info *out) {
  if (!nal || len == 0 || len > SMX_SPS_MAX_BYTES)
    return smx_fail(SMX_E_INVALID_ARG, "SPS of %zu bytes refused (1..%d)", len, SMX_SPS_MAX_BYTES);
  uint8_t rbsp[SMX_SPS_MAX_BYTES];
  size_t n = unescape(nal, len, rbsp);
  sps_layout L;
  int st = parse_rbsp(rbsp, n, &L);
  if (st == SMX_OK && out) *out = L.info;
  return st;
}

/* ---- rewrite ------------------------------------------------------------------------------ */

static void put_restriction(bit_writer *w, const sps_layout *L, int had) {
  put_bit(w, 1); /* bitstream_restriction_flag */
  /* Fields the encoder wrote are kept; when there were none, the values the standard infers
   * for an absent restriction (E.2.1), which constrain nothing. */
  put_bit(w, had ? L->mv_over_bounds : 1);
  put_ue(w, had ? L->max_bytes_per_pic_denom : 2);
  put_ue(w, had ? L->max_bits_per_mb_denom : 1);
  put_ue(w, had ? L->log2_mv_h : 16);
  put_ue(w, had ? L->log2_mv_v : 16);
  put_ue(w, 0); /* max_num_reorder_frames */
  put_ue(w, L->info.max_num_ref_frames); /* max_dec_frame_buffering */
}

int smx_sps_rewrite(const uint8_t *nal, size_t len, smx_sps_mode mode, uint8_t *out,
                    size_t cap) {
  if (!nal || !out || len == 0 || len > SMX_SPS_MAX_BYTES)
    return smx_fail(SMX_E_INVALID_ARG, "SPS of %zu bytes refused (1..%d)", len, SMX_SPS_MAX_BYTES);
  if (mode != SMX_SPS_FIX && mode != SMX_SPS_STRIP_RESTRICTION && mode != SMX_SPS_STRIP_VUI)
    return smx_fail(SMX_E_INVALID_ARG, "SPS rewrite mode %d unknown", (int)mode);
  uint8_t rbsp[SMX_SPS_MAX_BYTES];
  size_t n = unescape(nal, len, rbsp);
  sps_layout L;
  int st = parse_rbsp(rbsp, n, &L);
  if (st) return st;
  const smx_sps_info *s = &L.info;
  bit_reader r = {rbsp, n * 8, 0, 0};

  uint8_t nb[SMX_SPS_MAX_BYTES + SMX_SPS_MAX_GROWTH];
  memset(nb, 0, sizeof nb);
  bit_writer w = {nb, sizeof nb, 0, 0};
  switch (mode) {
  case SMX_SPS_FIX:
    if (s->vui_present && s->bitstream_restriction && s->max_num_reorder_frames == 0) return 0;
    if (!s->vui_present) {
      copy_bits(&w, &r, 0, L.vui_flag_pos);
      put_bit(&w, 1); /* vui_parameters_present_flag */
      /* aspect ratio, overscan, video signal, chroma location, timing, NAL HRD, VCL HRD,
       * pic_struct: all absent. */
      put_bits(&w, 0, 8);
      put_restriction(&w, &L, 0);
    } else {
      copy_bits(&w, &r, 0, L.br_flag_pos);
      put_restriction(&w, &L, (int)s->bitstream_restriction);
    }
    break;
  case SMX_SPS_STRIP_RESTRICTION:
    if (!s->vui_present || !s->bitstream_restriction) return 0;
    copy_bits(&w, &r, 0, L.br_flag_pos);
    put_bit(&w, 0);
    break;
  case SMX_SPS_STRIP_VUI:
    if (!s->vui_present) return 0;
    copy_bits(&w, &r, 0, L.vui_flag_pos);
    put_bit(&w, 0);
    break;
  }
  put_bit(&w, 1); /* rbsp_stop_one_bit */
  while (w.pos & 7) put_bit(&w, 0);
  if (w.full) return smx_fail(SMX_E_NO_MEMORY, "rewritten SPS too large");
  /* The header byte is never escaped (it is nonzero), so the whole RBSP escapes as one. */
  long m = escape(nb, w.pos / 8, out, cap);
  if (m < 0) return smx_fail(SMX_E_NO_MEMORY, "SPS rewrite: output buffer of %zu bytes too small",
                             cap);
  return (int)m;
}

/* ---- Annex-B ------------------------------------------------------------------------------ */

/* Finds the next start code (00 00 01) at or after i; returns its offset or n. */
static size_t next_start(const uint8_t *p, size_t n, size_t i) {
  for (; i + 3 <= n; i++)
    if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) return i;
  return n;
}

int64_t smx_h264_rewrite_sps_annexb(const uint8_t *in, size_t in_len, smx_sps_mode mode,
                                    uint8_t *out, size_t cap) {
  if (!in || !out) return smx_fail(SMX_E_INVALID_ARG, "SPS rewrite: NULL buffer");
  size_t o = 0;
  int changed = 0;
  size_t sc = next_start(in, in_len, 0);
  if (sc == in_len) return 0; /* no NAL unit: nothing to do */
  /* Bytes before the first start code (leading zeros of a 4-byte start code) are copied as-is. */
  size_t copied_to = 0;
  while (sc < in_len) {
    size_t start = sc + 3;
    size_t next = next_start(in, in_len, start);
    size_t end = next;
    /* Trailing zero bytes belong to the next start code (00 00 00 01) or are trailing_zero_8bits:
     * not part of this NAL unit. */
    while (end > start && in[end - 1] == 0) end--;
    if (end > start && (in[start] & 0x1f) == 7) {
      uint8_t fixed[SMX_SPS_MAX_BYTES + SMX_SPS_MAX_GROWTH];
      int m = end - start <= SMX_SPS_MAX_BYTES
                  ? smx_sps_rewrite(in + start, end - start, mode, fixed, sizeof fixed)
                  : smx_fail(SMX_E_FORMAT, "SPS of %zu bytes is too large", end - start);
      if (m < 0) return m;
      if (m > 0) {
        size_t head = start - copied_to;
        if (o + head + (size_t)m > cap)
          return smx_fail(SMX_E_NO_MEMORY, "SPS rewrite: output buffer of %zu bytes too small",
                          cap);
        memcpy(out + o, in + copied_to, head);
        o += head;
        memcpy(out + o, fixed, (size_t)m);
        o += (size_t)m;
        copied_to = end;
        changed = 1;
      }
    }
    sc = next;
  }
  if (!changed) return 0;
  if (o + (in_len - copied_to) > cap)
    return smx_fail(SMX_E_NO_MEMORY, "SPS rewrite: output buffer of %zu bytes too small", cap);
  memcpy(out + o, in + copied_to, in_len - copied_to);
  o += in_len - copied_to;
  return (int64_t)o;
}
