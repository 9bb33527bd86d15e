/* Spout receiver (API, Spout's layout and the rules: spout.h; notes: README.md here).
 * Sections: names and text, shared memory, listing, handle registry, frame detection, D3D11,
 * exported API. */
#define WIN32_LEAN_AND_MEAN
#include "spout.h"

#include "ring.h" /* SMX_FORMAT_BGRA, SMX_RING_MAX_DIM */

#include <windows.h>
#include <d3d10.h> /* ID3D10Multithread: D3D11 devices answer it too */
#include <dxgi.h>
#include <mmsystem.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NAME_W 300       /* wide chars for an object name: a 255-byte name + a suffix */
#define INFO_REFRESH_MS 10 /* at most this often the info map is re-read while waiting */
#define COUNT_POLL_MS 2  /* the frame-count semaphore is checked this often while waiting */
#define SEM_RETRY_MS 1000 /* a missing semaphore or access mutex is looked for again after this */

/* ===================================================================== names and text */

/* UTF-8 → UTF-16 (NUL-terminated); false when it does not fit or is not UTF-8. */
static int utf8_to_wide(const char *s, wchar_t *out, int cap) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, cap);
  return n > 0;
}

/* bytes in `cp` (CP_ACP or CP_UTF8; or UTF-16 when wide) → UTF-8, NUL-terminated, with tabs and
 * line breaks made spaces so a line-per-sender listing stays parseable. */
static void to_utf8_line(const wchar_t *w, char *out, int cap) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, out, cap, NULL, NULL);
  if (n <= 0) out[0] = 0;
  for (char *p = out; *p; p++)
    if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
}

static void acp_to_utf8(const char *s, size_t len, char *out, int cap) {
  wchar_t w[NAME_W];
  int n = MultiByteToWideChar(CP_ACP, 0, s, (int)len, w, NAME_W - 1);
  w[n > 0 ? n : 0] = 0;
  to_utf8_line(w, out, cap);
}

/* The description field: Spout 2.007 writes the sender's executable path as ANSI bytes; older
 * senders wrote UTF-16 text. A second byte of 0 after a non-zero first one means UTF-16. */
static void description_utf8(const uint8_t d[256], char *out, int cap) {
  if (d[0] && !d[1]) {
    wchar_t w[129];
    memcpy(w, d, 256);
    w[128] = 0;
    to_utf8_line(w, out, cap);
  } else {
    acp_to_utf8((const char *)d, strnlen((const char *)d, 256), out, cap);
  }
}

/* "<name><suffix>" as a wide object name. */
static int object_name(const wchar_t *name, const wchar_t *suffix, wchar_t *out) {
  int n = _snwprintf(out, NAME_W, L"%ls%ls", name, suffix);
  return n > 0 && n < NAME_W;
}

/* ===================================================================== shared memory */

/* Spout's MaxSenders (HKCU\Software\Leading Edge\Spout), clamped; 64 when absent. */
static uint32_t max_senders(void) {
  DWORD v = 0, size = sizeof v;
  if (RegGetValueA(HKEY_CURRENT_USER, "Software\\Leading Edge\\Spout", "MaxSenders",
                   RRF_RT_REG_DWORD, NULL, &v, &size) != ERROR_SUCCESS ||
      v == 0)
    return SMX_SPOUT_DEFAULT_MAX_SENDERS;
  return v > SMX_SPOUT_MAX_SENDERS ? SMX_SPOUT_MAX_SENDERS : (uint32_t)v;
}

/* Copies up to `cap` bytes of the named map into `out` under its "<map>_mutex" (taken for at
 * most SMX_SPOUT_LOCK_MS; a map without a mutex is read as it is). *len_out is what was copied
 * (the map's size may be smaller than cap). SMX_E_NOT_FOUND when the map does not exist,
 * SMX_E_TIMEOUT when its mutex stayed taken, SMX_E_IO otherwise. The map is opened and closed
 * on every read, as Spout does: a handle kept open would keep a dead sender's map alive. */
static int read_map(const wchar_t *name, void *out, size_t cap, size_t *len_out) {
  *len_out = 0;
  HANDLE map = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
  if (!map) {
    DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND) return SMX_E_NOT_FOUND;
    /* e.g. an engine running elevated: its objects refuse a process that is not */
    return smx_fail(SMX_E_IO, "OpenFileMapping('%ls'): error %lu%s", name, e,
                    e == ERROR_ACCESS_DENIED
                        ? " (access denied: run smx as the same user, at the same elevation, as "
                          "the sender)"
                        : "");
  }
  const uint8_t *view = MapViewOfFile(map, FILE_MAP_READ, 0, 0, 0);
  if (!view) {
    DWORD e = GetLastError();
    CloseHandle(map);
    return smx_fail(SMX_E_IO, "MapViewOfFile('%ls'): error %lu", name, e);
  }
  MEMORY_BASIC_INFORMATION mbi;
  size_t size = VirtualQuery(view, &mbi, sizeof mbi) ? mbi.RegionSize : 0;
  size_t n = size < cap ? size : cap;
  wchar_t mutex_name[NAME_W];
  HANDLE mutex = object_name(name, L"_mutex", mutex_name)
                     ? OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, mutex_name)
                     : NULL;
  int st = SMX_OK;
  DWORD w = mutex ? WaitForSingleObject(mutex, SMX_SPOUT_LOCK_MS) : WAIT_OBJECT_0;
  if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED) { /* abandoned: its owner died; ours now */
    memcpy(out, view, n);
    *len_out = n;
    if (mutex) ReleaseMutex(mutex);
  } else {
    st = SMX_E_TIMEOUT;
  }
  if (mutex) CloseHandle(mutex);
  UnmapViewOfFile(view);
  CloseHandle(map);
  return st;
}

