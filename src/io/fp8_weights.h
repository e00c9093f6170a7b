#pragma once
// fp8 weights as users download them: plain fp8 casts (Kijai's hunyuan_video_720_cfgdistill_
// fp8_e4m3fn: every matrix stored as float8_e4m3fn) and ComfyUI's "scaled fp8" files (a matrix
// "X.weight" in fp8 beside "X.scale_weight" or "X.weight_scale": w = stored * scale, one scale
// per tensor or per output row; "X.scale_input" / "X.input_scale" are for fp8 matmuls and a
// "scaled_fp8" marker tensor says the file is scaled). jenga dequantises at load.
#include <optional>
#include <string>

#include "core/dtype.h"
#include "core/tensor.h"
#include "io/checkpoint.h"

namespace jenga {

inline bool is_fp8(DType t) { return t == DType::F8E4M3 || t == DType::F8E5M2; }

// True for the scale / marker tensors of a scaled-fp8 file (they belong to no layer).
bool is_fp8_scale_tensor(const std::string& name);

// The tensor `name` as `want`: an fp8 tensor is decoded to f32, multiplied by its scale when
// the file has one, then converted; anything else is loaded as Checkpoint::load does.
Tensor load_dequantized(const Checkpoint& ckpt, const std::string& name, DType want);

// ComfyUI scaled fp8: t (f32, the decoded values of `name`) *= its scale, if the file has one.
void apply_fp8_scale(const Checkpoint& ckpt, const std::string& name, Tensor& t);

}  // namespace jenga
