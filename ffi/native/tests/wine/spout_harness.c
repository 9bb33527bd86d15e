/* Test harness of the Spout receiver in smx.dll (ffi/native/win/spout.c), against real Spout
 * senders made the way Spout makes them (fake_sender.exe, run as separate processes). Runs under
 * Wine here (tests/windows_shim_test.ts) and as it is on Windows.
 *
 *   spout_harness.exe [--d3d]     --d3d: also the texture tests (needs a working D3D11)
 *
 * Output: "ok - …" / "not ok - …" / "skip - …" lines, "# …" notes, and a last line
 * "harness: P passed, F failed, S skipped". Exit status 0 when nothing failed. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smx_common.h"
#include "ring.h" /* SMX_FORMAT_BGRA */
#include "stamp.h"
#include "win/spout.h"

static int passed, failed, skipped;
static char exe_dir[MAX_PATH];
static const char *wine; /* Wine's version when running under Wine, else NULL */

static void check(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf(ok ? "ok - " : "not ok - ");
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if (ok) passed++;
  else failed++;
}

static void skip(const char *what, const char *why) {
  printf("skip - %s # %s\n", what, why);
  skipped++;
}

/* ---- senders ---- */

static HANDLE spawn(const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "\"%s\\fake_sender.exe\" %s", exe_dir, args);
  STARTUPINFOA si = {.cb = sizeof si};
  PROCESS_INFORMATION pi;
  if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
    printf("# cannot start fake_sender.exe (error %lu)\n", GetLastError());
    return NULL;
  }
  CloseHandle(pi.hThread);
  return pi.hProcess;
}

static void stop(HANDLE p) {
  if (!p) return;
  TerminateProcess(p, 0);
  WaitForSingleObject(p, 5000);
  CloseHandle(p);
}

typedef struct {
  char name[1024];
  unsigned width, height, format, handle, flags;
  long long frames;
  char desc[1024];
} listed;

static int list(listed *out, int cap) {
  static char buf[1 << 16];
  int n = smx_spout_list(buf, sizeof buf);
  if (n < 0) return n;
  int k = 0;
  for (char *line = strtok(buf, "\n"); line && k < cap; line = strtok(NULL, "\n"), k++) {
    listed *l = &out[k];
    memset(l, 0, sizeof *l);
    char *f[8] = {0};
    int nf = 0;
    for (char *p = line; nf < 8;) {
      f[nf++] = p;
      char *t = strchr(p, '\t');
      if (!t) break;
      *t = 0;
      p = t + 1;
    }
    if (nf < 8) return -100 - nf; /* a malformed line */
    snprintf(l->name, sizeof l->name, "%s", f[0]);
    l->width = strtoul(f[1], NULL, 10), l->height = strtoul(f[2], NULL, 10);
    l->format = strtoul(f[3], NULL, 10), l->handle = strtoul(f[4], NULL, 10);
    l->flags = strtoul(f[5], NULL, 10);
    l->frames = strtoll(f[6], NULL, 10);
    snprintf(l->desc, sizeof l->desc, "%s", f[7]);
  }
  return k;
}

static listed *find(listed *l, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(l[i].name, name)) return &l[i];
  return NULL;
}

/* Waits until `name` is listed (want=1) or not (want=0). */
static int wait_listed(const char *name, int want, int ms) {
  static listed l[64];
  for (int t = 0; t < ms; t += 20) {
    int n = list(l, 64);
    if (n >= 0 && (find(l, n, name) != NULL) == want) return 1;
    Sleep(20);
  }
  return 0;
}

static smx_spout_info info_of(smx_spout_receiver *r) {
  smx_spout_info i;
  memset(&i, 0, sizeof i);
  smx_spout_receiver_info(r, &i);
  return i;
}