/* Reads a sender's 280-byte info map. */
static int read_info(const wchar_t *name, smx_spout_shared_info *info) {
  size_t n;
  memset(info, 0, sizeof *info);
  int st = read_map(name, info, sizeof *info, &n);
  if (st == SMX_OK && n < sizeof *info)
    return smx_fail(SMX_E_FORMAT, "the info map is %zu bytes, not %zu", n, sizeof *info);
  return st;
}

static int object_exists_mutex(const wchar_t *name, const wchar_t *suffix) {
  wchar_t n[NAME_W];
  if (!object_name(name, suffix, n)) return 0;
  HANDLE h = OpenMutexW(SYNCHRONIZE, FALSE, n);
  if (h) CloseHandle(h);
  return h != NULL;
}

/* The sender's frame count through its semaphore: wait 0 (count - 1) and release 1, getting the
 * count before the release back, which is the number of frames the sender counted (its initial
 * count is 1 and it adds one per frame). 0: the sender has not counted a frame yet, or another
 * reader holds the unit this instant. */
static int64_t read_count(HANDLE sem) {
  if (WaitForSingleObject(sem, 0) != WAIT_OBJECT_0) return 0;
  LONG prev = 0;
  if (!ReleaseSemaphore(sem, 1, &prev)) return 0;
  return prev;
}

/* ===================================================================== listing */

typedef struct {
  char *buf;
  uint64_t cap, len;
  int overflow;
} text_out;

static void put(text_out *t, const char *fmt, ...) SMX_PRINTF(2, 3);
static void put(text_out *t, const char *fmt, ...) {
  if (t->overflow) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (uint64_t)n >= t->cap - t->len) {
    t->overflow = 1;
    t->buf[t->len] = 0;
  } else {
    t->len += (uint64_t)n;
  }
}

/* The names in SpoutSenderNames (raw ANSI slots), in `names` (count returned, or a status). */
static int read_names(char (**names)[SMX_SPOUT_NAME_BYTES]) {
  uint32_t slots = max_senders();
  size_t cap = (size_t)slots * SMX_SPOUT_NAME_BYTES, n;
  char(*buf)[SMX_SPOUT_NAME_BYTES] = calloc(slots, SMX_SPOUT_NAME_BYTES);
  if (!buf) return smx_fail(SMX_E_NO_MEMORY, "smx_spout_list: out of memory");
  int st = read_map(L"SpoutSenderNames", buf, cap, &n);
  if (st == SMX_E_NOT_FOUND) { /* no Spout program has run since the last one closed */
    *names = buf;
    return 0;
  }
  if (st == SMX_E_TIMEOUT)
    st = smx_fail(SMX_E_TIMEOUT, "SpoutSenderNames_mutex stayed taken for %d ms",
                  SMX_SPOUT_LOCK_MS);
  if (st < 0) {
    free(buf);
    return st;
  }
  int count = 0;
  for (size_t i = 0; i < n / SMX_SPOUT_NAME_BYTES; i++, count++) {
    if (!buf[i][0]) break; /* the list ends at the first empty slot */
    buf[i][SMX_SPOUT_NAME_BYTES - 1] = 0;
  }
  *names = buf;
  return count;
}

