#include "io/mp4_libav.h"

#include "core/error.h"
#include "core/interrupt.h"

#if JENGA_HAVE_LIBAV
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}
#endif

namespace jenga {

#if JENGA_HAVE_LIBAV
namespace {

const AVCodec* h264_encoder() {
  // libx264 when present (what ffmpeg -c:v libx264 uses), else any H.264 encoder (openh264, ...).
  if (const AVCodec* c = avcodec_find_encoder_by_name("libx264")) return c;
  return avcodec_find_encoder(AV_CODEC_ID_H264);
}

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

// Owns every libav object of one encode, so any early throw frees them.
struct Encoder {
  AVFormatContext* fmt = nullptr;
  AVCodecContext* codec = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  SwsContext* sws = nullptr;
  bool opened_file = false;
  ~Encoder() {
    sws_freeContext(sws);
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&codec);
    if (fmt && opened_file) avio_closep(&fmt->pb);
    avformat_free_context(fmt);
  }
};

void check(int err, const std::string& path, const char* what) {
  if (err < 0) fail("{}: libav could not {} ({})", path, what, av_error(err));
}

// Sends one frame (null = flush) and writes every packet the encoder has ready.
void drain(Encoder& e, AVStream* st, const AVFrame* f, const std::string& path) {
  check(avcodec_send_frame(e.codec, f), path, "encode a frame");
  for (;;) {
    const int r = avcodec_receive_packet(e.codec, e.packet);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    check(r, path, "encode a frame");
    // Every frame lasts one tick. Encoders of libav 5.x leave this 0, and the mp4 muxer then
    // ends the track (its edit list) one frame early: players drop the last frame.
    if (e.packet->duration == 0) e.packet->duration = 1;
    av_packet_rescale_ts(e.packet, e.codec->time_base, st->time_base);
    e.packet->stream_index = st->index;
    check(av_interleaved_write_frame(e.fmt, e.packet), path, "write a packet");
  }
}

}  // namespace

bool libav_h264_available() { return h264_encoder() != nullptr; }

void write_mp4_libav(const std::string& path, const Frames& f, int fps) {
  if (f.width % 2 || f.height % 2)
    fail("{}: H.264 yuv420p needs an even width and height, got {}x{}; use -o x.webp or x.y4m", path, f.width, f.height);
  av_log_set_level(AV_LOG_ERROR);  // x264's banner and statistics are not ours to print
  const AVCodec* codec = h264_encoder();
  if (!codec) fail("{}: this libavcodec has no H.264 encoder; use -o x.webp or x.y4m", path);
  Encoder e;
  check(avformat_alloc_output_context2(&e.fmt, nullptr, "mp4", path.c_str()), path, "set up an mp4 file");
  AVStream* st = avformat_new_stream(e.fmt, nullptr);
  e.codec = avcodec_alloc_context3(codec);
  e.frame = av_frame_alloc();
  e.packet = av_packet_alloc();
  if (!st || !e.codec || !e.frame || !e.packet) fail("{}: libav is out of memory", path);
  e.codec->width = f.width;
  e.codec->height = f.height;
  e.codec->pix_fmt = AV_PIX_FMT_YUV420P;
  e.codec->time_base = AVRational{1, fps};
  e.codec->framerate = AVRational{fps, 1};
  e.codec->gop_size = 4 * fps;
  if (e.fmt->oformat->flags & AVFMT_GLOBALHEADER) e.codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* opts = nullptr;
  if (std::string(codec->name) == "libx264") {
    av_dict_set(&opts, "crf", "17", 0);
    av_dict_set(&opts, "preset", "medium", 0);
  }
  const int open = avcodec_open2(e.codec, codec, &opts);
  av_dict_free(&opts);
  check(open, path, "open the H.264 encoder");
  check(avcodec_parameters_from_context(st->codecpar, e.codec), path, "set the stream parameters");
  st->time_base = e.codec->time_base;
  check(avio_open(&e.fmt->pb, path.c_str(), AVIO_FLAG_WRITE), path, "create the file");
  e.opened_file = true;
  AVDictionary* mux = nullptr;
  av_dict_set(&mux, "movflags", "+faststart", 0);
  const int header = avformat_write_header(e.fmt, &mux);
  av_dict_free(&mux);
  check(header, path, "write the mp4 header");

  // RGB -> yuv420p with swscale's defaults (BT.601, limited range), as the ffmpeg program does.
  e.sws = sws_getContext(f.width, f.height, AV_PIX_FMT_RGB24, f.width, f.height, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
                         nullptr, nullptr, nullptr);
  if (!e.sws) fail("{}: libswscale cannot convert {}x{} RGB to yuv420p", path, f.width, f.height);
  e.frame->format = AV_PIX_FMT_YUV420P;
  e.frame->width = f.width;
  e.frame->height = f.height;
  check(av_frame_get_buffer(e.frame, 0), path, "allocate a frame");
  for (int i = 0; i < f.count; ++i) {
    check_interrupt();
    check(av_frame_make_writable(e.frame), path, "reuse a frame");
    const uint8_t* src[1] = {f.frame(i)};
    const int stride[1] = {3 * f.width};
    sws_scale(e.sws, src, stride, 0, f.height, e.frame->data, e.frame->linesize);
    e.frame->pts = i;
    drain(e, st, e.frame, path);
  }
  drain(e, st, nullptr, path);
  check(av_write_trailer(e.fmt), path, "finish the mp4");
}

#else

bool libav_h264_available() { return false; }

void write_mp4_libav(const std::string& path, const Frames&, int) {
  fail("{}: this build has no libavcodec (install libavcodec-dev libavformat-dev libswscale-dev and rebuild)", path);
}

#endif

}  // namespace jenga
