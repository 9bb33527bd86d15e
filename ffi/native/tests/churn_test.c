/* Leak check of the shim across session churn (run by tests/native_leak_test.ts under valgrind).
 *
 * Not part of libsmx.so: scripts/build_native.ts compiles only the top-level native/ sources. The test
 * compiles this file together with those sources and runs it under a leak checker, so every
 * allocation the shim makes on a path below must be freed by the matching close/stop.
 *
 *   churn_test [iterations] [width] [height]      (defaults: 4, 320, 180)
 *
 * Each iteration goes through what an smx process does when viewers come and go: a frame ring
 * with a reader that follows a resize, a pattern sender, encoders opened, fed from a buffer (same
 * size and scaled) and from the ring, asked for an IDR and new rates, then closed; the failure
 * paths (bad sizes, unknown names, closed handles) and the converter on its own. Exit 0 when
 * every call did what it should; 1 with a message naming the first that did not. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../convert.h"
#include "../encoder.h"
#include "../proc_limits.h"
#include "../pattern.h"
#include "../ring.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "churn_test: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (last shim error: %s)\n", smx_last_error());
  va_end(ap);
  exit(1);
}

#define EXPECT(cond, ...) \
  do {                    \
    if (!(cond)) die(__VA_ARGS__); \
  } while (0)

static uint32_t W = 320, H = 180;

/* Descriptors open now: a leaked shm descriptor or mapping fd shows up here, not as memory. */
static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  EXPECT(d, "cannot list /proc/self/fd");
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static int shm_exists(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "/dev/shm/" SMX_RING_SHM_PREFIX "%s", name);
  return access(path, F_OK) == 0;
}

/* A BGRA picture that changes with t (a moving bright band), so x264 has something to code. */
static void fill(uint8_t *px, uint32_t w, uint32_t h, uint32_t stride, uint32_t t) {
  for (uint32_t y = 0; y < h; y++) {
    uint8_t *row = px + (size_t)y * stride;
    for (uint32_t x = 0; x < w; x++) {
      int band = ((x + t * 7) / 16) % 4 == 0;
      row[x * 4 + 0] = (uint8_t)(x + t);
      row[x * 4 + 1] = (uint8_t)(y * 2);
      row[x * 4 + 2] = band ? 230 : 60;
      row[x * 4 + 3] = 255;
    }
  }
}

static void write_frame(smx_ring_writer *w, uint32_t fw, uint32_t fh, uint32_t t) {
  uint8_t *slot = smx_ring_writer_begin(w);
  EXPECT(slot, "ring writer begin failed");
  fill(slot, fw, fh, smx_ring_writer_stride(w), t);
  EXPECT(smx_ring_writer_commit(w, 0) > 0, "ring writer commit failed");
}

static void encode_from_ring(smx_encoder *e, smx_ring_reader *r, int force_idr) {
  int n = smx_encoder_encode_ring(e, r, force_idr);
  EXPECT(n > 0, "encode from ring returned %d: %s", n, smx_encoder_error(e));
  smx_packet_info info;
  EXPECT(smx_encoder_packet_info(e, &info) == SMX_OK && info.size == (uint32_t)n,
         "packet info does not match the encode");
  EXPECT(smx_encoder_packet_data(e), "no packet data after an encode");
  if (force_idr) EXPECT(info.keyframe, "a forced IDR was not a keyframe");
}

/* An encoder's whole life: open (through the NVENC skip unless told otherwise), buffer frames at
 * the session size and scaled, ring frames, IDR and rate requests, close; then calls on the
 * closed handle, which must fail cleanly. */
static void encoder_session(smx_ring_reader *r, const uint8_t *big, uint32_t bw, uint32_t bh,
                            const char *preference) {
  char err[1024];
  int32_t status = 1;
  smx_encoder *e = smx_encoder_open(preference, W, H, 30, 400, err, sizeof err, &status);
  EXPECT(e && status == SMX_OK, "encoder open failed (%d): %s", status, err);
  EXPECT(strcmp(smx_encoder_name(e), "libx264") == 0, "unexpected encoder %s",
         smx_encoder_name(e));
  EXPECT(strncmp(smx_encoder_codec(e), "avc1.", 5) == 0, "no codec string");

  uint8_t *px = malloc((size_t)W * H * 4);
  EXPECT(px, "out of memory");
  for (uint32_t f = 0; f < 3; f++) {
    fill(px, W, H, W * 4, f);
    int n = smx_encoder_encode_rgba(e, px, (uint64_t)W * H * 4, W, H, W * 4, SMX_FORMAT_BGRA, f,
                                    0, f == 0);
    EXPECT(n > 0, "encode of a buffer returned %d: %s", n, smx_encoder_error(e));
  }
  free(px);
  /* A larger input: the converter allocates its scratch picture for the scaled path. */
  for (uint32_t f = 0; f < 2; f++) {
    int n = smx_encoder_encode_rgba(e, big, (uint64_t)bw * bh * 4, bw, bh, bw * 4,
                                    SMX_FORMAT_RGBA, 10 + f, 0, 0);
    EXPECT(n > 0, "encode of a scaled buffer returned %d: %s", n, smx_encoder_error(e));
  }
  EXPECT(smx_encoder_request_idr(e) == SMX_OK, "request IDR failed");
  EXPECT(smx_encoder_set_bitrate(e, 250) == SMX_OK, "set bitrate failed");
  EXPECT(smx_encoder_set_fps(e, 15) == SMX_OK, "set fps failed");
  encode_from_ring(e, r, 0); /* applies the IDR request and the new rate */
  encode_from_ring(e, r, 1);
  /* Refused arguments go through the error paths without allocating. */
  EXPECT(smx_encoder_set_bitrate(e, 1) == SMX_E_INVALID_ARG, "bitrate 1 kbps was accepted");
  EXPECT(smx_encoder_encode_rgba(e, big, 16, bw, bh, bw * 4, SMX_FORMAT_BGRA, 0, 0, 0) ==
             SMX_E_INVALID_ARG,
         "a too small buffer was accepted");
  smx_encoder_close(e);
  EXPECT(smx_encoder_request_idr(e) == SMX_E_CLOSED, "a closed encoder took a request");
  smx_encoder_close(e); /* a second close is ignored */
}

