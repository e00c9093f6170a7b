#pragma once
// Reading a `jenga debug dit-forward` / `debug denoise` inputs file: each tensor's exact shape (a
// leading batch dim of 1 is fine, more is not), and the dtypes the official code hands over
// (integer or bool masks and counts, f64 / integer scalars) converted exactly. Every refusal is
// one line naming the tensor, what was found and what is expected.
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace jenga::cli {

// An expected shape: sizes, -1 = any size >= 1; `text` says it in the error, e.g. "[16, F, H, W]".
struct ShapeWant {
  std::vector<int64_t> dims;
  std::string text;
};

class DebugInputs {
 public:
  // The errors name the model ("a Wan2.1 DiT") and, for a missing tensor, the inputs it takes
  // ("x, t and context").
  DebugInputs(std::shared_ptr<SafetensorsFile> file, std::string model, std::string inputs);

  const std::string& path() const { return file_->path(); }
  bool has(const std::string& name) const { return file_->find(name) != nullptr; }
  // A float tensor (f32, bf16, f16, fp8, f64) of shape `want` (or [1, want...]), as f32 in `want`'s rank.
  Tensor floats(const std::string& name, const ShapeWant& want, const char* what) const;
  // One number (shape [] or [1]) of any float, integer or bool dtype, exact.
  double scalar(const std::string& name, const char* what) const;
  // A count: one whole number >= 0 (any dtype; 2.7 is refused, not truncated).
  int64_t count(const std::string& name, const char* what) const;
  // A row of whole numbers ([L] or [1, L], L >= 1; any integer, bool or float dtype, exact), e.g.
  // token ids or a 0/1 attention mask as a tokenizer or torch writes it.
  std::vector<int64_t> int_row(const std::string& name, const char* what) const;
  // A mask of `n` 0/1 entries ([n] or [1, n], any dtype, as the tokenizer's int64 mask): its
  // leading 1s (real tokens first; a 1 after a 0 or a value other than 0 / 1 is refused).
  int64_t mask_prefix(const std::string& name, int64_t n) const;

 private:
  const TensorInfo& info(const std::string& name, const char* what) const;
  std::vector<double> values(const TensorInfo& t) const;
  std::shared_ptr<SafetensorsFile> file_;
  std::string model_, inputs_;
};

}  // namespace jenga::cli
