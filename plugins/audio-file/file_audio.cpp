#include "file_audio.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <new>

namespace entre::plugins::audio_file {

namespace {

sdk::Status fail(sdk::StatusCode code, const std::string& what) {
  return sdk::Status::error(code, what);
}

} // namespace

sdk::Status read_config(const sdk::ConfigView& config, const std::string& data_dir,
                        FileAudioConfig& out) {
  auto path = [&](const char* key, std::string& into) {
    auto v = config.get_string_or(key, "");
    if (!v.is_ok()) {
      return v.status;
    }
    into = std::string(v.value.str());
    if (!into.empty() && std::filesystem::path(into).is_relative()) {
      into = (std::filesystem::path(data_dir) / into).string();
    }
    return sdk::Status::ok();
  };
  sdk::Status st = path("input", out.input);
  if (st.is_ok()) {
    st = path("output", out.output);
  }
  if (!st.is_ok()) {
    return st;
  }
  auto loop = config.get_bool_or("loop", false);
  if (!loop.is_ok()) {
    return loop.status;
  }
  out.loop = loop.value;
  st = path("timeline", out.timeline);
  if (!st.is_ok()) {
    return st;
  }
  if (out.input.empty() && out.output.empty()) {
    return fail(sdk::StatusCode::kInvalidArgument,
                "audio-file: set 'input' (a WAV file to play as the microphone), 'output' (a WAV "
                "file to record the speaker into), or both");
  }
  return sdk::Status::ok();
}

FileStream::FileStream(FileAudio& owner, sdk::AudioDirection direction,
                       const sdk::AudioParams& params, sdk::AudioCallback& callback,
                       std::vector<int16_t> source, bool loop, std::string timeline)
    : owner_(owner), direction_(direction), params_(params), callback_(callback),
      source_(std::move(source)), loop_(loop), timeline_(std::move(timeline)) {
  if (!timeline_.empty()) {
    stamps_.reserve(static_cast<std::size_t>(params_.sample_rate) * 3600 /
                    std::max<uint32_t>(params_.frame_samples, 1));
  }
}

void FileStream::write_timeline() {
  if (timeline_.empty() || stamps_.empty()) {
    return;
  }
  const bool capture = direction_ == sdk::AudioDirection::kCapture;
  std::FILE* f =
      std::fopen((timeline_ + (capture ? "-capture.txt" : "-playback.txt")).c_str(), "w");
  if (f == nullptr) {
    return;
  }
  for (std::size_t i = 0; i < stamps_.size(); ++i) {
    std::fprintf(f, "%zu %lld\n", i, static_cast<long long>(stamps_[i]));
  }
  std::fclose(f);
  stamps_.clear();
}

sdk::Status FileStream::start() noexcept {
  std::lock_guard lock(mu_);
  if (running_.load()) {
    return sdk::Status::ok();
  }
  running_ = true;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    running_ = false;
    return fail(sdk::StatusCode::kInternal, "audio-file: cannot start a thread");
  }
  return sdk::Status::ok();
}

void FileStream::stop() noexcept {
  std::lock_guard lock(mu_);
  running_ = false;
  if (thread_.joinable()) {
    thread_.join();
  }
  write_timeline();
}

void FileStream::destroy() noexcept {
  stop();
  if (direction_ == sdk::AudioDirection::kPlayback) {
    writer.close();
    owner_.playback_closed();
  }
  delete this;
}

