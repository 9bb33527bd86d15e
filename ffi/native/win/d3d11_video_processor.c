/* D3D11 video processor: BGRA/RGBA → NV12 at the session size (d3d11_video_processor.h). */
#include "d3d11_video_processor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <d3d10.h> /* ID3D10Multithread */
#include <d3d11_1.h> /* ID3D11VideoContext1: colour spaces as DXGI names them */

#include "nvenc_params.h"
#include "smx_common.h"

struct smx_d3d11_vp {
  ID3D11Device *dev;
  ID3D11DeviceContext *ctx;
  ID3D11VideoDevice *vdev;
  ID3D11VideoContext *vctx;
  uint32_t out_w, out_h, fps;
  /* rebuilt when the input size changes */
  ID3D11VideoProcessorEnumerator *en;
  ID3D11VideoProcessor *proc;
  ID3D11VideoProcessorOutputView *ov;
  uint32_t in_w, in_h;
  /* the input view of the last source texture (AddRef'd so its address cannot be reused) */
  ID3D11Texture2D *src;
  ID3D11VideoProcessorInputView *iv;
  ID3D11Texture2D *out;
  ID3D11Texture2D *staging; /* NV12 readback, on first use */
  ID3D11Texture2D *upload;  /* CPU pictures, on first use */
  uint32_t upload_w, upload_h;
  DXGI_FORMAT upload_fmt;
};

#define RELEASE(p)                      \
  do {                                  \
    if (p) (p)->lpVtbl->Release(p);     \
    (p) = NULL;                         \
  } while (0)

static int failhr(char *msg, size_t cap, const char *what, HRESULT hr) {
  snprintf(msg, cap, "D3D11 video processor: %s failed (HRESULT 0x%08lx)", what,
           (unsigned long)hr);
  return SMX_E_ENCODER;
}

void smx_d3d11_protect(ID3D11Device *device) {
  ID3D10Multithread *mt = NULL;
  if (SUCCEEDED(ID3D11Device_QueryInterface(device, &IID_ID3D10Multithread, (void **)&mt)) &&
      mt) {
    ID3D10Multithread_SetMultithreadProtected(mt, TRUE);
    ID3D10Multithread_Release(mt);
  }
}

ID3D11Device *smx_d3d11_create_device(char *msg, size_t cap) {
  static const D3D_FEATURE_LEVEL levels[] = {D3D_FEATURE_LEVEL_11_1, D3D_FEATURE_LEVEL_11_0};
  ID3D11Device *dev = NULL;
  UINT flags = D3D11_CREATE_DEVICE_VIDEO_SUPPORT | D3D11_CREATE_DEVICE_BGRA_SUPPORT;
  HRESULT hr = D3D11CreateDevice(NULL, D3D_DRIVER_TYPE_HARDWARE, NULL, flags, levels, 2,
                                 D3D11_SDK_VERSION, &dev, NULL, NULL);
  if (FAILED(hr)) {
    snprintf(msg, cap,
             "no D3D11 hardware device with video support (D3D11CreateDevice: HRESULT "
             "0x%08lx): no GPU driver, or a remote/virtual display",
             (unsigned long)hr);
    return NULL;
  }
  smx_d3d11_protect(dev);
  return dev;
}

static void drop_input(smx_d3d11_vp *vp) {
  RELEASE(vp->iv);
  RELEASE(vp->src);
}

static void drop_pipeline(smx_d3d11_vp *vp) {
  drop_input(vp);
  RELEASE(vp->ov);
  RELEASE(vp->proc);
  RELEASE(vp->en);
  vp->in_w = vp->in_h = 0;
}

void smx_vp_free(smx_d3d11_vp *vp) {
  if (!vp) return;
  drop_pipeline(vp);
  RELEASE(vp->upload);
  RELEASE(vp->staging);
  RELEASE(vp->out);
  RELEASE(vp->vctx);
  RELEASE(vp->vdev);
  RELEASE(vp->ctx);
  RELEASE(vp->dev);
  free(vp);
}

