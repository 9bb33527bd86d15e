/* Pattern sender: a native thread that renders a moving test picture into a frame ring it owns.
 *
 * Cost model (1080p60 on a small machine): the background depends only on (size, brightness,
 * format), so it is rendered once into a buffer. A slot is painted in full (memcpy of rows) only
 * the first time or after the background changed; afterwards only the boxes the shapes and the
 * cursor covered when that slot was last used are restored from it (the ring rotates through its
 * slots, so each slot still holds its own older picture; the stamp band is overwritten whole).
 * Shapes and the cursor are spans of one 32-bit colour (wmemset: glibc's SIMD fill).
 *
 * The overlay (a QR code) is prebuilt when it is set: one pixel row per module row, so drawing
 * it is one memcpy per pixel row. A slot that already holds the same overlay gets only the parts
 * that were restored or drawn over since (where shapes and the cursor cross it); its own box is
 * never restored from the background while the overlay covers it.
 *
 * Frames are paced with absolute deadlines (clock_nanosleep TIMER_ABSTIME) so the rate does not
 * drift; a frame that misses its deadline re-anchors the schedule instead of bursting to catch
 * up. Parameters are copied whole under a mutex once per frame, so a frame never mixes two sets. */
#define _GNU_SOURCE
#include "pattern.h"

#include "ring.h"
#include "stamp.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <wchar.h>

#define MIN_FPS 1
#define MAX_FPS 240
#define MAX_SHAPES 64
#define MAX_SLEEP_NS 20000000LL /* stop() is noticed within this even at 1 fps */
#define MAX_BOXES (MAX_SHAPES + 2) /* shapes, cursor and overlay */

_Static_assert(sizeof(wchar_t) == 4, "wmemset fills 32-bit pixels");

typedef struct {
  int x0, y0, x1, y1;
} box;

/* What the render thread last drew into one slot of the ring. */
typedef struct {
  const uint8_t *pixels; /* identifies the slot */
  uint64_t background_gen; /* background under the boxes; a mismatch means repaint in full */
  uint64_t overlay_gen; /* the overlay this slot holds whole (0 = none) */
  int count;
  box boxes[MAX_BOXES];
} slot_memory;

/* A prebuilt overlay: rows x side pixels, one pixel row per module row (quiet zone included). */
typedef struct {
  uint32_t x, y, side, scale, rows;
  uint32_t lines[];
} overlay;

_Static_assert(sizeof(smx_pattern_params) == 64, "ABI: 64-byte params buffer");

static const smx_pattern_params DEFAULT_PARAMS = {
    .hue = 0.58f,
    .saturation = 0.75f,
    .brightness = 0.5f,
    .speed = 0.25f,
    .shape_size = 0.12f,
    .cursor_x = 0.5f,
    .cursor_y = 0.5f,
    .shape_count = 6,
    .shape_kind = 0,
    .cursor_visible = 1,
};

struct smx_pattern {
  pthread_t thread;
  _Atomic int stop;

  pthread_mutex_t lock; /* params, fps and stats: copied whole, never torn */
  smx_pattern_params params;
  uint32_t fps;
  uint64_t frames_sent, frames_late, render_ns_total, render_ns_max;
  overlay *next_overlay; /* set by smx_pattern_set_overlay, taken by the thread */
  int overlay_changed;

  pthread_mutex_t ring_lock; /* writer and size: held by the thread from begin to commit */
  smx_ring_writer *ring;
  uint32_t width, height, format;

  /* render thread (or ring_lock holders) only */
  uint32_t *background; /* mmap'd, bg_bytes long */
  size_t bg_bytes;
  uint32_t bg_width, bg_height, bg_level;
  uint64_t background_gen; /* bumped when the background or the ring's memory changes */
  slot_memory slots[SMX_RING_MAX_SLOTS];
  overlay *overlay; /* the one in use, owned by the thread */
  uint64_t overlay_gen; /* bumped whenever the thread takes a new overlay (or none) */
  double phase; /* animation position in cycles; advances by speed / fps per frame */
};

