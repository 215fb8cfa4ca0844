// Reading a plugin's manifest and exports from its ELF file without loading it.
//
// The file is untrusted input: every offset and size read from it is bounded against the file size
// before use, and the reader never maps or executes the file. Only 64-bit little-endian ELF
// (ET_DYN) is accepted.
#pragma once

#include <entre/sdk/plugin.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace entre {

enum class ElfReadError {
  kNone,
  kCannotOpen, // the file does not exist or cannot be read
  kNotElf,     // no ELF magic, wrong class/endianness/machine, not ET_DYN, or truncated
  kMalformed,  // header fields point outside the file or contradict each other
  kNoDynamicSymbols,
};

struct ElfExports {
  ElfReadError error = ElfReadError::kNone;
  std::string detail;
  uint16_t machine = 0;                        // e_machine (EM_X86_64, EM_AARCH64) when read
  std::vector<std::string> symbols;            // defined, exported dynamic symbols, sorted
  std::vector<std::string> code_symbols;       // those of them that are functions, sorted
  std::optional<sdk::PluginManifest> manifest; // bytes of entre_plugin_manifest, if exported
  uint64_t manifest_symbol_size = 0;           // st_size of that symbol as found
  // Why `manifest` is empty although the symbol is exported (wrong size, not backed by file
  // contents); empty otherwise.
  std::string manifest_detail;
};

// Reads `bytes` (the whole file) as an ELF shared object. `symbols` lists the dynamic symbols that
// are defined (st_shndx != SHN_UNDEF), global, weak or GNU-unique, and of default or protected
// visibility, sorted and de-duplicated. Never throws for any input except std::bad_alloc.
[[nodiscard]] ElfExports read_elf_exports(std::span<const uint8_t> bytes);
// The exported symbols a plugin should not export: all but the two entry points, Boost's data
// statics (guard variables, static members and function-local statics in namespace boost, which
// a plugin shares with the kernel; sdk/cmake/entre-plugin.map) and the linker's _edata, _end and
// __bss_start. A plugin built with entre_add_plugin() has none; one built with a plain
// add_library(SHARED) has its own code and every inline function it uses here, any of which the
// dynamic linker may bind to the kernel's or another plugin's symbol of the same name.
[[nodiscard]] std::vector<std::string> unexpected_exports(const ElfExports& exports);

// A plugin file opened for reading, so that what is checked and what is mapped are one file
// even if the path is replaced in between. `fd` is -1 (and `detail` says why) on failure; the
// caller closes it otherwise.
struct PluginFile {
  int fd = -1;
  uint64_t device = 0;
  uint64_t inode = 0;
  std::string detail;
};
// Opens `path` read-only, close-on-exec, without following into FIFOs or devices: only a regular
// file is accepted.
[[nodiscard]] PluginFile open_plugin_file(const std::filesystem::path& path);
// Reads the open file from its start (at most 256 MiB) and calls read_elf_exports().
[[nodiscard]] ElfExports read_elf_exports_fd(int fd);
// open_plugin_file() + read_elf_exports_fd() + close.
[[nodiscard]] ElfExports read_elf_exports_file(const std::filesystem::path& path);

} // namespace entre
