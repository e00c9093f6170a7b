#pragma once
// HunyuanVideo-I2V reference-image preparation, as the official sampler does it
// ([I2V] hyvideo/inference.py, utils/data_utils.py): pick the bucket (H, W) whose aspect ratio is
// closest to the image's from generate_crop_size_list(base, 32), then torchvision
// Resize(min(H, W)) (PIL bilinear with antialiasing) -> CenterCrop((H, W)) -> ToTensor ->
// Normalize(0.5, 0.5).
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/image_reader.h"

namespace jenga::hunyuan {

struct BucketSize {
  int height = 0, width = 0;
};

// "720p" -> 960, "540p" -> 720, "360p" -> 480 (the official bucket base sizes), a number (32 to
// 4096, a multiple of 32) -> itself; UsageError otherwise.
int i2v_bucket_base(const std::string& resolution);

// generate_crop_size_list(base, patch): every (wp*patch, hp*patch) with wp*hp <= round((base/patch)^2)
// and max/min <= max_ratio, in the official order, read as (H, W).
std::vector<BucketSize> i2v_crop_size_list(int base, int patch = 32, double max_ratio = 4.0);

// get_closest_ratio: ratios rounded to 5 decimals; an image with h/w >= 1 only takes buckets with
// ratio <= h/w, otherwise only ratio > h/w; the first of equally close buckets wins.
BucketSize i2v_closest_bucket(int image_h, int image_w, const std::vector<BucketSize>& buckets);

// torchvision Resize(int) on an h x w image: the short side becomes `size`, the long one
// int(size * long / short). Returns {new_h, new_w}.
std::pair<int, int> torchvision_resize_shape(int h, int w, int size);

struct I2vImage {
  BucketSize bucket;
  int resized_h = 0, resized_w = 0;  // after the short-side resize, before the crop
  Tensor pixels;                     // [3, H, W] f32 in [-1, 1]
};

// resolution: 720p | 540p | 360p.
I2vImage prepare_i2v_image(const RgbImage& img, const std::string& resolution);
// The same with any bucket base size (the official list generator accepts any; tests use small ones).
I2vImage prepare_i2v_image_base(const RgbImage& img, int bucket_base);

}  // namespace jenga::hunyuan