int smx_spout_list(char *out, uint64_t cap) {
  if (!out || cap < 1) return smx_fail(SMX_E_INVALID_ARG, "smx_spout_list: no buffer");
  out[0] = 0;
  char(*names)[SMX_SPOUT_NAME_BYTES] = NULL;
  int count = read_names(&names);
  if (count < 0) return count;
  char active[SMX_SPOUT_NAME_BYTES] = {0};
  size_t an;
  read_map(L"ActiveSenderName", active, sizeof active - 1, &an);
  text_out t = {out, cap, 0, 0};
  int listed = 0;
  for (int i = 0; i < count; i++) {
    wchar_t wname[NAME_W];
    int wn = MultiByteToWideChar(CP_ACP, 0, names[i], -1, wname, NAME_W);
    if (wn <= 0) continue;
    smx_spout_shared_info info;
    char name[4 * SMX_SPOUT_NAME_BYTES], desc[4 * 256];
    int st = read_info(wname, &info);
    if (st == SMX_E_NOT_FOUND) continue; /* the stale name of a sender that died */
    to_utf8_line(wname, name, sizeof name);
    if (st == SMX_OK) {
      description_utf8(info.description, desc, sizeof desc);
    } else { /* listed all the same (zero size), saying why it cannot be read */
      memset(&info, 0, sizeof info);
      snprintf(desc, sizeof desc, "unreadable: %s",
               st == SMX_E_TIMEOUT ? "its info map stayed locked" : smx_last_error());
      for (char *p = desc; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
    }
    HANDLE sem = NULL;
    wchar_t semname[NAME_W];
    if (object_name(wname, L"_Count_Semaphore", semname))
      sem = OpenSemaphoreW(SYNCHRONIZE | SEMAPHORE_MODIFY_STATE, FALSE, semname);
    int64_t frames = sem ? read_count(sem) : -1;
    if (sem) CloseHandle(sem);
    uint32_t flags = (sem ? SMX_SPOUT_F_FRAME_COUNT : 0) |
                     (object_exists_mutex(wname, L"_SpoutAccessMutex") ? SMX_SPOUT_F_ACCESS_MUTEX
                                                                        : 0) |
                     (strcmp(active, names[i]) == 0 ? SMX_SPOUT_F_ACTIVE : 0) |
                     (info.partner_id & 0x80000000u ? SMX_SPOUT_F_CPU_SHARE : 0) |
                     (info.partner_id & 0x40000000u ? SMX_SPOUT_F_GLDX : 0);
    put(&t, "%s\t%u\t%u\t%u\t%u\t%u\t%lld\t%s\n", name, info.width, info.height, info.format,
        info.share_handle, flags, (long long)frames, desc);
    listed++;
  }
  free(names);
  if (t.overflow)
    return smx_fail(SMX_E_NO_MEMORY, "smx_spout_list: %llu bytes are not enough",
                    (unsigned long long)cap);
  smx_clear_error();
  return listed;
}

/* ===================================================================== handle registry */

struct smx_spout_receiver {
  CRITICAL_SECTION busy; /* held by the call in progress */
  volatile LONG users;   /* calls inside or waiting for `busy`; close waits for 0 */
  wchar_t wname[NAME_W];
  char name[4 * SMX_SPOUT_NAME_BYTES]; /* UTF-8, for messages */
  char err[512];
  smx_spout_shared_info info; /* last read */
  int gone;
  /* frame detection */
  HANDLE count_sem;     /* NULL: the sender does not count (or not yet) */
  HANDLE access_mutex;  /* NULL: none (or the texture has a keyed mutex) */
  int64_t sender_count; /* last count read; -1 without a semaphore */
  uint64_t frame;       /* receiver's frame number */
  int64_t frame_us;
  int64_t next_poll_ns, poll_interval_ns, next_info_ns, next_lookup_ns;
  uint32_t last_handle, last_w, last_h, last_format;
  uint32_t reopens;
  /* D3D11 */
  IDXGIAdapter1 *adapter;
  ID3D11Device *dev;
  ID3D11DeviceContext *ctx;
  int video_support;
  ID3D11Texture2D *shared; /* the sender's texture */
  IDXGIKeyedMutex *keyed;
  uint32_t tex_handle, tex_info_w, tex_info_h; /* what the info map said when it was opened */
  D3D11_TEXTURE2D_DESC tex_desc;
  ID3D11Texture2D *own, *staging; /* our copy, and its CPU-readable twin */
  ID3D11Texture2D *injected;       /* smx_spout_d3d_selftest: stands in for OpenSharedResource */
};

static SRWLOCK registry_lock = SRWLOCK_INIT;
static smx_spout_receiver **registry;
static size_t registry_len, registry_cap;

static int registry_add(smx_spout_receiver *r) {
  AcquireSRWLockExclusive(&registry_lock);
  if (registry_len == registry_cap) {
    size_t cap = registry_cap ? registry_cap * 2 : 16;
    smx_spout_receiver **grown = realloc(registry, cap * sizeof *grown);
    if (!grown) {
      ReleaseSRWLockExclusive(&registry_lock);
      return smx_fail(SMX_E_NO_MEMORY, "spout handle registry: out of memory");
    }
    registry = grown;
    registry_cap = cap;
  }
  registry[registry_len++] = r;
  ReleaseSRWLockExclusive(&registry_lock);
  return SMX_OK;
}

static int registry_find(const smx_spout_receiver *r) {
  for (size_t i = 0; i < registry_len; i++)
    if (registry[i] == r) return (int)i;
  return -1;
}

static int live(const smx_spout_receiver *r) {
  AcquireSRWLockShared(&registry_lock);
  int found = registry_find(r) >= 0;
  ReleaseSRWLockShared(&registry_lock);
  return found;
}

/* Checks the handle and enters its lock. A call counts itself as a user while the registry lock
 * says the handle is live, and only then waits for `busy` (no lock is held while it waits);
 * close removes the handle from the registry first, so no new user comes, then waits for the
 * users to leave. */
static int enter(smx_spout_receiver *r, const char *fn) {
  if (!r) return smx_fail(SMX_E_INVALID_ARG, "%s: receiver is NULL", fn);
  AcquireSRWLockShared(&registry_lock);
  int found = registry_find(r) >= 0;
  if (found) InterlockedIncrement(&r->users);
  ReleaseSRWLockShared(&registry_lock);
  if (!found) return smx_fail(SMX_E_CLOSED, "%s: the Spout receiver is closed", fn);
  EnterCriticalSection(&r->busy);
  return SMX_OK;
}

static void leave(smx_spout_receiver *r) {
  LeaveCriticalSection(&r->busy);
  InterlockedDecrement(&r->users);
}

/* Records a failure on the handle and the thread. */
static int fail_r(smx_spout_receiver *r, int code, const char *fmt, ...) SMX_PRINTF(3, 4);
static int fail_r(smx_spout_receiver *r, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof r->err, fmt, ap);
  va_end(ap);
  return smx_fail(code, "%s", r->err);
}

/* ===================================================================== frame detection */

static int64_t now_ms_ns(int64_t ms) { return ms * 1000000; }

static void new_frame(smx_spout_receiver *r) {
  r->frame++;
  r->frame_us = smx_now_us();
}

/* Looks for the semaphore and access mutex the sender may have made after we opened. */
static void lookup_objects(smx_spout_receiver *r, int64_t now) {
  if (now < r->next_lookup_ns) return;
  r->next_lookup_ns = now + now_ms_ns(SEM_RETRY_MS);
  wchar_t n[NAME_W];
  if (!r->count_sem && object_name(r->wname, L"_Count_Semaphore", n))
    r->count_sem = OpenSemaphoreW(SYNCHRONIZE | SEMAPHORE_MODIFY_STATE, FALSE, n);
  if (!r->access_mutex && object_name(r->wname, L"_SpoutAccessMutex", n))
    r->access_mutex = OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, n);
}

/* Re-reads the info map (at most every INFO_REFRESH_MS unless `force`). A sender whose map is
 * gone is gone for good: SMX_E_WRITER_GONE from then on. */
