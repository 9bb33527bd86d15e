/* Frame ring: POSIX shared-memory ring of video frames (one writer process, many readers).
 * The byte layout and the rules any other engine must follow are in docs/frame-ring.md; this file
 * is the reference implementation of version 1. Sections: layout, helpers, handle registry,
 * liveness, writer, reader, listing. */
#define _GNU_SOURCE
#include "ring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================= layout (docs §2-3) */

#define SHM_DIR "/dev/shm/"
#define RING_HEADER_BYTES 4096u /* header page; slot 0's pixels start here */
#define PAGE_BYTES 4096u
#define STRIDE_ALIGN 64u        /* rows start on a cache line: SIMD-friendly for the encoder */
#define DEFAULT_SLOTS 3u
#define DEFAULT_STALE_MS 2000
#define PID_GRACE_MS 750      /* pid gone AND heartbeat this old = dead (pid namespaces lie) */
#define WAIT_SLICE_MS 100     /* a futex wait never sleeps longer: liveness is re-checked */
#define REOPEN_GRACE_MS 1000  /* a superseded ring's successor must appear within this */
#define INIT_GRACE_MS 100     /* a ring whose magic is still 0 is being initialised */

enum { STATE_LIVE = 0, STATE_SUPERSEDED = 1, STATE_CLOSED = 2 };

/* One per slot, one cache line each: readers poll `seq`, the writer rewrites it per frame. */
typedef struct {
  _Atomic uint64_t seq; /* odd while the writer fills the slot, even when complete; 0 = never */
  _Atomic uint64_t frame;
  _Atomic int64_t capture_us;
  _Atomic uint32_t width, height, stride, format;
  uint8_t reserved[24];
} slot_header;

typedef struct {
  /* cold: written once at creation, before `magic` is published */
  _Atomic uint32_t magic;
  uint32_t version;
  uint32_t header_bytes; /* offset of slot 0's pixels */
  uint32_t slot_count;
  uint64_t slot_bytes; /* capacity of each slot, multiple of 4096 */
  uint64_t total_bytes;
  uint32_t writer_pid;
  uint32_t generation; /* 1 for a new name, +1 each time the writer re-creates the object */
  int64_t created_us;
  uint8_t reserved0[16];
  char name[64];
  /* hot: one cache line touched by every commit and every wait */
  _Atomic uint64_t latest_frame; /* 0 = no frame in this object yet */
  _Atomic uint32_t latest_slot;
  _Atomic uint32_t futex;   /* += 1 on every commit and state change; readers FUTEX_WAIT on it */
  _Atomic uint32_t waiters; /* readers inside FUTEX_WAIT: the writer skips the wake syscall at 0 */
  _Atomic uint32_t state;
  _Atomic int64_t heartbeat_ns; /* CLOCK_MONOTONIC of the last commit or heartbeat */
  _Atomic uint32_t width, height, stride, format; /* current size (for listing, not pixels) */
  uint8_t reserved1[80];
  slot_header slots[SMX_RING_MAX_SLOTS];
} ring_header;

_Static_assert(sizeof(slot_header) == 64, "slot header is one cache line");
_Static_assert(offsetof(ring_header, name) == 64, "layout v1");
_Static_assert(offsetof(ring_header, latest_frame) == 128, "hot line starts at 128");
_Static_assert(offsetof(ring_header, heartbeat_ns) == 152, "layout v1");
_Static_assert(offsetof(ring_header, width) == 160, "layout v1");
_Static_assert(offsetof(ring_header, slots) == 256, "slot headers start at 256");
_Static_assert(sizeof(ring_header) == 256 + 64 * SMX_RING_MAX_SLOTS, "layout v1");
_Static_assert(sizeof(ring_header) <= RING_HEADER_BYTES, "header fits its page");
_Static_assert(sizeof(smx_ring_info) == 48, "ABI");
_Static_assert(sizeof(smx_frame_view) == 56, "ABI");

/* ================================================================================ helpers */

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static uint32_t stride_for(uint32_t width) {
  return (uint32_t)align_up((uint64_t)width * 4, STRIDE_ALIGN);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int64_t age_ms(const ring_header *h) {
  int64_t hb = atomic_load_explicit(&((ring_header *)h)->heartbeat_ns, memory_order_relaxed);
  int64_t age = (smx_monotonic_ns() - hb) / 1000000;
  return age < 0 ? 0 : age;
}

static const char *format_name(uint32_t f) {
  return f == SMX_FORMAT_BGRA ? "bgra" : f == SMX_FORMAT_RGBA ? "rgba" : "?";
}

/* Sender names become file names: keep them to a portable, unambiguous alphabet. */
static int check_name(const char *fn, const char *name) {
  if (!name) return smx_fail(SMX_E_INVALID_ARG, "%s: sender name is NULL", fn);
  size_t n = strnlen(name, SMX_RING_NAME_MAX + 1);
  if (n == 0) return smx_fail(SMX_E_INVALID_ARG, "%s: sender name is empty", fn);
  if (n > SMX_RING_NAME_MAX)
    return smx_fail(SMX_E_INVALID_ARG, "%s: sender name is longer than %d bytes", fn,
                    SMX_RING_NAME_MAX);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    if (!ok)
      return smx_fail(SMX_E_INVALID_ARG,
                      "%s: sender name '%.*s' has a character outside [A-Za-z0-9._-] at byte %zu",
                      fn, (int)n, name, i);
  }
  return SMX_OK;
}

