#include "models/hunyuan/i2v_image_prep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/error.h"
#include "io/pil_resample.h"

namespace jenga::hunyuan {
namespace {

// Python's round(x, 5): correctly rounded on the exact binary value, ties to even (glibc's printf
// does the same), then parsed back.
double round5(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.5f", x);
  return std::strtod(buf, nullptr);
}

// Python's round(x) for a non-negative float: ties to even.
int64_t round_half_even(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

}  // namespace

int i2v_bucket_base(const std::string& resolution) {
  if (resolution == "720p") return 960;
  if (resolution == "540p") return 720;
  if (resolution == "360p") return 480;
  // A number is a bucket base in pixels (a multiple of 32: the official list generator takes any;
  // tiny tests use small ones).
  if (!resolution.empty() && resolution.find_first_not_of("0123456789") == std::string::npos && resolution.size() < 6) {
    const int base = std::stoi(resolution);
    if (base < 32 || base % 32)
      usage_fail("--i2v-resolution {}: a bucket base is a multiple of 32 pixels, at least 32 (or 720p, 540p, 360p)",
                 resolution);
    // Buckets reach ~1.4x the base on the long side; the video's sides stop at 8192.
    if (base > 4096)
      usage_fail("--i2v-resolution {}: a bucket base is at most 4096 pixels (official: 960, 720, 480)", resolution);
    return base;
  }
  usage_fail("--i2v-resolution {}: use 720p, 540p or 360p, or a bucket base in pixels (a multiple of 32 up to 4096)",
             resolution);
}

std::vector<BucketSize> i2v_crop_size_list(int base, int patch, double max_ratio) {
  const double r = static_cast<double>(base) / patch;
  const int64_t num_patches = round_half_even(r * r);
  std::vector<BucketSize> list;
  int64_t wp = num_patches, hp = 1;
  while (wp > 0) {
    if (static_cast<double>(std::max(wp, hp)) / static_cast<double>(std::min(wp, hp)) <= max_ratio)
      list.push_back({static_cast<int>(wp * patch), static_cast<int>(hp * patch)});  // (H, W) as read
    if ((hp + 1) * wp <= num_patches) ++hp;
    else --wp;
  }
  return list;
}

BucketSize i2v_closest_bucket(int image_h, int image_w, const std::vector<BucketSize>& buckets) {
  const double aspect = static_cast<double>(image_h) / static_cast<double>(image_w);
  int best = -1;
  double best_abs = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < buckets.size(); ++i) {
    const double diff = round5(static_cast<double>(buckets[i].height) / buckets[i].width) - aspect;
    const bool eligible = aspect >= 1 ? diff <= 0 : diff > 0;
    if (eligible && std::abs(diff) < best_abs) {
      best_abs = std::abs(diff);
      best = static_cast<int>(i);
    }
  }
  if (best < 0) fail("image {}x{}: no HunyuanVideo-I2V bucket fits its aspect ratio", image_w, image_h);
  return buckets[best];
}

std::pair<int, int> torchvision_resize_shape(int h, int w, int size) {
  const bool w_short = w <= h;
  const int64_t shrt = w_short ? w : h, lng = w_short ? h : w;
  const int new_long = static_cast<int>(static_cast<double>(size * lng) / static_cast<double>(shrt));
  return w_short ? std::pair{new_long, size} : std::pair{size, new_long};
}

I2vImage prepare_i2v_image(const RgbImage& img, const std::string& resolution) {
  return prepare_i2v_image_base(img, i2v_bucket_base(resolution));
}

I2vImage prepare_i2v_image_base(const RgbImage& img, int bucket_base) {
  I2vImage out;
  out.bucket = i2v_closest_bucket(img.height, img.width, i2v_crop_size_list(bucket_base, 32));
  const int H = out.bucket.height, W = out.bucket.width;
  auto [rh, rw] = torchvision_resize_shape(img.height, img.width, std::min(H, W));
  out.resized_h = rh;
  out.resized_w = rw;

  // torchvision center_crop: pad with black (left/top get the floor half) when the crop is larger,
  // then offsets int(round((size - crop) / 2)) with Python's ties-to-even round.
  const int pad_left = W > rw ? (W - rw) / 2 : 0, pad_top = H > rh ? (H - rh) / 2 : 0;
  const int ph = std::max(rh, H), pw = std::max(rw, W);
  const int top = static_cast<int>(round_half_even((ph - H) / 2.0));
  const int left = static_cast<int>(round_half_even((pw - W) / 2.0));
  // Resize only the part of the resized image the crop keeps (the same pixels).
  const int y0 = std::max(0, top - pad_top), y1 = std::min(rh, top - pad_top + H);
  const int x0 = std::max(0, left - pad_left), x1 = std::min(rw, left - pad_left + W);
  const RgbImage kept = pil_resize_window(img, rw, rh, PilFilter::Bilinear, {x0, y0, x1 - x0, y1 - y0});

  out.pixels = Tensor::empty(DType::F32, Shape{3, H, W});
  float* p = out.pixels.data_as<float>();
  const size_t plane = static_cast<size_t>(H) * W;
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const int sy = y + top - pad_top, sx = x + left - pad_left;  // in the resized image
      const bool inside = sy >= y0 && sy < y1 && sx >= x0 && sx < x1;
      for (int c = 0; c < 3; ++c) {
        const uint8_t v = inside ? kept.pixel(sy - y0, sx - x0)[c] : 0;
        const float unit = static_cast<float>(v) / 255.0f;  // ToTensor (f32)
        p[c * plane + static_cast<size_t>(y) * W + x] = (unit - 0.5f) / 0.5f;  // Normalize
      }
    }
  }
  return out;
}

}  // namespace jenga::hunyuan