/* ============================================================================== drawing */

typedef struct {
  uint8_t *pixels;
  uint32_t width, height, stride, format;
  slot_memory *memory; /* drawing records its boxes here */
} canvas;

/* Remembers a drawn box (clipped) so the next use of this slot can restore just that. */
static void mark(const canvas *c, int x0, int y0, int x1, int y1) {
  slot_memory *m = c->memory;
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > (int)c->width) x1 = (int)c->width;
  if (y1 > (int)c->height) y1 = (int)c->height;
  if (x0 >= x1 || y0 >= y1) return;
  if (m->count == MAX_BOXES) { /* cannot happen with the caps above; stay correct anyway */
    m->boxes[0] = (box){0, 0, (int)c->width, (int)c->height};
    m->count = 1;
    return;
  }
  m->boxes[m->count++] = (box){x0, y0, x1, y1};
}

static uint32_t pack(uint32_t format, int r, int g, int b) {
  uint32_t lo = (uint32_t)(format == SMX_FORMAT_BGRA ? b : r);
  uint32_t hi = (uint32_t)(format == SMX_FORMAT_BGRA ? r : b);
  return 0xFF000000u | hi << 16 | (uint32_t)g << 8 | lo;
}

static int clamp255(double v) { return v < 0 ? 0 : v > 255 ? 255 : (int)(v + 0.5); }

static uint32_t hsv(uint32_t format, double h, double s, double v) {
  h = (h - floor(h)) * 6;
  int i = (int)h % 6;
  double f = h - floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  return pack(format, clamp255(rgb[i][0] * 255), clamp255(rgb[i][1] * 255),
              clamp255(rgb[i][2] * 255));
}

/* Fills [x0, x1) of row y, clipped to the canvas. */
static void span(const canvas *c, int y, int x0, int x1, uint32_t colour) {
  if (y < 0 || y >= (int)c->height) return;
  if (x0 < 0) x0 = 0;
  if (x1 > (int)c->width) x1 = (int)c->width;
  if (x0 >= x1) return;
  wchar_t *row = (wchar_t *)(c->pixels + (uint64_t)y * c->stride);
  wmemset(row + x0, (wchar_t)colour, (size_t)(x1 - x0));
}

static void rect(const canvas *c, int x0, int y0, int x1, int y1, uint32_t colour) {
  if (y0 < 0) y0 = 0;
  if (y1 > (int)c->height) y1 = (int)c->height;
  for (int y = y0; y < y1; y++) span(c, y, x0, x1, colour);
}

/* Disc of radius r, or a ring when inner > 0 (the pixels between inner and r). */
static void disc(const canvas *c, double cx, double cy, double r, double inner, uint32_t colour) {
  int y0 = (int)floor(cy - r), y1 = (int)ceil(cy + r);
  if (y0 < 0) y0 = 0;
  if (y1 > (int)c->height) y1 = (int)c->height;
  for (int y = y0; y < y1; y++) {
    double dy = y + 0.5 - cy, out2 = r * r - dy * dy;
    if (out2 <= 0) continue;
    double half = sqrt(out2), in2 = inner * inner - dy * dy;
    int left = (int)lround(cx - half), right = (int)lround(cx + half);
    if (inner <= 0 || in2 <= 0) {
      span(c, y, left, right, colour);
    } else {
      double hin = sqrt(in2);
      span(c, y, left, (int)lround(cx - hin), colour);
      span(c, y, (int)lround(cx + hin), right, colour);
    }
  }
}

static size_t align_2m(size_t n) { return (n + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1); }

static void free_background(smx_pattern *p) {
  if (p->background) munmap(p->background, p->bg_bytes);
  p->background = NULL;
  p->bg_bytes = 0;
}