static int check_size(const char *fn, uint32_t width, uint32_t height) {
  if (width < 1 || width > SMX_RING_MAX_DIM || height < 1 || height > SMX_RING_MAX_DIM)
    return smx_fail(SMX_E_INVALID_ARG, "%s: frame size %ux%u is out of range (1..%d each)", fn,
                    width, height, SMX_RING_MAX_DIM);
  return SMX_OK;
}

static void ring_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, SHM_DIR SMX_RING_SHM_PREFIX "%s", name);
}

static long futex_op(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts) {
  /* Shared (non-PRIVATE) ops: the word lives in memory mapped by several processes. */
  return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

/* Bumps the futex word and wakes readers; every publish and state change goes through here. */
static void wake_readers(ring_header *h) {
  atomic_fetch_add_explicit(&h->futex, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&h->waiters, memory_order_seq_cst) > 0)
    futex_op(&h->futex, FUTEX_WAKE, INT_MAX, NULL);
}

/* ======================================================================= handle registry */

typedef struct {
  const void *handle;
  int kind;
} registry_entry;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static registry_entry *registry;
static size_t registry_len, registry_cap;

int smx_handle_add(const void *handle, int kind) {
  pthread_mutex_lock(&registry_lock);
  if (registry_len == registry_cap) {
    size_t cap = registry_cap ? registry_cap * 2 : 32;
    registry_entry *grown = realloc(registry, cap * sizeof *grown);
    if (!grown) {
      pthread_mutex_unlock(&registry_lock);
      return smx_fail(SMX_E_NO_MEMORY, "handle registry: out of memory");
    }
    registry = grown;
    registry_cap = cap;
  }
  registry[registry_len++] = (registry_entry){handle, kind};
  pthread_mutex_unlock(&registry_lock);
  return SMX_OK;
}

static ssize_t registry_find(const void *handle, int kind) {
  for (size_t i = 0; i < registry_len; i++)
    if (registry[i].handle == handle && registry[i].kind == kind) return (ssize_t)i;
  return -1;
}

int smx_handle_remove(const void *handle, int kind) {
  pthread_mutex_lock(&registry_lock);
  ssize_t i = registry_find(handle, kind);
  if (i >= 0) registry[i] = registry[--registry_len];
  pthread_mutex_unlock(&registry_lock);
  return i >= 0;
}

int smx_handle_live(const void *handle, int kind) {
  if (!handle) return 0;
  pthread_mutex_lock(&registry_lock);
  ssize_t i = registry_find(handle, kind);
  pthread_mutex_unlock(&registry_lock);
  return i >= 0;
}

static int check_handle(const char *fn, const void *handle, int kind) {
  if (!handle) return smx_fail(SMX_E_INVALID_ARG, "%s: handle is NULL", fn);
  if (!smx_handle_live(handle, kind))
    return smx_fail(SMX_E_CLOSED, "%s: handle is closed (or not a %s)", fn,
                    kind == SMX_HANDLE_WRITER ? "ring writer" : "ring reader");
  return SMX_OK;
}

/* ============================================================================== liveness */

/* A pid that is a zombie still answers kill(pid, 0): read its state from /proc. */
static int pid_running(uint32_t pid) {
  if (pid == 0 || pid > INT_MAX) return 1; /* unknown: rely on the heartbeat */
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%u/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = 0;
  const char *paren = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
  return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* 1 when the writer looks alive; otherwise 0 and the reason in why. Rules: docs §6. */
static int writer_alive(const ring_header *h, int32_t stale_ms, char *why, size_t cap) {
  uint32_t state = atomic_load_explicit(&((ring_header *)h)->state, memory_order_acquire);
  if (state == STATE_CLOSED) {
    snprintf(why, cap, "the writer closed the ring");
    return 0;
  }
  int64_t age = age_ms(h);
  if (age > stale_ms) {
    snprintf(why, cap, "no heartbeat from writer pid %u for %lld ms", h->writer_pid,
             (long long)age);
    return 0;
  }
  if (age > PID_GRACE_MS && !pid_running(h->writer_pid)) {
    snprintf(why, cap, "writer pid %u has exited", h->writer_pid);
    return 0;
  }
  return 1;
}

/* ================================================================ mapping an existing ring */

typedef struct {
  int fd;
  uint8_t *base;
  size_t size;
  dev_t dev;
  ino_t ino;
} mapping;

static void unmap(mapping *m) {
  if (m->base) munmap(m->base, m->size);
  if (m->fd >= 0) close(m->fd);
  m->base = NULL;
  m->fd = -1;
}

/* Opens /dev/shm/smx-ring-<name> read-write (readers increment `waiters`) and validates it. */
static int map_existing(const char *fn, const char *name, mapping *m) {
  char path[128];
  ring_path(path, sizeof path, name);
  *m = (mapping){.fd = -1};
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return smx_fail(SMX_E_NOT_FOUND, "%s: no sender named '%s' (%s does not exist)", fn, name,
                      path);
    return smx_fail(SMX_E_IO, "%s: open %s: %s", fn, path, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)RING_HEADER_BYTES) {
    close(fd);
    return smx_fail(SMX_E_FORMAT, "%s: %s is too small to be a frame ring", fn, path);
  }
  uint8_t *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    int e = errno;
    close(fd);
    return smx_fail(SMX_E_IO, "%s: mmap %s: %s", fn, path, strerror(e));
  }
  *m = (mapping){fd, base, (size_t)st.st_size, st.st_dev, st.st_ino};
  ring_header *h = (ring_header *)base;
  uint32_t magic = 0;
  for (int waited = 0;; waited += 5) { /* an engine that creates in place publishes magic last */
    magic = atomic_load_explicit(&h->magic, memory_order_acquire);
    if (magic != 0 || waited >= INIT_GRACE_MS) break;
    sleep_ms(5);
  }
  const char *bad = NULL;
  char detail[160] = "";
  if (magic != SMX_RING_MAGIC) {
    bad = "bad magic";
  } else if (h->version != SMX_RING_VERSION) {
    snprintf(detail, sizeof detail, "version %u (this reader reads %d)", h->version,
             SMX_RING_VERSION);
    bad = detail;
  } else if (h->header_bytes < sizeof(ring_header) || h->header_bytes % 64 ||
             h->slot_count < SMX_RING_MIN_SLOTS || h->slot_count > SMX_RING_MAX_SLOTS ||
             h->slot_bytes == 0 ||
             h->slot_bytes > (uint64_t)SMX_RING_MAX_DIM * SMX_RING_MAX_DIM * 4 ||
             h->total_bytes != h->header_bytes + h->slot_count * h->slot_bytes ||
             h->total_bytes > (uint64_t)st.st_size) {
    bad = "inconsistent header (slot count, slot size or object size)";
  } else if (strncmp(h->name, name, sizeof h->name) != 0) {
    bad = "the name inside does not match the file name";
  }
  if (bad) {
    unmap(m);
    return smx_fail(SMX_E_FORMAT, "%s: %s is not a frame ring we can read: %s", fn, path, bad);
  }
  return SMX_OK;
}