void FileStream::run() {
  const std::size_t samples = std::size_t{params_.frame_samples} * params_.channels;
  std::vector<int16_t> frame(samples);
  const auto period = std::chrono::nanoseconds(uint64_t{params_.frame_samples} * 1000000000ULL /
                                               params_.sample_rate);
  const auto start = std::chrono::steady_clock::now();
  auto note = [&] {
    if (!timeline_.empty() && stamps_.size() < stamps_.capacity()) {
      stamps_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count());
    }
  };
  for (uint64_t n = 0; running_.load(); ++n) {
    std::this_thread::sleep_until(start + period * static_cast<int64_t>(n + 1));
    if (!running_.load()) {
      break;
    }
    if (direction_ == sdk::AudioDirection::kCapture) {
      for (std::size_t i = 0; i < samples; ++i) {
        if (position_ >= source_.size() && loop_ && !source_.empty()) {
          position_ = 0;
        }
        frame[i] = position_ < source_.size() ? source_[position_++] : int16_t{0};
      }
      note();
      callback_.on_audio(frame.data(), params_.frame_samples);
    } else {
      std::fill(frame.begin(), frame.end(), int16_t{0});
      callback_.on_audio(frame.data(), params_.frame_samples);
      note();
      (void)writer.append(frame.data(), samples);
    }
  }
}

sdk::Status FileAudio::list_devices(sdk::AudioDirection direction, sdk::ByteSink& out) noexcept {
  const std::string& path =
      direction == sdk::AudioDirection::kCapture ? config_.input : config_.output;
  if (path.empty()) {
    return sdk::Status::ok();
  }
  const std::string name = "wav:" + path + "\n";
  return out.append(sdk::ByteView(reinterpret_cast<const uint8_t*>(name.data()), name.size()))
             ? sdk::Status::ok()
             : fail(sdk::StatusCode::kBufferTooSmall, "audio-file: the name does not fit");
}

sdk::Status FileAudio::open(sdk::AudioDirection direction, sdk::StringView device_name,
                            const sdk::AudioParams& params, sdk::AudioCallback& callback,
                            sdk::AudioStream** out) noexcept {
  if (out == nullptr) {
    return fail(sdk::StatusCode::kInvalidArgument, "audio-file: null output");
  }
  *out = nullptr;
  if (params.sample_rate < 8000 || params.sample_rate > 192000 || params.channels < 1 ||
      params.channels > 2 || params.frame_samples == 0 ||
      params.frame_samples > params.sample_rate) {
    return fail(sdk::StatusCode::kUnsupported,
                "audio-file: streams are 8000 to 192000 Hz, 1 or 2 channels, frames of 1 second "
                "at most");
  }
  const bool capture = direction == sdk::AudioDirection::kCapture;
  const std::string& path = capture ? config_.input : config_.output;
  const std::string name(device_name.str());
  if (path.empty() || (!name.empty() && name != "wav:" + path)) {
    return fail(sdk::StatusCode::kNotFound,
                "audio-file: no " + std::string(capture ? "capture" : "playback") + " device '" +
                    name + "'" + (path.empty() ? "" : " (there is 'wav:" + path + "')"));
  }
  try {
    if (capture) {
      WavAudio audio;
      std::string error;
      if (!read_wav(path, audio, error)) {
        return fail(sdk::StatusCode::kIoError, "audio-file: " + error);
      }
      *out = new FileStream(*this, direction, params, callback,
                            convert(audio, params.sample_rate, params.channels), config_.loop,
                            config_.timeline);
      return sdk::Status::ok();
    }
    {
      std::lock_guard lock(mu_);
      if (playback_open_) {
        return fail(sdk::StatusCode::kUnavailable,
                    "audio-file: the playback device is in use by another stream");
      }
      playback_open_ = true;
    }
    auto* stream = new FileStream(*this, direction, params, callback, {}, false, config_.timeline);
    std::string error;
    if (!stream->writer.open(path, params.sample_rate, params.channels, error)) {
      stream->destroy();
      return fail(sdk::StatusCode::kIoError, "audio-file: " + error);
    }
    *out = stream;
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return fail(sdk::StatusCode::kInternal, "audio-file: out of memory");
  }
}

void FileAudio::playback_closed() {
  std::lock_guard lock(mu_);
  playback_open_ = false;
}

void* FileAudio::query_interface(sdk::InterfaceId id) noexcept {
  if (id == sdk::InterfaceId::kAudioDeviceV1) {
    return static_cast<sdk::AudioDevice*>(this);
  }
  return nullptr;
}

} // namespace entre::plugins::audio_file