static int refresh_info(smx_spout_receiver *r, int64_t now, int force) {
  if (r->gone)
    return fail_r(r, SMX_E_WRITER_GONE, "Spout sender '%s' is gone (its info map closed)",
                  r->name);
  if (!force && now < r->next_info_ns) return SMX_OK;
  r->next_info_ns = now + now_ms_ns(INFO_REFRESH_MS);
  smx_spout_shared_info info;
  int st = read_info(r->wname, &info);
  if (st == SMX_E_NOT_FOUND) {
    r->gone = 1;
    return fail_r(r, SMX_E_WRITER_GONE, "Spout sender '%s' is gone (its info map closed)",
                  r->name);
  }
  if (st == SMX_E_TIMEOUT) return SMX_OK; /* the sender is writing it: keep what we had */
  if (st < 0) return fail_r(r, st, "Spout sender '%s': reading its info: %s", r->name,
                            smx_last_error());
  r->info = info;
  return SMX_OK;
}

/* Brings the frame number up to date: a new sender count (semaphore), a new texture or size,
 * or (a sender that does not count) one frame per poll interval while it has a texture. */
static int detect(smx_spout_receiver *r, int force_info) {
  int64_t now = smx_monotonic_ns();
  int st = refresh_info(r, now, force_info);
  if (st < 0) return st;
  lookup_objects(r, now);
  const smx_spout_shared_info *i = &r->info;
  if (!i->share_handle || !i->width || !i->height) return SMX_OK; /* no texture yet */
  int changed = i->share_handle != r->last_handle || i->width != r->last_w ||
                i->height != r->last_h || i->format != r->last_format;
  r->last_handle = i->share_handle, r->last_w = i->width, r->last_h = i->height;
  r->last_format = i->format;
  int64_t count = r->count_sem ? read_count(r->count_sem) : 0;
  if (count > 0 || r->sender_count > 0) {
    /* While we hold the semaphore it cannot be destroyed, so the count never goes down (a
     * sender restarted under the same name keeps counting on it). A lower or zero value is
     * another receiver between its wait and its release: not a frame. */
    if (count > r->sender_count || changed) new_frame(r);
    if (count > r->sender_count) r->sender_count = count;
    return SMX_OK;
  }
  if (changed || now >= r->next_poll_ns) {
    new_frame(r);
    r->next_poll_ns = now + r->poll_interval_ns;
  }
  return SMX_OK;
}

static void fill_info(const smx_spout_receiver *r, smx_spout_info *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  out->frame = r->frame;
  out->capture_us = r->frame_us;
  out->width = r->info.width;
  out->height = r->info.height;
  out->stride = r->info.width * 4;
  out->format = SMX_FORMAT_BGRA;
  out->dxgi_format = r->info.format;
  out->share_handle = r->info.share_handle;
  out->flags = (r->count_sem ? SMX_SPOUT_F_FRAME_COUNT : 0) |
               (r->access_mutex ? SMX_SPOUT_F_ACCESS_MUTEX : 0) |
               (r->shared ? SMX_SPOUT_F_TEXTURE_OPEN : 0) | (r->keyed ? SMX_SPOUT_F_KEYED_MUTEX : 0) |
               (r->sender_count > 0 ? 0 : SMX_SPOUT_F_POLLING) |
               (r->info.partner_id & 0x80000000u ? SMX_SPOUT_F_CPU_SHARE : 0) |
               (r->info.partner_id & 0x40000000u ? SMX_SPOUT_F_GLDX : 0);
  out->reopens = r->reopens;
  out->sender_frame = r->count_sem ? r->sender_count : -1;
}

/* ===================================================================== D3D11 */

#define RELEASE(p)                                                                                 \
  do {                                                                                             \
    if (p) (p)->lpVtbl->Release(p);                                                                \
    (p) = NULL;                                                                                    \
  } while (0)

static void release_textures(smx_spout_receiver *r) {
  RELEASE(r->keyed);
  RELEASE(r->shared);
  RELEASE(r->own);
  RELEASE(r->staging);
  r->tex_handle = 0;
}

static void release_device(smx_spout_receiver *r) {
  release_textures(r);
  RELEASE(r->ctx);
  RELEASE(r->dev);
  RELEASE(r->adapter);
}

static const D3D_FEATURE_LEVEL LEVELS[] = {D3D_FEATURE_LEVEL_11_1, D3D_FEATURE_LEVEL_11_0,
                                           D3D_FEATURE_LEVEL_10_1, D3D_FEATURE_LEVEL_10_0};

/* A device on `adapter`: with video support (for the encoder's video processor) when the driver
 * has it, else without; multithread-protected because the encoder may use it from another
 * thread than the receiver's. */
static HRESULT create_device(smx_spout_receiver *r, IDXGIAdapter1 *adapter) {
  UINT base = D3D11_CREATE_DEVICE_BGRA_SUPPORT;
  HRESULT hr = E_FAIL;
  for (int video = 1; video >= 0; video--) {
    UINT flags = base | (video ? D3D11_CREATE_DEVICE_VIDEO_SUPPORT : 0);
    for (int n = 4; n >= 3; n--) { /* 11_1 is refused outright by 11.0 runtimes: retry without */
      const D3D_FEATURE_LEVEL *levels = n == 4 ? LEVELS : LEVELS + 1;
      hr = D3D11CreateDevice((IDXGIAdapter *)adapter, D3D_DRIVER_TYPE_UNKNOWN, NULL, flags, levels,
                             (UINT)n, D3D11_SDK_VERSION, &r->dev, NULL, &r->ctx);
      if (SUCCEEDED(hr)) {
        r->video_support = video;
        ID3D10Multithread *mt = NULL;
        if (SUCCEEDED(ID3D11DeviceContext_QueryInterface(r->ctx, &IID_ID3D10Multithread,
                                                         (void **)&mt))) {
          ID3D10Multithread_SetMultithreadProtected(mt, TRUE);
          ID3D10Multithread_Release(mt);
        }
        return hr;
      }
      if (hr != E_INVALIDARG) break;
    }
  }
  return hr;
}

