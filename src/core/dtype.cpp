#include "core/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace jenga {
namespace {

// A small binary float format: 1 sign bit, E exponent bits, M mantissa bits.
struct SmallFloat {
  int exp_bits;
  int man_bits;
  bool has_inf;        // IEEE-like: all-ones exponent is inf/NaN
  uint32_t nan_code;   // magnitude bits of the canonical NaN
  int total_bits() const { return 1 + exp_bits + man_bits; }
  int bias() const { return (1 << (exp_bits - 1)) - 1; }
  uint32_t inf_code() const { return ((1u << exp_bits) - 1u) << man_bits; }
};

constexpr SmallFloat kBF16{8, 7, true, 0x7FC0};
constexpr SmallFloat kF16{5, 10, true, 0x7E00};
constexpr SmallFloat kE5M2{5, 2, true, 0x7E};
constexpr SmallFloat kE4M3{4, 3, false, 0x7F};  // e4m3fn: S.1111.111 is NaN, no inf

// Shifts v right by s bits with round-to-nearest-even on the dropped bits.
uint32_t shift_rne(uint32_t v, int s) {
  if (s <= 0) return v << (-s);
  if (s >= 32) return 0;
  const uint32_t kept = v >> s;
  const uint32_t rem = v & ((1u << s) - 1u);
  const uint32_t half = 1u << (s - 1);
  if (rem > half || (rem == half && (kept & 1u))) return kept + 1;
  return kept;
}

uint32_t encode(const SmallFloat& f, float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t sign = (bits >> 31) << (f.total_bits() - 1);
  int e = static_cast<int>((bits >> 23) & 0xFF);
  uint32_t man = bits & 0x7FFFFF;
  if (e == 0xFF) {
    if (man != 0 || !f.has_inf) return sign | f.nan_code;
    return sign | f.inf_code();
  }
  uint32_t sig;  // significand with the implicit bit, 24 bits
  if (e == 0) {
    if (man == 0) return sign;
    e = 1;  // f32 subnormal: no implicit bit
    sig = man;
  } else {
    sig = man | 0x800000;
  }
  const int new_e = e - 127 + f.bias();
  uint32_t mag;
  if (new_e >= 1) {
    // Normal: drop the implicit bit after rounding; a carry bumps the exponent.
    const uint32_t rounded = shift_rne(sig, 23 - f.man_bits);  // has 1 + man_bits bits (or +1)
    mag = (static_cast<uint32_t>(new_e) << f.man_bits) + (rounded - (1u << f.man_bits));
  } else {
    // Subnormal in the target: the exponent field is 0, rounding may reach the first normal.
    mag = shift_rne(sig, 23 - f.man_bits + (1 - new_e));
  }
  const uint32_t max_finite = f.has_inf ? f.inf_code() - 1 : f.nan_code - 1;
  if (mag > max_finite) return sign | (f.has_inf ? f.inf_code() : f.nan_code);
  return sign | mag;
}

float decode(const SmallFloat& f, uint32_t v) {
  const bool neg = (v >> (f.total_bits() - 1)) & 1u;
  const uint32_t e = (v >> f.man_bits) & ((1u << f.exp_bits) - 1u);
  const uint32_t m = v & ((1u << f.man_bits) - 1u);
  float r;
  if (f.has_inf && e == (1u << f.exp_bits) - 1u) {
    r = m ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else if (!f.has_inf && (v & ~(1u << (f.total_bits() - 1))) == f.nan_code) {
    r = std::numeric_limits<float>::quiet_NaN();
  } else if (e == 0) {
    r = std::ldexp(static_cast<float>(m), 1 - f.bias() - f.man_bits);
  } else {
    r = std::ldexp(static_cast<float>(m | (1u << f.man_bits)),
                   static_cast<int>(e) - f.bias() - f.man_bits);
  }
  return neg ? -r : r;
}

}  // namespace

uint16_t f32_to_bf16(float x) { return static_cast<uint16_t>(encode(kBF16, x)); }
float bf16_to_f32(uint16_t x) { return std::bit_cast<float>(static_cast<uint32_t>(x) << 16); }
uint16_t f32_to_f16(float x) { return static_cast<uint16_t>(encode(kF16, x)); }
float f16_to_f32(uint16_t x) { return decode(kF16, x); }
uint8_t f32_to_fp8_e4m3(float x) { return static_cast<uint8_t>(encode(kE4M3, x)); }
float fp8_e4m3_to_f32(uint8_t x) { return decode(kE4M3, x); }
uint8_t f32_to_fp8_e5m2(float x) { return static_cast<uint8_t>(encode(kE5M2, x)); }
float fp8_e5m2_to_f32(uint8_t x) { return decode(kE5M2, x); }

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::F8E4M3: return 1;
    case DType::F8E5M2: return 1;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::U8: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::F8E4M3: return "fp8-e4m3";
    case DType::F8E5M2: return "fp8-e5m2";
    case DType::I64: return "i64";
    case DType::I32: return "i32";
    case DType::U8: return "u8";
  }
  return "?";
}

