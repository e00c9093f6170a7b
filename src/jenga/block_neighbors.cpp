#include "jenga/block_neighbors.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "core/error.h"

namespace jenga {

std::vector<uint8_t> BlockNeighbors::to_dense() const {
  std::vector<uint8_t> m(static_cast<size_t>(blocks * blocks), 0);
  for (int64_t b = 0; b < blocks; ++b)
    for (int32_t j : of(b)) m[b * blocks + j] = 1;
  return m;
}

BlockNeighbors build_block_neighbors(const Curve& curve, int block_size) {
  if (block_size <= 0) usage_fail("--block {}: the block size must be positive", block_size);
  const auto& s = curve.spec;
  const int64_t n = s.tokens();
  BlockNeighbors nb;
  nb.block_size = block_size;
  nb.blocks = (n + block_size - 1) / block_size;
  nb.offsets.assign(static_cast<size_t>(nb.blocks + 1), 0);
  // Block of every raster position, so the 27-point stencil needs no division.
  std::vector<int32_t> block_of(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) block_of[r] = curve.inverse[r] / block_size;
  // stamp[j] == b + 1 marks block j as already collected for block b.
  std::vector<int64_t> stamp(static_cast<size_t>(nb.blocks), 0);
  std::vector<int32_t> row;
  const int64_t plane = s.w * s.h;
  for (int64_t b = 0; b < nb.blocks; ++b) {
    row.clear();
    const int64_t end = std::min(n, (b + 1) * block_size);
    for (int64_t i = b * block_size; i < end; ++i) {
      const int64_t r = curve.order[i];
      const int64_t x = r % s.w, y = (r / s.w) % s.h, z = r / plane;
      const int64_t x0 = std::max<int64_t>(x - 1, 0), x1 = std::min(x + 1, s.w - 1);
      const int64_t y0 = std::max<int64_t>(y - 1, 0), y1 = std::min(y + 1, s.h - 1);
      const int64_t z0 = std::max<int64_t>(z - 1, 0), z1 = std::min(z + 1, s.t - 1);
      for (int64_t nz = z0; nz <= z1; ++nz)
        for (int64_t ny = y0; ny <= y1; ++ny) {
          const int32_t* line = block_of.data() + nz * plane + ny * s.w;
          for (int64_t nx = x0; nx <= x1; ++nx) {
            const int32_t j = line[nx];
            if (stamp[j] != b + 1) {
              stamp[j] = b + 1;
              row.push_back(j);
            }
          }
        }
    }
    std::sort(row.begin(), row.end());
    nb.indices.insert(nb.indices.end(), row.begin(), row.end());
    nb.offsets[b + 1] = static_cast<int32_t>(nb.indices.size());
  }
  return nb;
}

std::shared_ptr<const BlockNeighbors> cached_block_neighbors(const CurveSpec& spec, int block_size) {
  static std::mutex mu;
  static std::map<std::pair<std::string, int>, std::shared_ptr<const BlockNeighbors>> cache;
  CurveSpec used = spec;
  if (!used.sliced) used.axes.reset();  // official quirk, see header
  used.validate();
  const auto key = std::make_pair(used.str(), block_size);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto built = std::make_shared<const BlockNeighbors>(build_block_neighbors(*cached_curve(used), block_size));
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(key, std::move(built)).first->second;
}

}  // namespace jenga