/* ================================================================================ writer */

struct smx_ring_writer {
  char name[SMX_RING_NAME_MAX + 1];
  mapping map;
  ring_header *hdr;
  uint32_t width, height, stride, format, slots;
  uint32_t generation;
  uint64_t frame;     /* last frame number committed (per writer, survives re-creation) */
  uint32_t last_slot; /* slot of the last commit */
  int begun;          /* a slot is marked odd and handed out */
  uint32_t begun_slot;
};

static _Atomic uint32_t temp_counter;

/* Creates and fully initialises a ring under a hidden temporary name; the caller links or
 * renames it into place, so no reader ever sees a half-built header. */
static int create_object(const char *fn, smx_ring_writer *w, uint32_t generation, mapping *m,
                         char *tmp, size_t tmp_cap) {
  uint64_t slot_bytes = align_up((uint64_t)w->stride * w->height, PAGE_BYTES);
  uint64_t total = RING_HEADER_BYTES + slot_bytes * w->slots;
  snprintf(tmp, tmp_cap, SHM_DIR ".smx-ring-%s.%d.%u.tmp", w->name, (int)getpid(),
           atomic_fetch_add(&temp_counter, 1));
  *m = (mapping){.fd = -1};
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return smx_fail(SMX_E_IO, "%s: create %s: %s", fn, tmp, strerror(errno));
  /* posix_fallocate reserves the pages now: a full /dev/shm fails here, not with SIGBUS later */
  int err = posix_fallocate(fd, 0, (off_t)total);
  if (err) {
    close(fd);
    unlink(tmp);
    return smx_fail(err == ENOSPC ? SMX_E_NO_MEMORY : SMX_E_IO,
                    "%s: reserving %llu bytes in /dev/shm: %s", fn, (unsigned long long)total,
                    strerror(err));
  }
  uint8_t *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    err = errno;
    close(fd);
    unlink(tmp);
    return smx_fail(SMX_E_IO, "%s: mmap %llu bytes: %s", fn, (unsigned long long)total,
                    strerror(err));
  }
  struct stat st;
  fstat(fd, &st);
  *m = (mapping){fd, base, total, st.st_dev, st.st_ino};
  ring_header *h = (ring_header *)base;
  h->version = SMX_RING_VERSION;
  h->header_bytes = RING_HEADER_BYTES;
  h->slot_count = w->slots;
  h->slot_bytes = slot_bytes;
  h->total_bytes = total;
  h->writer_pid = (uint32_t)getpid();
  h->generation = generation;
  h->created_us = smx_now_us();
  snprintf(h->name, sizeof h->name, "%s", w->name);
  atomic_store_explicit(&h->latest_slot, w->slots - 1, memory_order_relaxed); /* next: slot 0 */
  atomic_store_explicit(&h->heartbeat_ns, smx_monotonic_ns(), memory_order_relaxed);
  atomic_store_explicit(&h->width, w->width, memory_order_relaxed);
  atomic_store_explicit(&h->height, w->height, memory_order_relaxed);
  atomic_store_explicit(&h->stride, w->stride, memory_order_relaxed);
  atomic_store_explicit(&h->format, w->format, memory_order_relaxed);
  atomic_store_explicit(&h->magic, SMX_RING_MAGIC, memory_order_release);
  return SMX_OK;
}