std::string_view dtype_safetensors_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
    case DType::F8E4M3: return "F8_E4M3";
    case DType::F8E5M2: return "F8_E5M2";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
  }
  return "?";
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::F8E4M3, DType::F8E5M2, DType::I64,
                  DType::I32, DType::U8})
    if (dtype_safetensors_name(t) == name) return t;
  return std::nullopt;
}

std::optional<DType> dtype_parse(std::string_view name) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::F8E4M3, DType::F8E5M2, DType::I64,
                  DType::I32, DType::U8})
    if (dtype_name(t) == name) return t;
  return dtype_from_safetensors(name);
}

bool dtype_is_float(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16 || t == DType::F8E4M3 ||
         t == DType::F8E5M2;
}

namespace {
double load_as_double(const void* src, DType t, size_t i) {
  const auto* b = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::F32: { float v; std::memcpy(&v, b + 4 * i, 4); return v; }
    case DType::BF16: { uint16_t v; std::memcpy(&v, b + 2 * i, 2); return bf16_to_f32(v); }
    case DType::F16: { uint16_t v; std::memcpy(&v, b + 2 * i, 2); return f16_to_f32(v); }
    case DType::F8E4M3: return fp8_e4m3_to_f32(b[i]);
    case DType::F8E5M2: return fp8_e5m2_to_f32(b[i]);
    case DType::I64: { int64_t v; std::memcpy(&v, b + 8 * i, 8); return static_cast<double>(v); }
    case DType::I32: { int32_t v; std::memcpy(&v, b + 4 * i, 4); return v; }
    case DType::U8: return b[i];
  }
  return 0;
}

void store_from_double(void* dst, DType t, size_t i, double x) {
  auto* b = static_cast<uint8_t*>(dst);
  const float f = static_cast<float>(x);
  switch (t) {
    case DType::F32: std::memcpy(b + 4 * i, &f, 4); break;
    case DType::BF16: { uint16_t v = f32_to_bf16(f); std::memcpy(b + 2 * i, &v, 2); break; }
    case DType::F16: { uint16_t v = f32_to_f16(f); std::memcpy(b + 2 * i, &v, 2); break; }
    case DType::F8E4M3: b[i] = f32_to_fp8_e4m3(f); break;
    case DType::F8E5M2: b[i] = f32_to_fp8_e5m2(f); break;
    case DType::I64: { int64_t v = static_cast<int64_t>(x); std::memcpy(b + 8 * i, &v, 8); break; }
    case DType::I32: { int32_t v = static_cast<int32_t>(x); std::memcpy(b + 4 * i, &v, 4); break; }
    case DType::U8: b[i] = static_cast<uint8_t>(x); break;
  }
}
}  // namespace

void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n) {
  if (n == 0) return;  // an empty tensor may have null data: memmove(nullptr, ...) is undefined
  if (src_type == dst_type) {
    std::memmove(dst, src, n * dtype_size(src_type));
    return;
  }
  if (src_type == DType::BF16 && dst_type == DType::F32) {  // the common weight-load path
    const auto* s = static_cast<const uint8_t*>(src);
    auto* d = static_cast<float*>(dst);
    for (size_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, s + 2 * i, 2);
      d[i] = bf16_to_f32(v);
    }
    return;
  }
  if (src_type == DType::F32 && dst_type == DType::BF16) {  // GPU weight uploads: GBs, so bit tricks
    const auto* s = static_cast<const uint8_t*>(src);
    auto* d = static_cast<uint8_t*>(dst);
#pragma omp parallel for schedule(static) if (n > (1u << 20))
    for (size_t i = 0; i < n; ++i) {
      uint32_t u;
      std::memcpy(&u, s + 4 * i, 4);
      uint16_t v;
      if ((u & 0x7F800000u) == 0x7F800000u) {
        v = f32_to_bf16(std::bit_cast<float>(u));  // inf / NaN: the generic rule
      } else {
        v = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);  // round to nearest even
      }
      std::memcpy(d + 2 * i, &v, 2);
    }
    return;
  }
  if (src_type == DType::F32 && dst_type == DType::F16) {  // fp16 GPU weight uploads (HunyuanVideo VAE)
    const auto* s = static_cast<const uint8_t*>(src);
    auto* d = static_cast<uint8_t*>(dst);
#pragma omp parallel for schedule(static) if (n > (1u << 20))
    for (size_t i = 0; i < n; ++i) {
      float f;
      std::memcpy(&f, s + 4 * i, 4);
      const uint16_t v = f32_to_f16(f);  // the generic path's rounding, in parallel
      std::memcpy(d + 2 * i, &v, 2);
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) store_from_double(dst, dst_type, i, load_as_double(src, src_type, i));
}

}  // namespace jenga