static void refused_opens(void) {
  char err[512];
  int32_t status = 0;
  EXPECT(!smx_encoder_open("libx264", 17, 180, 30, 400, err, sizeof err, &status) &&
             status == SMX_E_INVALID_ARG,
         "an odd width was accepted");
  EXPECT(!smx_encoder_open("libx264,nonsense", W, H, 30, 400, err, sizeof err, &status) &&
             status == SMX_E_INVALID_ARG,
         "an unknown encoder name was accepted");
  /* Only NVENC, on a machine without the driver: the open fails after the skip. */
  smx_encoder *e = smx_encoder_open("h264_nvenc", W, H, 30, 400, err, sizeof err, &status);
  if (e) smx_encoder_close(e); /* a GPU machine: fine, and closed again */
  else EXPECT(status == SMX_E_ENCODER, "NVENC without a driver gave %d: %s", status, err);
}

/* Readers that come and go while the writer resizes past its slot capacity (the reader remaps
 * and keeps the old mapping as retired until it closes). */
static void reader_churn(const char *name, smx_ring_writer *w) {
  for (int i = 0; i < 3; i++) {
    smx_ring_reader *r = smx_ring_reader_open(name);
    EXPECT(r, "reader open failed");
    smx_ring_info info;
    EXPECT(smx_ring_reader_info(r, &info) == SMX_OK, "reader info failed");
    smx_ring_reader_close(r);
  }
  smx_ring_reader *r = smx_ring_reader_open(name);
  EXPECT(r, "reader open failed");
  EXPECT(smx_ring_writer_resize(w, W * 2, H * 2) == SMX_OK, "writer resize (grow) failed");
  write_frame(w, W * 2, H * 2, 1);
  EXPECT(smx_ring_reader_wait(r, 0, 2000) == SMX_OK, "reader did not follow the resize");
  uint8_t *copy = malloc((size_t)W * 2 * H * 2 * 4);
  EXPECT(copy, "out of memory");
  smx_ring_info info;
  EXPECT(smx_ring_reader_copy_latest(r, copy, (uint64_t)W * 2 * H * 2 * 4, &info) > 0,
         "copy after resize failed");
  free(copy);
  EXPECT(smx_ring_writer_resize(w, W, H) == SMX_OK, "writer resize (shrink) failed");
  write_frame(w, W, H, 2);
  smx_ring_reader_close(r);
  smx_ring_reader_close(r); /* a second close is refused, not a double free */
  EXPECT(!smx_ring_reader_open("no-such-sender-churn"), "a missing sender was opened");
  char list[4096];
  EXPECT(smx_ring_list(list, sizeof list, 0) >= 1, "our sender is not listed");
}

/* Waits for a frame rendered after this call (the render thread has taken what was set). */
static void next_frame(smx_ring_reader *r) {
  smx_ring_info info;
  EXPECT(smx_ring_reader_info(r, &info) == SMX_OK, "reader info failed");
  EXPECT(smx_ring_reader_wait(r, info.frame + 1, 5000) == SMX_OK, "no pattern frame within 5 s");
}

/* The QR overlay: drawn, replaced twice before a frame took it, refused, cleared, then one in
 * use and one pending when the sender stops (after a resize), which frees both. */
