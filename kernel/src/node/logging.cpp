#include "node/logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <vector>

namespace entre {

namespace {

spdlog::level::level_enum to_spdlog(LogLevelSetting level) {
  switch (level) {
  case LogLevelSetting::kTrace:
    return spdlog::level::trace;
  case LogLevelSetting::kDebug:
    return spdlog::level::debug;
  case LogLevelSetting::kInfo:
    return spdlog::level::info;
  case LogLevelSetting::kWarn:
    return spdlog::level::warn;
  case LogLevelSetting::kError:
    return spdlog::level::err;
  }
  return spdlog::level::info;
}

} // namespace

std::shared_ptr<spdlog::logger> make_profile_logger(const Profile& profile, const std::string& name,
                                                    std::string& error) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (profile.log.file) {
    try {
      std::filesystem::create_directories(profile.log.file->parent_path());
      sinks.push_back(
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(profile.log.file->string()));
    } catch (const std::exception& e) {
      error = profile.log.file->string() + ": cannot open log file: " + e.what();
      return nullptr;
    }
  }
  auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  logger->set_level(to_spdlog(profile.log.level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  logger->flush_on(spdlog::level::info);
  return logger;
}

} // namespace entre