/* Counts the frames a receiver sees in `ms` (each wait returns a newer one). */
static int frames_in(smx_spout_receiver *r, int ms, uint64_t *last_out, int *status_out) {
  int64_t end = smx_monotonic_ns() + (int64_t)ms * 1000000;
  uint64_t last = info_of(r).frame;
  int n = 0, st = SMX_OK;
  while (smx_monotonic_ns() < end) {
    st = smx_spout_receiver_wait(r, last, 100);
    if (st == SMX_E_TIMEOUT) continue;
    if (st < 0) break;
    uint64_t f = info_of(r).frame;
    if (f <= last) {
      st = -999; /* wait said "newer" but it was not */
      break;
    }
    last = f;
    n++;
  }
  if (last_out) *last_out = last;
  if (status_out) *status_out = st;
  return n;
}

/* ---- tests ---- */

static void test_empty(void) {
  static char buf[256];
  int n = smx_spout_list(buf, sizeof buf);
  check(n == 0 && buf[0] == 0, "no SpoutSenderNames map: 0 senders (got %d)", n);
  smx_spout_receiver *r = smx_spout_receiver_open("nobody", 0);
  check(!r && smx_last_error_code() == SMX_E_NOT_FOUND,
        "opening a missing sender: NULL, SMX_E_NOT_FOUND (%d: %s)", smx_last_error_code(),
        smx_last_error());
  check(smx_spout_receiver_wait(NULL, 0, 0) == SMX_E_INVALID_ARG, "NULL handle: invalid arg");
}

static void print_hex(const char *label, const void *p, size_t n) {
  printf("# %s ", label);
  for (size_t i = 0; i < n; i++) printf("%02x", ((const uint8_t *)p)[i]);
  printf("\n");
}

static void test_listing(void) {
  static listed l[64];
  static char raw[1 << 16];
  int rn = smx_spout_list(raw, sizeof raw);
  if (rn > 0) print_hex("raw-list", raw, strlen(raw)); /* tests/windows_shim_test.ts parses it */
  int n = list(l, 64);
  listed *a = find(l, n, "smx test A"), *b = find(l, n, "smx-b");
  check(n >= 2 && a && b, "both senders listed (%d)", n);
  if (!a || !b) return;
  check(strcmp(l[0].name, l[1].name) < 0, "names come sorted, as Spout's std::set writes them");
  check(a->width == 320 && a->height == 180 && a->format == 87,
        "info of A: 320x180 format 87 (got %ux%u %u)", a->width, a->height, a->format);
  check(b->width == 64 && b->height == 48 && b->format == 28,
        "info of B: 64x48 format 28 (got %ux%u %u)", b->width, b->height, b->format);
  check(a->handle == 0x40001234u, "share handle of A read (0x%x)", a->handle);
  check(strstr(a->desc, "fake_sender") != NULL, "description: the sender's exe path (%s)",
        a->desc);
  check((a->flags & SMX_SPOUT_F_FRAME_COUNT) && (a->flags & SMX_SPOUT_F_ACCESS_MUTEX),
        "A has a frame-count semaphore and an access mutex (flags %u)", a->flags);
  check(!(b->flags & SMX_SPOUT_F_FRAME_COUNT) && (b->flags & SMX_SPOUT_F_ACCESS_MUTEX) &&
            b->frames == -1,
        "B has no frame-count semaphore (flags %u, frames %lld)", b->flags, b->frames);
  check(a->frames > 0, "A's frame count is read from its semaphore (%lld)", a->frames);
  check(((a->flags | b->flags) & SMX_SPOUT_F_ACTIVE) != 0, "the active sender is flagged");
  char tiny[16];
  check(smx_spout_list(tiny, sizeof tiny) == SMX_E_NO_MEMORY, "a too small buffer: no memory");
}

typedef struct {
  smx_spout_receiver *r;
  int st;
} wait_arg;

static DWORD WINAPI waiter(void *p) {
  wait_arg *a = p;
  a->st = smx_spout_receiver_wait(a->r, UINT64_MAX - 1, 400); /* times out */
  return 0;
}

