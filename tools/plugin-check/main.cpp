// entre-plugin-check: inspect and validate an Entre plugin without running any of its code.
//
// Usage:
//   entre-plugin-check [--json] [--conformance [--transport-config TOML]] FILE.so
//
// Reads FILE.so as an ELF file (it is never mapped or dlopen'ed, so not even its static
// constructors run), prints the symbols it exports, then runs the same checks the kernel's loader
// runs before loading a plugin (exports, manifest well-formed, SDK ABI, Boost version; see
// kernel/src/loader/loader.hpp) and prints the manifest: id, version, kind, summary, SDK ABI and
// Boost version. The loader's remaining checks (id unique among the node's plugins, id the one the
// profile asked for) depend on a profile and are not made here. A "warning:" line names exports
// a plugin should not have (unexpected_exports(), elf_manifest.hpp); it does not fail the check.
// A missing file whose "lib"-prefixed twin exists beside it is named in the failure.
//
//   --json   print one JSON object instead of text: {"file", "exports", "manifest" (or null),
//            "kernel", "warnings", "result", "error", "detail"}
//
//   --conformance   then load the plugin (now its code runs) and run the conformance suite of its
//                   kind through the SDK interface only: transport, crypto, storage and codec
//                   plugins have one; other kinds exit 2. Every plugin instance gets a data
//                   directory of its own (Host::data_dir()), a fresh directory under the system's
//                   temporary directory, removed afterwards. A storage plugin is opened with the
//                   suite id "entre-conformance-v1" and must start empty.
//   --transport-config TOML   a transport instance's config table (default
//                   bind = "127.0.0.1:0"), with "{instance}" replaced by the instance's number
//                   (1, 2, ...) and "{data_dir}" by its data directory, so that instances of a
//                   transport bound to a fixed name (a Unix socket path) do not collide.
//
// Exit status: 0 the plugin passes, 1 it fails (the text output ends with
// "FAIL: <error-name>: <detail>", error names as in load_error_name), 2 usage error.
#include "conformance/codec_conformance.hpp"
#include "conformance/crypto_conformance.hpp"
#include "conformance/scratch_dir.hpp"
#include "conformance/storage_conformance.hpp"
#include "conformance/transport_conformance.hpp"
#include "loader/elf_manifest.hpp"
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"

#include <CLI/CLI.hpp>
#include <boost/version.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace entre {
namespace {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;

// Length of the valid UTF-8 sequence at the start of `text` (1 to 4), or 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  std::size_t length = 0;
  uint32_t code_point = 0;
  if (lead < 0x80) {
    return 1;
  } else if ((lead & 0xe0) == 0xc0) {
    length = 2;
    code_point = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3;
    code_point = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[i]);
    if ((next & 0xc0) != 0x80) {
      return 0;
    }
    code_point = (code_point << 6) | (next & 0x3f);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kSmallest[length] || code_point > 0x10ffff ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return 0; // overlong, out of range or a surrogate
  }
  if (code_point >= 0x80 && code_point < 0xa0) {
    return 0; // C1 control characters: treat like invalid so they are escaped
  }
  return length;
}

// Text read from an untrusted file, made safe for a terminal (json == false) or for a JSON string
// (json == true): control characters and invalid UTF-8 are escaped, valid UTF-8 is kept.
std::string sanitize(std::string_view text, bool json) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto byte = static_cast<unsigned char>(text[0]);
    const std::size_t length = utf8_sequence_length(text);
    if (length > 1 || (length == 1 && byte >= 0x20 && byte != 0x7f)) {
      if (json && (byte == '"' || byte == '\\')) {
        out.push_back('\\');
      }
      out.append(text.substr(0, length));
      text.remove_prefix(length);
      continue;
    }
    if (json) {
      out += "\\u00";
    } else {
      out += "\\x";
    }
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
    text.remove_prefix(1);
  }
  return out;
}

std::string quoted(std::string_view text) { return "\"" + sanitize(text, true) + "\""; }

