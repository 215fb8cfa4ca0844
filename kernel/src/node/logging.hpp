// The log a profile's [log] table describes: standard error, plus its file when one is set.
#pragma once

#include "profile/profile.hpp"

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace entre {

// nullptr with `error` set when the log file cannot be opened.
[[nodiscard]] std::shared_ptr<spdlog::logger>
make_profile_logger(const Profile& profile, const std::string& name, std::string& error);

} // namespace entre