/* Refuses a name whose ring has a live writer; removes a dead writer's leftover. */
static int claim_name(const char *fn, const char *name, const char *path) {
  mapping old;
  int st = map_existing(fn, name, &old);
  if (st == SMX_E_NOT_FOUND) return SMX_OK;
  if (st == SMX_E_IO) return st; /* e.g. another user's ring: not ours to remove */
  if (st == SMX_OK) {
    ring_header *h = (ring_header *)old.base;
    char why[128];
    int alive = atomic_load(&h->state) == STATE_LIVE &&
                writer_alive(h, DEFAULT_STALE_MS, why, sizeof why);
    uint32_t pid = h->writer_pid;
    unmap(&old);
    if (alive)
      return smx_fail(SMX_E_INVALID_ARG, "%s: sender name '%s' is already in use by pid %u", fn,
                      name, pid);
  }
  unlink(path); /* dead writer's ring, or a foreign file squatting in our namespace */
  smx_clear_error();
  return SMX_OK;
}

smx_ring_writer *smx_ring_writer_open(const char *name, uint32_t width, uint32_t height,
                                      uint32_t format, uint32_t slots) {
  static const char fn[] = "smx_ring_writer_open";
  if (check_name(fn, name) < 0 || check_size(fn, width, height) < 0) return NULL;
  if (format != SMX_FORMAT_BGRA && format != SMX_FORMAT_RGBA) {
    smx_fail(SMX_E_INVALID_ARG, "%s: pixel format %u is unknown (1 = BGRA, 2 = RGBA)", fn, format);
    return NULL;
  }
  if (slots == 0) slots = DEFAULT_SLOTS;
  if (slots < SMX_RING_MIN_SLOTS || slots > SMX_RING_MAX_SLOTS) {
    smx_fail(SMX_E_INVALID_ARG, "%s: slot count %u is out of range (%d..%d)", fn, slots,
             SMX_RING_MIN_SLOTS, SMX_RING_MAX_SLOTS);
    return NULL;
  }
  smx_ring_writer *w = calloc(1, sizeof *w);
  if (!w) {
    smx_fail(SMX_E_NO_MEMORY, "%s: out of memory", fn);
    return NULL;
  }
  snprintf(w->name, sizeof w->name, "%s", name);
  w->width = width;
  w->height = height;
  w->stride = stride_for(width);
  w->format = format;
  w->slots = slots;
  w->generation = 1;
  w->last_slot = slots - 1;
  char path[128], tmp[160];
  ring_path(path, sizeof path, name);
  if (claim_name(fn, name, path) < 0 || create_object(fn, w, 1, &w->map, tmp, sizeof tmp) < 0) {
    free(w);
    return NULL;
  }
  w->hdr = (ring_header *)w->map.base;
  /* link() fails if another writer took the name meanwhile: exclusive, unlike rename(). */
  int linked = link(tmp, path);
  int link_errno = errno;
  unlink(tmp);
  if (linked != 0) {
    unmap(&w->map);
    free(w);
    if (link_errno == EEXIST)
      smx_fail(SMX_E_INVALID_ARG, "%s: sender name '%s' was just taken by another writer", fn,
               name);
    else
      smx_fail(SMX_E_IO, "%s: publishing %s: %s", fn, path, strerror(link_errno));
    return NULL;
  }
  if (smx_handle_add(w, SMX_HANDLE_WRITER) < 0) {
    unlink(path);
    unmap(&w->map);
    free(w);
    return NULL;
  }
  smx_clear_error();
  return w;
}

uint8_t *smx_ring_writer_begin(smx_ring_writer *w) {
  if (check_handle("smx_ring_writer_begin", w, SMX_HANDLE_WRITER) < 0) return NULL;
  ring_header *h = w->hdr;
  if (!w->begun) {
    uint32_t slot = (w->last_slot + 1) % w->slots;
    slot_header *s = &h->slots[slot];
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    if (!(seq & 1)) { /* odd already = a begin that was never committed: keep it odd */
      atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
      /* orders the odd seq before every pixel store that follows (seqlock writer side) */
      atomic_thread_fence(memory_order_release);
    }
    w->begun = 1;
    w->begun_slot = slot;
  }
  return w->map.base + h->header_bytes + (uint64_t)w->begun_slot * h->slot_bytes;
}

uint32_t smx_ring_writer_stride(smx_ring_writer *w) {
  if (check_handle("smx_ring_writer_stride", w, SMX_HANDLE_WRITER) < 0) return 0;
  return w->stride;
}

uint64_t smx_ring_writer_next_frame(smx_ring_writer *w) { return w ? w->frame + 1 : 0; }