static HANDLE legacy_handle(uint32_t h) {
  return (HANDLE)(intptr_t)(int32_t)h; /* Spout's LongToHandle: sign-extended */
}

/* Opens the shared texture on the adapter that owns it: the current device first, else each
 * adapter in turn (a device on the wrong adapter cannot open it). */
static int open_shared(smx_spout_receiver *r, uint32_t handle) {
  HRESULT hr = E_FAIL;
  if (r->injected) {
    ID3D11Texture2D_AddRef(r->injected);
    r->shared = r->injected;
    return SMX_OK;
  }
  if (r->dev) {
    hr = ID3D11Device_OpenSharedResource(r->dev, legacy_handle(handle), &IID_ID3D11Texture2D,
                                         (void **)&r->shared);
    if (SUCCEEDED(hr)) return SMX_OK;
    release_device(r);
  }
  IDXGIFactory1 *factory = NULL;
  hr = CreateDXGIFactory1(&IID_IDXGIFactory1, (void **)&factory);
  if (FAILED(hr))
    return fail_r(r, SMX_E_IO, "CreateDXGIFactory1 failed (HRESULT 0x%08lx)", (unsigned long)hr);
  HRESULT last = E_FAIL;
  int adapters = 0;
  IDXGIAdapter1 *a = NULL;
  for (UINT i = 0; IDXGIFactory1_EnumAdapters1(factory, i, &a) != DXGI_ERROR_NOT_FOUND; i++) {
    adapters++;
    hr = create_device(r, a);
    if (SUCCEEDED(hr)) {
      hr = ID3D11Device_OpenSharedResource(r->dev, legacy_handle(handle), &IID_ID3D11Texture2D,
                                           (void **)&r->shared);
      if (SUCCEEDED(hr)) {
        r->adapter = a;
        break;
      }
      RELEASE(r->ctx);
      RELEASE(r->dev);
    }
    last = hr;
    RELEASE(a);
  }
  IDXGIFactory1_Release(factory);
  if (r->shared) return SMX_OK;
  return fail_r(r, SMX_E_IO,
                "Spout sender '%s': no adapter could open its texture (share handle 0x%x; %d "
                "adapters; last HRESULT 0x%08lx)",
                r->name, handle, adapters, (unsigned long)last);
}

/* Makes the receiver's textures match the sender's current one (reopening on a new handle or
 * size), creating the device on first use. */
static int ensure_textures(smx_spout_receiver *r) {
  const smx_spout_shared_info *i = &r->info;
  if (!i->share_handle || !i->width || !i->height)
    return fail_r(r, SMX_E_AGAIN, "Spout sender '%s' has no texture yet", r->name);
  if (r->shared && r->tex_handle == i->share_handle && r->tex_info_w == i->width &&
      r->tex_info_h == i->height)
    return SMX_OK;
  if (r->shared) r->reopens++;
  release_textures(r);
  int st = open_shared(r, i->share_handle);
  if (st < 0) return st;
  ID3D11Texture2D_GetDesc(r->shared, &r->tex_desc);
  D3D11_TEXTURE2D_DESC d = r->tex_desc;
  if (d.Width > SMX_RING_MAX_DIM || d.Height > SMX_RING_MAX_DIM) {
    release_textures(r);
    return fail_r(r, SMX_E_FORMAT, "Spout sender '%s': %ux%u is larger than %d", r->name,
                  d.Width, d.Height, SMX_RING_MAX_DIM);
  }
  if (d.SampleDesc.Count > 1) {
    release_textures(r);
    return fail_r(r, SMX_E_FORMAT, "Spout sender '%s': its texture is multisampled (%u samples)",
                  r->name, d.SampleDesc.Count);
  }
  if (d.MiscFlags & D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX)
    ID3D11Texture2D_QueryInterface(r->shared, &IID_IDXGIKeyedMutex, (void **)&r->keyed);
  D3D11_TEXTURE2D_DESC own = {
      .Width = d.Width,
      .Height = d.Height,
      .MipLevels = 1,
      .ArraySize = 1,
      .Format = d.Format,
      .SampleDesc = {1, 0},
      .Usage = D3D11_USAGE_DEFAULT,
      .BindFlags = D3D11_BIND_SHADER_RESOURCE | D3D11_BIND_RENDER_TARGET,
  };
  HRESULT hr = ID3D11Device_CreateTexture2D(r->dev, &own, NULL, &r->own);
  if (FAILED(hr)) {
    own.BindFlags = D3D11_BIND_SHADER_RESOURCE; /* formats that cannot be render targets */
    hr = ID3D11Device_CreateTexture2D(r->dev, &own, NULL, &r->own);
  }
  D3D11_TEXTURE2D_DESC staging = own;
  staging.Usage = D3D11_USAGE_STAGING;
  staging.BindFlags = 0;
  staging.CPUAccessFlags = D3D11_CPU_ACCESS_READ;
  if (SUCCEEDED(hr)) hr = ID3D11Device_CreateTexture2D(r->dev, &staging, NULL, &r->staging);
  if (FAILED(hr)) {
    release_textures(r);
    return fail_r(r, SMX_E_IO, "Spout sender '%s': creating %ux%u textures (DXGI format %u) "
                  "failed (HRESULT 0x%08lx)", r->name, d.Width, d.Height, (unsigned)d.Format,
                  (unsigned long)hr);
  }
  r->tex_handle = i->share_handle;
  r->tex_info_w = i->width;
  r->tex_info_h = i->height;
  return SMX_OK;
}