static void test_counting(void) {
  smx_spout_receiver *r = smx_spout_receiver_open("smx test A", 0);
  check(r != NULL, "open A (%s)", r ? "" : smx_last_error());
  if (!r) return;
  smx_spout_info i0 = info_of(r);
  int st;
  uint64_t last;
  int n = frames_in(r, 1000, &last, &st);
  smx_spout_info i1 = info_of(r);
  print_hex("raw-info", &i1, sizeof i1);
  printf("# info frame=%llu width=%u height=%u stride=%u dxgi=%u handle=%u flags=%u "
         "sender_frame=%lld\n", (unsigned long long)i1.frame, i1.width, i1.height, i1.stride,
         i1.dxgi_format, i1.share_handle, i1.flags, (long long)i1.sender_frame);
  long long sent = i1.sender_frame - i0.sender_frame;
  printf("# A: %d frames seen in 1 s, sender counted %lld (%lld..%lld)\n", n, sent,
         (long long)i0.sender_frame, (long long)i1.sender_frame);
  check(st == SMX_OK || st == SMX_E_TIMEOUT, "waits on A succeed (last status %d)", st);
  /* one per sender frame; lenient bounds: a loaded machine slows the sender and the waits */
  check(n >= 5 && n <= sent + 1 && 2 * n >= sent,
        "A (30 fps, counting): %d frames in 1 s, one per sender frame (sender: %lld)", n, sent);
  check(i1.flags & SMX_SPOUT_F_FRAME_COUNT && !(i1.flags & SMX_SPOUT_F_POLLING),
        "A's frames come from its semaphore (flags %u)", i1.flags);
  check(smx_spout_receiver_wait(r, last + 1000000, 50) == SMX_E_TIMEOUT,
        "waiting past the newest frame times out");
  check(strstr(smx_spout_receiver_error(r), "no new frame") != NULL,
        "the handle keeps the message (%s)", smx_spout_receiver_error(r));

  /* copy_latest: a buffer too small says the size; a handle no adapter can open (A's is a
   * placeholder) is SMX_E_IO naming it, after trying every adapter */
  static uint8_t small[16], px[320 * 180 * 4];
  smx_spout_info ci;
  memset(&ci, 0, sizeof ci);
  int64_t c = smx_spout_receiver_copy_latest(r, small, sizeof small, &ci);
  check(c == SMX_E_RESIZED && ci.width == 320 && ci.height == 180,
        "copy_latest into a small buffer: SMX_E_RESIZED with the size (%lld, %ux%u)",
        (long long)c, ci.width, ci.height);
  c = smx_spout_receiver_copy_latest(r, px, sizeof px, &ci);
  check(c == SMX_E_IO, "copy_latest of a texture no adapter can open: SMX_E_IO (%lld: %s)",
        (long long)c, smx_spout_receiver_error(r));

  /* The sender's access mutex: while someone holds it, the sender cannot write (nor count). */
  HANDLE m = OpenMutexA(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, "smx test A_SpoutAccessMutex");
  check(m != NULL, "A's access mutex opens by name");
  if (m && WaitForSingleObject(m, 1000) == WAIT_OBJECT_0) {
    Sleep(150); /* a frame the sender had begun finishes */
    uint64_t before = info_of(r).frame;
    int held = frames_in(r, 400, NULL, NULL);
    ReleaseMutex(m);
    int after = frames_in(r, 400, NULL, NULL);
    check(held == 0 && after >= 1,
          "holding the access mutex stops A's frames (%d while held from frame %llu, %d after)",
          held, (unsigned long long)before, after);
  }
  if (m) CloseHandle(m);

  /* another thread waiting (as Deno's worker does) holds the handle only while it looks */
  wait_arg wa = {r, 1};
  HANDLE th = CreateThread(NULL, 0, waiter, &wa, 0, NULL);
  Sleep(50);
  int64_t t0 = smx_monotonic_ns();
  smx_spout_info during = info_of(r);
  long long ms = (long long)((smx_monotonic_ns() - t0) / 1000000);
  check(ms < 100 && during.frame > 0, "info() while another thread waits: %lld ms", ms);
  /* close while that wait is in flight: it waits for the call, then frees */
  t0 = smx_monotonic_ns();
  smx_spout_receiver_close(r);
  ms = (long long)((smx_monotonic_ns() - t0) / 1000000);
  if (th) WaitForSingleObject(th, 5000), CloseHandle(th);
  check(wa.st == SMX_E_TIMEOUT && ms >= 100,
        "close() during a wait on another thread waits for it (%lld ms; the wait: %d)", ms,
        wa.st);
  check(smx_spout_receiver_wait(r, 0, 0) == SMX_E_CLOSED, "a closed handle: SMX_E_CLOSED");
  check(strstr(smx_spout_receiver_error(r), "closed") != NULL, "error of a closed handle");
  smx_spout_receiver_close(r); /* twice: a no-op */
}

