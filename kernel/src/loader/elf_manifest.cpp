#include "loader/elf_manifest.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>

namespace entre {
namespace {

constexpr uint64_t kMaxFileBytes = 256ull * 1024 * 1024;
// Generous for any real plugin; they bound the work a hostile file can ask for.
constexpr uint64_t kMaxSections = 1u << 16;
constexpr uint64_t kMaxSymbols = 1u << 20;
// Total bytes of symbol names scanned. Names may share bytes of the string table, so without this
// a small file could make the reader scan one long string once per symbol.
constexpr uint64_t kMaxNameBytesScanned = 16u << 20;

// True when [offset, offset + length) lies inside a buffer of `size` bytes, without overflow.
bool in_bounds(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

// Copies a trivially copyable T from `bytes` at `offset`; the caller has checked the bounds.
template <typename T> T load(std::span<const uint8_t> bytes, uint64_t offset) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

ElfExports fail(ElfReadError error, std::string detail) {
  ElfExports out;
  out.error = error;
  out.detail = std::move(detail);
  return out;
}

const char* elf_type_name(uint16_t type) {
  switch (type) {
  case ET_REL:
    return "a relocatable object (ET_REL)";
  case ET_EXEC:
    return "an executable (ET_EXEC)";
  case ET_CORE:
    return "a core dump (ET_CORE)";
  default:
    return "not a shared object";
  }
}

std::optional<ElfExports> check_header(const Elf64_Ehdr& header) {
  if (header.e_ident[EI_CLASS] != ELFCLASS64) {
    return fail(ElfReadError::kNotElf, "not a 64-bit ELF file");
  }
  if (header.e_ident[EI_DATA] != ELFDATA2LSB) {
    return fail(ElfReadError::kNotElf, "not a little-endian ELF file");
  }
  if (header.e_type != ET_DYN) {
    return fail(ElfReadError::kNotElf, std::string("ELF file is ") + elf_type_name(header.e_type));
  }
  if (header.e_machine != EM_X86_64 && header.e_machine != EM_AARCH64) {
    return fail(ElfReadError::kNotElf, "ELF machine " + std::to_string(header.e_machine) +
                                           " is neither x86-64 nor aarch64");
  }
  if (header.e_ehsize < sizeof(Elf64_Ehdr)) {
    return fail(ElfReadError::kMalformed, "bad ELF header size");
  }
  return std::nullopt;
}

struct Section {
  uint32_t type = 0;
  uint64_t flags = 0;
  uint64_t addr = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t link = 0;
  uint64_t entsize = 0;
};

// Reads the section header table; every section's file range (except SHT_NOBITS) is in bounds.
std::optional<ElfExports> read_sections(std::span<const uint8_t> bytes, const Elf64_Ehdr& header,
                                        std::vector<Section>& sections) {
  const uint64_t size = bytes.size();
  if (header.e_shoff == 0) {
    return std::nullopt; // no section headers: nothing to read symbols from
  }
  if (header.e_shentsize != sizeof(Elf64_Shdr)) {
    return fail(ElfReadError::kMalformed,
                "unexpected section header entry size " + std::to_string(header.e_shentsize));
  }
  if (!in_bounds(header.e_shoff, sizeof(Elf64_Shdr), size)) {
    return fail(ElfReadError::kMalformed, "section header table lies outside the file");
  }
  uint64_t count = header.e_shnum;
  if (count == 0) {
    // Extended numbering: the real count is in the first section header's sh_size.
    count = load<Elf64_Shdr>(bytes, header.e_shoff).sh_size;
  }
  if (count > kMaxSections) {
    return fail(ElfReadError::kMalformed, "too many sections (" + std::to_string(count) + ")");
  }
  // count <= 2^16 and the entry size is 64, so the product cannot overflow.
  if (!in_bounds(header.e_shoff, count * sizeof(Elf64_Shdr), size)) {
    return fail(ElfReadError::kMalformed, "section header table lies outside the file");
  }
  sections.reserve(static_cast<std::size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    const auto raw = load<Elf64_Shdr>(bytes, header.e_shoff + i * sizeof(Elf64_Shdr));
    if (raw.sh_type != SHT_NOBITS && raw.sh_type != SHT_NULL &&
        !in_bounds(raw.sh_offset, raw.sh_size, size)) {
      return fail(ElfReadError::kMalformed,
                  "section " + std::to_string(i) + " lies outside the file");
    }
    sections.push_back(Section{raw.sh_type, raw.sh_flags, raw.sh_addr, raw.sh_offset, raw.sh_size,
                               raw.sh_link, raw.sh_entsize});
  }
  return std::nullopt;
}

// Maps a virtual address range to a file offset through the allocated section containing it.
std::optional<uint64_t> file_offset_of(const std::vector<Section>& sections, uint64_t address,
                                       uint64_t length) {
  for (const Section& section : sections) {
    if (section.type == SHT_NOBITS || section.type == SHT_NULL ||
        (section.flags & SHF_ALLOC) == 0) {
      continue;
    }
    if (address < section.addr || address - section.addr >= section.size) {
      continue;
    }
    const uint64_t start = address - section.addr;
    if (!in_bounds(start, length, section.size)) {
      return std::nullopt; // the object runs past the end of its section
    }
    return section.offset + start; // in bounds: section.offset + section.size <= file size
  }
  return std::nullopt;
}

} // namespace

ElfExports read_elf_exports(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kMagic[4] = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3};
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return fail(ElfReadError::kNotElf, "no ELF magic");
  }
  if (bytes.size() < sizeof(Elf64_Ehdr)) {
    return fail(ElfReadError::kNotElf, "truncated ELF header");
  }
  const auto header = load<Elf64_Ehdr>(bytes, 0);
  if (auto failure = check_header(header)) {
    return std::move(*failure);
  }

