// TomlConfigView: a plugin's `config` table behind the SDK's ConfigView.
//
// Every getter is noexcept: a failure to build a message (allocation) becomes kInternal. The
// table itself is never modified, so lookups need no lock; the set of keys asked for and the
// cache of location strings are shared mutable state and sit behind one mutex.
#include "profile/config_view.hpp"
#include "profile/toml_words.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <utility>

namespace entre {

namespace {

// The outcome of looking a dotted key up: the node, or why there is none.
struct Lookup {
  const toml::node* node = nullptr;
  // When a segment before the last is present but not a table: that node and its dotted key.
  const toml::node* blocker = nullptr;
  std::string blocker_key;
};

} // namespace

struct TomlConfigView::Impl {
  std::shared_ptr<const toml::table> table;
  std::string source_file;
  std::size_t plugin_index = 0;

  mutable std::mutex mutex;
  mutable std::set<std::string, std::less<>> read_keys;
  // key -> "file:line:column"; std::map never moves its values, so views into them stay valid.
  mutable std::map<std::string, std::string, std::less<>> locations;

  [[nodiscard]] std::string full_key(std::string_view key) const {
    std::string out = "plugins[" + std::to_string(plugin_index) + "].config";
    if (!key.empty()) {
      out += '.';
      out += key;
    }
    return out;
  }

  [[nodiscard]] std::string location_text(const toml::node& node) const {
    const auto& begin = node.source().begin;
    return source_file + ":" + std::to_string(begin.line) + ":" + std::to_string(begin.column);
  }

  void mark_read(std::string_view key) const {
    std::lock_guard lock(mutex);
    if (read_keys.find(key) == read_keys.end()) {
      read_keys.emplace(key);
    }
  }

  [[nodiscard]] Lookup find(std::string_view key) const {
    Lookup result;
    if (table == nullptr || key.empty()) {
      return result;
    }
    const toml::table* current = table.get();
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = key.find('.', start);
      const std::string_view segment =
          key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      const toml::node* node = current->get(segment);
      if (node == nullptr || dot == std::string_view::npos) {
        result.node = node;
        return result;
      }
      current = node->as_table();
      if (current == nullptr) {
        result.blocker = node;
        result.blocker_key = std::string(key.substr(0, dot));
        return result;
      }
      start = dot + 1;
    }
  }

  // The common part of every getter: marks the key read and finds its node, or fills `status`.
  [[nodiscard]] const toml::node* resolve(std::string_view key, sdk::Status& status) const {
    mark_read(key);
    const Lookup found = find(key);
    if (found.node != nullptr) {
      return found.node;
    }
    if (found.blocker != nullptr) {
      status = sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                                  full_key(found.blocker_key) + ": expected a table, found " +
                                      std::string(toml_type_phrase(*found.blocker)) + " (" +
                                      location_text(*found.blocker) + ")");
      return nullptr;
    }
    std::string message = full_key(key) + ": not set";
    if (table != nullptr && table->source().begin.line != 0) {
      message += " (config table at " + location_text(*table) + ")";
    }
    status = sdk::Status::error(sdk::StatusCode::kNotFound, message);
    return nullptr;
  }

  [[nodiscard]] sdk::Status wrong_type(std::string_view key, const toml::node& node,
                                       std::string_view expected) const {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                              full_key(key) + ": expected " + std::string(expected) + ", found " +
                                  std::string(toml_type_phrase(node)) + " (" + location_text(node) +
                                  ")");
  }

  // Array of strings at `key`: the array, or an error status.
  [[nodiscard]] const toml::array* string_array(std::string_view key, sdk::Status& status) const {
    const toml::node* node = resolve(key, status);
    if (node == nullptr) {
      return nullptr;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      status = wrong_type(key, *node, "an array of strings");
      return nullptr;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      if (!element.is_string()) {
        status = sdk::Status::error(
            sdk::StatusCode::kInvalidArgument,
            full_key(key) + "[" + std::to_string(i) + "]: expected a string, found " +
                std::string(toml_type_phrase(element)) + " (" + location_text(element) + ")");
        return nullptr;
      }
    }
    return array;
  }

  // Every leaf under `table` (sub-tables recursed into; arrays and empty tables are leaves).
  static void collect_leaves(const toml::table& from, const std::string& prefix,
                             std::vector<std::pair<std::string, const toml::key*>>& out) {
    for (auto&& [key, value] : from) {
      std::string dotted =
          prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
      const toml::table* sub = value.as_table();
      if (sub != nullptr && !sub->empty()) {
        collect_leaves(*sub, dotted, out);
      } else {
        out.emplace_back(std::move(dotted), &key);
      }
    }
  }
};

TomlConfigView::TomlConfigView(std::shared_ptr<const toml::table> table, std::string source_file,
                               std::size_t plugin_index)
    : impl_(std::make_unique<Impl>()) {
  impl_->table = std::move(table);
  impl_->source_file = std::move(source_file);
  impl_->plugin_index = plugin_index;
}

TomlConfigView::~TomlConfigView() = default;

bool TomlConfigView::has(sdk::StringView key) const noexcept {
  try {
    impl_->mark_read(key.str());
    return impl_->find(key.str()).node != nullptr;
  } catch (...) {
    return false;
  }
}

sdk::Result<int64_t> TomlConfigView::get_int(sdk::StringView key) const noexcept {
  try {
    sdk::Result<int64_t> result;
    const toml::node* node = impl_->resolve(key.str(), result.status);
    if (node == nullptr) {
      return result;
    }
    if (const auto* value = node->as_integer()) {
      return sdk::Result<int64_t>::of(value->get());
    }
    result.status = impl_->wrong_type(key.str(), *node, "an integer");
    return result;
  } catch (...) {
    return sdk::Result<int64_t>::fail(sdk::StatusCode::kInternal, "config: out of memory");
  }
}