int smx_vp_create(ID3D11Device *device, uint32_t out_w, uint32_t out_h, uint32_t fps,
                  smx_d3d11_vp **out, char *msg, size_t cap) {
  *out = NULL;
  smx_d3d11_vp *vp = calloc(1, sizeof *vp);
  if (!vp) {
    snprintf(msg, cap, "D3D11 video processor: out of memory");
    return SMX_E_NO_MEMORY;
  }
  vp->dev = device;
  ID3D11Device_AddRef(device);
  vp->out_w = out_w;
  vp->out_h = out_h;
  vp->fps = fps ? fps : 60;
  ID3D11Device_GetImmediateContext(device, &vp->ctx);
  HRESULT hr = ID3D11Device_QueryInterface(device, &IID_ID3D11VideoDevice, (void **)&vp->vdev);
  if (FAILED(hr)) {
    smx_vp_free(vp);
    snprintf(msg, cap,
             "D3D11 video processor: the device has no video support (ID3D11VideoDevice: "
             "HRESULT 0x%08lx); it must be created with D3D11_CREATE_DEVICE_VIDEO_SUPPORT",
             (unsigned long)hr);
    return SMX_E_ENCODER;
  }
  hr = ID3D11DeviceContext_QueryInterface(vp->ctx, &IID_ID3D11VideoContext, (void **)&vp->vctx);
  if (FAILED(hr)) {
    int st = failhr(msg, cap, "ID3D11VideoContext", hr);
    smx_vp_free(vp);
    return st;
  }
  D3D11_TEXTURE2D_DESC td;
  memset(&td, 0, sizeof td);
  td.Width = out_w;
  td.Height = out_h;
  td.MipLevels = 1;
  td.ArraySize = 1;
  td.Format = DXGI_FORMAT_NV12;
  td.SampleDesc.Count = 1;
  td.Usage = D3D11_USAGE_DEFAULT;
  td.BindFlags = D3D11_BIND_RENDER_TARGET; /* video processor output; NVENC registers it */
  hr = ID3D11Device_CreateTexture2D(device, &td, NULL, &vp->out);
  if (FAILED(hr)) {
    int st = failhr(msg, cap, "CreateTexture2D (NV12 output)", hr);
    smx_vp_free(vp);
    return st;
  }
  *out = vp;
  return SMX_OK;
}