static void test_polling(void) {
  smx_spout_receiver *r = smx_spout_receiver_open("smx-b", 20);
  check(r != NULL, "open B");
  if (!r) return;
  int st;
  int n = frames_in(r, 1000, NULL, &st);
  smx_spout_info i = info_of(r);
  check(n >= 8 && n <= 22, "B (no semaphore, polled at 20/s): %d frames in 1 s", n);
  check((i.flags & SMX_SPOUT_F_POLLING) && i.sender_frame == -1,
        "B is polled (flags %u, sender_frame %lld)", i.flags, (long long)i.sender_frame);
  smx_spout_receiver_close(r);
}

static void test_resize(void) {
  HANDLE p = spawn("\"smx-resize\" 128 72 87 30 0 --resize-at 10:96:54");
  check(wait_listed("smx-resize", 1, 5000), "the resizing sender is listed");
  smx_spout_receiver *r = smx_spout_receiver_open("smx-resize", 0);
  check(r != NULL, "open the resizing sender");
  if (r) {
    smx_spout_info i = info_of(r);
    uint32_t h0 = i.share_handle;
    check(i.width == 128 || i.width == 96, "first size read (%ux%u)", i.width, i.height);
    uint64_t last = i.frame;
    int seen_new = 0;
    for (int t = 0; t < 60 && !seen_new; t++) {
      int st = smx_spout_receiver_wait(r, last, 200);
      i = info_of(r);
      if (st == SMX_OK) last = i.frame;
      seen_new = i.width == 96 && i.height == 54;
    }
    check(seen_new, "the receiver follows the new size (%ux%u)", i.width, i.height);
    check(i.share_handle != h0 || h0 == 0, "and the new share handle (0x%x → 0x%x)", h0,
          i.share_handle);
    int st;
    int n = frames_in(r, 300, NULL, &st);
    check(n > 0, "frames keep coming after the resize (%d, status %d)", n, st);
    smx_spout_receiver_close(r);
  }
  stop(p);
}

