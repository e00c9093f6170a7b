#include "models/hunyuan/llava_vision_cuda.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cuda/activation.h"
#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/patch.h"
#include "core/dtype.h"
#include "core/error.h"
#include "models/hunyuan/clip_encoder_layers_cuda.h"

namespace jenga::hunyuan {

using cuda::device_empty;

struct LlavaVisionEncoderCuda::Impl {
  const LlavaVisionEncoder* host = nullptr;  // for check_pixels only (encode-time)
  LlavaVisionConfig c;
  int64_t kp = 0;  // patch GEMM columns: 3 * patch^2 rounded up to a multiple of 8
  std::unique_ptr<EncoderLinearCuda> lin;
  std::unique_ptr<ClipEncoderLayersCuda> layers;
  Tensor patch_w;          // fp16 [D, kp], zero columns past 3 * patch^2
  Tensor emb0;             // f32 [L, D]: position embeddings, + the class embedding on row 0
  Tensor pre_w, pre_b;     // f32 [D]
  Tensor l1, l1_b, l2, l2_b;
  // Activations: pixels, patch rows, embeddings before the pre-LayerNorm, the residual stream,
  // the features as the projector's operand (fp16 mode), projector hidden (f32, activated), output.
  Tensor px, patches, emb, x, feat16, mid, mid_act, proj;
};

LlavaVisionEncoderCuda::LlavaVisionEncoderCuda() : impl_(std::make_unique<Impl>()) {}
LlavaVisionEncoderCuda::~LlavaVisionEncoderCuda() = default;

std::unique_ptr<LlavaVisionEncoderCuda> LlavaVisionEncoderCuda::upload(const LlavaVisionEncoder& e,
                                                                       TextEncoderPrecision precision) {
  cuda::init();
  std::unique_ptr<LlavaVisionEncoderCuda> m(new LlavaVisionEncoderCuda());
  Impl& I = *m->impl_;
  I.host = &e;
  I.c = e.config();
  const LlavaVisionConfig& c = I.c;
  const auto& vw = e.vision_weights();
  const auto& pw = e.projector_weights();
  const int64_t D = c.hidden, P = c.patch, N = c.tokens(), L = N + 1, F = c.ffn, PH = c.proj_hidden,
                PO = c.proj_out, K = 3 * P * P, S = c.image_size;
  const int64_t T = c.drop_cls ? N : L;
  I.kp = (K + 7) / 8 * 8;
  const TextEncoderPrecision p = precision_for_widths(precision, {D, F, D / c.heads, PH, PO});
  const bool f16 = p == TextEncoderPrecision::F16;
  I.layers = std::make_unique<ClipEncoderLayersCuda>(vw, ClipLayerShape{L, D, c.heads, F, c.ln_eps, c.quick_gelu},
                                                     c.layers_run(), f16);
  I.lin = std::make_unique<EncoderLinearCuda>(p, std::max({I.layers->max_weight(), D * I.kp, PH * D, PO * PH}));
  {
    const auto w = vw.f32("embeddings.patch_embedding.weight", {D, 3, P, P});
    std::vector<float> padded(static_cast<size_t>(D * I.kp), 0.0f);
    for (int64_t o = 0; o < D; ++o) std::copy(w.begin() + o * K, w.begin() + (o + 1) * K, padded.begin() + o * I.kp);
    I.patch_w = cuda::upload(padded.data(), D * I.kp, DType::F16);
    auto table = vw.f32("embeddings.position_embedding.weight", {L, D});
    const auto cls = vw.f32("embeddings.class_embedding", {D});
    for (int64_t i = 0; i < D; ++i) table[i] += cls[i];  // cls + pos[0], as the CPU sums them
    I.emb0 = cuda::upload(table.data(), L * D, DType::F32);
  }
  I.pre_w = upload_f32_concat(vw, {"pre_layrnorm.weight"}, {D});
  I.pre_b = upload_f32_concat(vw, {"pre_layrnorm.bias"}, {D});
  I.l1 = upload_f16_stacked(pw, {"linear_1.weight"}, {PH}, D);
  I.l1_b = upload_f32_concat(pw, {"linear_1.bias"}, {PH});
  I.l2 = upload_f16_stacked(pw, {"linear_2.weight"}, {PO}, PH);
  I.l2_b = upload_f32_concat(pw, {"linear_2.bias"}, {PO});
  const DType act = f16 ? DType::F16 : DType::F32;
  I.px = device_empty(DType::F32, 3 * S * S);
  I.patches = device_empty(act, N * I.kp);
  I.emb = device_empty(DType::F32, L * D);
  I.x = device_empty(DType::F32, L * D);
  if (f16) I.feat16 = device_empty(DType::F16, T * D);
  I.mid = device_empty(DType::F32, T * PH);
  I.mid_act = device_empty(act, T * PH);
  I.proj = device_empty(DType::F32, T * PO);
  return m;
}

bool LlavaVisionEncoderCuda::f16() const { return impl_->lin->f16(); }

size_t LlavaVisionEncoderCuda::weight_bytes() const {
  const Impl& I = *impl_;
  size_t n = I.layers->weight_bytes();
  for (const Tensor* t : {&I.patch_w, &I.emb0, &I.pre_w, &I.pre_b, &I.l1, &I.l1_b, &I.l2, &I.l2_b}) n += t->nbytes();
  return n;
}

LlavaImageFeatures LlavaVisionEncoderCuda::encode(const Tensor& pixel_values) const {
  Impl& I = *impl_;  // its activation buffers are written
  const LlavaVisionConfig& c = I.c;
  I.host->check_pixels(pixel_values);
  const int64_t D = c.hidden, N = c.tokens(), L = N + 1, PH = c.proj_hidden, PO = c.proj_out, S = c.image_size;
  const int64_t first = c.drop_cls ? 1 : 0, T = L - first;
  EncoderLinearCuda& lin = *I.lin;
  const bool f16 = lin.f16();
  float* emb = I.emb.data_as<float>();
  float* x = I.x.data_as<float>();
  cuda::copy_to_device(I.px.data(), pixel_values.data(), static_cast<size_t>(3 * S * S) * sizeof(float));
  cuda::image_patches(I.px.data_as<float>(), I.patches.data(), f16, S, static_cast<int>(c.patch), I.kp);
  cuda::axpby(emb, 1.0f, I.emb0.data_as<float>(), 0.0f, L * D);                   // class + positions
  lin.run(I.patches.data(), I.patch_w, nullptr, N, D, I.kp, emb + D, D, true);  // + the patch conv
  cuda::layer_norm_f32(emb, I.pre_w.data_as<float>(), I.pre_b.data_as<float>(), x, false, L, D, c.ln_eps);
  I.layers->run(lin, x, L, nullptr, /*causal=*/false);
  const float* feat = x + first * D;
  const void* feat_in = feat;
  if (f16) {
    cuda::f32_to_f16(feat, I.feat16.data(), T * D);
    feat_in = I.feat16.data();
  }
  lin.run(feat_in, I.l1, I.l1_b.data_as<float>(), T, PH, D, I.mid.data(), PH, false);
  cuda::gelu(I.mid.data_as<float>(), I.mid_act.data(), f16, T * PH, /*quick=*/false);  // nn.GELU() (erf)
  lin.run(I.mid_act.data(), I.l2, I.l2_b.data_as<float>(), T, PO, PH, I.proj.data(), PO, false);
  LlavaImageFeatures out;
  out.features = Tensor::empty(DType::F32, {T, D});
  out.projected = Tensor::empty(DType::F32, {T, PO});
  cuda::synchronize();
  cuda::copy_to_host(out.features.data(), feat, static_cast<size_t>(T * D) * sizeof(float));
  cuda::copy_to_host(out.projected.data(), I.proj.data(), static_cast<size_t>(T * PO) * sizeof(float));
  const float* pr = out.projected.data_as<float>();
  for (int64_t i = 0; i < out.projected.numel(); ++i)
    if (!std::isfinite(pr[i])) fail("the CUDA LLaVA image encoder produced NaN or inf (bad weights?)");
  return out;
}

}  // namespace jenga::hunyuan
