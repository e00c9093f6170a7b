#pragma once
// Element types and exact scalar conversions (round-to-nearest-even, as PyTorch does).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace jenga {

enum class DType : uint8_t { F32, BF16, F16, F8E4M3, F8E5M2, I64, I32, U8 };

size_t dtype_size(DType t);
// Our short name: f32, bf16, f16, fp8-e4m3, fp8-e5m2, i64, i32, u8.
std::string_view dtype_name(DType t);
// The safetensors header name: F32, BF16, F16, F8_E4M3, F8_E5M2, I64, I32, U8.
std::string_view dtype_safetensors_name(DType t);
std::optional<DType> dtype_from_safetensors(std::string_view name);
// Accepts our short names (f32, bf16, ...) and the safetensors ones.
std::optional<DType> dtype_parse(std::string_view name);
bool dtype_is_float(DType t);

// Scalar conversions. Narrowing rounds to nearest even. Overflow: f16/bf16/e5m2 give inf,
// e4m3 (the "fn" variant: no inf) gives NaN, as torch's .to(torch.float8_e4m3fn) does.
uint16_t f32_to_bf16(float x);
float bf16_to_f32(uint16_t x);
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t x);
uint8_t f32_to_fp8_e4m3(float x);
float fp8_e4m3_to_f32(uint8_t x);
uint8_t f32_to_fp8_e5m2(float x);
float fp8_e5m2_to_f32(uint8_t x);

// Converts n elements between any two dtypes (integers convert by value, floats round).
void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n);

}  // namespace jenga