/* Enumerator, processor and output view for an in_w x in_h input. */
static int build_pipeline(smx_d3d11_vp *vp, uint32_t in_w, uint32_t in_h, DXGI_FORMAT in_fmt,
                          char *msg, size_t cap) {
  drop_pipeline(vp);
  D3D11_VIDEO_PROCESSOR_CONTENT_DESC cd;
  memset(&cd, 0, sizeof cd);
  cd.InputFrameFormat = D3D11_VIDEO_FRAME_FORMAT_PROGRESSIVE;
  cd.InputFrameRate.Numerator = vp->fps;
  cd.InputFrameRate.Denominator = 1;
  cd.InputWidth = in_w;
  cd.InputHeight = in_h;
  cd.OutputFrameRate = cd.InputFrameRate;
  cd.OutputWidth = vp->out_w;
  cd.OutputHeight = vp->out_h;
  cd.Usage = D3D11_VIDEO_USAGE_OPTIMAL_SPEED;
  HRESULT hr = ID3D11VideoDevice_CreateVideoProcessorEnumerator(vp->vdev, &cd, &vp->en);
  if (FAILED(hr)) return failhr(msg, cap, "CreateVideoProcessorEnumerator", hr);
  UINT support = 0;
  hr = ID3D11VideoProcessorEnumerator_CheckVideoProcessorFormat(vp->en, in_fmt, &support);
  if (FAILED(hr) || !(support & D3D11_VIDEO_PROCESSOR_FORMAT_SUPPORT_INPUT)) {
    snprintf(msg, cap, "D3D11 video processor: input format %d is not supported", (int)in_fmt);
    return SMX_E_FORMAT;
  }
  support = 0;
  hr = ID3D11VideoProcessorEnumerator_CheckVideoProcessorFormat(vp->en, DXGI_FORMAT_NV12,
                                                                 &support);
  if (FAILED(hr) || !(support & D3D11_VIDEO_PROCESSOR_FORMAT_SUPPORT_OUTPUT)) {
    snprintf(msg, cap, "D3D11 video processor: NV12 output is not supported by this GPU");
    return SMX_E_ENCODER;
  }
  hr = ID3D11VideoDevice_CreateVideoProcessor(vp->vdev, vp->en, 0, &vp->proc);
  if (FAILED(hr)) return failhr(msg, cap, "CreateVideoProcessor", hr);
  D3D11_VIDEO_PROCESSOR_OUTPUT_VIEW_DESC od;
  memset(&od, 0, sizeof od);
  od.ViewDimension = D3D11_VPOV_DIMENSION_TEXTURE2D;
  od.Texture2D.MipSlice = 0;
  hr = ID3D11VideoDevice_CreateVideoProcessorOutputView(vp->vdev, (ID3D11Resource *)vp->out,
                                                        vp->en, &od, &vp->ov);
  if (FAILED(hr)) return failhr(msg, cap, "CreateVideoProcessorOutputView", hr);

  /* State of the one stream: progressive, the fitted rectangles, RGB full range in, BT.601
   * limited range out, black bars, no driver "enhancements". */
  smx_win_rect s, d;
  smx_win_fit(in_w, in_h, vp->out_w, vp->out_h, &s, &d);
  RECT src_rect = {(LONG)s.left, (LONG)s.top, (LONG)s.right, (LONG)s.bottom};
  RECT dst_rect = {(LONG)d.left, (LONG)d.top, (LONG)d.right, (LONG)d.bottom};
  RECT target = {0, 0, (LONG)vp->out_w, (LONG)vp->out_h};
  ID3D11VideoContext *v = vp->vctx;
  ID3D11VideoContext_VideoProcessorSetStreamFrameFormat(v, vp->proc, 0,
                                                        D3D11_VIDEO_FRAME_FORMAT_PROGRESSIVE);
  ID3D11VideoContext_VideoProcessorSetStreamSourceRect(v, vp->proc, 0, TRUE, &src_rect);
  ID3D11VideoContext_VideoProcessorSetStreamDestRect(v, vp->proc, 0, TRUE, &dst_rect);
  ID3D11VideoContext_VideoProcessorSetOutputTargetRect(v, vp->proc, TRUE, &target);
  ID3D11VideoContext_VideoProcessorSetStreamAutoProcessingMode(v, vp->proc, 0, FALSE);
  D3D11_VIDEO_PROCESSOR_COLOR_SPACE in_cs, out_cs;
  memset(&in_cs, 0, sizeof in_cs);
  in_cs.RGB_Range = 0; /* full range RGB */
  memset(&out_cs, 0, sizeof out_cs);
  out_cs.YCbCr_Matrix = 0;                                         /* BT.601 */
  out_cs.Nominal_Range = D3D11_VIDEO_PROCESSOR_NOMINAL_RANGE_16_235; /* limited */
  ID3D11VideoContext_VideoProcessorSetStreamColorSpace(v, vp->proc, 0, &in_cs);
  ID3D11VideoContext_VideoProcessorSetOutputColorSpace(v, vp->proc, &out_cs);
  /* Windows 8.1+ drivers take the DXGI colour spaces too; some honour only these. */
  ID3D11VideoContext1 *v1 = NULL;
  if (SUCCEEDED(ID3D11VideoContext_QueryInterface(v, &IID_ID3D11VideoContext1, (void **)&v1)) &&
      v1) {
    ID3D11VideoContext1_VideoProcessorSetStreamColorSpace1(
        v1, vp->proc, 0, DXGI_COLOR_SPACE_RGB_FULL_G22_NONE_P709);
    ID3D11VideoContext1_VideoProcessorSetOutputColorSpace1(
        v1, vp->proc, DXGI_COLOR_SPACE_YCBCR_STUDIO_G22_LEFT_P601);
    ID3D11VideoContext1_Release(v1);
  }
  D3D11_VIDEO_COLOR black;
  memset(&black, 0, sizeof black);
  black.RGBA.A = 1.0f;
  ID3D11VideoContext_VideoProcessorSetOutputBackgroundColor(v, vp->proc, FALSE, &black);
  vp->in_w = in_w;
  vp->in_h = in_h;
  return SMX_OK;
}

int smx_vp_convert(smx_d3d11_vp *vp, ID3D11Texture2D *src, char *msg, size_t cap) {
  D3D11_TEXTURE2D_DESC sd;
  ID3D11Texture2D_GetDesc(src, &sd);
  if (sd.Width != vp->in_w || sd.Height != vp->in_h || !vp->proc) {
    int st = build_pipeline(vp, sd.Width, sd.Height, sd.Format, msg, cap);
    if (st) return st;
  }
  if (src != vp->src || !vp->iv) {
    drop_input(vp);
    D3D11_VIDEO_PROCESSOR_INPUT_VIEW_DESC id;
    memset(&id, 0, sizeof id);
    id.FourCC = 0;
    id.ViewDimension = D3D11_VPIV_DIMENSION_TEXTURE2D;
    id.Texture2D.MipSlice = 0;
    id.Texture2D.ArraySlice = 0;
    HRESULT hr = ID3D11VideoDevice_CreateVideoProcessorInputView(
        vp->vdev, (ID3D11Resource *)src, vp->en, &id, &vp->iv);
    if (FAILED(hr)) return failhr(msg, cap, "CreateVideoProcessorInputView", hr);
    vp->src = src;
    ID3D11Texture2D_AddRef(src);
  }
  D3D11_VIDEO_PROCESSOR_STREAM stream;
  memset(&stream, 0, sizeof stream);
  stream.Enable = TRUE;
  stream.pInputSurface = vp->iv;
  HRESULT hr = ID3D11VideoContext_VideoProcessorBlt(vp->vctx, vp->proc, vp->ov, 0, 1, &stream);
  if (FAILED(hr)) return failhr(msg, cap, "VideoProcessorBlt", hr);
  return SMX_OK;
}

