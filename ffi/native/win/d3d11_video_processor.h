/* D3D11 video processor: a BGRA/RGBA texture of any size → an NV12 texture at the session size,
 * on the GPU (ID3D11VideoDevice / ID3D11VideoContext / VideoProcessorBlt), aspect kept
 * (smx_win_fit), BT.601 limited range (what the encoders' VUI says). The NV12 texture is what
 * NVENC registers as its input (nvenc.c), or what is read back for Media Foundation.
 *
 * Not thread-safe by itself: one encoder uses it, one call at a time (win_encoder.c). The device
 * must be multithread-protected when other threads use it too (the Spout receiver's is). */
#ifndef SMX_D3D11_VIDEO_PROCESSOR_H
#define SMX_D3D11_VIDEO_PROCESSOR_H

#include <stddef.h>
#include <stdint.h>

#include <d3d11.h>

typedef struct smx_d3d11_vp smx_d3d11_vp;

/* Creates a processor writing out_w x out_h NV12 on `device` (AddRef'd). Fails with a message
 * (SMX_E_ENCODER) when the device has no video processing (no D3D11_CREATE_DEVICE_VIDEO_SUPPORT,
 * WARP, a remote session) or cannot output NV12. */
int smx_vp_create(ID3D11Device *device, uint32_t out_w, uint32_t out_h, uint32_t fps,
                  smx_d3d11_vp **out, char *msg, size_t cap);
/* Converts and scales `src` (DXGI B8G8R8A8/B8G8R8X8/R8G8B8A8, any size; on the same device)
 * into the NV12 output. The input view is kept (and the texture AddRef'd) while the same texture
 * comes back; a new texture or size rebuilds it. */
int smx_vp_convert(smx_d3d11_vp *vp, ID3D11Texture2D *src, char *msg, size_t cap);
/* Uploads a CPU picture (format 1 = BGRA, 2 = RGBA, like SMX_FORMAT_*) into the processor's own
 * input texture, then converts it. */
int smx_vp_convert_pixels(smx_d3d11_vp *vp, const uint8_t *px, uint32_t w, uint32_t h,
                          uint32_t stride, uint32_t format, char *msg, size_t cap);
/* The NV12 output texture (owned by the processor; valid until smx_vp_free). */
ID3D11Texture2D *smx_vp_output(smx_d3d11_vp *vp);
ID3D11Device *smx_vp_device(smx_d3d11_vp *vp);
/* Reads the NV12 output back into `dst` as tightly packed NV12 (w*h luma, then w*h/2
 * interleaved chroma), through a staging texture: the Media Foundation path. */
int smx_vp_readback(smx_d3d11_vp *vp, uint8_t *dst, size_t cap, char *msg, size_t msg_cap);
void smx_vp_free(smx_d3d11_vp *vp);

/* Creates a D3D11 device on the default hardware adapter with video support (for an encoder
 * opened without the source's device), multithread-protected. NULL + message when none. */
ID3D11Device *smx_d3d11_create_device(char *msg, size_t cap);
/* Makes a device safe to use from several threads (ID3D10Multithread). */
void smx_d3d11_protect(ID3D11Device *device);

#endif