/* Copies the sender's texture into ours under its lock: the keyed mutex (key 0) when the texture
 * has one, else the access mutex when the sender made one. */
static int copy_to_own(smx_spout_receiver *r) {
  int st = ensure_textures(r);
  if (st < 0) return st;
  HANDLE mutex = r->keyed ? NULL : r->access_mutex;
  if (r->keyed) {
    HRESULT hr = IDXGIKeyedMutex_AcquireSync(r->keyed, 0, SMX_SPOUT_LOCK_MS);
    if (hr == (HRESULT)WAIT_TIMEOUT)
      return fail_r(r, SMX_E_TORN, "Spout sender '%s' held its keyed mutex over %d ms", r->name,
                    SMX_SPOUT_LOCK_MS);
    if (hr == (HRESULT)WAIT_ABANDONED) { /* the sender's device went away mid-frame */
      IDXGIKeyedMutex_ReleaseSync(r->keyed, 0);
      return fail_r(r, SMX_E_TORN, "Spout sender '%s' abandoned its keyed mutex", r->name);
    }
    if (FAILED(hr))
      return fail_r(r, SMX_E_IO, "Spout sender '%s': AcquireSync failed (HRESULT 0x%08lx)",
                    r->name, (unsigned long)hr);
  } else if (mutex) {
    DWORD w = WaitForSingleObject(mutex, SMX_SPOUT_LOCK_MS);
    if (w == WAIT_TIMEOUT)
      return fail_r(r, SMX_E_TORN, "Spout sender '%s' held its access mutex over %d ms", r->name,
                    SMX_SPOUT_LOCK_MS);
    if (w != WAIT_OBJECT_0 && w != WAIT_ABANDONED) /* abandoned: ours now, released below */
      return fail_r(r, SMX_E_IO, "Spout sender '%s': waiting for its access mutex failed (%lu)",
                    r->name, GetLastError());
  }
  /* subresource 0 only: a sender's texture with mip levels or an array still copies */
  ID3D11DeviceContext_CopySubresourceRegion(r->ctx, (ID3D11Resource *)r->own, 0, 0, 0, 0,
                                            (ID3D11Resource *)r->shared, 0, NULL);
  /* submit before the sender may write again; the keyed mutex orders the GPU work itself */
  ID3D11DeviceContext_Flush(r->ctx);
  if (r->keyed) IDXGIKeyedMutex_ReleaseSync(r->keyed, 0);
  else if (mutex) ReleaseMutex(mutex);
  return SMX_OK;
}

/* Staging → dst as tight BGRA rows (swizzling RGBA; X8 formats get opaque alpha). */
static int read_back(smx_spout_receiver *r, uint8_t *dst) {
  DXGI_FORMAT f = r->tex_desc.Format;
  int bgra = f == DXGI_FORMAT_B8G8R8A8_UNORM || f == DXGI_FORMAT_B8G8R8A8_UNORM_SRGB ||
             f == DXGI_FORMAT_B8G8R8A8_TYPELESS || f == DXGI_FORMAT_B8G8R8X8_UNORM ||
             f == DXGI_FORMAT_B8G8R8X8_UNORM_SRGB || f == DXGI_FORMAT_B8G8R8X8_TYPELESS;
  int rgba = f == DXGI_FORMAT_R8G8B8A8_UNORM || f == DXGI_FORMAT_R8G8B8A8_UNORM_SRGB ||
             f == DXGI_FORMAT_R8G8B8A8_TYPELESS;
  int opaque = f == DXGI_FORMAT_B8G8R8X8_UNORM || f == DXGI_FORMAT_B8G8R8X8_UNORM_SRGB ||
               f == DXGI_FORMAT_B8G8R8X8_TYPELESS;
  if (!bgra && !rgba)
    return fail_r(r, SMX_E_FORMAT, "Spout sender '%s': DXGI format %u has no CPU readback here "
                  "(8-bit BGRA/RGBA only)", r->name, (unsigned)f);
  ID3D11DeviceContext_CopyResource(r->ctx, (ID3D11Resource *)r->staging,
                                   (ID3D11Resource *)r->own);
  D3D11_MAPPED_SUBRESOURCE m;
  HRESULT hr = ID3D11DeviceContext_Map(r->ctx, (ID3D11Resource *)r->staging, 0, D3D11_MAP_READ, 0,
                                       &m);
  if (FAILED(hr))
    return fail_r(r, SMX_E_IO, "Spout sender '%s': Map of the staging texture failed "
                  "(HRESULT 0x%08lx)", r->name, (unsigned long)hr);
  uint32_t w = r->tex_desc.Width, h = r->tex_desc.Height;
  for (uint32_t y = 0; y < h; y++) {
    const uint8_t *src = (const uint8_t *)m.pData + (size_t)y * m.RowPitch;
    uint8_t *row = dst + (size_t)y * w * 4;
    if (bgra && !opaque) {
      memcpy(row, src, (size_t)w * 4);
      continue;
    }
    for (uint32_t x = 0; x < w; x++) {
      const uint8_t *p = src + x * 4;
      uint8_t *q = row + x * 4;
      q[0] = rgba ? p[2] : p[0];
      q[1] = p[1];
      q[2] = rgba ? p[0] : p[2];
      q[3] = opaque ? 255 : p[3];
    }
  }
  ID3D11DeviceContext_Unmap(r->ctx, (ID3D11Resource *)r->staging, 0);
  return SMX_OK;
}

/* ===================================================================== exported API */

