#include "backend/cuda/gemm_attention.h"

#include "backend/cuda/softmax.h"
#include "core/error.h"

namespace jenga::cuda {

void gemm_attention(MatmulRunner& gemm, const GemmAttentionArgs& a, void* stream) {
  const int64_t L = a.len, hd = a.head_dim, H = a.heads, KV = a.kv_heads;
  if (L <= 0 || hd <= 0 || H <= 0 || KV <= 0 || H % KV != 0)
    fail("attention: {} tokens, {} heads over {} kv heads of dim {} (heads must be a multiple of kv heads)", L, H, KV, hd);
  if (!a.scores || (a.f16 && !a.probs)) fail("attention: no score/probability scratch given");
  if (a.f16 && (hd % 8 || a.q_ld % 8 || a.k_ld % 8 || a.v_ld % 8 || a.out_ld % 8))
    fail("attention: fp16 operands need head dim {} and row strides {}/{}/{}/{} in multiples of 8 elements; use the "
         "f32 path", hd, a.q_ld, a.k_ld, a.v_ld, a.out_ld);
  const int64_t G = H / KV, esz = a.f16 ? 2 : 4, ld = gemm_attention_row(L), per_head = L * ld;
  const auto at = [esz](const void* p, int64_t elems) {
    return static_cast<const char*>(p) + elems * esz;
  };
  void* probs = a.f16 ? a.probs : static_cast<void*>(a.scores);
  for (int64_t j = 0; j < G; ++j) {  // query head g * G + j of every group g
    MatmulArgs s;  // scores[g G + j] = q_(g G + j) k_g^T
    s.m = L, s.n = L, s.k = hd;
    s.a = at(a.q, j * hd), s.lda = a.q_ld, s.stride_a = G * hd;
    s.b = a.k, s.ldb = a.k_ld, s.b_nk = true, s.stride_b = hd;
    s.d = a.scores + j * per_head, s.ldd = ld, s.stride_d = G * per_head;
    s.batch = KV;
    s.ab_f16 = a.f16, s.ab_f32 = !a.f16;
    gemm.run(s, stream);
  }
  if (a.causal)
    softmax_causal_masked(a.scores, probs, a.f16, a.key_mask, H, L, ld, a.scale, stream);
  else
    softmax_key_masked(a.scores, probs, a.f16, a.key_mask, H, L, ld, a.scale, stream);
  for (int64_t j = 0; j < G; ++j) {
    MatmulArgs o;  // out_(g G + j) = p[g G + j] v_g
    o.m = L, o.n = hd, o.k = L;
    o.a = at(probs, j * per_head), o.lda = ld, o.stride_a = G * per_head;
    o.b = a.v, o.ldb = a.v_ld, o.b_nk = false, o.stride_b = hd;
    o.d = const_cast<char*>(at(a.out, j * hd)), o.ldd = a.out_ld, o.stride_d = G * hd;
    o.batch = KV;
    o.ab_f16 = a.f16, o.ab_f32 = !a.f16, o.d_f16 = a.f16;
    gemm.run(o, stream);
  }
}

}  // namespace jenga::cuda
