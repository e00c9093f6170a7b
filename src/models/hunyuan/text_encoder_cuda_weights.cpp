#include "models/hunyuan/text_encoder_cuda_weights.h"

#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_upload.h"
#include "core/dtype.h"
#include "core/error.h"

namespace jenga::hunyuan {

Tensor upload_f16_stacked(const EncoderWeights& w, const std::vector<std::string>& names,
                          const std::vector<int64_t>& rows, int64_t cols) {
  int64_t total = 0;
  for (auto r : rows) total += r;
  Tensor dev = cuda::device_empty(DType::F16, total * cols);
  auto* dst = static_cast<char*>(dev.data());
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const std::vector<int64_t> shape{rows[i], cols};
    if (w.shape(name) != shape)
      fail("{}: tensor {}{} has shape {}, expected {}", w.path(), w.prefix(), name,
           Shape(std::span<const int64_t>(w.shape(name))).str(), Shape(std::span<const int64_t>(shape)).str());
    const size_t bytes = static_cast<size_t>(rows[i] * cols) * sizeof(uint16_t);
    const Tensor raw = w.raw(name);
    if (raw.dtype() == DType::F16 && !w.scale(name)) {
      cuda::copy_to_device(dst, raw.data(), bytes);
    } else {
      const auto f = w.f32(name, shape);
      std::vector<uint16_t> h(f.size());
      convert(f.data(), DType::F32, h.data(), DType::F16, f.size());
      cuda::copy_to_device(dst, h.data(), bytes);
    }
    dst += bytes;
  }
  return dev;
}

Tensor upload_f32_concat(const EncoderWeights& w, const std::vector<std::string>& names, const std::vector<int64_t>& n) {
  std::vector<float> all;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto f = w.f32(names[i], {n[i]});
    all.insert(all.end(), f.begin(), f.end());
  }
  return cuda::upload(all.data(), static_cast<int64_t>(all.size()), DType::F32);
}

EncoderLinearCuda::EncoderLinearCuda(TextEncoderPrecision p, int64_t max_weight) : precision_(p) {
  if (!f16()) wide_ = cuda::device_empty(DType::F32, max_weight);
}

void EncoderLinearCuda::run(const void* x, const Tensor& w, const float* bias, int64_t m, int64_t n, int64_t k, void* y,
                            int64_t ldy, bool accumulate, bool y_f16) {
  cuda::MatmulArgs a;
  a.m = m, a.n = n, a.k = k;
  a.a = x, a.lda = k;
  a.b = w.data(), a.ldb = k, a.b_nk = true;
  a.d = y, a.ldd = ldy;
  a.bias = bias;
  a.accumulate = accumulate;
  if (f16()) {
    a.ab_f16 = true;
    a.d_f16 = y_f16;
  } else {
    if (y_f16) fail("the f32 text encoder path has no fp16 results");
    if (n * k > wide_.numel()) fail("text encoder GEMM: a {}x{} matrix exceeds the {}-element scratch", n, k, wide_.numel());
    cuda::f16_to_f32(w.data(), wide_.data_as<float>(), n * k);
    a.b = wide_.data();
    a.ab_f32 = true;
  }
  gemm_.run(a);
}

}  // namespace jenga::hunyuan
