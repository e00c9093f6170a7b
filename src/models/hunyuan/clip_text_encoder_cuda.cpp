#include "models/hunyuan/clip_text_encoder_cuda.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/norm.h"
#include "core/error.h"
#include "models/hunyuan/clip_encoder_layers_cuda.h"

namespace jenga::hunyuan {

struct ClipTextEncoderCuda::Impl {
  const ClipTextEncoder* host = nullptr;
  ClipTextConfig c;
  std::unique_ptr<ClipEncoderLayersCuda> layers;
  Tensor final_w, final_b;
  std::unique_ptr<EncoderLinearCuda> lin;
  // The residual stream x, the final LayerNorm's output, the key mask (activations for
  // `positions` tokens; the layers keep their own).
  Tensor x, out, km;
};

ClipTextEncoderCuda::ClipTextEncoderCuda() : impl_(std::make_unique<Impl>()) {}
ClipTextEncoderCuda::~ClipTextEncoderCuda() = default;

std::unique_ptr<ClipTextEncoderCuda> ClipTextEncoderCuda::upload(const ClipTextEncoder& e, TextEncoderPrecision precision) {
  cuda::init();
  std::unique_ptr<ClipTextEncoderCuda> m(new ClipTextEncoderCuda());
  Impl& I = *m->impl_;
  I.host = &e;
  I.c = e.config();
  const ClipTextConfig& c = I.c;
  const auto& w = e.weights();
  const int64_t D = c.hidden, F = c.ffn, L = c.positions, H = c.heads;
  const TextEncoderPrecision p = precision_for_widths(precision, {D, F, D / H});
  I.layers = std::make_unique<ClipEncoderLayersCuda>(w, ClipLayerShape{L, D, H, F, c.ln_eps, c.quick_gelu}, c.layers,
                                                     p == TextEncoderPrecision::F16);
  I.final_w = upload_f32_concat(w, {"final_layer_norm.weight"}, {D});
  I.final_b = upload_f32_concat(w, {"final_layer_norm.bias"}, {D});
  I.lin = std::make_unique<EncoderLinearCuda>(p, I.layers->max_weight());
  I.x = cuda::device_empty(DType::F32, L * D);
  I.out = cuda::device_empty(DType::F32, L * D);
  I.km = cuda::device_empty(DType::U8, L);
  return m;
}

size_t ClipTextEncoderCuda::weight_bytes() const {
  return impl_->layers->weight_bytes() + impl_->final_w.nbytes() + impl_->final_b.nbytes();
}

ClipTextOutput ClipTextEncoderCuda::encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const {
  Impl& I = *impl_;  // its activation buffers are written
  const ClipTextConfig& c = I.c;
  I.host->check_input(ids, mask);
  const int64_t L = static_cast<int64_t>(ids.size()), D = c.hidden;
  std::vector<float> x0(static_cast<size_t>(L * D));
  I.host->embed(ids, x0.data());
  std::vector<uint8_t> key_mask(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) key_mask[i] = mask[i] != 0;
  cuda::copy_to_device(I.x.data(), x0.data(), x0.size() * sizeof(float));
  cuda::copy_to_device(I.km.data(), key_mask.data(), key_mask.size());

  float* x = I.x.data_as<float>();
  I.layers->run(*I.lin, x, L, I.km.data_as<uint8_t>(), /*causal=*/true);
  cuda::layer_norm_f32(x, I.final_w.data_as<float>(), I.final_b.data_as<float>(), I.out.data(), false, L, D, c.ln_eps);
  ClipTextOutput out;
  out.last_hidden_state = Tensor::empty(DType::F32, {L, D});
  cuda::synchronize();
  cuda::copy_to_host(out.last_hidden_state.data(), I.out.data(), static_cast<size_t>(L * D) * sizeof(float));
  const float* y = out.last_hidden_state.data_as<float>();
  for (int64_t i = 0; i < L * D; ++i)
    if (!std::isfinite(y[i])) fail("the CUDA CLIP text encoder produced NaN or inf (bad weights?)");
  const int64_t pos = I.host->pooled_position(ids);
  out.pooled = Tensor::empty(DType::F32, {D});
  std::copy(y + pos * D, y + (pos + 1) * D, out.pooled.data_as<float>());
  return out;
}

}  // namespace jenga::hunyuan