int64_t smx_ring_writer_commit(smx_ring_writer *w, int64_t capture_us) {
  static const char fn[] = "smx_ring_writer_commit";
  int st = check_handle(fn, w, SMX_HANDLE_WRITER);
  if (st < 0) return st;
  if (!w->begun) return smx_fail(SMX_E_INVALID_ARG, "%s: no slot was begun (call begin first)", fn);
  if (capture_us <= 0) capture_us = smx_now_us();
  ring_header *h = w->hdr;
  slot_header *s = &h->slots[w->begun_slot];
  uint64_t frame = ++w->frame;
  atomic_store_explicit(&s->frame, frame, memory_order_relaxed);
  atomic_store_explicit(&s->capture_us, capture_us, memory_order_relaxed);
  atomic_store_explicit(&s->width, w->width, memory_order_relaxed);
  atomic_store_explicit(&s->height, w->height, memory_order_relaxed);
  atomic_store_explicit(&s->stride, w->stride, memory_order_relaxed);
  atomic_store_explicit(&s->format, w->format, memory_order_relaxed);
  uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
  atomic_store_explicit(&s->seq, seq + 1, memory_order_release); /* even: complete */
  atomic_store_explicit(&h->latest_slot, w->begun_slot, memory_order_release);
  atomic_store_explicit(&h->latest_frame, frame, memory_order_release);
  atomic_store_explicit(&h->heartbeat_ns, smx_monotonic_ns(), memory_order_relaxed);
  w->last_slot = w->begun_slot;
  w->begun = 0;
  wake_readers(h);
  return (int64_t)frame;
}

/* Re-creates the object for a size beyond the slot capacity; readers follow by name. */
static int grow(smx_ring_writer *w) {
  static const char fn[] = "smx_ring_writer_resize";
  char path[128], tmp[160];
  ring_path(path, sizeof path, w->name);
  mapping fresh;
  int st = create_object(fn, w, w->generation + 1, &fresh, tmp, sizeof tmp);
  if (st < 0) return st;
  if (rename(tmp, path) != 0) { /* atomic replace: the name never disappears */
    int e = errno;
    unlink(tmp);
    unmap(&fresh);
    return smx_fail(SMX_E_IO, "%s: replacing %s: %s", fn, path, strerror(e));
  }
  ring_header *old = w->hdr;
  atomic_store_explicit(&old->state, STATE_SUPERSEDED, memory_order_release);
  wake_readers(old);
  unmap(&w->map);
  w->map = fresh;
  w->hdr = (ring_header *)fresh.base;
  w->generation++;
  w->last_slot = w->slots - 1;
  w->begun = 0;
  return SMX_OK;
}

int smx_ring_writer_resize(smx_ring_writer *w, uint32_t width, uint32_t height) {
  static const char fn[] = "smx_ring_writer_resize";
  int st = check_handle(fn, w, SMX_HANDLE_WRITER);
  if (st < 0) return st;
  if ((st = check_size(fn, width, height)) < 0) return st;
  uint32_t old_w = w->width, old_h = w->height, old_stride = w->stride;
  w->width = width;
  w->height = height;
  w->stride = stride_for(width);
  if ((uint64_t)w->stride * height > w->hdr->slot_bytes && (st = grow(w)) < 0) {
    w->width = old_w;
    w->height = old_h;
    w->stride = old_stride;
    return st;
  }
  /* Within capacity the next commit publishes the new per-slot size; this is for listings. */
  ring_header *h = w->hdr;
  atomic_store_explicit(&h->width, w->width, memory_order_relaxed);
  atomic_store_explicit(&h->height, w->height, memory_order_relaxed);
  atomic_store_explicit(&h->stride, w->stride, memory_order_relaxed);
  return SMX_OK;
}

int smx_ring_writer_heartbeat(smx_ring_writer *w) {
  int st = check_handle("smx_ring_writer_heartbeat", w, SMX_HANDLE_WRITER);
  if (st < 0) return st;
  atomic_store_explicit(&w->hdr->heartbeat_ns, smx_monotonic_ns(), memory_order_relaxed);
  return SMX_OK;
}

void smx_ring_writer_close(smx_ring_writer *w) {
  if (!w || !smx_handle_remove(w, SMX_HANDLE_WRITER)) {
    smx_fail(w ? SMX_E_CLOSED : SMX_E_INVALID_ARG, "smx_ring_writer_close: handle is %s",
             w ? "already closed" : "NULL");
    return;
  }
  atomic_store_explicit(&w->hdr->state, STATE_CLOSED, memory_order_release);
  wake_readers(w->hdr);
  /* Unlink only our own object: never a successor that took over the name. */
  char path[128];
  ring_path(path, sizeof path, w->name);
  struct stat st;
  if (stat(path, &st) == 0 && st.st_dev == w->map.dev && st.st_ino == w->map.ino) unlink(path);
  unmap(&w->map);
  free(w);
}

/* ================================================================================ reader */

struct smx_ring_reader {
  char name[SMX_RING_NAME_MAX + 1];
  pthread_mutex_t lock; /* guards swapping the mapping when the writer re-creates the ring */
  mapping map;
  mapping retired; /* previous mapping, kept so a view taken just before a swap stays readable */
  char err[512];   /* copy of the last failure of a (nonblocking) call: see ring.h */
};

