#include "cli/debug_inputs.h"

#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace jenga::cli {
namespace {

std::string shape_text(std::span<const int64_t> s) { return Shape(s).str(); }

template <typename T>
T read_at(std::span<const uint8_t> bytes, size_t i) {
  T v;
  std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
  return v;
}

bool is_float_name(const std::string& n) {
  return n == "F64" || n == "F32" || n == "F16" || n == "BF16" || n == "F8_E4M3" || n == "F8_E5M2";
}

}  // namespace

DebugInputs::DebugInputs(std::shared_ptr<SafetensorsFile> file, std::string model, std::string inputs)
    : file_(std::move(file)), model_(std::move(model)), inputs_(std::move(inputs)) {}

const TensorInfo& DebugInputs::info(const std::string& name, const char* what) const {
  const TensorInfo* t = file_->find(name);
  if (!t) fail("{}: no tensor '{}' ({}); --model is {}, whose inputs are {}", path(), name, what, model_, inputs_);
  return *t;
}

// Every value as a double: exact for all of these dtypes (i64 beyond 2^53 aside, no count is).
std::vector<double> DebugInputs::values(const TensorInfo& t) const {
  const std::string& d = t.dtype_name;
  const auto bytes = file_->raw(t);
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) {
    if (d == "F64") v[i] = read_at<double>(bytes, i);
    else if (d == "F32") v[i] = read_at<float>(bytes, i);
    else if (d == "F16") v[i] = f16_to_f32(read_at<uint16_t>(bytes, i));
    else if (d == "BF16") v[i] = bf16_to_f32(read_at<uint16_t>(bytes, i));
    else if (d == "F8_E4M3") v[i] = fp8_e4m3_to_f32(bytes[i]);
    else if (d == "F8_E5M2") v[i] = fp8_e5m2_to_f32(bytes[i]);
    else if (d == "I64") v[i] = static_cast<double>(read_at<int64_t>(bytes, i));
    else if (d == "I32") v[i] = read_at<int32_t>(bytes, i);
    else if (d == "I16") v[i] = read_at<int16_t>(bytes, i);
    else if (d == "I8") v[i] = static_cast<int8_t>(bytes[i]);
    else if (d == "U8" || d == "BOOL") v[i] = bytes[i];
    else fail("{}: tensor '{}' is {}; store it as f32, f64 or an integer / bool type", path(), t.name, d);
  }
  return v;
}

Tensor DebugInputs::floats(const std::string& name, const ShapeWant& want, const char* what) const {
  const TensorInfo& t = info(name, what);
  if (!is_float_name(t.dtype_name))
    fail("{}: tensor '{}' is {}; store it as a float type (f32)", path(), name, t.dtype_name);
  std::vector<int64_t> dims = t.shape;
  if (dims.size() == want.dims.size() + 1 && dims[0] == 1) dims.erase(dims.begin());
  bool ok = dims.size() == want.dims.size();
  for (size_t i = 0; ok && i < dims.size(); ++i) ok = want.dims[i] < 0 ? dims[i] >= 1 : dims[i] == want.dims[i];
  if (!ok)
    fail("{}: '{}' has shape {}; expected {} for {} ({}; a leading batch dim of 1 is fine)", path(), name,
         shape_text(t.shape), want.text, model_, what);
  if (t.dtype) return Tensor::from_f32(file_->load(name, DType::F32).to_f32_vector(), Shape(dims));
  const auto v = values(t);  // f64: rounded to f32 like torch's .float()
  return Tensor::from_f32(std::vector<float>(v.begin(), v.end()), Shape(dims));
}

double DebugInputs::scalar(const std::string& name, const char* what) const {
  const TensorInfo& t = info(name, what);
  const bool one = t.shape.empty() || (t.shape.size() == 1 && t.shape[0] == 1) ||
                   (t.shape.size() == 2 && t.shape[0] == 1 && t.shape[1] == 1);
  if (!one) fail("{}: '{}' has shape {}; expected one value, [1] or [] ({})", path(), name, shape_text(t.shape), what);
  const double v = values(t)[0];
  if (!std::isfinite(v)) fail("{}: '{}' is {:g}; it must be a finite number ({})", path(), name, v, what);
  return v;
}

int64_t DebugInputs::count(const std::string& name, const char* what) const {
  const double v = scalar(name, what);
  if (v < 0 || v != std::floor(v) || v > 1e15)
    fail("{}: '{}' is {:g}; it must be a whole number ({})", path(), name, v, what);
  return static_cast<int64_t>(v);
}

std::vector<int64_t> DebugInputs::int_row(const std::string& name, const char* what) const {
  const TensorInfo& t = info(name, what);
  const bool row = (t.shape.size() == 1 && t.shape[0] >= 1) || (t.shape.size() == 2 && t.shape[0] == 1 && t.shape[1] >= 1);
  if (!row) fail("{}: '{}' has shape {}; expected [1, L] or [L] ({}; one prompt)", path(), name, shape_text(t.shape), what);
  std::vector<int64_t> out;
  for (const double v : values(t)) {
    if (!(v == std::floor(v) && std::abs(v) < 9e15))
      fail("{}: '{}' holds {:g}; expected whole numbers ({})", path(), name, v, what);
    out.push_back(static_cast<int64_t>(v));
  }
  return out;
}

int64_t DebugInputs::mask_prefix(const std::string& name, int64_t n) const {
  const TensorInfo& t = info(name, "text mask");
  const bool shape_ok = (t.shape.size() == 1 && t.shape[0] == n) || (t.shape.size() == 2 && t.shape[0] == 1 && t.shape[1] == n);
  if (!shape_ok)
    fail("{}: '{}' has shape {}; expected [{}] (one entry per text row; a leading batch dim of 1 is fine)", path(), name,
         shape_text(t.shape), n);
  const auto v = values(t);
  int64_t ones = 0;
  while (ones < n && v[static_cast<size_t>(ones)] == 1) ++ones;
  for (int64_t i = 0; i < n; ++i) {
    const double m = v[static_cast<size_t>(i)];
    if (m != 0 && m != 1) fail("{}: '{}' holds {:g} at row {}; a mask holds 0s and 1s", path(), name, m, i);
    if (i >= ones && m == 1) fail("{}: '{}' must be 1s then 0s (real tokens first); row {} is 1 after a 0", path(), name, i);
  }
  return ones;
}

}  // namespace jenga::cli