int smx_vp_convert_pixels(smx_d3d11_vp *vp, const uint8_t *px, uint32_t w, uint32_t h,
                          uint32_t stride, uint32_t format, char *msg, size_t cap) {
  DXGI_FORMAT fmt = format == 2 ? DXGI_FORMAT_R8G8B8A8_UNORM : DXGI_FORMAT_B8G8R8A8_UNORM;
  if (!vp->upload || vp->upload_w != w || vp->upload_h != h || vp->upload_fmt != fmt) {
    drop_input(vp); /* the old upload texture's view */
    RELEASE(vp->upload);
    D3D11_TEXTURE2D_DESC td;
    memset(&td, 0, sizeof td);
    td.Width = w;
    td.Height = h;
    td.MipLevels = 1;
    td.ArraySize = 1;
    td.Format = fmt;
    td.SampleDesc.Count = 1;
    td.Usage = D3D11_USAGE_DEFAULT;
    td.BindFlags = D3D11_BIND_RENDER_TARGET | D3D11_BIND_SHADER_RESOURCE;
    HRESULT hr = ID3D11Device_CreateTexture2D(vp->dev, &td, NULL, &vp->upload);
    if (FAILED(hr)) return failhr(msg, cap, "CreateTexture2D (upload)", hr);
    vp->upload_w = w;
    vp->upload_h = h;
    vp->upload_fmt = fmt;
  }
  ID3D11DeviceContext_UpdateSubresource(vp->ctx, (ID3D11Resource *)vp->upload, 0, NULL, px,
                                        stride, 0);
  return smx_vp_convert(vp, vp->upload, msg, cap);
}

ID3D11Texture2D *smx_vp_output(smx_d3d11_vp *vp) { return vp->out; }
ID3D11Device *smx_vp_device(smx_d3d11_vp *vp) { return vp->dev; }

int smx_vp_readback(smx_d3d11_vp *vp, uint8_t *dst, size_t cap, char *msg, size_t msg_cap) {
  size_t need = (size_t)vp->out_w * vp->out_h * 3 / 2;
  if (cap < need) {
    snprintf(msg, msg_cap, "NV12 readback buffer of %zu bytes is too small (%zu)", cap, need);
    return SMX_E_INVALID_ARG;
  }
  if (!vp->staging) {
    D3D11_TEXTURE2D_DESC td;
    ID3D11Texture2D_GetDesc(vp->out, &td);
    td.Usage = D3D11_USAGE_STAGING;
    td.BindFlags = 0;
    td.CPUAccessFlags = D3D11_CPU_ACCESS_READ;
    td.MiscFlags = 0;
    HRESULT hr = ID3D11Device_CreateTexture2D(vp->dev, &td, NULL, &vp->staging);
    if (FAILED(hr)) return failhr(msg, msg_cap, "CreateTexture2D (NV12 staging)", hr);
  }
  ID3D11DeviceContext_CopyResource(vp->ctx, (ID3D11Resource *)vp->staging,
                                   (ID3D11Resource *)vp->out);
  D3D11_MAPPED_SUBRESOURCE m;
  HRESULT hr = ID3D11DeviceContext_Map(vp->ctx, (ID3D11Resource *)vp->staging, 0, D3D11_MAP_READ,
                                       0, &m);
  if (FAILED(hr)) return failhr(msg, msg_cap, "Map (NV12 staging)", hr);
  /* A mapped NV12 texture: luma rows at RowPitch, the interleaved chroma plane right after
   * `height` luma rows, with the same pitch. */
  const uint8_t *src = m.pData;
  for (uint32_t y = 0; y < vp->out_h; y++)
    memcpy(dst + (size_t)y * vp->out_w, src + (size_t)y * m.RowPitch, vp->out_w);
  const uint8_t *uv = src + (size_t)m.RowPitch * vp->out_h;
  uint8_t *duv = dst + (size_t)vp->out_w * vp->out_h;
  for (uint32_t y = 0; y < vp->out_h / 2; y++)
    memcpy(duv + (size_t)y * vp->out_w, uv + (size_t)y * m.RowPitch, vp->out_w);
  ID3D11DeviceContext_Unmap(vp->ctx, (ID3D11Resource *)vp->staging, 0);
  return SMX_OK;
}