std::string abi_string(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// Warnings that do not stop the plugin from loading: exports it should not have.
std::vector<std::string> export_warnings(const ElfExports& exports) {
  constexpr std::size_t kExamples = 5;
  if (exports.error != ElfReadError::kNone) {
    return {};
  }
  const std::vector<std::string> extra = unexpected_exports(exports);
  if (extra.empty()) {
    return {};
  }
  std::string text = std::to_string(extra.size()) + " exported symbol" +
                     (extra.size() == 1 ? "" : "s") +
                     " besides the two entry points and Boost's shared statics (";
  for (std::size_t i = 0; i < extra.size() && i < kExamples; ++i) {
    text += (i == 0 ? "" : ", ") + extra[i];
  }
  text += extra.size() > kExamples ? ", ...)" : ")";
  text += ": the dynamic linker may bind them to the kernel's or another plugin's symbols of the "
          "same name; build the plugin with entre_add_plugin() (hidden visibility and the SDK's "
          "version script), see docs/plugin-guide.md";
  return {text};
}

void print_text(const std::filesystem::path& file, const ElfExports& exports,
                const std::optional<LoadFailure>& failure) {
  std::cout << "file: " << sanitize(file.string(), false) << "\n";
  if (exports.error == ElfReadError::kNone) {
    std::cout << "exports (" << exports.symbols.size() << "):\n";
    for (const std::string& symbol : exports.symbols) {
      std::cout << "  " << sanitize(symbol, false) << "\n";
    }
  }
  if (exports.manifest) {
    const ManifestInfo info = manifest_info(*exports.manifest);
    std::cout << "manifest:\n"
              << "  id:       " << sanitize(info.id, false) << "\n"
              << "  version:  " << sanitize(info.version, false) << "\n"
              << "  kind:     " << sdk::plugin_kind_name(info.kind) << " ("
              << static_cast<uint32_t>(info.kind) << ")\n"
              << "  summary:  " << sanitize(info.summary, false) << "\n"
              << "  sdk abi:  " << abi_string(info.abi_major, info.abi_minor) << " (kernel offers "
              << abi_string(ENTRE_SDK_ABI_MAJOR, ENTRE_SDK_ABI_MINOR) << ")\n"
              << "  boost:    " << boost_version_string(info.boost_version) << " (kernel uses "
              << boost_version_string(BOOST_VERSION) << ")\n";
  }
  for (const std::string& warning : export_warnings(exports)) {
    std::cout << "warning: " << sanitize(warning, false) << "\n";
  }
  if (failure) {
    std::cout << "FAIL: " << load_error_name(failure->error) << ": "
              << sanitize(failure->detail, false) << "\n";
  } else {
    std::cout << "PASS\n";
  }
}

void print_json(const std::filesystem::path& file, const ElfExports& exports,
                const std::optional<LoadFailure>& failure) {
  std::cout << "{\n  \"file\": " << quoted(file.string()) << ",\n  \"exports\": [";
  for (std::size_t i = 0; i < exports.symbols.size(); ++i) {
    std::cout << (i == 0 ? "" : ", ") << quoted(exports.symbols[i]);
  }
  std::cout << "],\n  \"manifest\": ";
  if (exports.manifest) {
    const ManifestInfo info = manifest_info(*exports.manifest);
    std::cout << "{\n    \"id\": " << quoted(info.id)
              << ",\n    \"version\": " << quoted(info.version)
              << ",\n    \"kind\": " << quoted(sdk::plugin_kind_name(info.kind))
              << ",\n    \"kind_number\": " << static_cast<uint32_t>(info.kind)
              << ",\n    \"summary\": " << quoted(info.summary)
              << ",\n    \"sdk_abi\": " << quoted(abi_string(info.abi_major, info.abi_minor))
              << ",\n    \"boost_version\": " << quoted(boost_version_string(info.boost_version))
              << "\n  }";
  } else {
    std::cout << "null";
  }
  std::cout << ",\n  \"kernel\": {\"sdk_abi\": "
            << quoted(abi_string(ENTRE_SDK_ABI_MAJOR, ENTRE_SDK_ABI_MINOR))
            << ", \"boost_version\": " << quoted(boost_version_string(BOOST_VERSION)) << "}";
  std::cout << ",\n  \"warnings\": [";
  const std::vector<std::string> warnings = export_warnings(exports);
  for (std::size_t i = 0; i < warnings.size(); ++i) {
    std::cout << (i == 0 ? "" : ", ") << quoted(warnings[i]);
  }
  std::cout << "]";
  if (failure) {
    std::cout << ",\n  \"result\": \"fail\",\n  \"error\": "
              << quoted(load_error_name(failure->error))
              << ",\n  \"detail\": " << quoted(failure->detail);
  } else {
    std::cout << ",\n  \"result\": \"pass\"";
  }
  std::cout << "\n}\n";
}

// Prints each check and the summary line the tests look for; returns the exit status.
int report(const char* kind, const std::vector<ConformanceCheck>& checks) {
  std::size_t failed = 0;
  for (const auto& check : checks) {
    std::cout << (check.passed ? "  pass  " : "  FAIL  ") << check.name;
    if (!check.passed) {
      std::cout << ": " << check.detail;
      ++failed;
    }
    std::cout << '\n';
  }
  std::cout << "conformance (" << kind << "): " << checks.size() - failed << " passed, " << failed
            << " failed\n";
  return failed == 0 ? kExitPass : kExitFail;
}

// Loads the plugin for real (its code runs from here on) and runs the conformance suite of its
// kind through the SDK interface only.
int run_conformance(const std::filesystem::path& path, const std::string& transport_config) {
  PluginLoader loader({});
  LoadOutcome outcome = loader.load("", path);
  if (!outcome.library) {
    std::cout << "FAIL: " << outcome.failure->str() << '\n';
    return kExitFail;
  }
  const ManifestInfo& manifest = outcome.library->manifest();
  if (manifest.kind == sdk::PluginKind::kTransport) {
    // The factory makes its own started instances, bound to loopback, on a running loop; it is
    // destroyed before the loop stops.
    Runtime runtime(2, 1);
    runtime.start();
    auto logger = std::make_shared<spdlog::logger>(
        "entre-plugin-check", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    std::vector<ConformanceCheck> checks;
    {
      PluginTransportFactory factory(outcome.library, runtime, transport_config, logger);
      checks = run_transport_conformance(factory);
    }
    runtime.stop();
    return report("transport", checks);
  }
  if (manifest.kind != sdk::PluginKind::kCrypto && manifest.kind != sdk::PluginKind::kStorage &&
      manifest.kind != sdk::PluginKind::kCodec) {
    std::cout << "conformance: no suite for " << sdk::plugin_kind_name(manifest.kind)
              << " plugins yet (transport, crypto, storage and codec)\n";
    return kExitUsage;
  }
  // Declared before the plugin, so that it outlives the plugin's files.
  const ScratchDirectory scratch;
  Runtime runtime(1, 1);
  auto logger = std::make_shared<spdlog::logger>(
      "entre-plugin-check", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  PluginHost host(manifest.id, std::make_unique<TomlConfigView>(nullptr, path.string(), 0),
                  scratch.path(), runtime, logger);
  sdk::Plugin* root = nullptr;
  const sdk::Status st = outcome.library->factory()(host, &root);
  if (!st.is_ok() || root == nullptr) {
    std::cout << "FAIL: " << load_error_name(LoadError::kFactoryFailed) << ": " << st.text()
              << '\n';
    return kExitFail;
  }
  PluginPtr<sdk::Plugin> plugin(root, outcome.library);
  if (manifest.kind == sdk::PluginKind::kStorage) {
    auto* storage = sdk::query<sdk::Storage>(*plugin, sdk::InterfaceId::kStorageV1);
    if (storage == nullptr) {
      std::cout << "FAIL: " << load_error_name(LoadError::kInterfaceMissing)
                << ": no storage interface v1\n";
      return kExitFail;
    }
    const sdk::Status opened = storage->open(sdk::StringView(kStorageConformanceSuiteId));
    if (!opened.is_ok()) {
      std::cout << "FAIL: open: " << sdk::status_code_name(opened.code) << ": " << opened.text()
                << '\n';
      return kExitFail;
    }
    return report("storage", run_storage_conformance(*storage));
  }
  if (manifest.kind == sdk::PluginKind::kCodec) {
    auto* codec = sdk::query<sdk::Codec>(*plugin, sdk::InterfaceId::kCodecV1);
    if (codec == nullptr) {
      std::cout << "FAIL: " << load_error_name(LoadError::kInterfaceMissing)
                << ": no codec interface v1\n";
      return kExitFail;
    }
    return report("codec", run_codec_conformance(*codec));
  }
  auto* suite = sdk::query<sdk::CryptoSuite>(*plugin, sdk::InterfaceId::kCryptoSuiteV1);
  if (suite == nullptr) {
    std::cout << "FAIL: " << load_error_name(LoadError::kInterfaceMissing)
              << ": no crypto suite interface v1\n";
    return kExitFail;
  }
  return report("crypto",
                run_crypto_conformance(*suite, sdk::query<sdk::PairwiseKeys>(
                                                   *plugin, sdk::InterfaceId::kPairwiseKeysV1)));
}

int run(int argc, char** argv) {
  CLI::App app{"Lists and validates an Entre plugin's exports and manifest without running any "
               "of its code.\nExit status: 0 pass, 1 fail, 2 usage error.",
               "entre-plugin-check"};
  bool json = false;
  std::string file;
  bool conformance = false;
  app.add_flag("--json", json, "Print the result as one JSON object");
  app.add_flag("--conformance", conformance,
               "After the checks pass, load the plugin and run its kind's conformance suite "
               "(this runs plugin code)");
  std::string transport_config = "bind = \"127.0.0.1:0\"";
  app.add_option("--transport-config", transport_config,
                 "With --conformance on a transport: each instance's config table as TOML "
                 "(default binds to loopback); {instance} and {data_dir} are replaced by the "
                 "instance's number and data directory");
  app.add_option("FILE", file, "The plugin shared object (.so) to check")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success); // --help
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return kExitUsage;
  }

  const std::filesystem::path path(file);
  const ElfExports exports = read_elf_exports_file(path);
  const std::optional<LoadFailure> failure = check_manifest(exports, path);
  if (json) {
    print_json(path, exports, failure);
  } else {
    print_text(path, exports, failure);
  }
  if (failure) {
    return kExitFail;
  }
  return conformance ? run_conformance(path, transport_config) : kExitPass;
}

} // namespace
} // namespace entre

int main(int argc, char** argv) {
  try {
    return entre::run(argc, argv);
  } catch (const std::exception& error) {
    (void)std::fprintf(stderr, "entre-plugin-check: %s\n", error.what());
    return entre::kExitFail;
  }
}