/* Records a failure both thread-locally and on the handle (the caller may be a worker thread). */
static int reader_fail(smx_ring_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reader_fail(smx_ring_reader *r, int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  smx_fail(code, "%s", msg);
  if (r) memcpy(r->err, msg, sizeof msg);
  return code;
}

smx_ring_reader *smx_ring_reader_open(const char *name) {
  static const char fn[] = "smx_ring_reader_open";
  if (check_name(fn, name) < 0) return NULL;
  smx_ring_reader *r = calloc(1, sizeof *r);
  if (!r) {
    smx_fail(SMX_E_NO_MEMORY, "%s: out of memory", fn);
    return NULL;
  }
  r->retired.fd = -1;
  snprintf(r->name, sizeof r->name, "%s", name);
  if (map_existing(fn, name, &r->map) < 0) {
    free(r);
    return NULL;
  }
  ring_header *h = (ring_header *)r->map.base;
  char why[128];
  if (!writer_alive(h, DEFAULT_STALE_MS, why, sizeof why)) {
    int closed = atomic_load(&h->state) == STATE_CLOSED;
    unmap(&r->map);
    free(r);
    if (closed) smx_fail(SMX_E_NOT_FOUND, "%s: sender '%s' has closed its ring", fn, name);
    else smx_fail(SMX_E_WRITER_GONE, "%s: sender '%s' is not running: %s", fn, name, why);
    return NULL;
  }
  pthread_mutex_init(&r->lock, NULL);
  if (smx_handle_add(r, SMX_HANDLE_READER) < 0) {
    unmap(&r->map);
    free(r);
    return NULL;
  }
  smx_clear_error();
  return r;
}

/* Returns the current header, first following the writer to a re-created object if the one we
 * map was superseded. The previous mapping is retired, not unmapped (see struct comment). */
static int current_header(smx_ring_reader *r, const char *fn, ring_header **out) {
  pthread_mutex_lock(&r->lock);
  ring_header *h = (ring_header *)r->map.base;
  int st = SMX_OK;
  if (atomic_load_explicit(&h->state, memory_order_acquire) == STATE_SUPERSEDED) {
    mapping fresh = {.fd = -1};
    for (int waited = 0;; waited += 10) {
      st = map_existing(fn, r->name, &fresh);
      if (st == SMX_OK && fresh.ino != r->map.ino) break;
      if (st == SMX_OK) unmap(&fresh); /* an engine that unlinks + creates is not done yet */
      if (waited >= REOPEN_GRACE_MS) {
        st = reader_fail(r, SMX_E_WRITER_GONE,
                         "%s: sender '%s' re-created its ring but the new one did not appear",
                         fn, r->name);
        break;
      }
      sleep_ms(10);
    }
    if (st == SMX_OK) {
      unmap(&r->retired);
      r->retired = r->map;
      r->map = fresh;
      h = (ring_header *)fresh.base;
    }
  }
  pthread_mutex_unlock(&r->lock);
  *out = h;
  return st;
}

/* Where the newest frame is: right after the writer re-created the ring, the new object has no
 * frame yet while the last one of the old object (retired mapping, no longer written) is intact.
 * Without this, a reader told "ready" by wait() just before the swap would find nothing. */
static ring_header *newest_frame_header(smx_ring_reader *r, ring_header *current) {
  if (atomic_load_explicit(&current->latest_frame, memory_order_acquire) != 0) return current;
  pthread_mutex_lock(&r->lock);
  ring_header *old = (ring_header *)r->retired.base;
  pthread_mutex_unlock(&r->lock);
  if (old && atomic_load_explicit(&old->latest_frame, memory_order_acquire) != 0) return old;
  return current;
}

int smx_ring_reader_wait(smx_ring_reader *r, uint64_t after_frame, int32_t timeout_ms) {
  static const char fn[] = "smx_ring_reader_wait";
  int st = check_handle(fn, r, SMX_HANDLE_READER);
  if (st < 0) return st;
  if (timeout_ms < 0)
    return reader_fail(r, SMX_E_INVALID_ARG, "%s: timeout %d ms is negative", fn, timeout_ms);
  int64_t deadline = smx_monotonic_ns() + (int64_t)timeout_ms * 1000000;
  for (;;) {
    ring_header *h;
    if ((st = current_header(r, fn, &h)) < 0) return st;
    /* Read the futex word BEFORE the condition: a commit in between changes it, so FUTEX_WAIT
     * returns at once instead of sleeping through the frame (no lost wake-ups). */
    uint32_t word = atomic_load_explicit(&h->futex, memory_order_acquire);
    uint32_t state = atomic_load_explicit(&h->state, memory_order_acquire);
    if (state == STATE_SUPERSEDED) continue;
    ring_header *newest = newest_frame_header(r, h);
    if (atomic_load_explicit(&newest->latest_frame, memory_order_acquire) > after_frame)
      return SMX_OK;
    char why[128];
    if (!writer_alive(h, DEFAULT_STALE_MS, why, sizeof why))
      return reader_fail(r, SMX_E_WRITER_GONE, "%s: sender '%s' is gone: %s", fn, r->name, why);
    int64_t left = deadline - smx_monotonic_ns();
    if (left <= 0)
      return reader_fail(r, SMX_E_TIMEOUT, "%s: no frame after %llu from '%s' within %d ms", fn,
                         (unsigned long long)after_frame, r->name, timeout_ms);
    if (left > (int64_t)WAIT_SLICE_MS * 1000000) left = (int64_t)WAIT_SLICE_MS * 1000000;
    struct timespec ts = {left / 1000000000, left % 1000000000};
    atomic_fetch_add_explicit(&h->waiters, 1, memory_order_seq_cst);
    futex_op(&h->futex, FUTEX_WAIT, word, &ts); /* EAGAIN, ETIMEDOUT, EINTR: just re-check */
    atomic_fetch_sub_explicit(&h->waiters, 1, memory_order_seq_cst);
  }
}

/* Reads one slot's metadata under its seqlock; 1 = consistent view with a frame in it. */
static int read_slot(ring_header *h, uint32_t slot, smx_frame_view *v) {
  slot_header *s = &h->slots[slot];
  uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
  if (s1 == 0 || (s1 & 1)) return 0;
  v->frame = atomic_load_explicit(&s->frame, memory_order_relaxed);
  v->capture_us = atomic_load_explicit(&s->capture_us, memory_order_relaxed);
  v->width = atomic_load_explicit(&s->width, memory_order_relaxed);
  v->height = atomic_load_explicit(&s->height, memory_order_relaxed);
  v->stride = atomic_load_explicit(&s->stride, memory_order_relaxed);
  v->format = atomic_load_explicit(&s->format, memory_order_relaxed);
  atomic_thread_fence(memory_order_acquire);
  if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1) return 0;
  v->slot = slot;
  v->seq = s1;
  return 1;
}

