// The plugin loader.
//
// Every check runs before any plugin code does: the manifest is read straight from the ELF file
// (elf_manifest.hpp) and checked in this order, each failure its own LoadError naming the file:
//
//   file exists and opens -> is an ELF shared object -> exports entre_plugin_manifest ->
//   exports entre_plugin_factory -> manifest well-formed -> ABI major equal -> ABI minor not newer
//   -> Boost version equal -> id unique among loaded plugins -> id is the one the profile asked for
//
// Only then is the library mapped (dlopen, which runs its static constructors) and the factory
// resolved. Libraries are shared: every object created from a library holds a reference to it, so
// it stays mapped until the last object is destroyed.
#pragma once

#include "loader/plugin_id.hpp"

#include <entre/sdk/plugin.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::dll {
class shared_library;
}

namespace entre {

enum class LoadError {
  kFileNotFound,     // no file at the path, or no file for the id in any search path
  kNotSharedObject,  // the file is not an ELF shared object for this machine
  kMissingManifest,  // no exported entre_plugin_manifest
  kMissingFactory,   // no exported entre_plugin_factory
  kBadManifest,      // wrong magic or size, bad kind, id/version not NUL-terminated or malformed
  kAbiMajorMismatch, // built for another SDK ABI major
  kAbiMinorNewer,    // built for a newer SDK ABI minor than this kernel offers
  kBoostMismatch,    // built with another Boost version (io_context crosses the boundary)
  kDuplicateId,      // another loaded plugin has the same id
  kIdMismatch,       // the manifest's id is not the id the profile asked for
  kKindMismatch,     // the plugin is not of the kind the profile uses it as
  kOpenFailed,       // the checks passed but dlopen refused the file (missing dependency...)
  kFactoryFailed,    // the factory returned an error or no object
  kInterfaceMissing, // the root object does not offer the interface of its kind
};

// Stable, distinct, kebab-case name for each error, e.g. "abi-major-mismatch".
[[nodiscard]] const char* load_error_name(LoadError error);

struct ManifestInfo {
  std::string id;
  std::string version;
  std::string summary;
  sdk::PluginKind kind = sdk::PluginKind::kTransport;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  uint32_t boost_version = 0;
};

struct LoadFailure {
  LoadError error;
  std::filesystem::path file; // may be empty for kFileNotFound by id
  std::string detail;         // human explanation, e.g. "plugin ABI 2.0, kernel offers 1.0"
  // "<file>: <error name>: <detail>" ("<error name>: <detail>" when `file` is empty)
  [[nodiscard]] std::string str() const;
};

struct ElfExports;

// BOOST_VERSION-style number as "major.minor.patch": 107400 -> "1.74.0".
[[nodiscard]] std::string boost_version_string(uint32_t version);

// The manifest's fields; strings are cut at the first NUL or at the end of their array, so this
// is safe on a manifest that failed check_manifest (the kind is then whatever number it holds).
[[nodiscard]] ManifestInfo manifest_info(const sdk::PluginManifest& manifest);

// Every check the loader can make from the file alone, in the loader's order: the file was read
// and is an ELF shared object for this machine, exports the manifest and the factory, the
// manifest is well-formed, the ABI major matches, the ABI minor is not newer, the Boost version
// matches. Returns the first failure (naming `file`), or nullopt when all pass, in which case
// exports.manifest is set. Runs no plugin code; entre-plugin-check uses it too.
[[nodiscard]] std::optional<LoadFailure> check_manifest(const ElfExports& exports,
                                                        const std::filesystem::path& file);

// A mapped plugin library whose manifest passed every check.
class LoadedLibrary {
 public:
  LoadedLibrary(std::shared_ptr<boost::dll::shared_library> library, ManifestInfo manifest,
                std::filesystem::path file, sdk::PluginFactory* factory);
  ~LoadedLibrary();
  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;