static void test_vanish(void) {
  HANDLE p = spawn("\"smx-leaving\" 64 36 87 30 12");
  check(wait_listed("smx-leaving", 1, 5000), "a sender that will leave is listed");
  smx_spout_receiver *r = smx_spout_receiver_open("smx-leaving", 0);
  int st = SMX_OK;
  if (r) {
    uint64_t last = 0;
    for (int t = 0; t < 100; t++) {
      st = smx_spout_receiver_wait(r, last, 100);
      if (st == SMX_OK) last = info_of(r).frame;
      else if (st != SMX_E_TIMEOUT) break;
    }
    check(st == SMX_E_WRITER_GONE, "its receiver gets SMX_E_WRITER_GONE (%d: %s)", st,
          smx_spout_receiver_error(r));
    check(strstr(smx_spout_receiver_error(r), "gone") != NULL, "with a message saying so");
    check(smx_spout_receiver_wait(r, 0, 0) == SMX_E_WRITER_GONE, "and keeps getting it");
    smx_spout_receiver_close(r);
  } else {
    check(0, "open the leaving sender (%s)", smx_last_error());
  }
  check(wait_listed("smx-leaving", 0, 3000), "it unregistered: no longer listed");
  if (p) WaitForSingleObject(p, 5000), CloseHandle(p);

  /* a crash: the OS closes the sender's handles, its name stays in SpoutSenderNames */
  p = spawn("\"smx-crashing\" 64 36 87 30 10 --crash");
  check(wait_listed("smx-crashing", 1, 5000), "a sender that will crash is listed");
  /* another Spout program keeps SpoutSenderNames alive (else it goes with its last holder) */
  HANDLE names = OpenFileMappingA(FILE_MAP_READ, FALSE, "SpoutSenderNames");
  r = smx_spout_receiver_open("smx-crashing", 0);
  if (p) WaitForSingleObject(p, 5000), CloseHandle(p);
  Sleep(100);
  if (r) {
    st = smx_spout_receiver_wait(r, UINT64_MAX - 1, 500);
    check(st == SMX_E_WRITER_GONE, "the crashed sender's receiver: SMX_E_WRITER_GONE (%d)", st);
    smx_spout_receiver_close(r);
  }
  check(wait_listed("smx-crashing", 0, 1000),
        "a crashed sender (stale name, no info map) is left out of the listing");
  /* the stale name really is still in SpoutSenderNames */
  HANDLE map = OpenFileMappingA(FILE_MAP_READ, FALSE, "SpoutSenderNames");
  int stale = 0;
  if (map) {
    const char *v = MapViewOfFile(map, FILE_MAP_READ, 0, 0, 0);
    for (int i = 0; v && i < 64 && v[i * 256]; i++) stale |= !strcmp(v + i * 256, "smx-crashing");
    if (v) UnmapViewOfFile(v);
    CloseHandle(map);
  }
  check(stale, "(its name is still in SpoutSenderNames, as after a real crash)");
  if (names) CloseHandle(names);
}

/* Texture tests: a real shared D3D11 texture end to end. */
static void test_texture(const char *name, const char *extra, int rgba) {
  char args[256];
  snprintf(args, sizeof args, "\"%s\" 320 180 %d 30 0 %s", name, rgba ? 28 : 87, extra);
  HANDLE p = spawn(args);
  if (!wait_listed(name, 1, 8000)) {
    DWORD code = 0;
    if (p) WaitForSingleObject(p, 2000), GetExitCodeProcess(p, &code);
    if (code == 5 && wine) {
      char what[128];
      snprintf(what, sizeof what, "%s: a D3D11 texture shared between processes", name);
      skip(what, "IDXGIResource::GetSharedHandle is E_NOTIMPL (Wine)");
      if (p) CloseHandle(p);
      return;
    }
    check(0, "%s: a sender with a D3D11 shared texture starts (exit %lu)", name, code);
    stop(p);
    return;
  }
  smx_spout_receiver *r = smx_spout_receiver_open(name, 0);
  check(r != NULL, "%s: open", name);
  if (!r) return stop(p);
  static uint8_t px[320 * 180 * 4];
  smx_spout_info i;
  int64_t n = -1;
  for (int t = 0; t < 20; t++) {
    smx_spout_receiver_wait(r, 0, 200);
    n = smx_spout_receiver_copy_latest(r, px, sizeof px, &i);
    if (n != SMX_E_AGAIN && n != SMX_E_TORN) break;
  }
  check(n == (int64_t)sizeof px, "%s: copy_latest read the texture back (%lld: %s)", name,
        (long long)n, n < 0 ? smx_spout_receiver_error(r) : "");
  if (n == (int64_t)sizeof px) {
    int64_t stamp[2] = {0, 0};
    int st = smx_stamp_read(px, 320, 180, 320 * 4, SMX_FORMAT_BGRA, stamp);
    const uint8_t *bg = px + (size_t)(170 * 320 + 160) * 4; /* below the stamp band */
    check(st == SMX_OK && stamp[0] > 0, "%s: the frame stamp reads back: frame %lld (status %d)",
          name, (long long)stamp[0], st);
    check(bg[0] == (uint8_t)stamp[0] && bg[1] == 128 && bg[2] == 64 && bg[3] == 255,
          "%s: BGRA pixel order (B=%u G=%u R=%u A=%u)", name, bg[0], bg[1], bg[2], bg[3]);
    check((i.flags & SMX_SPOUT_F_TEXTURE_OPEN) != 0, "%s: texture open (flags %u)", name,
          i.flags);
    if (strstr(extra, "--keyed"))
      check((i.flags & SMX_SPOUT_F_KEYED_MUTEX) != 0, "%s: keyed mutex used", name);
  }
  smx_spout_receiver_close(r);
  stop(p);
}