/* Metadata a buggy engine could get wrong must never send us outside the slot. */
static int slot_sane(const ring_header *h, const smx_frame_view *v) {
  return v->frame != 0 && v->width >= 1 && v->width <= SMX_RING_MAX_DIM && v->height >= 1 &&
         v->height <= SMX_RING_MAX_DIM && v->stride >= v->width * 4 &&
         (uint64_t)v->stride * v->height <= h->slot_bytes &&
         (v->format == SMX_FORMAT_BGRA || v->format == SMX_FORMAT_RGBA);
}

int smx_ring_reader_acquire(smx_ring_reader *r, smx_frame_view *view) {
  static const char fn[] = "smx_ring_reader_acquire";
  int st = check_handle(fn, r, SMX_HANDLE_READER);
  if (st < 0) return st;
  if (!view) return reader_fail(r, SMX_E_INVALID_ARG, "%s: view is NULL", fn);
  for (int attempt = 0; attempt < 64; attempt++) {
    ring_header *h;
    if ((st = current_header(r, fn, &h)) < 0) return st;
    h = newest_frame_header(r, h);
    if (atomic_load_explicit(&h->latest_frame, memory_order_acquire) == 0)
      return reader_fail(r, SMX_E_AGAIN, "%s: sender '%s' has not published a frame yet", fn,
                         r->name);
    uint32_t slot = atomic_load_explicit(&h->latest_slot, memory_order_acquire);
    if (slot >= h->slot_count)
      return reader_fail(r, SMX_E_FORMAT, "%s: latest slot %u is out of range", fn, slot);
    if (!read_slot(h, slot, view)) { /* the writer lapped us onto this slot: take the newer one */
      sched_yield();
      continue;
    }
    if (!slot_sane(h, view))
      return reader_fail(r, SMX_E_FORMAT,
                         "%s: slot %u of '%s' holds an invalid frame header (%ux%u stride %u "
                         "format %u)",
                         fn, slot, r->name, view->width, view->height, view->stride, view->format);
    view->pixels = (const uint8_t *)h + h->header_bytes + (uint64_t)slot * h->slot_bytes;
    return SMX_OK;
  }
  return reader_fail(r, SMX_E_TORN, "%s: the writer kept overwriting the latest slot", fn);
}

/* The header a view's pixels belong to: current or retired mapping (a swap may have happened). */
static ring_header *header_of(smx_ring_reader *r, const uint8_t *pixels) {
  const mapping *maps[2] = {&r->map, &r->retired};
  for (int i = 0; i < 2; i++) {
    const mapping *m = maps[i];
    if (m->base && pixels >= m->base && pixels < m->base + m->size) return (ring_header *)m->base;
  }
  return NULL;
}

int smx_ring_reader_still_valid(smx_ring_reader *r, const smx_frame_view *view) {
  if (!view || !smx_handle_live(r, SMX_HANDLE_READER)) return 0;
  pthread_mutex_lock(&r->lock);
  ring_header *h = header_of(r, view->pixels);
  int valid = 0;
  if (h && view->slot < h->slot_count) {
    /* seqlock reader side: the pixel loads above must complete before the re-read of seq */
    atomic_thread_fence(memory_order_acquire);
    valid = atomic_load_explicit(&h->slots[view->slot].seq, memory_order_relaxed) == view->seq;
  }
  pthread_mutex_unlock(&r->lock);
  return valid;
}

/* Writer fields (pid, slots, heartbeat) come from `h`, the writer's current object. */
static void fill_info(const ring_header *h, const smx_frame_view *v, smx_ring_info *out) {
  out->frame = v->frame;
  out->capture_us = v->capture_us;
  out->width = v->width;
  out->height = v->height;
  out->stride = v->stride;
  out->format = v->format;
  out->writer_pid = h->writer_pid;
  out->slot_count = h->slot_count;
  out->heartbeat_age_ms = age_ms(h);
}