  [[nodiscard]] const ManifestInfo& manifest() const { return manifest_; }
  [[nodiscard]] const std::filesystem::path& file() const { return file_; }
  [[nodiscard]] sdk::PluginFactory* factory() const { return factory_; }

 private:
  std::shared_ptr<boost::dll::shared_library> library_;
  ManifestInfo manifest_;
  std::filesystem::path file_;
  sdk::PluginFactory* factory_;
};

// Owns one object created by plugin code (anything with destroy()), and keeps its library mapped
// until after destroy() has run.
template <typename T> class PluginPtr {
 public:
  PluginPtr() = default;
  PluginPtr(T* object, std::shared_ptr<const LoadedLibrary> library)
      : object_(object), library_(std::move(library)) {}
  PluginPtr(const PluginPtr&) = delete;
  PluginPtr& operator=(const PluginPtr&) = delete;
  PluginPtr(PluginPtr&& other) noexcept
      : object_(std::exchange(other.object_, nullptr)), library_(std::move(other.library_)) {}
  PluginPtr& operator=(PluginPtr&& other) noexcept {
    if (this != &other) {
      reset();
      object_ = std::exchange(other.object_, nullptr);
      library_ = std::move(other.library_);
    }
    return *this;
  }
  ~PluginPtr() { reset(); }

  void reset() {
    if (object_ != nullptr) {
      object_->destroy();
      object_ = nullptr;
    }
    library_.reset();
  }
  [[nodiscard]] T* get() const { return object_; }
  T* operator->() const { return object_; }
  T& operator*() const { return *object_; }
  explicit operator bool() const { return object_ != nullptr; }
  [[nodiscard]] const std::shared_ptr<const LoadedLibrary>& library() const { return library_; }

 private:
  T* object_ = nullptr;
  std::shared_ptr<const LoadedLibrary> library_;
};

struct LoadOutcome {
  std::shared_ptr<const LoadedLibrary> library; // set on success
  std::optional<LoadFailure> failure;           // set on failure
};

class PluginLoader {
 public:
  // Directories searched, in order, for "<id with '.' replaced by '-'>.so".
  explicit PluginLoader(std::vector<std::filesystem::path> search_paths);

  // The search path for a node: the profile's paths, then each entry of $ENTRE_PLUGIN_PATH
  // (':'-separated), then <dir of the running executable>/../lib/entre/plugins, then the install
  // prefix's plugin directory. Non-existent directories are kept (they simply match nothing).
  // Paths are lexically normalised and de-duplicated (first occurrence kept); empty
  // $ENTRE_PLUGIN_PATH entries are ignored.
  [[nodiscard]] static std::vector<std::filesystem::path>
  default_search_paths(const std::vector<std::filesystem::path>& profile_paths);

  // The file that `id` resolves to in the search path, if any.
  [[nodiscard]] std::optional<std::filesystem::path> resolve(std::string_view id) const;
  [[nodiscard]] static std::string file_name_for_id(std::string_view id);

  // Checks and maps a plugin. `file` overrides the search; `expected_id` (if not empty) must equal
  // the manifest id. Registers the id on success so a later load of the same id is kDuplicateId.
  [[nodiscard]] LoadOutcome load(std::string_view expected_id,
                                 const std::optional<std::filesystem::path>& file);

  [[nodiscard]] const std::vector<std::filesystem::path>& search_paths() const {
    return search_paths_;
  }

  // Test seam: called with the plugin's path after every check passed and before it is mapped
  // (a test replaces the file there to show that the checked file is the one mapped).
  void set_before_map(std::function<void(const std::filesystem::path&)> hook) {
    before_map_ = std::move(hook);
  }

 private:
  std::function<void(const std::filesystem::path&)> before_map_;
  std::vector<std::filesystem::path> search_paths_;
  std::map<std::string, std::filesystem::path, std::less<>> loaded_ids_;
};

} // namespace entre
