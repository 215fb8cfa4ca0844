// Profiles: the TOML file that says which plugins a deployment composes and how.
//
// load_profile_file() parses and validates the whole file against the one schema documented in
// docs/profiles.md and returns either a complete Profile or every error found, each with
// file:line:column and the dotted key. Nothing is applied from a profile that has an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
}
} // namespace toml

namespace entre {

struct SourceLocation {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
};

struct ProfileError {
  SourceLocation where;
  std::string key;     // dotted key, e.g. "plugins[2].id"; empty for syntax errors
  std::string message; // what is wrong and, where possible, what would be right
  // "file:line:column: key: message" (parts that are unknown are left out)
  [[nodiscard]] std::string str() const;
};

enum class LogLevelSetting { kTrace, kDebug, kInfo, kWarn, kError };
enum class NetworkScope { kAny, kPrivate };
enum class KdfStrength { kInteractive, kModerate, kSensitive };

struct PluginEntry {
  std::string id;                            // reverse-DNS plugin id, unique in the profile
  std::optional<std::filesystem::path> file; // explicit file (absolute, or relative to the profile)
  bool required = true;
  std::shared_ptr<const toml::table> config; // the entry's `config` table (empty table if absent)
  SourceLocation where;                      // location of the [[plugins]] entry
};

struct NodeSection {
  std::string name;
  std::filesystem::path data_dir; // absolute after loading
  uint32_t threads = 2;           // event-loop threads
  uint32_t workers = 2;           // blocking worker threads
  NetworkScope network_scope = NetworkScope::kAny;
};

struct LogSection {
  LogLevelSetting level = LogLevelSetting::kInfo;
  std::optional<std::filesystem::path> file; // absolute after loading
};

struct TransportSection {
  std::vector<std::string> order; // plugin ids, most preferred first
  uint32_t keepalive_ms = 15000;
  uint32_t link_timeout_ms = 45000;
};

// LAN discovery (used when a transport offers it): every node that should find the others uses
// the same epoch length.
struct DiscoverySection {
  uint32_t epoch_seconds = 600; // beacon tags change this often
  uint32_t beacon_entries = 16; // entries per beacon (contacts announced at once)
  bool allow_meeting = true;    // Node::open_meeting may be used (meeting mode is off until then)
};

struct CryptoSection {
  std::string suite; // plugin id; empty when the profile names none
  KdfStrength kdf = KdfStrength::kModerate;
};

struct CodecSection {
  std::vector<std::string> preferred; // plugin ids, most preferred first
  uint32_t bitrate_bps = 24000;
  uint32_t frame_ms = 20;
  bool fec = true;  // in-band FEC, when the codec has it
  bool dtx = false; // no packets during silence, when the codec has it
};

struct StorageSection {
  std::string plugin; // plugin id; empty when the profile names none
};

struct AudioSection {
  std::string plugin; // plugin id; empty when the profile names none
  std::string capture_device;
  std::string playback_device;
};

struct RelaySection {
  std::string listen = "0.0.0.0";
  uint16_t port = 443;
  std::filesystem::path static_key_file; // absolute after loading
  uint32_t max_connections = 1024;
  uint32_t max_connections_per_address = 16;
  uint32_t handshakes_per_second = 50;
  uint32_t max_frame_bytes = 16384;
  uint32_t client_rate_bytes_per_second = 1048576;
  uint32_t client_burst_bytes = 262144;
  uint32_t queue_depth_frames = 256;
  uint32_t idle_timeout_ms = 120000;
  uint32_t handshake_timeout_ms = 5000; // from accept to the client's auth message
  uint16_t udp_reflect_port = 0;        // 0: off
};

struct Profile {
  std::filesystem::path source; // absolute path of the file
  std::optional<NodeSection> node;
  LogSection log;
  std::vector<std::filesystem::path> search_paths; // absolute after loading
  std::vector<PluginEntry> plugins;
  TransportSection transport;
  DiscoverySection discovery;
  CryptoSection crypto;
  CodecSection codec;
  StorageSection storage;
  AudioSection audio;
  std::optional<RelaySection> relay;

  [[nodiscard]] const PluginEntry* find_plugin(std::string_view id) const;
};

struct ProfileLoadResult {
  std::optional<Profile> profile; // set only when errors is empty
  std::vector<ProfileError> errors;
};

// Reads and validates `path`. Relative paths inside the profile are resolved against its directory.
[[nodiscard]] ProfileLoadResult load_profile_file(const std::filesystem::path& path);

// Validates TOML text; `source_name` is used in error locations and `base_dir` resolves relative
// paths.
[[nodiscard]] ProfileLoadResult parse_profile(std::string_view text, std::string_view source_name,
                                              const std::filesystem::path& base_dir);

// The closest of `candidates` to `word` by edit distance, if close enough to suggest.
[[nodiscard]] std::optional<std::string> did_you_mean(std::string_view word,
                                                      const std::vector<std::string>& candidates);

[[nodiscard]] const char* log_level_name(LogLevelSetting level);

} // namespace entre