smx_spout_receiver *smx_spout_receiver_open(const char *name, uint32_t poll_fps) {
  if (!name || !name[0]) {
    smx_fail(SMX_E_INVALID_ARG, "smx_spout_receiver_open: empty sender name");
    return NULL;
  }
  if (strlen(name) >= SMX_SPOUT_NAME_BYTES * 4) {
    smx_fail(SMX_E_INVALID_ARG, "smx_spout_receiver_open: sender name too long");
    return NULL;
  }
  smx_spout_receiver *r = calloc(1, sizeof *r);
  if (!r) {
    smx_fail(SMX_E_NO_MEMORY, "smx_spout_receiver_open: out of memory");
    return NULL;
  }
  if (!utf8_to_wide(name, r->wname, SMX_SPOUT_NAME_BYTES)) {
    free(r);
    smx_fail(SMX_E_INVALID_ARG, "smx_spout_receiver_open: '%s' is not a valid sender name", name);
    return NULL;
  }
  snprintf(r->name, sizeof r->name, "%s", name);
  r->sender_count = -1;
  r->poll_interval_ns = 1000000000LL / (poll_fps ? (poll_fps > 1000 ? 1000 : poll_fps) : 60);
  int st = read_info(r->wname, &r->info);
  if (st < 0) {
    free(r);
    if (st == SMX_E_NOT_FOUND)
      smx_fail(SMX_E_NOT_FOUND, "no Spout sender named '%s'", name);
    else if (st == SMX_E_TIMEOUT)
      smx_fail(SMX_E_TIMEOUT, "Spout sender '%s': its info map stayed locked", name);
    return NULL;
  }
  InitializeCriticalSection(&r->busy);
  if (registry_add(r) < 0) {
    DeleteCriticalSection(&r->busy);
    free(r);
    return NULL;
  }
  timeBeginPeriod(1); /* 1 ms sleeps while polling the frame count (Spout does the same) */
  lookup_objects(r, smx_monotonic_ns());
  detect(r, 1);
  smx_clear_error();
  return r;
}

int smx_spout_receiver_wait(smx_spout_receiver *r, uint64_t after_frame, int32_t timeout_ms) {
  int st = enter(r, "smx_spout_receiver_wait");
  if (st < 0) return st;
  if (timeout_ms < 0) timeout_ms = 0;
  int64_t deadline = smx_monotonic_ns() + now_ms_ns(timeout_ms);
  for (;;) {
    st = detect(r, 0);
    if (st < 0) break;
    if (r->frame > after_frame) {
      st = SMX_OK;
      break;
    }
    int64_t now = smx_monotonic_ns();
    if (now >= deadline) {
      st = fail_r(r, SMX_E_TIMEOUT, "no new frame from Spout sender '%s' in %d ms", r->name,
                  timeout_ms);
      break;
    }
    int64_t until = r->count_sem && r->sender_count > 0 ? now + now_ms_ns(COUNT_POLL_MS)
                                                        : r->next_poll_ns;
    if (until > r->next_info_ns) until = r->next_info_ns;
    if (until > deadline) until = deadline;
    DWORD ms = until > now ? (DWORD)((until - now + 999999) / 1000000) : 1;
    /* not holding the handle while asleep: a synchronous info() from the JS thread must not
     * wait out this wait (our user count still keeps close() from freeing the handle) */
    LeaveCriticalSection(&r->busy);
    Sleep(ms);
    EnterCriticalSection(&r->busy);
  }
  leave(r);
  return st;
}

int smx_spout_receiver_info(smx_spout_receiver *r, smx_spout_info *out) {
  if (!out) return smx_fail(SMX_E_INVALID_ARG, "smx_spout_receiver_info: out is NULL");
  int st = enter(r, "smx_spout_receiver_info");
  if (st < 0) return st;
  st = detect(r, 1);
  fill_info(r, out);
  leave(r);
  return st < 0 ? st : SMX_OK;
}

int64_t smx_spout_receiver_copy_latest(smx_spout_receiver *r, uint8_t *dst, uint64_t dst_cap,
                                       smx_spout_info *out) {
  int st = enter(r, "smx_spout_receiver_copy_latest");
  if (st < 0) return st;
  if (!dst) {
    leave(r);
    return fail_r(r, SMX_E_INVALID_ARG, "smx_spout_receiver_copy_latest: dst is NULL");
  }
  int64_t result;
  st = detect(r, 1);
  if (st >= 0) {
    uint64_t need = (uint64_t)r->info.width * r->info.height * 4;
    if (dst_cap < need) {
      st = fail_r(r, SMX_E_RESIZED, "Spout sender '%s' is %ux%u: %llu bytes needed, %llu given",
                  r->name, r->info.width, r->info.height, (unsigned long long)need,
                  (unsigned long long)dst_cap);
    } else {
      st = copy_to_own(r);
      if (st >= 0) st = read_back(r, dst);
    }
  }
  fill_info(r, out);
  if (st >= 0 && out) { /* the texture's own size is what was copied */
    out->width = r->tex_desc.Width;
    out->height = r->tex_desc.Height;
    out->stride = r->tex_desc.Width * 4;
  }
  result = st < 0 ? st : (int64_t)r->tex_desc.Width * r->tex_desc.Height * 4;
  leave(r);
  return result;
}

const char *smx_spout_receiver_error(smx_spout_receiver *r) {
  if (!r || !live(r)) return "Spout receiver handle is closed";
  return r->err;
}

void smx_spout_receiver_close(smx_spout_receiver *r) {
  if (!r) return;
  AcquireSRWLockExclusive(&registry_lock);
  int i = registry_find(r);
  if (i >= 0) registry[i] = registry[--registry_len];
  ReleaseSRWLockExclusive(&registry_lock);
  if (i < 0) return; /* already closed, or not ours */
  while (InterlockedCompareExchange(&r->users, 0, 0) != 0) Sleep(1); /* calls in flight end */
  release_device(r);
  if (r->count_sem) CloseHandle(r->count_sem);
  if (r->access_mutex) CloseHandle(r->access_mutex);
  DeleteCriticalSection(&r->busy);
  timeEndPeriod(1);
  free(r);
}

