// audio-file: WAV files as audio devices, for tests, bots and recordings. The capture device plays
// a WAV file as if it were a microphone; the playback device records what it is given into a WAV
// file. Each stream runs a thread of its own that calls the kernel's AudioCallback once per frame
// at the pace of a real device (a steady clock, no drift), so the call service sees the same
// timing as with a sound card.
//
// Config: input = "<path>" (the microphone), output = "<path>" (the speaker), loop = false (play
// the input again at its end, else silence). Relative paths are inside the plugin's data
// directory. Device names: "wav:<path>"; an empty name picks the configured one. The input is read
// and converted to the stream's rate and channels when a capture stream opens; one playback
// stream at a time writes the output, which is complete when the stream stops.
//
// timeline = "<path prefix>" (for latency tests): each stream notes when every callback ran and
// writes the notes when it stops, to "<prefix>-capture.txt" and "<prefix>-playback.txt": one line
// per frame, "<frame index> <steady clock, ns>", taken as the capture callback is entered and as
// the playback callback returns. The notes are kept in memory, so no file is touched per frame.
#pragma once

#include "wav.hpp"

#include <entre/sdk/audio.hpp>
#include <entre/sdk/host.hpp>
#include <entre/sdk/plugin.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace entre::plugins::audio_file {

struct FileAudioConfig {
  std::string input;  // empty: no capture device
  std::string output; // empty: no playback device
  bool loop = false;
  std::string timeline; // empty: no timeline
};

sdk::Status read_config(const sdk::ConfigView& config, const std::string& data_dir,
                        FileAudioConfig& out);

class FileAudio;

class FileStream final : public sdk::AudioStream {
 public:
  FileStream(FileAudio& owner, sdk::AudioDirection direction, const sdk::AudioParams& params,
             sdk::AudioCallback& callback, std::vector<int16_t> source, bool loop,
             std::string timeline);
  sdk::Status start() noexcept override;
  void stop() noexcept override;
  void destroy() noexcept override;

  WavWriter writer; // playback only

 private:
  ~FileStream() = default;
  void run();
  void write_timeline();

  FileAudio& owner_;
  sdk::AudioDirection direction_;
  sdk::AudioParams params_;
  sdk::AudioCallback& callback_;
  std::vector<int16_t> source_;
  bool loop_;
  std::size_t position_ = 0;
  std::string timeline_;
  std::vector<int64_t> stamps_; // steady clock ns per frame (with a timeline)
  std::mutex mu_;               // start/stop
  std::thread thread_;
  std::atomic<bool> running_{false};
};

class FileAudio final : public sdk::AudioDevice, public sdk::Plugin {
 public:
  FileAudio(sdk::Host& host, FileAudioConfig config) : host_(host), config_(std::move(config)) {}
  sdk::Status list_devices(sdk::AudioDirection direction, sdk::ByteSink& out) noexcept override;
  sdk::Status open(sdk::AudioDirection direction, sdk::StringView device_name,
                   const sdk::AudioParams& params, sdk::AudioCallback& callback,
                   sdk::AudioStream** out) noexcept override;

  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override { delete this; }

  void playback_closed();

 private:
  ~FileAudio() override = default;
  sdk::Host& host_;
  FileAudioConfig config_;
  std::mutex mu_;
  bool playback_open_ = false;
};

} // namespace entre::plugins::audio_file