sdk::Result<double> TomlConfigView::get_double(sdk::StringView key) const noexcept {
  try {
    sdk::Result<double> result;
    const toml::node* node = impl_->resolve(key.str(), result.status);
    if (node == nullptr) {
      return result;
    }
    if (const auto* value = node->as_floating_point()) {
      return sdk::Result<double>::of(value->get());
    }
    if (const auto* value = node->as_integer()) {
      return sdk::Result<double>::of(static_cast<double>(value->get()));
    }
    result.status = impl_->wrong_type(key.str(), *node, "a number");
    return result;
  } catch (...) {
    return sdk::Result<double>::fail(sdk::StatusCode::kInternal, "config: out of memory");
  }
}

sdk::Result<bool> TomlConfigView::get_bool(sdk::StringView key) const noexcept {
  try {
    sdk::Result<bool> result;
    const toml::node* node = impl_->resolve(key.str(), result.status);
    if (node == nullptr) {
      return result;
    }
    if (const auto* value = node->as_boolean()) {
      return sdk::Result<bool>::of(value->get());
    }
    result.status = impl_->wrong_type(key.str(), *node, "a boolean");
    return result;
  } catch (...) {
    return sdk::Result<bool>::fail(sdk::StatusCode::kInternal, "config: out of memory");
  }
}

sdk::Result<sdk::StringView> TomlConfigView::get_string(sdk::StringView key) const noexcept {
  try {
    sdk::Result<sdk::StringView> result;
    const toml::node* node = impl_->resolve(key.str(), result.status);
    if (node == nullptr) {
      return result;
    }
    if (const auto* value = node->as_string()) {
      // The node is owned by the table, which this view keeps alive.
      return sdk::Result<sdk::StringView>::of(sdk::StringView(value->get()));
    }
    result.status = impl_->wrong_type(key.str(), *node, "a string");
    return result;
  } catch (...) {
    return sdk::Result<sdk::StringView>::fail(sdk::StatusCode::kInternal, "config: out of memory");
  }
}

sdk::Result<uint64_t> TomlConfigView::get_array_size(sdk::StringView key) const noexcept {
  try {
    sdk::Result<uint64_t> result;
    const toml::array* array = impl_->string_array(key.str(), result.status);
    if (array == nullptr) {
      return result;
    }
    return sdk::Result<uint64_t>::of(array->size());
  } catch (...) {
    return sdk::Result<uint64_t>::fail(sdk::StatusCode::kInternal, "config: out of memory");
  }
}

sdk::Result<sdk::StringView> TomlConfigView::get_string_at(sdk::StringView key,
                                                           uint64_t index) const noexcept {
  try {
    sdk::Result<sdk::StringView> result;
    const toml::array* array = impl_->string_array(key.str(), result.status);
    if (array == nullptr) {
      return result;
    }
    if (index >= array->size()) {
      return sdk::Result<sdk::StringView>::fail(
          sdk::StatusCode::kOutOfRange,
          impl_->full_key(key.str()) + ": index " + std::to_string(index) + " is past the end (" +
              std::to_string(array->size()) + " elements, " + impl_->location_text(*array) + ")");
    }
    const auto& element = *array->get(static_cast<std::size_t>(index))->as_string();
    return sdk::Result<sdk::StringView>::of(sdk::StringView(element.get()));
  } catch (...) {
    return sdk::Result<sdk::StringView>::fail(sdk::StatusCode::kInternal, "config: out of memory");
  }
}

sdk::StringView TomlConfigView::location(sdk::StringView key) const noexcept {
  try {
    const toml::node* node = impl_->find(key.str()).node;
    if (node == nullptr) {
      return {};
    }
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->locations.find(key.str());
    if (it == impl_->locations.end()) {
      it = impl_->locations.emplace(std::string(key.str()), impl_->location_text(*node)).first;
    }
    return sdk::StringView(it->second);
  } catch (...) {
    return {};
  }
}

std::vector<ProfileError> TomlConfigView::unread_keys() const {
  std::vector<ProfileError> errors;
  if (impl_->table == nullptr) {
    return errors;
  }
  std::vector<std::pair<std::string, const toml::key*>> leaves;
  Impl::collect_leaves(*impl_->table, "", leaves);

  std::vector<std::string> read;
  {
    std::lock_guard lock(impl_->mutex);
    read.assign(impl_->read_keys.begin(), impl_->read_keys.end());
  }
  for (const auto& [dotted, key] : leaves) {
    if (std::binary_search(read.begin(), read.end(), dotted)) {
      continue;
    }
    std::string message = "unknown key '" + dotted + "' in plugin config";
    // Suggest from the keys the plugin asked for, preferring those the table does not set: a
    // misspelt key leaves its intended name unset.
    std::vector<std::string> unset;
    for (const auto& name : read) {
      if (impl_->find(name).node == nullptr) {
        unset.push_back(name);
      }
    }
    auto best = did_you_mean(dotted, unset);
    if (!best) {
      best = did_you_mean(dotted, read);
    }
    if (best) {
      message += " (did you mean '" + *best + "'?)";
    }
    const auto& begin = key->source().begin;
    errors.push_back(ProfileError{SourceLocation{impl_->source_file, begin.line, begin.column},
                                  impl_->full_key(dotted), std::move(message)});
  }
  return errors;
}

} // namespace entre
