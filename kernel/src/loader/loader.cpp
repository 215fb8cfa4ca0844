#include "loader/loader.hpp"

#include "loader/elf_manifest.hpp"

#include <boost/dll/shared_library.hpp>
#include <boost/version.hpp>

#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <system_error>

namespace entre {
namespace {

// Closes a descriptor that was not handed to keep_for_mapping().
struct FileCloser {
  int& fd;
  ~FileCloser() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

// The dynamic linker knows a library by the name it was opened with and answers a later dlopen of
// the same name with the library already loaded, so a name /proc/self/fd/N must never come to
// mean another file: the descriptor of every file mapped stays open for the life of the process
// (one per distinct file: a file mapped before is mapped again through its first descriptor).
std::optional<std::filesystem::path> keep_for_mapping(PluginFile& file) {
  static std::mutex mutex;
  static std::map<std::pair<uint64_t, uint64_t>, int> kept;
  const std::lock_guard lock(mutex);
  auto [it, inserted] = kept.try_emplace({file.device, file.inode}, file.fd);
  std::filesystem::path name = "/proc/self/fd/" + std::to_string(it->second);
  if (::access(name.c_str(), R_OK) != 0) {
    if (inserted) {
      kept.erase(it);
    }
    return std::nullopt;
  }
  if (inserted) {
    file.fd = -1; // kept open from now on
  }
  return name;
}

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
#else
constexpr uint16_t kHostMachine = 0; // unknown: the machine check is left to dlopen
#endif

const char* machine_name(uint16_t machine) {
  switch (machine) {
  case EM_X86_64:
    return "x86-64";
  case EM_AARCH64:
    return "aarch64";
  default:
    return "another machine";
  }
}

// Text from the file, safe to put in a message: non-printable bytes become \xNN.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

// The array's contents up to its first NUL, or nullopt when it has none.
template <std::size_t N> std::optional<std::string_view> terminated(const char (&array)[N]) {
  const void* nul = std::memchr(array, '\0', N);
  if (nul == nullptr) {
    return std::nullopt;
  }
  return std::string_view(array, static_cast<std::size_t>(static_cast<const char*>(nul) - array));
}

template <std::size_t N> std::string bounded(const char (&array)[N]) {
  return std::string(array, ::strnlen(array, N));
}

std::string abi_string(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::optional<LoadFailure> check_manifest_fields(const sdk::PluginManifest& manifest,
                                                 const std::filesystem::path& file) {
  const auto bad = [&](std::string detail) {
    return LoadFailure{LoadError::kBadManifest, file, std::move(detail)};
  };
  if (std::memcmp(manifest.magic, sdk::kManifestMagic, sizeof(manifest.magic)) != 0) {
    return bad("manifest magic is \"" +
               printable(std::string_view(manifest.magic, sizeof(manifest.magic))) +
               "\", expected \"ENTREPLG\"");
  }
  if (manifest.manifest_bytes != sizeof(sdk::PluginManifest)) {
    return bad("manifest_bytes is " + std::to_string(manifest.manifest_bytes) + ", expected " +
               std::to_string(sizeof(sdk::PluginManifest)));
  }
  if (manifest.kind < static_cast<uint32_t>(sdk::PluginKind::kTransport) ||
      manifest.kind > static_cast<uint32_t>(sdk::PluginKind::kAudio)) {
    return bad("unknown plugin kind " + std::to_string(manifest.kind));
  }
  const auto id = terminated(manifest.id);
  if (!id) {
    return bad("id is not NUL-terminated within " + std::to_string(sdk::kPluginIdBytes) + " bytes");
  }
  const auto version = terminated(manifest.version);
  if (!version) {
    return bad("version is not NUL-terminated within " + std::to_string(sdk::kPluginVersionBytes) +
               " bytes");
  }
  if (!terminated(manifest.summary)) {
    return bad("summary is not NUL-terminated within " + std::to_string(sdk::kPluginSummaryBytes) +
               " bytes");
  }
  if (!is_valid_plugin_id(*id)) {
    return bad("id \"" + printable(*id) +
               "\" is not a plugin id (lower-case [a-z0-9] segments joined by '.', '-' or '_', "
               "with at least one '.')");
  }
  if (version->empty()) {
    return bad("version is empty");
  }
  return std::nullopt;
}

// The dlerror text inside a Boost.DLL exception message, or the whole message.
std::string dlopen_error_text(std::string_view what) {
  constexpr std::string_view kMarker = "(dlerror system message: ";
  const auto start = what.find(kMarker);
  if (start == std::string_view::npos) {
    return std::string(what);
  }
  const auto text_start = start + kMarker.size();
  const auto end = what.rfind(')');
  if (end == std::string_view::npos || end <= text_start) {
    return std::string(what.substr(text_start));
  }
  return std::string(what.substr(text_start, end - text_start));
}

std::filesystem::path normalised(const std::filesystem::path& path) {
  std::filesystem::path out = path.lexically_normal();
  // "dir/" and "dir" are the same directory.
  if (!out.has_filename() && out.has_relative_path()) {
    out = out.parent_path();
  }
  return out;
}

// " (but <dir>/lib<name> exists: ...)" when `file` is missing and the same name with a "lib"
// prefix lies next to it: a plugin built with add_library() instead of entre_add_plugin().
std::string lib_prefixed_hint(const std::filesystem::path& file) {
  if (!file.has_filename()) {
    return {};
  }
  std::error_code ec;
  const std::filesystem::path prefixed = file.parent_path() / ("lib" + file.filename().string());
  if (std::filesystem::exists(file, ec) || !std::filesystem::is_regular_file(prefixed, ec)) {
    return {};
  }
  return " (but " + prefixed.string() +
         " exists: plugins are named without the \"lib\" prefix; build with entre_add_plugin(), "
         "which sets it, or name that file in the profile)";
}

} // namespace

const char* load_error_name(LoadError error) {
  switch (error) {
  case LoadError::kFileNotFound:
    return "file-not-found";
  case LoadError::kNotSharedObject:
    return "not-a-shared-object";
  case LoadError::kMissingManifest:
    return "missing-manifest";
  case LoadError::kMissingFactory:
    return "missing-factory";
  case LoadError::kBadManifest:
    return "bad-manifest";
  case LoadError::kAbiMajorMismatch:
    return "abi-major-mismatch";
  case LoadError::kAbiMinorNewer:
    return "abi-minor-newer";
  case LoadError::kBoostMismatch:
    return "boost-version-mismatch";
  case LoadError::kDuplicateId:
    return "duplicate-id";
  case LoadError::kIdMismatch:
    return "id-mismatch";
  case LoadError::kKindMismatch:
    return "kind-mismatch";
  case LoadError::kOpenFailed:
    return "open-failed";
  case LoadError::kFactoryFailed:
    return "factory-failed";
  case LoadError::kInterfaceMissing:
    return "interface-missing";
  }
  return "unknown-load-error";
}

std::string LoadFailure::str() const {
  std::string out;
  if (!file.empty()) {
    out = file.string() + ": ";
  }
  out += load_error_name(error);
  out += ": ";
  out += detail;
  return out;
}

std::string boost_version_string(uint32_t version) {
  return std::to_string(version / 100000) + "." + std::to_string(version / 100 % 1000) + "." +
         std::to_string(version % 100);
}

ManifestInfo manifest_info(const sdk::PluginManifest& manifest) {
  ManifestInfo info;
  info.id = bounded(manifest.id);
  info.version = bounded(manifest.version);
  info.summary = bounded(manifest.summary);
  info.kind = static_cast<sdk::PluginKind>(manifest.kind);
  info.abi_major = manifest.abi_major;
  info.abi_minor = manifest.abi_minor;
  info.boost_version = manifest.boost_version;
  return info;
}

std::optional<LoadFailure> check_manifest(const ElfExports& exports,
                                          const std::filesystem::path& file) {
  const auto failure = [&](LoadError error, std::string detail) {
    return std::optional<LoadFailure>(LoadFailure{error, file, std::move(detail)});
  };
  switch (exports.error) {
  case ElfReadError::kNone:
    break;
  case ElfReadError::kCannotOpen:
    return failure(LoadError::kFileNotFound, exports.detail + lib_prefixed_hint(file));
  case ElfReadError::kNotElf:
  case ElfReadError::kMalformed:
    return failure(LoadError::kNotSharedObject, exports.detail);
  case ElfReadError::kNoDynamicSymbols:
    return failure(LoadError::kMissingManifest,
                   exports.detail + ", so no " + sdk::kManifestSymbol + " is exported");
  }
  if (kHostMachine != 0 && exports.machine != kHostMachine) {
    return failure(LoadError::kNotSharedObject,
                   std::string("built for ") + machine_name(exports.machine) +
                       ", this machine is " + machine_name(kHostMachine));
  }
  const auto exported = [&](const char* name) {
    return std::binary_search(exports.symbols.begin(), exports.symbols.end(),
                              std::string_view(name));
  };
  if (!exported(sdk::kManifestSymbol)) {
    return failure(LoadError::kMissingManifest, std::string("the file does not export ") +
                                                    sdk::kManifestSymbol +
                                                    " (is ENTRE_PLUGIN_MANIFEST missing?)");
  }
  if (!exported(sdk::kFactorySymbol)) {
    return failure(LoadError::kMissingFactory, std::string("the file does not export ") +
                                                   sdk::kFactorySymbol +
                                                   " (is ENTRE_PLUGIN_FACTORY missing?)");
  }
  if (!exports.manifest) {
    return failure(LoadError::kBadManifest,
                   exports.manifest_detail.empty()
                       ? std::string(sdk::kManifestSymbol) + " could not be read"
                       : exports.manifest_detail);
  }
  const sdk::PluginManifest& manifest = *exports.manifest;
  if (auto bad = check_manifest_fields(manifest, file)) {
    return bad;
  }
  if (manifest.abi_major != ENTRE_SDK_ABI_MAJOR) {
    return failure(LoadError::kAbiMajorMismatch,
                   "plugin built for SDK ABI " +
                       abi_string(manifest.abi_major, manifest.abi_minor) + ", kernel offers " +
                       abi_string(ENTRE_SDK_ABI_MAJOR, ENTRE_SDK_ABI_MINOR));
  }
  if (manifest.abi_minor > ENTRE_SDK_ABI_MINOR) {
    return failure(LoadError::kAbiMinorNewer,
                   "plugin built for SDK ABI " +
                       abi_string(manifest.abi_major, manifest.abi_minor) + ", kernel offers " +
                       abi_string(ENTRE_SDK_ABI_MAJOR, ENTRE_SDK_ABI_MINOR) +
                       " (the plugin needs a newer kernel)");
  }
  if (manifest.boost_version != BOOST_VERSION) {
    return failure(LoadError::kBoostMismatch,
                   "plugin built with Boost " + boost_version_string(manifest.boost_version) +
                       ", kernel built with Boost " + boost_version_string(BOOST_VERSION) +
                       " (Boost.Asio's io_context crosses the plugin boundary)");
  }
  return std::nullopt;
}

LoadedLibrary::LoadedLibrary(std::shared_ptr<boost::dll::shared_library> library,
                             ManifestInfo manifest, std::filesystem::path file,
                             sdk::PluginFactory* factory)
    : library_(std::move(library)), manifest_(std::move(manifest)), file_(std::move(file)),
      factory_(factory) {}

LoadedLibrary::~LoadedLibrary() = default;

PluginLoader::PluginLoader(std::vector<std::filesystem::path> search_paths)
    : search_paths_(std::move(search_paths)) {}

std::vector<std::filesystem::path>
PluginLoader::default_search_paths(const std::vector<std::filesystem::path>& profile_paths) {
  std::vector<std::filesystem::path> out;
  const auto add = [&out](const std::filesystem::path& path) {
    if (path.empty()) {
      return;
    }
    std::filesystem::path clean = normalised(path);
    if (std::find(out.begin(), out.end(), clean) == out.end()) {
      out.push_back(std::move(clean));
    }
  };
  for (const auto& path : profile_paths) {
    add(path);
  }
  if (const char* env = std::getenv("ENTRE_PLUGIN_PATH"); env != nullptr) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      add(std::filesystem::path(rest.substr(0, colon)));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && exe.has_parent_path()) {
    add(exe.parent_path() / ".." / "lib" / "entre" / "plugins");
  }
#ifdef ENTRE_INSTALL_PLUGIN_DIR
  add(std::filesystem::path(ENTRE_INSTALL_PLUGIN_DIR));
#endif
  return out;
}

std::string PluginLoader::file_name_for_id(std::string_view id) {
  std::string name(id);
  std::replace(name.begin(), name.end(), '.', '-');
  return name + ".so";
}

std::optional<std::filesystem::path> PluginLoader::resolve(std::string_view id) const {
  // A valid id has no '/', so the file name cannot leave the search directory.
  if (!is_valid_plugin_id(id)) {
    return std::nullopt;
  }
  const std::string name = file_name_for_id(id);
  for (const auto& directory : search_paths_) {
    std::filesystem::path candidate = directory / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) {
      return candidate;
    }
  }
  return std::nullopt;
}

LoadOutcome PluginLoader::load(std::string_view expected_id,
                               const std::optional<std::filesystem::path>& file) {
  LoadOutcome outcome;
  const auto fail = [&outcome](LoadError error, std::filesystem::path where, std::string detail) {
    outcome.failure = LoadFailure{error, std::move(where), std::move(detail)};
    return std::move(outcome);
  };

  // 1. Which file.
  std::filesystem::path path;
  if (file) {
    path = *file;
  } else if (expected_id.empty()) {
    return fail(LoadError::kFileNotFound, {}, "neither a file nor a plugin id was given");
  } else if (!is_valid_plugin_id(expected_id)) {
    return fail(LoadError::kFileNotFound, {},
                "\"" + printable(expected_id) + "\" is not a valid plugin id");
  } else if (auto found = resolve(expected_id)) {
    path = std::move(*found);
  } else {
    std::string searched;
    std::string hint;
    for (const auto& directory : search_paths_) {
      searched += searched.empty() ? "" : ", ";
      searched += directory.string();
      if (hint.empty()) {
        hint = lib_prefixed_hint(directory / file_name_for_id(expected_id));
      }
    }
    return fail(LoadError::kFileNotFound, {},
                "no " + file_name_for_id(expected_id) + " for plugin id \"" +
                    std::string(expected_id) + "\" in " +
                    (searched.empty() ? std::string("an empty search path")
                                      : "the search path: " + searched) +
                    hint);
  }

  // 2. Everything the file alone can tell, without mapping it, read through one descriptor that
  // is also what gets mapped (step 4).
  PluginFile opened = open_plugin_file(path);
  const FileCloser closer{opened.fd};
  ElfExports exports;
  if (opened.fd < 0) {
    exports.error = ElfReadError::kCannotOpen;
    exports.detail = opened.detail;
  } else {
    exports = read_elf_exports_fd(opened.fd);
  }
  if (auto failure = check_manifest(exports, path)) {
    outcome.failure = std::move(failure);
    return outcome;
  }
  ManifestInfo info = manifest_info(*exports.manifest);

  // 3. Checks against what is already loaded and what the profile asked for.
  if (const auto other = loaded_ids_.find(info.id); other != loaded_ids_.end()) {
    return fail(LoadError::kDuplicateId, path,
                "plugin id \"" + info.id + "\" is already loaded from " + other->second.string());
  }
  if (!expected_id.empty() && expected_id != info.id) {
    return fail(LoadError::kIdMismatch, path,
                "expected plugin id \"" + std::string(expected_id) + "\", the manifest says \"" +
                    info.id + "\"");
  }

  // 4. Only now map the library, which runs its static constructors: the very file checked, by
  // its descriptor, whatever lies at `path` by now.
  if (before_map_) {
    before_map_(path);
  }
  const std::optional<std::filesystem::path> by_descriptor = keep_for_mapping(opened);
  if (!by_descriptor) {
    return fail(LoadError::kOpenFailed, path,
                "cannot map the checked file through /proc/self/fd (is /proc mounted?)");
  }
  std::shared_ptr<boost::dll::shared_library> library;
  try {
    library = std::make_shared<boost::dll::shared_library>(
        *by_descriptor, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& error) {
    // The dynamic linker names the file by its descriptor; the user knows it by its path.
    std::string text = dlopen_error_text(error.what());
    const std::string alias = by_descriptor->string();
    for (auto at = text.find(alias); at != std::string::npos; at = text.find(alias, at)) {
      text.replace(at, alias.size(), path.string());
      at += path.string().size();
    }
    return fail(LoadError::kOpenFailed, path, text);
  }
  // The alias is a pointer-sized variable holding the factory's address. Reading it (rather than
  // get_alias, which dereferences it) lets a null alias be reported instead of followed.
  sdk::PluginFactory* factory = nullptr;
  try {
    factory = library->get<sdk::PluginFactory*>(sdk::kFactorySymbol);
  } catch (const std::exception& error) {
    return fail(LoadError::kMissingFactory, path,
                std::string(sdk::kFactorySymbol) + " could not be resolved: " + error.what());
  }
  if (factory == nullptr) {
    return fail(LoadError::kMissingFactory, path,
                std::string(sdk::kFactorySymbol) + " is a null pointer");
  }

  loaded_ids_.emplace(info.id, path);
  outcome.library =
      std::make_shared<const LoadedLibrary>(std::move(library), std::move(info), path, factory);
  return outcome;
}

} // namespace entre