/* Diagonal colour gradient with a faint grid (scaling artefacts show on it), scaled by
 * brightness. Separable (red and blue vary along x, green along y), so the float work is per
 * column and per row and the pixel loop only ORs precomputed values: a brightness slider that
 * changes every frame costs a few ms per frame at 1080p, not a dropped frame. */
static int build_background(smx_pattern *p, uint32_t w, uint32_t h, uint32_t level) {
  if (p->background && p->bg_width == w && p->bg_height == h && p->bg_level == level) return 0;
  size_t bytes = align_2m((size_t)w * h * 4);
  uint32_t *cols = malloc((size_t)w * 2 * sizeof *cols); /* red|blue: plain, on a grid row */
  uint8_t *grid_col = malloc(w);
  if (!cols || !grid_col) goto fail;
  if (bytes != p->bg_bytes) {
    free_background(p);
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) goto fail;
    /* Restoring boxes reads one background row per pixel row: with 4 KiB pages that is a TLB
     * miss per row. Transparent huge pages cut that (measured: about a quarter of the cost). */
    madvise(mem, bytes, MADV_HUGEPAGE);
    p->background = mem;
    p->bg_bytes = bytes;
  }
  double k = level / 255.0;
  uint32_t grid_x = w / 16 ? w / 16 : 1, grid_y = h / 9 ? h / 9 : 1;
  for (uint32_t x = 0; x < w; x++) {
    double fx = w > 1 ? (double)x / (w - 1) : 0, lift = x % grid_x == 0 ? 40 : 0;
    grid_col[x] = lift > 0;
    cols[x] = pack(p->format, clamp255(k * (50 + 150 * fx + lift)), 0,
                   clamp255(k * (210 - 110 * fx + lift)));
    cols[w + x] = pack(p->format, clamp255(k * (90 + 150 * fx)), 0, clamp255(k * (250 - 110 * fx)));
  }
  for (uint32_t y = 0; y < h; y++) {
    double fy = h > 1 ? (double)y / (h - 1) : 0;
    uint32_t green = (uint32_t)clamp255(k * (40 + 160 * fy)) << 8;
    uint32_t lifted = (uint32_t)clamp255(k * (80 + 160 * fy)) << 8;
    uint32_t *row = p->background + (size_t)y * w;
    if (y % grid_y == 0) {
      for (uint32_t x = 0; x < w; x++) row[x] = cols[w + x] | lifted;
    } else {
      for (uint32_t x = 0; x < w; x++) row[x] = cols[x] | (grid_col[x] ? lifted : green);
    }
  }
  free(cols);
  free(grid_col);
  p->bg_width = w, p->bg_height = h, p->bg_level = level;
  p->background_gen++;
  return 0;
fail:
  free(cols);
  free(grid_col);
  return -1;
}

static void draw_shapes(const canvas *c, const smx_pattern_params *pp, double phase) {
  double w = c->width, h = c->height, size = pp->shape_size * h;
  if (size <= 0) return;
  for (uint32_t i = 0; i < pp->shape_count; i++) {
    /* each shape has its own Lissajous path and hue offset; phase 0 still spreads them out */
    double ax = 2 * M_PI * phase * (1 + 0.1 * i) + i * 2.39996;
    double ay = 2 * M_PI * phase * (0.8 + 0.07 * i) + i * 1.3;
    uint32_t colour = hsv(c->format, pp->hue + i * 0.085, pp->saturation, 1.0);
    if (pp->shape_kind == 2) { /* bars: full-height vertical bands */
      double bw = size / 2 < 2 ? 2 : size / 2, cx = w / 2 + (w - bw) / 2 * sin(ax);
      int x0 = (int)lround(cx - bw / 2), x1 = (int)lround(cx + bw / 2);
      rect(c, x0, 0, x1, (int)h, colour);
      mark(c, x0, 0, x1, (int)h);
      continue;
    }
    double r = size / 2 < 1 ? 1 : size / 2;
    double cx = w / 2 + (w / 2 - r) * sin(ax), cy = h / 2 + (h / 2 - r) * cos(ay);
    int x0 = (int)floor(cx - r), y0 = (int)floor(cy - r);
    int x1 = (int)ceil(cx + r) + 1, y1 = (int)ceil(cy + r) + 1;
    if (pp->shape_kind == 1)
      rect(c, (int)lround(cx - r), (int)lround(cy - r), (int)lround(cx + r), (int)lround(cy + r),
           colour);
    else
      disc(c, cx, cy, r, 0, colour);
    mark(c, x0, y0, x1, y1);
  }
}

