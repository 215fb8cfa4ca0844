// The kernel's implementation of sdk::Host, one per plugin instance.
#pragma once

#include "node/runtime.hpp"
#include "profile/config_view.hpp"

#include <entre/sdk/host.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace spdlog {
class logger;
}

namespace entre {

class PluginHost final : public sdk::Host {
 public:
  PluginHost(std::string plugin_id, std::unique_ptr<TomlConfigView> config,
             std::filesystem::path data_dir, Runtime& runtime,
             std::shared_ptr<spdlog::logger> logger);
  ~PluginHost();

  void log(sdk::LogLevel level, sdk::StringView message) noexcept override;
  [[nodiscard]] const sdk::ConfigView& config() const noexcept override { return *config_; }
  [[nodiscard]] sdk::StringView data_dir() const noexcept override { return data_dir_string_; }
  [[nodiscard]] boost::asio::io_context& io_context() noexcept override { return runtime_.io(); }
  sdk::Status post_blocking(sdk::BlockingTask& task) noexcept override;
  [[nodiscard]] sdk::AbiVersion kernel_abi() const noexcept override;
  [[nodiscard]] sdk::StringView plugin_id() const noexcept override { return plugin_id_; }

  [[nodiscard]] const TomlConfigView& config_view() const { return *config_; }

  // A warning or error the plugin logs is its problem until clear_problem() (a link of its came
  // up); a new problem, one whose text differs from the last, goes to `sink` too (any thread).
  void set_problem_sink(std::function<void(const std::string&)> sink);
  void clear_problem();
  [[nodiscard]] std::string problem() const;

 private:
  std::string plugin_id_;
  std::unique_ptr<TomlConfigView> config_;
  std::string data_dir_string_;
  Runtime& runtime_;
  std::shared_ptr<spdlog::logger> logger_;
  mutable std::mutex problem_mu_;
  std::string problem_;
  std::function<void(const std::string&)> problem_sink_;
};

} // namespace entre
