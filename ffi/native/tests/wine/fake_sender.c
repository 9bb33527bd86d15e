/* A Spout 2 sender made the way Spout 2.007 makes one (SpoutSenderNames.cpp, SpoutSharedMemory.cpp,
 * SpoutFrameCount.cpp, SpoutDX), without the Spout library: the test program for the receiver in
 * ffi/native/win/spout.c. Run by spout_harness.exe (under Wine here, or on Windows).
 *
 *   fake_sender.exe NAME WIDTH HEIGHT FORMAT FPS FRAMES [options]
 *     FRAMES 0 = until killed
 *     --no-count         no "<name>_Count_Semaphore" (frame counting off in Spout's settings)
 *     --texture          a real D3D11 shared texture (else a placeholder share handle)
 *     --keyed            the texture has a DXGI keyed mutex (D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX)
 *     --resize-at N:W:H  after frame N, a new texture of WxH (new share handle, info updated)
 *     --crash            end without unregistering (as a crashed sender: the name stays behind)
 *     --linger MS        stay registered MS ms after the last frame
 *
 * Frames carry the smx frame stamp (frame number) over a colour that changes with the frame, so
 * the receiver's copy can be checked. stdout: "# fake_sender: ..." lines. Exit status 3: no
 * D3D11 device or texture; 5: the D3D11 runtime cannot share textures (Wine 8's GetSharedHandle
 * is E_NOTIMPL). */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <d3d11.h>
#include <dxgi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stamp.h"

#define NAME_BYTES 256
#define MAX_SENDERS 64 /* Spout's default (no MaxSenders in the registry here) */
#define LOCK_MS 67

typedef struct {
  uint32_t share_handle, width, height, format, usage;
  uint8_t description[256];
  uint32_t partner_id;
} shared_info;

/* SpoutSharedMemory: a named mapping and its "<name>_mutex". */
typedef struct {
  HANDLE map, mutex;
  char *buf;
} shm;

static int shm_create(shm *m, const char *name, DWORD size) {
  m->map = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, size, name);
  if (!m->map) return 0;
  m->buf = MapViewOfFile(m->map, FILE_MAP_ALL_ACCESS, 0, 0, 0);
  char mutex[NAME_BYTES + 16];
  snprintf(mutex, sizeof mutex, "%s_mutex", name);
  m->mutex = CreateMutexA(NULL, FALSE, mutex);
  return m->buf && m->mutex;
}

static char *shm_lock(shm *m) {
  DWORD w = WaitForSingleObject(m->mutex, LOCK_MS);
  return w == WAIT_OBJECT_0 || w == WAIT_ABANDONED ? m->buf : NULL;
}

static void shm_unlock(shm *m) { ReleaseMutex(m->mutex); }

static void shm_close(shm *m) {
  if (m->buf) UnmapViewOfFile(m->buf);
  if (m->map) CloseHandle(m->map);
  if (m->mutex) CloseHandle(m->mutex);
  memset(m, 0, sizeof *m);
}

/* The names map holds a sorted set (std::set<std::string>): read, change, write back. */
static int read_set(const char *buf, char names[][NAME_BYTES]) {
  int n = 0;
  while (n < MAX_SENDERS && buf[n * NAME_BYTES]) {
    memcpy(names[n], buf + n * NAME_BYTES, NAME_BYTES);
    names[n][NAME_BYTES - 1] = 0;
    n++;
  }
  return n;
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

static void write_set(char *buf, char names[][NAME_BYTES], int n) {
  qsort(names, n, NAME_BYTES, cmp_names);
  for (int i = 0; i < n; i++) memcpy(buf + i * NAME_BYTES, names[i], NAME_BYTES);
  if (n < MAX_SENDERS) buf[n * NAME_BYTES] = 0; /* the list ends at the first empty slot */
}

static shm names_map, active_map, info_map;
static HANDLE access_mutex, count_sem;
static char sender_name[NAME_BYTES];

static int register_name(void) {
  if (!shm_create(&names_map, "SpoutSenderNames", MAX_SENDERS * NAME_BYTES)) return 0;
  char *buf = shm_lock(&names_map);
  if (!buf) return 0;
  static char names[MAX_SENDERS][NAME_BYTES];
  int n = read_set(buf, names), found = 0;
  for (int i = 0; i < n; i++) found |= strcmp(names[i], sender_name) == 0;
  if (!found && n < MAX_SENDERS) {
    memset(names[n], 0, NAME_BYTES);
    strcpy(names[n++], sender_name);
    write_set(buf, names, n);
  }
  shm_unlock(&names_map);
  /* SetActiveSender: the newest sender becomes the active one */
  if (shm_create(&active_map, "ActiveSenderName", NAME_BYTES)) {
    char *a = shm_lock(&active_map);
    if (a) {
      memcpy(a, sender_name, strlen(sender_name) + 1);
      shm_unlock(&active_map);
    }
  }
  return 1;
}

/* ReleaseSenderName: out of the set; when it was the active sender (or one sender is left), the
 * first remaining one becomes active. */
static void release_name(void) {
  char *buf = shm_lock(&names_map);
  if (!buf) return;
  static char names[MAX_SENDERS][NAME_BYTES];
  int n = read_set(buf, names), k = 0;
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], sender_name) != 0) memcpy(names[k++], names[i], NAME_BYTES);
  write_set(buf, names, k);
  char *a = k > 0 ? shm_lock(&active_map) : NULL;
  if (a) {
    if (strcmp(a, sender_name) == 0 || k == 1) memcpy(a, names[0], strlen(names[0]) + 1);
    shm_unlock(&active_map);
  }
  shm_unlock(&names_map);
}