/* Crosshair and ring, outlined in black so it shows on any background; filled when pressed. */
static void draw_cursor(const canvas *c, const smx_pattern_params *pp) {
  double cx = pp->cursor_x * (c->width - 1), cy = pp->cursor_y * (c->height - 1);
  int arm = (int)(c->height / 18 < 12 ? 12 : c->height / 18), t = (int)((c->height + 360) / 720);
  if (t < 1) t = 1; /* previews under 360 px tall still get a visible cursor */
  double ring = arm * 0.8;
  uint32_t white = pack(c->format, 255, 255, 255), black = pack(c->format, 0, 0, 0);
  if (pp->cursor_buttons) disc(c, cx, cy, ring, 0, pack(c->format, 255, 190, 0));
  disc(c, cx, cy, ring + 1, ring - t - 1, black);
  disc(c, cx, cy, ring, ring - t, white);
  int x = (int)lround(cx), y = (int)lround(cy);
  rect(c, x - arm - 1, y - t / 2 - 1, x + arm + 1, y - t / 2 + t + 1, black);
  rect(c, x - t / 2 - 1, y - arm - 1, x - t / 2 + t + 1, y + arm + 1, black);
  rect(c, x - arm, y - t / 2, x + arm, y - t / 2 + t, white);
  rect(c, x - t / 2, y - arm, x - t / 2 + t, y + arm, white);
  mark(c, x - arm - t - 2, y - arm - t - 2, x + arm + t + 3, y + arm + t + 3);
}

/* The overlay's box clipped to the canvas (empty when there is none or it lies outside). */
static box overlay_box(const canvas *c, const overlay *o) {
  if (!o || o->x >= c->width || o->y >= c->height) return (box){0, 0, 0, 0};
  uint32_t w = c->width - o->x < o->side ? c->width - o->x : o->side;
  uint32_t h = c->height - o->y < o->side ? c->height - o->y : o->side;
  return (box){(int)o->x, (int)o->y, (int)(o->x + w), (int)(o->y + h)};
}

static int same_box(box a, box b) {
  return a.x0 == b.x0 && a.y0 == b.y0 && a.x1 == b.x1 && a.y1 == b.y1;
}

/* Copies the part of the overlay that lies inside b (ob: the overlay's clipped box). */
static void blit_overlay(const canvas *c, const overlay *o, box ob, box b) {
  if (b.x0 < ob.x0) b.x0 = ob.x0;
  if (b.y0 < ob.y0) b.y0 = ob.y0;
  if (b.x1 > ob.x1) b.x1 = ob.x1;
  if (b.y1 > ob.y1) b.y1 = ob.y1;
  if (b.x0 >= b.x1 || b.y0 >= b.y1) return;
  size_t bytes = (size_t)(b.x1 - b.x0) * 4;
  for (int y = b.y0; y < b.y1; y++)
    memcpy(c->pixels + (uint64_t)y * c->stride + (size_t)b.x0 * 4,
           o->lines + (size_t)((uint32_t)y - o->y) / o->scale * o->side + ((uint32_t)b.x0 - o->x),
           bytes);
}

static slot_memory *memory_for(smx_pattern *p, const uint8_t *pixels) {
  for (int i = 0; i < SMX_RING_MAX_SLOTS; i++)
    if (p->slots[i].pixels == pixels) return &p->slots[i];
  for (int i = 0; i < SMX_RING_MAX_SLOTS; i++)
    if (!p->slots[i].pixels) return &p->slots[i];
  return &p->slots[0]; /* more slots than we track: repaint that one in full */
}

