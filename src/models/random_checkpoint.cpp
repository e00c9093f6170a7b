#include "models/random_checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include <fmt/format.h>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

namespace jenga {

bool name_ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

namespace {

int64_t numel_of(const std::string& name, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) fail("random checkpoint: '{}' has a bad shape", name);
  }
  return n;
}

// n values of one tensor (stream counters offset..offset+n) as `dtype` into dst: blocks of 32K
// values spread over the OpenMP threads, each filled, scaled and converted while in cache.
void fill_block(uint8_t* dst, int64_t n, uint64_t seed, uint64_t offset, const RandomInit& init, DType dtype) {
  constexpr int64_t kSub = int64_t{1} << 15;
  const int64_t blocks = (n + kSub - 1) / kSub;
  const size_t es = dtype_size(dtype);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    thread_local std::vector<float> v;
    const int64_t lo = b * kSub, m = std::min(kSub, n - lo);
    v.resize(static_cast<size_t>(m));
    fill_normal(v, seed, offset + static_cast<uint64_t>(lo));
    for (float& x : v) x = init.shift + init.scale * x;
    convert(v.data(), DType::F32, dst + static_cast<size_t>(lo) * es, dtype, static_cast<size_t>(m));
  }
}

}  // namespace

std::vector<RandomTensor> random_tensor_plan(const TensorShapes& tensors, const SpecialInit& special) {
  std::vector<RandomTensor> plan;
  plan.reserve(tensors.size());
  for (const auto& [name, shape] : tensors) {
    RandomInit init;
    if (const auto s = special ? special(name) : std::nullopt) {
      init = *s;
    } else if (name_ends_with(name, ".weight")) {
      int64_t fan_in = 1;
      for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
      init.scale = 1.0f / std::sqrt(static_cast<float>(fan_in));
    }
    plan.push_back({name, shape, init});
  }
  return plan;
}

uint64_t write_random_safetensors(const std::string& path, const std::vector<RandomTensor>& tensors, uint64_t seed,
                                  uint64_t offset, DType dtype, const std::map<std::string, std::string>& metadata) {
  if (!dtype_is_float(dtype)) fail("random checkpoint: dtype must be a float type");
  const size_t es = dtype_size(dtype);
  std::vector<SafetensorsEntryInfo> infos;
  for (const auto& t : tensors)
    infos.push_back({t.name, std::string(dtype_safetensors_name(dtype)), t.shape,
                     static_cast<uint64_t>(numel_of(t.name, t.shape)) * es});
  const std::string head = safetensors_header_bytes(infos, metadata);
  uint64_t total = head.size();
  for (const auto& i : infos) total += i.bytes;
  const std::string tmp = path + ".tmp";
  // Two chunk buffers: values go into one while the other is being written.
  constexpr int64_t kChunk = int64_t{1} << 24;
  std::vector<uint8_t> buf[2] = {std::vector<uint8_t>(kChunk * es), std::vector<uint8_t>(kChunk * es)};
  // Declared before the try: the writer thread may still be using `out` when the catch waits for it.
  std::ofstream out;
  std::future<void> pending;
  try {
    out.open(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot write ({}); check the folder exists and is writable", path, std::strerror(errno));
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    int cur = 0;
    int64_t used = 0;  // values in buf[cur]
    const auto flush = [&] {
      if (pending.valid()) pending.get();
      if (used == 0) return;
      pending = std::async(std::launch::async, [&out, &path, total, data = buf[cur].data(), bytes = used * es] {
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(bytes));
        // A full disk stops the run at once, not after the rest of the values are made.
        if (!out) fail("{}: write failed (disk full? the file is {:.1f} GB)", path, static_cast<double>(total) / 1e9);
      });
      cur ^= 1, used = 0;
    };
    for (const auto& t : tensors) {
      const int64_t n = numel_of(t.name, t.shape);
      for (int64_t done = 0; done < n;) {
        check_interrupt();  // tens of GB take a while: Ctrl-C leaves no .tmp behind
        const int64_t take = std::min(n - done, kChunk - used);
        fill_block(buf[cur].data() + static_cast<size_t>(used) * es, take, seed, offset + static_cast<uint64_t>(done),
                   t.init, dtype);
        used += take, done += take;
        if (used == kChunk) flush();
      }
      offset += static_cast<uint64_t>(n);
    }
    flush();
    if (pending.valid()) pending.get();
    out.flush();
    if (!out) fail("{}: write failed (disk full? the file is {:.1f} GB)", path, static_cast<double>(total) / 1e9);
  } catch (...) {
    if (pending.valid()) pending.wait();
    std::remove(tmp.c_str());
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail("{}: cannot move the finished file into place ({})", path, ec.message());
  }
  return offset;
}