static void pattern_overlay(smx_pattern *p, smx_ring_reader *r) {
  uint8_t modules[21 * 21];
  for (int i = 0; i < 21 * 21; i++) modules[i] = (uint8_t)(i % 3 == 0);
  EXPECT(smx_pattern_set_overlay(p, modules, 21, 8, 40, 3) == SMX_OK, "set overlay failed");
  next_frame(r);
  EXPECT(smx_pattern_set_overlay(p, modules, 21, 0, 0, 2) == SMX_OK &&
             smx_pattern_set_overlay(p, modules, 21, W - 40, H - 40, 4) == SMX_OK,
         "replacing the overlay failed");
  EXPECT(smx_pattern_set_overlay(p, modules, 21, 0, 0, 0) == SMX_E_INVALID_ARG,
         "an overlay scale of 0 was accepted");
  next_frame(r);
  EXPECT(smx_pattern_set_overlay(p, NULL, 0, 0, 0, 0) == SMX_OK, "clearing the overlay failed");
  next_frame(r);
  EXPECT(smx_pattern_set_overlay(p, modules, 21, W - 20, 40, 2) == SMX_OK, "set overlay failed");
  next_frame(r);
  EXPECT(smx_pattern_set_overlay(p, modules, 21, 4, 40, 1) == SMX_OK, "set overlay failed");
}

/* A pattern sender: start, read one of its frames, encode it, stop. */
static void pattern_session(const char *name) {
  smx_pattern *p = smx_pattern_start(name, W, H, 30, SMX_FORMAT_BGRA);
  EXPECT(p, "pattern start failed");
  smx_ring_reader *r = smx_ring_reader_open(name);
  EXPECT(r, "reader of the pattern ring failed");
  EXPECT(smx_ring_reader_wait(r, 0, 5000) == SMX_OK, "no pattern frame within 5 s");
  pattern_overlay(p, r);
  EXPECT(smx_pattern_resize(p, W + 64, H + 36) == SMX_OK, "pattern resize failed");
  uint64_t stats[4];
  EXPECT(smx_pattern_stats(p, stats) == SMX_OK, "pattern stats failed");
  smx_ring_reader_close(r);
  smx_pattern_stop(p);
}

/* The converter alone, through both orders of a downscale and an upscale (the timing trials
 * alternate them, reallocating the scratch picture as it grows). */
static void converter_churn(const uint8_t *big, uint32_t bw, uint32_t bh) {
  smx_converter cv = {0};
  uint32_t ow = W / 2, oh = H / 2;
  uint8_t *y = malloc((size_t)W * 2 * H * 2 * 3 / 2);
  EXPECT(y, "out of memory");
  for (int round = 0; round < 2; round++) {
    uint32_t tw = round ? W * 2 : ow, th = round ? H * 2 : oh;
    smx_yuv_image img = {{y, y + (size_t)tw * th, NULL}, {(int)tw, (int)tw, 0}, tw, th, 1};
    for (int i = 0; i < 2 * SMX_CONVERT_TRIALS + 1; i++)
      EXPECT(smx_convert(&cv, big, round ? W : bw, round ? H : bh, bw * 4, SMX_CONVERT_BGRA,
                         &img) == SMX_OK,
             "convert failed");
  }
  smx_converter_free(&cv);
  free(y);
}

int main(int argc, char **argv) {
  int iterations = argc > 1 ? atoi(argv[1]) : 4;
  if (argc > 3) W = (uint32_t)atoi(argv[2]), H = (uint32_t)atoi(argv[3]);
  char name[64], pattern_name[64];
  snprintf(name, sizeof name, "churn-%d", (int)getpid());
  snprintf(pattern_name, sizeof pattern_name, "churn-pattern-%d", (int)getpid());

  uint64_t soft = 0, hard = 0;
  EXPECT(smx_raise_nofile(NULL, &soft, &hard) == SMX_OK && soft == hard, "raise nofile failed");

  uint32_t bw = W * 2, bh = H * 2;
  uint8_t *big = malloc((size_t)bw * bh * 4);
  EXPECT(big, "out of memory");
  fill(big, bw, bh, bw * 4, 3);

  int fds = -1;
  for (int i = 0; i < iterations; i++) {
    if (i == 1) fds = open_fds(); /* after one iteration: whatever loads once has loaded */
    smx_ring_writer *w = smx_ring_writer_open(name, W, H, SMX_FORMAT_BGRA, 3);
    EXPECT(w, "ring writer open failed");
    write_frame(w, W, H, (uint32_t)i);
    smx_ring_reader *r = smx_ring_reader_open(name);
    EXPECT(r, "ring reader open failed");
    /* the default preference passes NVENC over on a machine without its driver */
    encoder_session(r, big, bw, bh, i % 2 ? "libx264" : NULL);
    smx_ring_reader_close(r);
    reader_churn(name, w);
    smx_ring_writer_close(w);
    smx_ring_writer_close(w); /* refused, not a double free */
    pattern_session(pattern_name);
    refused_opens();
    converter_churn(big, bw, bh);
    EXPECT(!shm_exists(name) && !shm_exists(pattern_name), "a ring was left in /dev/shm");
  }
  if (fds >= 0)
    EXPECT(open_fds() == fds, "descriptors leaked: %d open after the first iteration, %d now", fds,
           open_fds());
  free(big);
  printf("churn_test: %d iterations at %ux%u passed\n", iterations, W, H);
  return 0;
}