static void copy_background(smx_pattern *p, const canvas *c, box b) {
  size_t bytes = (size_t)(b.x1 - b.x0) * 4;
  for (int y = b.y0; y < b.y1; y++)
    memcpy(c->pixels + (uint64_t)y * c->stride + (size_t)b.x0 * 4,
           p->background + (size_t)y * c->width + b.x0, bytes);
}

/* Paints the picture (everything but the stamp) into a slot; records what it covered. */
static void render(smx_pattern *p, canvas *c, const smx_pattern_params *pp) {
  slot_memory *m = memory_for(p, c->pixels);
  uint64_t area = 0;
  for (int i = 0; i < m->count; i++)
    area += (uint64_t)(m->boxes[i].x1 - m->boxes[i].x0) * (m->boxes[i].y1 - m->boxes[i].y0);
  int full = m->pixels != c->pixels || m->background_gen != p->background_gen ||
             area > (uint64_t)c->width * c->height / 2; /* overlapping boxes: one copy is less */
  const overlay *o = p->overlay;
  box ob = overlay_box(c, o);
  /* this slot still holds this very overlay, but for the boxes restored or drawn below */
  int overlay_kept = !full && o && m->overlay_gen == p->overlay_gen;
  box restored[MAX_BOXES];
  int restored_count = 0;
  if (full) {
    copy_background(p, c, (box){0, 0, (int)c->width, (int)c->height});
  } else {
    for (int i = 0; i < m->count; i++) {
      /* the opaque overlay drawn below covers its own box again: no need to restore it */
      if (same_box(m->boxes[i], ob)) continue;
      copy_background(p, c, m->boxes[i]);
      restored[restored_count++] = m->boxes[i];
    }
  }
  m->pixels = c->pixels;
  m->background_gen = p->background_gen;
  m->count = 0;
  c->memory = m;
  draw_shapes(c, pp, p->phase);
  if (pp->cursor_visible) draw_cursor(c, pp);
  if (o && ob.x0 < ob.x1) {
    if (overlay_kept) {
      for (int i = 0; i < restored_count; i++) blit_overlay(c, o, ob, restored[i]);
      for (int i = 0; i < m->count; i++) blit_overlay(c, o, ob, m->boxes[i]);
    } else {
      blit_overlay(c, o, ob, ob);
    }
    mark(c, ob.x0, ob.y0, ob.x1, ob.y1);
  }
  m->overlay_gen = o ? p->overlay_gen : 0;
  /* The stamp band needs no restoring: the stamp written next covers every pixel of it. */
}

