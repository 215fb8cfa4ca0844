#include "node/plugin_host.hpp"

#include <spdlog/spdlog.h>

namespace entre {

PluginHost::PluginHost(std::string plugin_id, std::unique_ptr<TomlConfigView> config,
                       std::filesystem::path data_dir, Runtime& runtime,
                       std::shared_ptr<spdlog::logger> logger)
    : plugin_id_(std::move(plugin_id)), config_(std::move(config)),
      data_dir_string_(data_dir.string()), runtime_(runtime), logger_(std::move(logger)) {}

PluginHost::~PluginHost() = default;

void PluginHost::log(sdk::LogLevel level, sdk::StringView message) noexcept {
  spdlog::level::level_enum spd = spdlog::level::info;
  switch (level) {
  case sdk::LogLevel::kTrace:
    spd = spdlog::level::trace;
    break;
  case sdk::LogLevel::kDebug:
    spd = spdlog::level::debug;
    break;
  case sdk::LogLevel::kInfo:
    spd = spdlog::level::info;
    break;
  case sdk::LogLevel::kWarn:
    spd = spdlog::level::warn;
    break;
  case sdk::LogLevel::kError:
    spd = spdlog::level::err;
    break;
  }
  try {
    logger_->log(spd, "[{}] {}", plugin_id_, message.str());
    if (level == sdk::LogLevel::kWarn || level == sdk::LogLevel::kError) {
      std::string text(message.str());
      std::function<void(const std::string&)> sink;
      {
        std::lock_guard lock(problem_mu_);
        if (problem_ != text) {
          problem_ = text;
          sink = problem_sink_;
        }
      }
      if (sink) {
        sink(text);
      }
    }
  } catch (...) {
    // Logging must never take a plugin down.
  }
}

void PluginHost::set_problem_sink(std::function<void(const std::string&)> sink) {
  std::lock_guard lock(problem_mu_);
  problem_sink_ = std::move(sink);
}

void PluginHost::clear_problem() {
  std::lock_guard lock(problem_mu_);
  problem_.clear();
}

std::string PluginHost::problem() const {
  std::lock_guard lock(problem_mu_);
  return problem_;
}

sdk::Status PluginHost::post_blocking(sdk::BlockingTask& task) noexcept {
  try {
    return runtime_.post_blocking(task);
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
}

sdk::AbiVersion PluginHost::kernel_abi() const noexcept {
  return {sdk::abi_major(), sdk::abi_minor()};
}

} // namespace entre