int smx_ring_reader_info(smx_ring_reader *r, smx_ring_info *out) {
  static const char fn[] = "smx_ring_reader_info";
  int st = check_handle(fn, r, SMX_HANDLE_READER);
  if (st < 0) return st;
  if (!out) return smx_fail(SMX_E_INVALID_ARG, "%s: out is NULL", fn);
  ring_header *current, *h;
  if ((st = current_header(r, fn, &current)) < 0) return st;
  h = newest_frame_header(r, current);
  smx_frame_view v = {0};
  int have = 0;
  for (int attempt = 0; attempt < 64 && !have; attempt++) {
    if (atomic_load_explicit(&h->latest_frame, memory_order_acquire) == 0) break;
    uint32_t slot = atomic_load_explicit(&h->latest_slot, memory_order_acquire);
    have = slot < h->slot_count && read_slot(h, slot, &v);
  }
  if (!have) { /* no frame yet: report the size the writer announced */
    v = (smx_frame_view){0};
    v.width = atomic_load_explicit(&current->width, memory_order_relaxed);
    v.height = atomic_load_explicit(&current->height, memory_order_relaxed);
    v.stride = atomic_load_explicit(&current->stride, memory_order_relaxed);
    v.format = atomic_load_explicit(&current->format, memory_order_relaxed);
  }
  fill_info(current, &v, out);
  return SMX_OK;
}

int64_t smx_ring_reader_copy_latest(smx_ring_reader *r, uint8_t *dst, uint64_t dst_cap,
                                    smx_ring_info *out) {
  static const char fn[] = "smx_ring_reader_copy_latest";
  int st = check_handle(fn, r, SMX_HANDLE_READER);
  if (st < 0) return st;
  if (!dst || !out) return reader_fail(r, SMX_E_INVALID_ARG, "%s: dst or out is NULL", fn);
  for (int attempt = 0; attempt < 16; attempt++) {
    smx_frame_view v;
    if ((st = smx_ring_reader_acquire(r, &v)) < 0) return st;
    uint64_t row = (uint64_t)v.width * 4, need = row * v.height;
    ring_header *h = (ring_header *)r->map.base; /* the writer's current object */
    if (dst_cap < need) {
      fill_info(h, &v, out);
      return reader_fail(r, SMX_E_RESIZED,
                         "%s: buffer of %llu bytes is too small for a %ux%u frame", fn,
                         (unsigned long long)dst_cap, v.width, v.height);
    }
    if (v.stride == row) {
      memcpy(dst, v.pixels, need);
    } else {
      for (uint32_t y = 0; y < v.height; y++)
        memcpy(dst + y * row, v.pixels + (uint64_t)y * v.stride, row);
    }
    if (smx_ring_reader_still_valid(r, &v)) {
      fill_info(h, &v, out);
      out->stride = (uint32_t)row; /* describes the tightly packed copy */
      return (int64_t)need;
    }
    sched_yield(); /* torn: the writer wrapped onto our slot mid-copy; the next one is newer */
  }
  return reader_fail(r, SMX_E_TORN, "%s: every copy of '%s' was overwritten while reading", fn,
                     r->name);
}

const char *smx_ring_reader_error(smx_ring_reader *r) {
  if (!smx_handle_live(r, SMX_HANDLE_READER)) return "reader handle is closed";
  return r->err;
}

void smx_ring_reader_close(smx_ring_reader *r) {
  if (!r || !smx_handle_remove(r, SMX_HANDLE_READER)) {
    smx_fail(r ? SMX_E_CLOSED : SMX_E_INVALID_ARG, "smx_ring_reader_close: handle is %s",
             r ? "already closed" : "NULL");
    return;
  }
  unmap(&r->map);
  unmap(&r->retired);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

/* =============================================================================== listing */

int smx_ring_list(char *buf, uint64_t cap, int32_t stale_ms) {
  static const char fn[] = "smx_ring_list";
  if (!buf || cap == 0) return smx_fail(SMX_E_INVALID_ARG, "%s: buffer is NULL or empty", fn);
  if (stale_ms <= 0) stale_ms = DEFAULT_STALE_MS;
  DIR *dir = opendir(SHM_DIR);
  if (!dir) return smx_fail(SMX_E_IO, "%s: opendir " SHM_DIR ": %s", fn, strerror(errno));
  const size_t prefix = strlen(SMX_RING_SHM_PREFIX);
  uint64_t used = 0;
  int count = 0;
  buf[0] = 0;
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (strncmp(e->d_name, SMX_RING_SHM_PREFIX, prefix) != 0) continue;
    const char *name = e->d_name + prefix;
    if (check_name(fn, name) < 0) continue;
    mapping m;
    if (map_existing(fn, name, &m) < 0) continue; /* foreign or other-version object */
    ring_header *h = (ring_header *)m.base;
    char why[128];
    int live = atomic_load(&h->state) == STATE_LIVE && writer_alive(h, stale_ms, why, sizeof why);
    char line[160];
    int len = snprintf(line, sizeof line, "%s\t%u\t%u\t%s\t%u\n", name, atomic_load(&h->width),
                       atomic_load(&h->height), format_name(atomic_load(&h->format)),
                       h->writer_pid);
    unmap(&m);
    if (!live) continue;
    if (used + (uint64_t)len + 1 > cap) {
      closedir(dir);
      return smx_fail(SMX_E_NO_MEMORY, "%s: %llu bytes are not enough for the sender list", fn,
                      (unsigned long long)cap);
    }
    memcpy(buf + used, line, (size_t)len + 1);
    used += (uint64_t)len;
    count++;
  }
  closedir(dir);
  smx_clear_error();
  return count;
}