/* The receiver's D3D11 side in one process: device, shared-flag texture, own copy, staging
 * readback and the swizzle to BGRA (everything but OpenSharedResource). */
static void test_d3d_selftest(uint32_t dxgi, uint32_t keyed, const char *label) {
  enum { W = 67, H = 33 }; /* odd sizes: RowPitch is padded, rows must be copied one by one */
  static uint8_t px[W * H * 4];
  char msg[512] = "";
  memset(px, 0xEE, sizeof px);
  int64_t n = smx_spout_d3d_selftest(W, H, dxgi, keyed, px, sizeof px, msg, sizeof msg);
  if (wine && keyed && strstr(msg, "no IDXGIKeyedMutex")) {
    char what[128];
    snprintf(what, sizeof what, "D3D11 selftest %s", label);
    skip(what, "Wine: a keyed-mutex texture answers no IDXGIKeyedMutex");
    return;
  }
  check(n == (int64_t)sizeof px, "D3D11 selftest %s: copied and read back (%lld: %s)", label,
        (long long)n, msg);
  if (n != (int64_t)sizeof px) return;
  int bad = 0, bx = 0, by = 0;
  for (int y = 0; y < H && !bad; y++)
    for (int x = 0; x < W && !bad; x++) {
      const uint8_t *p = px + (y * W + x) * 4;
      /* the texture held byte (x + 2y + 64i) at channel i in its own order */
      uint8_t c[4];
      for (int i = 0; i < 4; i++) c[i] = (uint8_t)(x + 2 * y + 64 * i);
      uint8_t want[4] = {dxgi == 28 ? c[2] : c[0], c[1], dxgi == 28 ? c[0] : c[2], c[3]};
      if (memcmp(p, want, 4)) bad = 1, bx = x, by = y;
    }
  check(!bad, "D3D11 selftest %s: every pixel as drawn, in BGRA order%s", label,
        bad ? " — first difference at" : "");
  if (bad) printf("#   at (%d, %d)\n", bx, by);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  GetModuleFileNameA(NULL, exe_dir, MAX_PATH);
  char *slash = strrchr(exe_dir, '\\');
  if (slash) *slash = 0;
  int d3d = argc > 1 && !strcmp(argv[1], "--d3d");
  typedef const char *(*version_fn)(void);
  version_fn wine_version =
      (version_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version");
  wine = wine_version ? wine_version() : NULL;
  printf("# running on %s%s\n", wine ? "Wine " : "Windows", wine ? wine : "");

  printf("# smx %s, Spout receiver harness\n", smx_version());
  test_empty();
  HANDLE a = spawn("\"smx test A\" 320 180 87 30 0");
  HANDLE b = spawn("\"smx-b\" 64 48 28 30 0 --no-count");
  int up = wait_listed("smx test A", 1, 8000) && wait_listed("smx-b", 1, 8000);
  check(up, "two fake senders registered");
  if (up) {
    Sleep(300); /* a few frames counted */
    test_listing();
    test_counting();
    test_polling();
  }
  stop(a);
  stop(b);
  test_resize();
  test_vanish();
  if (d3d) {
    /* Wine's known gaps are skips under Wine and failures on Windows */
    test_d3d_selftest(87, 0, "BGRA");
    test_d3d_selftest(28, 0, "RGBA");
    test_d3d_selftest(87, 1, "BGRA, keyed mutex");
    test_texture("smx-tex", "--texture", 0);
    test_texture("smx-tex-rgba", "--texture", 1);
    test_texture("smx-keyed", "--keyed", 0);
  } else {
    skip("D3D11 shared texture end to end", "run with --d3d where D3D11 works");
  }
  printf("harness: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