static void write_info(uint32_t handle, uint32_t w, uint32_t h, uint32_t format) {
  shared_info info = {.share_handle = handle, .width = w, .height = h, .format = format};
  char exe[MAX_PATH] = {0};
  GetModuleFileNameA(NULL, exe, MAX_PATH); /* 2.007 puts the host path in the description */
  memcpy(info.description, exe, sizeof info.description);
  char *buf = shm_lock(&info_map);
  if (!buf) return;
  memcpy(buf, &info, sizeof info);
  shm_unlock(&info_map);
}

/* ---- D3D11 texture ---- */
static ID3D11Device *dev;
static ID3D11DeviceContext *ctx;
static ID3D11Texture2D *tex;
static IDXGIKeyedMutex *keyed;

static uint32_t make_texture(uint32_t w, uint32_t h, DXGI_FORMAT f, int with_keyed) {
  if (keyed) IDXGIKeyedMutex_Release(keyed), keyed = NULL;
  if (tex) ID3D11Texture2D_Release(tex), tex = NULL;
  D3D11_TEXTURE2D_DESC d = {
      .Width = w, .Height = h, .MipLevels = 1, .ArraySize = 1, .Format = f,
      .SampleDesc = {1, 0}, .Usage = D3D11_USAGE_DEFAULT,
      .BindFlags = D3D11_BIND_SHADER_RESOURCE | D3D11_BIND_RENDER_TARGET,
      .MiscFlags = with_keyed ? D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX : D3D11_RESOURCE_MISC_SHARED,
  };
  HRESULT hr = ID3D11Device_CreateTexture2D(dev, &d, NULL, &tex);
  if (FAILED(hr)) {
    printf("# fake_sender: CreateTexture2D failed 0x%08lx\n", (unsigned long)hr);
    return 0;
  }
  IDXGIResource *res = NULL;
  HANDLE share = NULL;
  hr = ID3D11Texture2D_QueryInterface(tex, &IID_IDXGIResource, (void **)&res);
  if (SUCCEEDED(hr)) hr = IDXGIResource_GetSharedHandle(res, &share), IDXGIResource_Release(res);
  if (hr == E_NOTIMPL) { /* Wine 8: no resource sharing between processes */
    printf("# fake_sender: IDXGIResource::GetSharedHandle is not implemented (E_NOTIMPL)\n");
    exit(5);
  }
  if (FAILED(hr) || !share) {
    printf("# fake_sender: GetSharedHandle failed 0x%08lx\n", (unsigned long)hr);
    return 0;
  }
  if (with_keyed) ID3D11Texture2D_QueryInterface(tex, &IID_IDXGIKeyedMutex, (void **)&keyed);
  return (uint32_t)(uintptr_t)share; /* Spout's HandleToLong */
}