  std::vector<Section> sections;
  if (auto failure = read_sections(bytes, header, sections)) {
    return std::move(*failure);
  }

  const auto dynsym = std::find_if(sections.begin(), sections.end(),
                                   [](const Section& s) { return s.type == SHT_DYNSYM; });
  if (dynsym == sections.end()) {
    return fail(ElfReadError::kNoDynamicSymbols, "no dynamic symbol table");
  }
  if (dynsym->entsize != sizeof(Elf64_Sym) || dynsym->size % sizeof(Elf64_Sym) != 0) {
    return fail(ElfReadError::kMalformed, "dynamic symbol table has a bad entry size");
  }
  const uint64_t symbol_count = dynsym->size / sizeof(Elf64_Sym);
  if (symbol_count > kMaxSymbols) {
    return fail(ElfReadError::kMalformed,
                "too many dynamic symbols (" + std::to_string(symbol_count) + ")");
  }
  if (dynsym->link >= sections.size() || sections[dynsym->link].type != SHT_STRTAB) {
    return fail(ElfReadError::kMalformed, "dynamic symbol table has no string table");
  }
  const Section& strtab = sections[dynsym->link];
  const auto* names = reinterpret_cast<const char*>(bytes.data() + strtab.offset);

  ElfExports out;
  out.machine = header.e_machine;
  std::optional<Elf64_Sym> manifest_symbol;
  uint64_t name_bytes_scanned = 0; // never above kMaxNameBytesScanned
  // Entry 0 is the reserved null symbol.
  for (uint64_t i = 1; i < symbol_count; ++i) {
    const auto symbol = load<Elf64_Sym>(bytes, dynsym->offset + i * sizeof(Elf64_Sym));
    if (symbol.st_name >= strtab.size) {
      return fail(ElfReadError::kMalformed,
                  "dynamic symbol " + std::to_string(i) + " has its name outside the string table");
    }
    const uint64_t scan_length =
        std::min(strtab.size - symbol.st_name, kMaxNameBytesScanned - name_bytes_scanned);
    const char* name_start = names + symbol.st_name;
    const void* terminator = std::memchr(name_start, '\0', static_cast<std::size_t>(scan_length));
    if (terminator == nullptr) {
      return fail(ElfReadError::kMalformed,
                  name_bytes_scanned + scan_length >= kMaxNameBytesScanned
                      ? std::string("dynamic symbol names are too long")
                      : "dynamic symbol " + std::to_string(i) + " has an unterminated name");
    }
    const std::string_view name(
        name_start, static_cast<std::size_t>(static_cast<const char*>(terminator) - name_start));
    name_bytes_scanned += name.size() + 1;
    const unsigned binding = ELF64_ST_BIND(symbol.st_info);
    const unsigned visibility = ELF64_ST_VISIBILITY(symbol.st_other);
    if (name.empty() || symbol.st_shndx == SHN_UNDEF ||
        (binding != STB_GLOBAL && binding != STB_WEAK && binding != STB_GNU_UNIQUE) ||
        (visibility != STV_DEFAULT && visibility != STV_PROTECTED)) {
      continue;
    }
    out.symbols.emplace_back(name);
    const unsigned type = ELF64_ST_TYPE(symbol.st_info);
    if (type == STT_FUNC || type == STT_GNU_IFUNC) {
      out.code_symbols.emplace_back(name);
    }
    if (name == sdk::kManifestSymbol && !manifest_symbol) {
      manifest_symbol = symbol;
    }
  }
  std::sort(out.symbols.begin(), out.symbols.end());
  out.symbols.erase(std::unique(out.symbols.begin(), out.symbols.end()), out.symbols.end());
  std::sort(out.code_symbols.begin(), out.code_symbols.end());
  out.code_symbols.erase(std::unique(out.code_symbols.begin(), out.code_symbols.end()),
                         out.code_symbols.end());