int smx_spout_receiver_gpu_frame(smx_spout_receiver *r, ID3D11Device **device,
                                 ID3D11DeviceContext **context, ID3D11Texture2D **texture,
                                 smx_spout_info *info, int *video_support) {
  int st = enter(r, "smx_spout_receiver_gpu_frame");
  if (st < 0) return st;
  st = detect(r, 1);
  if (st >= 0) st = copy_to_own(r);
  fill_info(r, info);
  if (st < 0) {
    leave(r);
    return st;
  }
  if (device) *device = r->dev;
  if (context) *context = r->ctx;
  if (texture) *texture = r->own;
  if (video_support) *video_support = r->video_support;
  return SMX_OK; /* still entered: smx_spout_receiver_gpu_done() leaves */
}

void smx_spout_receiver_gpu_done(smx_spout_receiver *r) { leave(r); }

int64_t smx_spout_d3d_selftest(uint32_t width, uint32_t height, uint32_t dxgi_format,
                               uint32_t keyed, uint8_t *dst, uint64_t dst_cap, char *msg,
                               uint32_t msg_cap) {
  if (!dst || !msg || !msg_cap || width < 1 || height < 1 || width > 4096 || height > 4096 ||
      (dxgi_format != DXGI_FORMAT_B8G8R8A8_UNORM && dxgi_format != DXGI_FORMAT_R8G8B8A8_UNORM))
    return smx_fail(SMX_E_INVALID_ARG, "smx_spout_d3d_selftest: bad arguments");
  smx_spout_receiver *r = calloc(1, sizeof *r);
  uint8_t *init = malloc((size_t)width * height * 4);
  if (!r || !init) {
    free(r), free(init);
    return smx_fail(SMX_E_NO_MEMORY, "smx_spout_d3d_selftest: out of memory");
  }
  snprintf(r->name, sizeof r->name, "selftest");
  /* what a sender would have drawn: byte i of pixel (x, y) = (x + 2y + 64i) & 255, in the
   * texture's own channel order; the caller checks the BGRA it gets back */
  for (uint32_t y = 0; y < height; y++)
    for (uint32_t x = 0; x < width; x++)
      for (uint32_t i = 0; i < 4; i++)
        init[((size_t)y * width + x) * 4 + i] = (uint8_t)(x + 2 * y + 64 * i);
  int64_t st = SMX_OK;
  IDXGIFactory1 *factory = NULL;
  IDXGIAdapter1 *a = NULL;
  HRESULT hr = CreateDXGIFactory1(&IID_IDXGIFactory1, (void **)&factory);
  if (SUCCEEDED(hr)) hr = IDXGIFactory1_EnumAdapters1(factory, 0, &a);
  if (SUCCEEDED(hr)) hr = create_device(r, a);
  if (FAILED(hr)) {
    st = fail_r(r, SMX_E_IO, "no D3D11 device on the first adapter (HRESULT 0x%08lx)",
                (unsigned long)hr);
  } else {
    r->adapter = a, a = NULL;
    D3D11_TEXTURE2D_DESC d = {.Width = width, .Height = height, .MipLevels = 1, .ArraySize = 1,
                              .Format = (DXGI_FORMAT)dxgi_format, .SampleDesc = {1, 0},
                              .Usage = D3D11_USAGE_DEFAULT, .BindFlags = D3D11_BIND_SHADER_RESOURCE,
                              .MiscFlags = keyed ? D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX
                                                 : D3D11_RESOURCE_MISC_SHARED};
    D3D11_SUBRESOURCE_DATA data = {.pSysMem = init, .SysMemPitch = width * 4};
    hr = ID3D11Device_CreateTexture2D(r->dev, &d, &data, &r->injected);
    if (FAILED(hr))
      st = fail_r(r, SMX_E_IO, "CreateTexture2D of a %ux%u shared texture failed (HRESULT "
                  "0x%08lx)", width, height, (unsigned long)hr);
  }
  if (st == SMX_OK) {
    r->info = (smx_spout_shared_info){.share_handle = 1, .width = width, .height = height,
                                      .format = dxgi_format};
    if ((uint64_t)width * height * 4 > dst_cap)
      st = fail_r(r, SMX_E_RESIZED, "dst holds %llu bytes", (unsigned long long)dst_cap);
    if (st == SMX_OK) st = copy_to_own(r);
    if (st == SMX_OK && keyed && !r->keyed)
      st = fail_r(r, SMX_E_IO, "the keyed-mutex texture gave no IDXGIKeyedMutex");
    if (st == SMX_OK) st = read_back(r, dst);
    if (st == SMX_OK) {
      DXGI_ADAPTER_DESC1 ad;
      char desc[256] = "?";
      if (SUCCEEDED(IDXGIAdapter1_GetDesc1(r->adapter, &ad)))
        WideCharToMultiByte(CP_UTF8, 0, ad.Description, -1, desc, sizeof desc, NULL, NULL);
      snprintf(r->err, sizeof r->err, "adapter '%s', video support %s, own texture + staging "
               "readback of %ux%u DXGI format %u%s", desc, r->video_support ? "yes" : "no", width,
               height, dxgi_format, r->keyed ? ", under its keyed mutex" : "");
      st = (int64_t)width * height * 4;
    }
  }
  snprintf(msg, msg_cap, "%s", r->err);
  RELEASE(r->injected);
  RELEASE(a);
  if (factory) IDXGIFactory1_Release(factory);
  release_device(r);
  free(init);
  free(r);
  return st;
}
