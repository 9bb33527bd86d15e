/* Frame ring: a POSIX shared-memory ring of video frames written by one engine process and read
 * by any number of readers (smx). Layout and rules: docs/frame-ring.md.
 *
 * Threading: a writer or reader handle is used by one thread at a time (the TS wrappers await
 * each nonblocking call before the next). Calls marked (nonblocking) may run on a worker thread,
 * so they report failures through the handle's error buffer (smx_ring_*_error) as well as the
 * thread-local one. */
#ifndef SMX_RING_H
#define SMX_RING_H

#include "smx_common.h"

#define SMX_RING_MAGIC 0x52584D53u /* "SMXR" little-endian */
#define SMX_RING_VERSION 1
#define SMX_RING_MIN_SLOTS 3
#define SMX_RING_MAX_SLOTS 16
#define SMX_RING_MAX_DIM 8192 /* width and height limit; larger is refused */
#define SMX_RING_NAME_MAX 63  /* sender name length (bytes, [A-Za-z0-9._-]) */
#define SMX_RING_SHM_PREFIX "smx-ring-" /* shm object: /dev/shm/smx-ring-<name> */

enum { SMX_FORMAT_BGRA = 1, SMX_FORMAT_RGBA = 2 };

typedef struct smx_ring_writer smx_ring_writer;
typedef struct smx_ring_reader smx_ring_reader;

/* A consistent view of one published frame, valid while smx_ring_reader_still_valid() says so. */
typedef struct {
  const uint8_t *pixels;
  uint32_t width, height, stride, format;
  uint64_t frame;      /* writer's frame number, starts at 1 */
  int64_t capture_us;  /* writer's CLOCK_REALTIME µs when the frame was captured/rendered */
  uint32_t slot;
  uint64_t seq;        /* slot sequence seen at acquire (even) */
} smx_frame_view;

/* Info block filled for TS (layout is ABI: 48 bytes, little-endian, no padding surprises). */
typedef struct {
  uint64_t frame;
  int64_t capture_us;
  uint32_t width, height, stride, format;
  uint32_t writer_pid;
  uint32_t slot_count;
  int64_t heartbeat_age_ms; /* how long since the writer last showed life */
} smx_ring_info;

/* ---- writer (engine side) ---- */
SMX_EXPORT smx_ring_writer *smx_ring_writer_open(const char *name, uint32_t width, uint32_t height,
                                                 uint32_t format, uint32_t slots);
/* Returns the pixel memory of the next slot (marks it being-written: seq odd) or NULL on error.
 * Until commit, a second begin returns the same slot. Rows are smx_ring_writer_stride() apart. */
SMX_EXPORT uint8_t *smx_ring_writer_begin(smx_ring_writer *w);
SMX_EXPORT uint32_t smx_ring_writer_stride(smx_ring_writer *w);
/* Publishes the slot begun last; returns the new frame number (>0) or a negative status. */
SMX_EXPORT int64_t smx_ring_writer_commit(smx_ring_writer *w, int64_t capture_us);
/* Changes the frame size; re-creates the shared memory when it no longer fits (the pointer from
 * begin is then invalid; an uncommitted slot is abandoned). */
SMX_EXPORT int smx_ring_writer_resize(smx_ring_writer *w, uint32_t width, uint32_t height);
/* Shows life without a frame (a paused engine stays listed). */
SMX_EXPORT int smx_ring_writer_heartbeat(smx_ring_writer *w);
SMX_EXPORT void smx_ring_writer_close(smx_ring_writer *w); /* unlinks the shm object */

/* ---- reader (smx side) ---- */
SMX_EXPORT smx_ring_reader *smx_ring_reader_open(const char *name);
/* (nonblocking) Waits until a frame newer than `after_frame` is published (futex, no polling).
 * 0 = ready, SMX_E_TIMEOUT, SMX_E_WRITER_GONE; a re-created ring is reopened internally.
 * timeout_ms 0 only checks; the futex wait is sliced so a dead writer is noticed meanwhile. */
SMX_EXPORT int smx_ring_reader_wait(smx_ring_reader *r, uint64_t after_frame, int32_t timeout_ms);
/* Fills `out` (smx_ring_info) about the latest frame and the writer (frame 0 and the announced
 * size before the first frame). Synchronous; safe while a wait/copy runs on another thread. */
SMX_EXPORT int smx_ring_reader_info(smx_ring_reader *r, smx_ring_info *out);
/* (nonblocking) Copies the latest complete frame into dst (tightly packed width*4 rows, so
 * out->stride = width*4); retries internally on a torn read; fills `out`. Returns bytes copied,
 * SMX_E_AGAIN before the first frame, or SMX_E_RESIZED when dst_cap is too small (then `out`
 * holds the frame's size). */
SMX_EXPORT int64_t smx_ring_reader_copy_latest(smx_ring_reader *r, uint8_t *dst, uint64_t dst_cap,
                                               smx_ring_info *out);
SMX_EXPORT const char *smx_ring_reader_error(smx_ring_reader *r);
SMX_EXPORT void smx_ring_reader_close(smx_ring_reader *r);

/* Lists live senders as "name\twidth\theight\tformat\tpid\n" lines into buf (NUL-terminated;
 * format is "bgra" or "rgba"). Dead writers (pid gone) and silent ones (heartbeat older than
 * stale_ms; <= 0 means 2000) are skipped. Returns the number of senders, or SMX_E_NO_MEMORY when
 * buf is too small. */
SMX_EXPORT int smx_ring_list(char *buf, uint64_t cap, int32_t stale_ms);

/* ---- for encoder.c (zero-copy path); exported too so tests can drive the pair from TS ---- */
/* (may run on a worker thread: failures also go to smx_ring_reader_error)
 * Latest complete frame; SMX_E_AGAIN if none yet; handles a re-created ring by reopening.
 * smx_frame_view is ABI for TS: 56 bytes (pointer, 4 x u32, u64 frame, i64 capture_us, u32 slot,
 * 4 bytes padding, u64 seq). */
SMX_EXPORT int smx_ring_reader_acquire(smx_ring_reader *r, smx_frame_view *view);
/* 1 when the slot was not touched since acquire (call AFTER reading the pixels), else 0. */
SMX_EXPORT int smx_ring_reader_still_valid(smx_ring_reader *r, const smx_frame_view *view);

/* ---- internal (not exported) ---- */
/* Frame number the next smx_ring_writer_commit will publish (pattern.c stamps it beforehand). */
uint64_t smx_ring_writer_next_frame(smx_ring_writer *w);

/* Handle registry: every entry point checks its handle here so that NULL, foreign and closed
 * handles give SMX_E_INVALID_ARG / SMX_E_CLOSED instead of a crash. Kinds keep a reader pointer
 * from being accepted as a writer. */
enum {
  SMX_HANDLE_WRITER = 1,
  SMX_HANDLE_READER = 2,
  SMX_HANDLE_PATTERN = 3,
  SMX_HANDLE_ENCODER = 4,
};
int smx_handle_add(const void *handle, int kind);    /* SMX_OK or SMX_E_NO_MEMORY */
int smx_handle_remove(const void *handle, int kind); /* 1 when it was live (and is now gone) */
int smx_handle_live(const void *handle, int kind);   /* 1 when live */

#endif