void write_random_sharded(const std::string& dir, const std::vector<RandomTensor>& tensors, uint64_t seed, DType dtype,
                          int shards, const std::map<std::string, std::string>& metadata) {
  namespace fs = std::filesystem;
  if (shards < 1) fail("random checkpoint: shards must be at least 1");
  const size_t es = dtype_size(dtype);
  double total = 0;
  for (const auto& t : tensors) total += static_cast<double>(numel_of(t.name, t.shape)) * static_cast<double>(es);
  // Tensor i goes to the shard its first byte falls in (at least one tensor a shard).
  std::vector<std::vector<RandomTensor>> parts(static_cast<size_t>(shards));
  double so_far = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t left = tensors.size() - i;
    size_t k = std::min(static_cast<size_t>(so_far / total * shards), parts.size() - 1);
    while (k > 0 && parts[k - 1].empty()) --k;  // no empty shard before a full one
    if (left <= parts.size() - 1 - k) k = parts.size() - left;  // leave a tensor for each later shard
    parts[k].push_back(tensors[i]);
    so_far += static_cast<double>(numel_of(tensors[i].name, tensors[i].shape)) * static_cast<double>(es);
  }
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t offset = 0;
  for (int k = 0; k < shards; ++k) {
    const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", k + 1, shards);
    offset = write_random_safetensors((fs::path(dir) / file).string(), parts[static_cast<size_t>(k)], seed, offset,
                                      dtype, metadata);
    for (const auto& t : parts[static_cast<size_t>(k)]) weight_map[t.name] = file;
  }
  const nlohmann::json index = {{"metadata", {{"total_size", static_cast<uint64_t>(total)}}}, {"weight_map", weight_map}};
  const std::string path = (fs::path(dir) / "model.safetensors.index.json").string();
  {
    std::ofstream out(path + ".tmp");
    out << index.dump(2) << "\n";
    if (!out) {
      std::remove((path + ".tmp").c_str());
      fail("{}: cannot write", path);
    }
  }
  std::error_code ec;
  fs::rename(path + ".tmp", path, ec);
  if (ec) fail("{}: cannot move the finished file into place ({})", path, ec.message());
}

void write_random_model_folder(const std::string& dir,
                               const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                               const nlohmann::json& config, uint64_t seed, DType dtype,
                               const std::function<std::optional<RandomInit>(const std::string& name)>& special) {
  if (!dtype_is_float(dtype)) fail("random checkpoint: dtype must be a float type");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create the folder ({})", dir, ec.message());

  write_random_safetensors((fs::path(dir) / "diffusion_pytorch_model.safetensors").string(),
                           random_tensor_plan(tensors, special), seed, 0, dtype,
                           {{"format", "pt"}, {"jenga", "random weights, not a trained model"}});

  const std::string cfg = (fs::path(dir) / "config.json").string();
  const std::string tmp = cfg + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) fail("{}: cannot write", cfg);
    out << config.dump(2) << "\n";
    if (!out) fail("{}: write failed", cfg);
  }
  fs::rename(tmp, cfg, ec);
  if (ec) fail("{}: cannot move into place ({})", cfg, ec.message());
}

void rewrite_as_scaled_fp8(const std::string& path) {
  const Checkpoint f = Checkpoint::open(path);
  SafetensorsWriter w;
  for (const auto& name : f.names()) {
    const Tensor t = f.load(name, DType::F32);
    if (t.ndim() < 2 || !name_ends_with(name, ".weight")) {
      w.add(name, t.to(DType::BF16));
      continue;
    }
    std::vector<float> v = t.to_f32_vector();
    float amax = 0.0f;
    for (float x : v) amax = std::max(amax, std::fabs(x));
    const float s = amax > 0.0f ? amax / 448.0f : 1.0f;
    for (float& x : v) x /= s;
    w.add(name, Tensor::from_f32(v, t.shape(), DType::F8E4M3));
    const float scale[1] = {s};
    w.add(name.substr(0, name.size() - 7) + ".scale_weight", Tensor::from_f32(scale, Shape{1}));
  }
  w.set_metadata("format", "pt");
  w.set_metadata("jenga", "random weights, not a trained model (scaled fp8 e4m3)");
  w.write(path);
}

}  // namespace jenga