  if (manifest_symbol) {
    out.manifest_symbol_size = manifest_symbol->st_size;
    if (manifest_symbol->st_size != sizeof(sdk::PluginManifest)) {
      out.manifest_detail = std::string(sdk::kManifestSymbol) + " is " +
                            std::to_string(manifest_symbol->st_size) + " bytes, expected " +
                            std::to_string(sizeof(sdk::PluginManifest));
    } else if (manifest_symbol->st_shndx == SHN_ABS || manifest_symbol->st_shndx == SHN_COMMON) {
      out.manifest_detail = std::string(sdk::kManifestSymbol) + " is not stored in a section";
    } else if (const auto offset = file_offset_of(sections, manifest_symbol->st_value,
                                                  sizeof(sdk::PluginManifest))) {
      sdk::PluginManifest manifest;
      std::memcpy(&manifest, bytes.data() + *offset, sizeof(manifest));
      out.manifest = manifest;
    } else {
      out.manifest_detail = std::string(sdk::kManifestSymbol) +
                            " does not lie inside a section with contents in the file";
    }
  }
  return out;
}

PluginFile open_plugin_file(const std::filesystem::path& path) {
  PluginFile out;
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat below refuses it anyway.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    out.detail =
        errno == ENOENT ? "no such file" : std::string("cannot open: ") + std::strerror(errno);
    return out;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    // Refuse directories, FIFOs and devices: a FIFO would block the reader forever.
    out.detail = "not a regular file";
    return out;
  }
  out.fd = fd;
  out.device = info.st_dev;
  out.inode = info.st_ino;
  return out;
}

ElfExports read_elf_exports_fd(int fd) {
  // Read in chunks rather than trusting the size reported before reading; stop past the cap.
  std::vector<uint8_t> bytes;
  constexpr std::size_t kChunkBytes = 1u << 20;
  while (bytes.size() <= kMaxFileBytes) {
    const std::size_t used = bytes.size();
    bytes.resize(used + kChunkBytes);
    const ssize_t got = ::pread(fd, bytes.data() + used, kChunkBytes, static_cast<off_t>(used));
    if (got < 0) {
      if (errno == EINTR) {
        bytes.resize(used);
        continue;
      }
      return fail(ElfReadError::kCannotOpen, std::string("read error: ") + std::strerror(errno));
    }
    bytes.resize(used + static_cast<std::size_t>(got));
    if (got == 0) {
      break;
    }
  }
  if (bytes.size() > kMaxFileBytes) {
    return fail(ElfReadError::kMalformed, "file is larger than 256 MiB");
  }
  return read_elf_exports(bytes);
}

std::vector<std::string> unexpected_exports(const ElfExports& exports) {
  static constexpr std::string_view kExpected[] = {sdk::kManifestSymbol, sdk::kFactorySymbol,
                                                   "_edata", "_end", "__bss_start"};
  // Mangled prefixes: a static member or variable (_ZN), a function-local static (_ZZN) and their
  // guard variables (_ZGV), all in namespace boost.
  static constexpr std::string_view kBoostData[] = {"_ZN5boost", "_ZZN5boost", "_ZGVN5boost",
                                                    "_ZGVZN5boost"};
  std::vector<std::string> out;
  for (const std::string& symbol : exports.symbols) {
    if (std::find(std::begin(kExpected), std::end(kExpected), symbol) != std::end(kExpected)) {
      continue;
    }
    const bool code =
        std::binary_search(exports.code_symbols.begin(), exports.code_symbols.end(), symbol);
    const bool boost_data =
        !code && std::any_of(std::begin(kBoostData), std::end(kBoostData),
                             [&](std::string_view prefix) { return symbol.starts_with(prefix); });
    if (!boost_data) {
      out.push_back(symbol);
    }
  }
  return out;
}

ElfExports read_elf_exports_file(const std::filesystem::path& path) {
  const PluginFile file = open_plugin_file(path);
  if (file.fd < 0) {
    return fail(ElfReadError::kCannotOpen, file.detail);
  }
  ElfExports out = read_elf_exports_fd(file.fd);
  ::close(file.fd);
  return out;
}

} // namespace entre
