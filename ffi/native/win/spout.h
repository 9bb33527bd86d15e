/* Spout receiver (Windows only): reads the textures other programs share through Spout 2, in
 * plain C against the mingw-w64 headers (no Spout library; SpoutLibrary.dll has no C ABI).
 *
 * What a Spout 2 sender publishes (Spout 2.007 SpoutSenderNames.cpp / SpoutSharedMemory.cpp /
 * SpoutFrameCount.cpp; notes in ffi/native/win/README.md):
 *   - "SpoutSenderNames": a named file mapping of MaxSenders slots of 256 bytes (MaxSenders from
 *     HKCU\Software\Leading Edge\Spout\MaxSenders, default 64), each a NUL-terminated name in the
 *     ANSI code page, sorted (a std::set), the list ending at the first empty slot;
 *   - "<sender>": a 280-byte mapping (smx_spout_shared_info below);
 *   - "ActiveSenderName": a 256-byte mapping holding the active sender's name;
 *   - every such mapping "<map>" is guarded by a named mutex "<map>_mutex" (Spout waits 67 ms);
 *   - "<sender>_Count_Semaphore" (optional, when frame counting is on): initial count 1, and the
 *     sender adds one per frame (wait 0 + release 2), so a receiver reads the frame count by
 *     waiting 0 and releasing 1 (the previous count it gets back is the number of frames);
 *   - "<sender>_SpoutAccessMutex": held around the sender's writes to a texture that has no
 *     keyed mutex; a texture made with D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX uses key 0 instead.
 * The texture itself is a D3D11 texture shared through a legacy (32-bit) share handle, opened
 * with ID3D11Device::OpenSharedResource on the adapter that owns it.
 *
 * A receiver handle is used by one thread at a time for its own calls (the TS wrapper serializes
 * them); a call still running keeps smx_spout_receiver_close() waiting. Nonblocking calls report
 * failures through the handle (smx_spout_receiver_error) as well as the thread-local message. */
#ifndef SMX_SPOUT_H
#define SMX_SPOUT_H

#include "smx_common.h"

#include <d3d11.h>

#define SMX_SPOUT_NAME_BYTES 256        /* a slot of SpoutSenderNames, with its NUL */
#define SMX_SPOUT_DEFAULT_MAX_SENDERS 64 /* Spout's default when the registry value is absent */
#define SMX_SPOUT_MAX_SENDERS 4096      /* more slots than this are not read */
#define SMX_SPOUT_LOCK_MS 67            /* Spout's mutex timeout: four frames at 60 fps */

/* DXGI formats a sender may announce (21/22 are D3D9's A8R8G8B8/X8R8G8B8: BGRA in memory). */
enum {
  SMX_SPOUT_DXGI_UNKNOWN = 0,
  SMX_SPOUT_D3D9_A8R8G8B8 = 21,
  SMX_SPOUT_D3D9_X8R8G8B8 = 22,
  SMX_SPOUT_DXGI_R8G8B8A8_UNORM = 28,
  SMX_SPOUT_DXGI_R8G8B8A8_UNORM_SRGB = 29,
  SMX_SPOUT_DXGI_B8G8R8A8_UNORM = 87,
  SMX_SPOUT_DXGI_B8G8R8X8_UNORM = 88,
  SMX_SPOUT_DXGI_B8G8R8A8_UNORM_SRGB = 91,
};

/* A sender's info map: Spout's SharedTextureInfo, 280 bytes, little-endian. */
typedef struct {
  uint32_t share_handle; /* legacy share handle of the texture (0 = none yet) */
  uint32_t width, height;
  uint32_t format;       /* DXGI format (or 21/22 from D3D9 senders; 0 = unknown, BGRA) */
  uint32_t usage;
  uint8_t description[256]; /* 2.007: the sender's executable path (ANSI); older: UTF-16 text */
  uint32_t partner_id;   /* 2.007: bit 31 CPU sharing, bit 30 GL/DX compatible */
} smx_spout_shared_info;
_Static_assert(sizeof(smx_spout_shared_info) == 280, "Spout's SharedTextureInfo is 280 bytes");

/* Flags of a listed sender and of smx_spout_info.flags. */
enum {
  SMX_SPOUT_F_FRAME_COUNT = 1,   /* "<name>_Count_Semaphore" exists */
  SMX_SPOUT_F_ACCESS_MUTEX = 2,  /* "<name>_SpoutAccessMutex" exists */
  SMX_SPOUT_F_ACTIVE = 4,        /* the name in ActiveSenderName */
  SMX_SPOUT_F_CPU_SHARE = 8,     /* partner_id bit 31: the sender shares through CPU memory */
  SMX_SPOUT_F_GLDX = 16,         /* partner_id bit 30 */
  SMX_SPOUT_F_TEXTURE_OPEN = 32, /* (receiver) the shared texture is open */
  SMX_SPOUT_F_KEYED_MUTEX = 64,  /* (receiver) the texture has a DXGI keyed mutex */
  SMX_SPOUT_F_POLLING = 128,     /* (receiver) frames are counted by polling (no semaphore) */
};

