// The SDK ConfigView over one plugin's `config` table of a profile.
//
// It remembers which keys the plugin read, so that after the plugin's factory has run the kernel
// can refuse keys the plugin does not know (unread_keys()), with a "did you mean" suggestion drawn
// from the keys it did read.
#pragma once

#include "profile/profile.hpp"

#include <entre/sdk/host.hpp>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace entre {

class TomlConfigView final : public sdk::ConfigView {
 public:
  // `table` may be null (no config table). `plugin_index` is the entry's index in the profile, used
  // to name keys ("plugins[1].config.port").
  TomlConfigView(std::shared_ptr<const toml::table> table, std::string source_file,
                 std::size_t plugin_index);
  ~TomlConfigView();

  [[nodiscard]] bool has(sdk::StringView key) const noexcept override;
  [[nodiscard]] sdk::Result<int64_t> get_int(sdk::StringView key) const noexcept override;
  [[nodiscard]] sdk::Result<double> get_double(sdk::StringView key) const noexcept override;
  [[nodiscard]] sdk::Result<bool> get_bool(sdk::StringView key) const noexcept override;
  [[nodiscard]] sdk::Result<sdk::StringView>
  get_string(sdk::StringView key) const noexcept override;
  [[nodiscard]] sdk::Result<uint64_t> get_array_size(sdk::StringView key) const noexcept override;
  [[nodiscard]] sdk::Result<sdk::StringView> get_string_at(sdk::StringView key,
                                                           uint64_t index) const noexcept override;
  [[nodiscard]] sdk::StringView location(sdk::StringView key) const noexcept override;

  // Keys present in the table (leaf keys, dotted) that were never asked for through any getter or
  // has(); one error each, with location and suggestion.
  [[nodiscard]] std::vector<ProfileError> unread_keys() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace entre