static void draw(uint8_t *px, uint32_t w, uint32_t h, uint32_t frame, int rgba) {
  /* background: blue = frame & 255, green = 128, red = 64 (in BGRA order unless rgba) */
  for (uint32_t i = 0; i < w * h; i++) {
    uint8_t *p = px + (size_t)i * 4;
    p[rgba ? 2 : 0] = (uint8_t)frame;
    p[1] = 128;
    p[rgba ? 0 : 2] = 64;
    p[3] = 255;
  }
  if (w >= 40 && h >= smx_stamp_band_height(w))
    smx_stamp_write(px, w, h, w * 4, rgba ? 2 : 1, frame, smx_now_us());
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 7) {
    fprintf(stderr, "usage: fake_sender NAME W H FORMAT FPS FRAMES [options]\n");
    return 2;
  }
  snprintf(sender_name, sizeof sender_name, "%s", argv[1]);
  uint32_t w = (uint32_t)atoi(argv[2]), h = (uint32_t)atoi(argv[3]);
  uint32_t format = (uint32_t)atoi(argv[4]), fps = (uint32_t)atoi(argv[5]);
  uint32_t frames = (uint32_t)atoi(argv[6]);
  int counting = 1, texture = 0, with_keyed = 0, crash = 0, linger = 0;
  uint32_t resize_at = 0, rw = 0, rh = 0;
  for (int i = 7; i < argc; i++) {
    if (!strcmp(argv[i], "--no-count")) counting = 0;
    else if (!strcmp(argv[i], "--texture")) texture = 1;
    else if (!strcmp(argv[i], "--keyed")) texture = with_keyed = 1;
    else if (!strcmp(argv[i], "--crash")) crash = 1;
    else if (!strcmp(argv[i], "--linger") && i + 1 < argc) linger = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--resize-at") && i + 1 < argc)
      sscanf(argv[++i], "%u:%u:%u", &resize_at, &rw, &rh);
  }
  int rgba = format == 28 || format == 29;
  DXGI_FORMAT dxgi = rgba ? DXGI_FORMAT_R8G8B8A8_UNORM : DXGI_FORMAT_B8G8R8A8_UNORM;

  uint32_t handle = 0x40001234; /* placeholder when there is no real texture */
  if (texture) {
    HRESULT hr = D3D11CreateDevice(NULL, D3D_DRIVER_TYPE_HARDWARE, NULL,
                                   D3D11_CREATE_DEVICE_BGRA_SUPPORT, NULL, 0, D3D11_SDK_VERSION,
                                   &dev, NULL, &ctx);
    if (FAILED(hr)) {
      printf("# fake_sender: no D3D11 device (HRESULT 0x%08lx)\n", (unsigned long)hr);
      return 3;
    }
    handle = make_texture(w, h, dxgi, with_keyed);
    if (!handle) return 3;
  }

  /* SpoutSender: register the name, create the info map, the access mutex, the semaphore */
  if (!register_name()) {
    printf("# fake_sender: cannot register in SpoutSenderNames\n");
    return 4;
  }
  if (!shm_create(&info_map, sender_name, sizeof(shared_info))) return 4;
  write_info(handle, w, h, format);
  char objname[NAME_BYTES + 32];
  snprintf(objname, sizeof objname, "%s_SpoutAccessMutex", sender_name);
  access_mutex = CreateMutexA(NULL, FALSE, objname);
  if (counting) {
    snprintf(objname, sizeof objname, "%s_Count_Semaphore", sender_name);
    count_sem = CreateSemaphoreA(NULL, 1, LONG_MAX, objname);
  }
  printf("# fake_sender: %s registered %ux%u format %u handle 0x%x%s\n", sender_name, w, h,
         format, handle, counting ? " counting" : "");

  uint8_t *px = malloc((size_t)(rw > w ? rw : w) * (rh > h ? rh : h) * 4);
  for (uint32_t f = 1; frames == 0 || f <= frames; f++) {
    if (resize_at && f == resize_at + 1) {
      w = rw, h = rh;
      if (texture) handle = make_texture(w, h, dxgi, with_keyed);
      else handle += 4; /* a new texture gets a new handle */
      write_info(handle, w, h, format);
    }
    draw(px, w, h, f, rgba);
    /* CheckTextureAccess → write → SetNewFrame → AllowTextureAccess, as SpoutDX's SendTexture */
    int access = 0;
    if (keyed) access = IDXGIKeyedMutex_AcquireSync(keyed, 0, LOCK_MS) == S_OK;
    else access = WaitForSingleObject(access_mutex, LOCK_MS) == WAIT_OBJECT_0;
    if (access) {
      if (tex) {
        ID3D11DeviceContext_UpdateSubresource(ctx, (ID3D11Resource *)tex, 0, NULL, px, w * 4, 0);
        ID3D11DeviceContext_Flush(ctx);
      }
      if (count_sem && WaitForSingleObject(count_sem, 0) == WAIT_OBJECT_0)
        ReleaseSemaphore(count_sem, 2, NULL);
      if (keyed) IDXGIKeyedMutex_ReleaseSync(keyed, 0);
      else ReleaseMutex(access_mutex);
    }
    Sleep(1000 / (fps ? fps : 60));
  }
  if (linger) Sleep((DWORD)linger);
  if (crash) {
    printf("# fake_sender: %s crashing (no unregistering)\n", sender_name);
    ExitProcess(9); /* the OS closes our handles: the info map goes, the name stays */
  }
  release_name();
  shm_close(&info_map);
  if (count_sem) CloseHandle(count_sem);
  CloseHandle(access_mutex);
  shm_close(&active_map);
  shm_close(&names_map);
  printf("# fake_sender: %s closed\n", sender_name);
  return 0;
}