/* What the receiver knows about the newest frame (ABI: 64 bytes, little-endian). */
typedef struct {
  uint64_t frame;         /* receiver's frame number (1 = first seen; 0 = none yet) */
  int64_t capture_us;     /* smx_now_us() when the receiver saw the frame (Spout has no time) */
  uint32_t width, height; /* the sender's current size */
  uint32_t stride;        /* bytes per row of copy_latest's output (width * 4) */
  uint32_t format;        /* SMX_FORMAT_BGRA: what copy_latest writes */
  uint32_t dxgi_format;   /* the sender's announced format */
  uint32_t share_handle;
  uint32_t flags;         /* SMX_SPOUT_F_* */
  uint32_t reopens;       /* times the shared texture was reopened (new handle or size) */
  int64_t sender_frame;   /* the sender's own frame count; -1 when it does not count */
  uint64_t reserved;
} smx_spout_info;
_Static_assert(sizeof(smx_spout_info) == 64, "smx_spout_info is 64 bytes (ffi/spout.ts)");

typedef struct smx_spout_receiver smx_spout_receiver;

/* Lists the senders as UTF-8 lines "name\twidth\theight\tdxgi_format\tshare_handle\tflags\t
 * sender_frame\tdescription\n" into buf (NUL-terminated). Names whose info map no longer exists
 * (a sender that died without unregistering) are left out. Returns the number of senders,
 * SMX_E_NO_MEMORY when cap is too small (call again with more), or another negative status.
 * No SpoutSenderNames map (no Spout program ran yet) is 0 senders. Synchronous. */
SMX_EXPORT int smx_spout_list(char *buf, uint64_t cap);

/* Opens a receiver for the sender `name` (UTF-8). `poll_fps` bounds how often a sender without
 * a frame-count semaphore is taken to have a new frame (0 = 60). SMX_E_NOT_FOUND when no such
 * sender exists. The texture is opened on first use (copy_latest), not here: the Spout files and
 * frame counting work without a GPU. Synchronous. */
SMX_EXPORT smx_spout_receiver *smx_spout_receiver_open(const char *name, uint32_t poll_fps);
/* Waits up to timeout_ms for a frame newer than after_frame: SMX_OK, SMX_E_TIMEOUT, or
 * SMX_E_WRITER_GONE when the sender's info map is gone (it closed or died). (nonblocking) */
SMX_EXPORT int smx_spout_receiver_wait(smx_spout_receiver *r, uint64_t after_frame,
                                       int32_t timeout_ms);
/* The newest frame's info, without waiting (reads the sender's info map). */
SMX_EXPORT int smx_spout_receiver_info(smx_spout_receiver *r, smx_spout_info *out);
/* CPU readback: copies the sender's texture into the receiver's own texture (under its keyed
 * mutex or access mutex), then through a staging texture into dst as tightly packed BGRA rows.
 * Returns the bytes written (width * height * 4); SMX_E_RESIZED when dst_cap is too small (out
 * has the size), SMX_E_AGAIN when the sender has no texture yet, SMX_E_TORN when the sender
 * held its lock past SMX_SPOUT_LOCK_MS (try again), SMX_E_WRITER_GONE, SMX_E_IO (D3D11 failed;
 * the message has the HRESULT), SMX_E_FORMAT (a format other than 8-bit RGBA/BGRA).
 * (nonblocking) */
SMX_EXPORT int64_t smx_spout_receiver_copy_latest(smx_spout_receiver *r, uint8_t *dst,
                                                  uint64_t dst_cap, smx_spout_info *out);
SMX_EXPORT const char *smx_spout_receiver_error(smx_spout_receiver *r);
/* Waits for a call still running on another thread, then frees everything. NULL is a no-op. */
SMX_EXPORT void smx_spout_receiver_close(smx_spout_receiver *r);

/* Checks this machine's D3D11 side of the receiver without a sender: a device on the first
 * adapter, a shared texture (keyed != 0: with a keyed mutex, taken with key 0 around the copy as
 * a sender's would be) of width x height (DXGI 87 BGRA or 28 RGBA) holding byte
 * (x + 2y + 64i) & 255 at channel i of pixel (x, y), copied into a receiver's own texture and
 * read back as BGRA into dst exactly as copy_latest does (only OpenSharedResource is left out).
 * Returns the bytes written or a negative status; msg gets what was used or what failed.
 * Synchronous. (For Wine, which cannot share textures between processes, and for the
 * verification script on a real machine.) */
SMX_EXPORT int64_t smx_spout_d3d_selftest(uint32_t width, uint32_t height, uint32_t dxgi_format,
                                          uint32_t keyed, uint8_t *dst, uint64_t dst_cap,
                                          char *msg, uint32_t msg_cap);

/* ---- for the Windows encoder in this DLL (not exported) ----
 * GPU path: copies the newest frame into the receiver's own texture (as copy_latest does, without
 * the readback) and hands out the receiver's device, immediate context and that texture. The
 * receiver stays locked (its other calls wait) until smx_spout_receiver_gpu_done(); do not keep
 * the pointers (or AddRef them) past it. The device is multithread-protected
 * (ID3D10Multithread), created with D3D11_CREATE_DEVICE_VIDEO_SUPPORT when the driver has it
 * (flags in *video_support). Returns SMX_OK or a status as copy_latest; on failure nothing is
 * held. */
int smx_spout_receiver_gpu_frame(smx_spout_receiver *r, ID3D11Device **device,
                                 ID3D11DeviceContext **context, ID3D11Texture2D **texture,
                                 smx_spout_info *info, int *video_support);
void smx_spout_receiver_gpu_done(smx_spout_receiver *r);

#endif
