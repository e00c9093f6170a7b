#pragma once
// H.264 .mp4 written in-process through libavcodec/libavformat (when the build found them):
// yuv420p, constant frame rate, CRF 17, +faststart, like the ffmpeg command line the writer
// falls back to. Not a public header: video_writer.cpp picks it.
#include <string>

#include "io/frames.h"

namespace jenga {

// True when this build links libav and its libavcodec has an H.264 encoder.
bool libav_h264_available();
// Writes `path` (the caller's temp name); throws with the libav error on failure.
void write_mp4_libav(const std::string& path, const Frames& frames, int fps);

}  // namespace jenga