/* ============================================================================ the thread */

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t ts_ns(const struct timespec *ts) {
  return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static struct timespec ns_ts(int64_t ns) {
  return (struct timespec){ns / 1000000000, ns % 1000000000};
}

/* Renders, stamps and publishes one frame under ring_lock. */
static void send_frame(smx_pattern *p, const smx_pattern_params *pp) {
  pthread_mutex_lock(&p->ring_lock);
  uint32_t level = (uint32_t)lround(pp->brightness * 255);
  uint8_t *px = NULL;
  if (build_background(p, p->width, p->height, level) == 0) px = smx_ring_writer_begin(p->ring);
  if (px) {
    canvas c = {px, p->width, p->height, smx_ring_writer_stride(p->ring), p->format, NULL};
    render(p, &c, pp);
    int64_t capture_us = smx_now_us(); /* = publish time: the stamp and the slot agree */
    /* frames narrower than 40 px or shorter than the band go unstamped */
    smx_stamp_write(px, c.width, c.height, c.stride, c.format,
                    (uint32_t)smx_ring_writer_next_frame(p->ring), capture_us);
    smx_ring_writer_commit(p->ring, capture_us);
  }
  pthread_mutex_unlock(&p->ring_lock);
}

static void *run(void *arg) {
  smx_pattern *p = arg;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t next = ts_ns(&now);
  uint32_t fps_in_use = 0;
  while (!atomic_load(&p->stop)) {
    pthread_mutex_lock(&p->lock);
    smx_pattern_params pp = p->params;
    uint32_t fps = p->fps;
    overlay *retired = NULL;
    if (p->overlay_changed) { /* swapped under the lock, freed outside it */
      retired = p->overlay;
      p->overlay_gen++;
      p->overlay = p->next_overlay;
      p->next_overlay = NULL;
      p->overlay_changed = 0;
    }
    pthread_mutex_unlock(&p->lock);
    free(retired);
    if (fps != fps_in_use) { /* new rate: start a fresh schedule from now */
      clock_gettime(CLOCK_MONOTONIC, &now);
      next = ts_ns(&now);
      fps_in_use = fps;
    }
    if (!pp.paused) p->phase += pp.speed / fps;

    int64_t cpu0 = thread_cpu_ns();
    send_frame(p, &pp);
    int64_t cost = thread_cpu_ns() - cpu0;

    int64_t period = 1000000000LL / fps;
    next += period;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int late = ts_ns(&now) > next;
    if (late) next = ts_ns(&now);
    pthread_mutex_lock(&p->lock);
    p->frames_sent++;
    p->frames_late += late;
    p->render_ns_total += (uint64_t)cost;
    if ((uint64_t)cost > p->render_ns_max) p->render_ns_max = (uint64_t)cost;
    pthread_mutex_unlock(&p->lock);

    while (!atomic_load(&p->stop)) { /* absolute deadline, in bounded steps so stop() is quick */
      clock_gettime(CLOCK_MONOTONIC, &now);
      int64_t t = ts_ns(&now);
      if (t >= next) break;
      struct timespec until = ns_ts(next - t > MAX_SLEEP_NS ? t + MAX_SLEEP_NS : next);
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
    }
  }
  return NULL;
}

/* ================================================================================== API */

static int check_pattern(const char *fn, smx_pattern *p) {
  if (!p) return smx_fail(SMX_E_INVALID_ARG, "%s: handle is NULL", fn);
  if (!smx_handle_live(p, SMX_HANDLE_PATTERN))
    return smx_fail(SMX_E_CLOSED, "%s: pattern sender is stopped", fn);
  return SMX_OK;
}

static int check_fps(const char *fn, uint32_t fps) {
  if (fps < MIN_FPS || fps > MAX_FPS)
    return smx_fail(SMX_E_INVALID_ARG, "%s: rate %u fps is out of range (%d..%d)", fn, fps,
                    MIN_FPS, MAX_FPS);
  return SMX_OK;
}

smx_pattern *smx_pattern_start(const char *ring_name, uint32_t width, uint32_t height,
                               uint32_t fps, uint32_t format) {
  static const char fn[] = "smx_pattern_start";
  if (check_fps(fn, fps) < 0) return NULL;
  smx_pattern *p = calloc(1, sizeof *p);
  if (!p) {
    smx_fail(SMX_E_NO_MEMORY, "%s: out of memory", fn);
    return NULL;
  }
  p->ring = smx_ring_writer_open(ring_name, width, height, format, 3);
  if (!p->ring) { /* smx_ring_writer_open said why */
    free(p);
    return NULL;
  }
  p->params = DEFAULT_PARAMS;
  p->fps = fps;
  p->width = width, p->height = height, p->format = format;
  pthread_mutex_init(&p->lock, NULL);
  pthread_mutex_init(&p->ring_lock, NULL);
  int err = smx_handle_add(p, SMX_HANDLE_PATTERN);
  if (err == 0 && (err = pthread_create(&p->thread, NULL, run, p)) != 0) {
    smx_handle_remove(p, SMX_HANDLE_PATTERN);
    smx_fail(SMX_E_NO_MEMORY, "%s: cannot start the render thread: %s", fn, strerror(err));
  }
  if (err) {
    smx_ring_writer_close(p->ring);
    free(p);
    return NULL;
  }
  pthread_setname_np(p->thread, "smx-pattern");
  smx_clear_error();
  return p;
}

static int check_unit(const char *fn, const char *what, float v) {
  if (!(v >= 0.0f && v <= 1.0f))
    return smx_fail(SMX_E_INVALID_ARG, "%s: %s %g is out of range (0..1)", fn, what, (double)v);
  return SMX_OK;
}

int smx_pattern_set_params(smx_pattern *p, const smx_pattern_params *in) {
  static const char fn[] = "smx_pattern_set_params";
  int st = check_pattern(fn, p);
  if (st < 0) return st;
  if (!in) return smx_fail(SMX_E_INVALID_ARG, "%s: params is NULL", fn);
  smx_pattern_params v = *in;
  if ((st = check_unit(fn, "saturation", v.saturation)) < 0 ||
      (st = check_unit(fn, "brightness", v.brightness)) < 0 ||
      (st = check_unit(fn, "shape_size", v.shape_size)) < 0)
    return st;
  if (!isfinite(v.hue)) return smx_fail(SMX_E_INVALID_ARG, "%s: hue is not a finite number", fn);
  if (!(fabsf(v.speed) <= 10.0f))
    return smx_fail(SMX_E_INVALID_ARG, "%s: speed %g is out of range (-10..10)", fn,
                    (double)v.speed);
  if (!isfinite(v.cursor_x) || !isfinite(v.cursor_y))
    return smx_fail(SMX_E_INVALID_ARG, "%s: cursor position is not finite", fn);
  if (v.shape_count > MAX_SHAPES)
    return smx_fail(SMX_E_INVALID_ARG, "%s: shape_count %u is out of range (0..%d)", fn,
                    v.shape_count, MAX_SHAPES);
  if (v.shape_kind > 2)
    return smx_fail(SMX_E_INVALID_ARG,
                    "%s: shape_kind %u is unknown (0 circles, 1 squares, 2 bars)", fn,
                    v.shape_kind);
  /* a pointer just outside the texture is normal input: clamp rather than refuse */
  v.cursor_x = fminf(fmaxf(v.cursor_x, 0.0f), 1.0f);
  v.cursor_y = fminf(fmaxf(v.cursor_y, 0.0f), 1.0f);
  v.cursor_visible = v.cursor_visible != 0;
  v.paused = v.paused != 0;
  pthread_mutex_lock(&p->lock);
  p->params = v;
  pthread_mutex_unlock(&p->lock);
  return SMX_OK;
}

int smx_pattern_set_rate(smx_pattern *p, uint32_t fps) {
  static const char fn[] = "smx_pattern_set_rate";
  int st = check_pattern(fn, p);
  if (st < 0 || (st = check_fps(fn, fps)) < 0) return st;
  pthread_mutex_lock(&p->lock);
  p->fps = fps;
  pthread_mutex_unlock(&p->lock);
  return SMX_OK;
}

int smx_pattern_resize(smx_pattern *p, uint32_t width, uint32_t height) {
  int st = check_pattern("smx_pattern_resize", p);
  if (st < 0) return st;
  /* Waits for the frame being rendered (the ring may be re-mapped); errors come back here. */
  pthread_mutex_lock(&p->ring_lock);
  st = smx_ring_writer_resize(p->ring, width, height);
  if (st == SMX_OK) {
    p->width = width, p->height = height;
    /* the slots may now be new (zeroed) memory, possibly at the same addresses: repaint all */
    memset(p->slots, 0, sizeof p->slots);
  }
  pthread_mutex_unlock(&p->ring_lock);
  return st;
}

int smx_pattern_set_overlay(smx_pattern *p, const uint8_t *modules, uint32_t size, uint32_t x,
                            uint32_t y, uint32_t scale) {
  static const char fn[] = "smx_pattern_set_overlay";
  int st = check_pattern(fn, p);
  if (st < 0) return st;
  overlay *o = NULL;
  if (modules && size > 0) {
    if (size > SMX_PATTERN_OVERLAY_MAX_SIZE)
      return smx_fail(SMX_E_INVALID_ARG, "%s: size %u is out of range (1..%d modules)", fn, size,
                      SMX_PATTERN_OVERLAY_MAX_SIZE);
    if (scale < 1 || scale > SMX_PATTERN_OVERLAY_MAX_SCALE)
      return smx_fail(SMX_E_INVALID_ARG, "%s: scale %u is out of range (1..%d)", fn, scale,
                      SMX_PATTERN_OVERLAY_MAX_SCALE);
    uint32_t rows = size + 2 * SMX_PATTERN_QUIET, side = rows * scale;
    if (side > SMX_RING_MAX_DIM)
      return smx_fail(SMX_E_INVALID_ARG, "%s: %u modules at scale %u are %u px (at most %d)", fn,
                      rows, scale, side, SMX_RING_MAX_DIM);
    o = malloc(sizeof *o + (size_t)rows * side * sizeof(uint32_t));
    if (!o) return smx_fail(SMX_E_NO_MEMORY, "%s: out of memory", fn);
    *o = (overlay){x, y, side, scale, rows};
    /* Opaque white and black are the same bytes in BGRA and RGBA. */
    const uint32_t light = 0xFFFFFFFFu, dark = 0xFF000000u;
    for (uint32_t r = 0; r < rows; r++) {
      uint32_t *line = o->lines + (size_t)r * side;
      for (uint32_t col = 0; col < rows; col++) {
        int inside = r >= SMX_PATTERN_QUIET && r < SMX_PATTERN_QUIET + size &&
                     col >= SMX_PATTERN_QUIET && col < SMX_PATTERN_QUIET + size;
        int on = inside && modules[(size_t)(r - SMX_PATTERN_QUIET) * size +
                                   (col - SMX_PATTERN_QUIET)];
        wmemset((wchar_t *)line + (size_t)col * scale, (wchar_t)(on ? dark : light), scale);
      }
    }
  }
  pthread_mutex_lock(&p->lock);
  overlay *old = p->next_overlay; /* set but never drawn: replaced */
  p->next_overlay = o;
  p->overlay_changed = 1;
  pthread_mutex_unlock(&p->lock);
  free(old);
  return SMX_OK;
}

int smx_pattern_stats(smx_pattern *p, uint64_t *out) {
  static const char fn[] = "smx_pattern_stats";
  int st = check_pattern(fn, p);
  if (st < 0) return st;
  if (!out) return smx_fail(SMX_E_INVALID_ARG, "%s: out is NULL", fn);
  pthread_mutex_lock(&p->lock);
  out[0] = p->frames_sent;
  out[1] = p->frames_late;
  out[2] = p->frames_sent ? p->render_ns_total / p->frames_sent / 1000 : 0;
  out[3] = p->render_ns_max / 1000;
  pthread_mutex_unlock(&p->lock);
  return SMX_OK;
}

void smx_pattern_stop(smx_pattern *p) {
  if (!p || !smx_handle_remove(p, SMX_HANDLE_PATTERN)) {
    smx_fail(p ? SMX_E_CLOSED : SMX_E_INVALID_ARG, "smx_pattern_stop: handle is %s",
             p ? "already stopped" : "NULL");
    return;
  }
  atomic_store(&p->stop, 1);
  pthread_join(p->thread, NULL);
  smx_ring_writer_close(p->ring);
  pthread_mutex_destroy(&p->lock);
  pthread_mutex_destroy(&p->ring_lock);
  free_background(p);
  free(p->overlay);
  free(p->next_overlay);
  free(p);
}
