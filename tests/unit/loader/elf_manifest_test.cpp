// The ELF export reader on real fixture plugins and on mutated copies of them. The file is
// untrusted input: whatever the bytes, the reader returns an answer and never reads outside them.
// Each mutated input lives in its own exactly-sized vector so AddressSanitizer sees any over-read.
#include "loader/elf_manifest.hpp"

#include <gtest/gtest.h>

#include <boost/version.hpp>
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace entre {
namespace {

using Bytes = std::vector<uint8_t>;

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
#endif

Bytes read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const Bytes& good_bytes() {
  static const Bytes bytes = read_file(FIXTURE_GOOD);
  return bytes;
}

template <typename T> T peek(const Bytes& bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <typename T> void poke(Bytes& bytes, uint64_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

// Where things are in a well-formed file (the tests' own reading, trusting the fixture).
struct Layout {
  Elf64_Ehdr header{};
  std::vector<Elf64_Shdr> sections;

  explicit Layout(const Bytes& bytes) : header(peek<Elf64_Ehdr>(bytes, 0)) {
    for (uint16_t i = 0; i < header.e_shnum; ++i) {
      sections.push_back(peek<Elf64_Shdr>(bytes, section_header_offset(i)));
    }
  }
  [[nodiscard]] uint64_t section_header_offset(uint64_t index) const {
    return header.e_shoff + index * sizeof(Elf64_Shdr);
  }
  [[nodiscard]] uint64_t index_of(uint32_t type) const {
    for (uint64_t i = 0; i < sections.size(); ++i) {
      if (sections[i].sh_type == type) {
        return i;
      }
    }
    ADD_FAILURE() << "no section of type " << type;
    return 0;
  }
  // File offset of the dynamic symbol table entry named `name`.
  [[nodiscard]] uint64_t symbol_entry_offset(const Bytes& bytes, std::string_view name) const {
    const Elf64_Shdr& dynsym = sections[index_of(SHT_DYNSYM)];
    const Elf64_Shdr& strtab = sections[dynsym.sh_link];
    for (uint64_t off = dynsym.sh_offset; off < dynsym.sh_offset + dynsym.sh_size;
         off += sizeof(Elf64_Sym)) {
      const auto symbol = peek<Elf64_Sym>(bytes, off);
      const char* text =
          reinterpret_cast<const char*>(bytes.data() + strtab.sh_offset) + symbol.st_name;
      if (name == text) {
        return off;
      }
    }
    ADD_FAILURE() << "no symbol " << name;
    return 0;
  }
};

std::string array_text(const char* data, std::size_t size) {
  return std::string(data, ::strnlen(data, size));
}

// The exports a plugin's own source defines. An AddressSanitizer build adds one ODR indicator
// symbol ("__odr_asan.<name>") per exported global; the reader reports those truthfully, and the
// tests that count exports leave them out.
std::vector<std::string> plugin_symbols(const ElfExports& exports) {
  std::vector<std::string> out;
  for (const std::string& symbol : exports.symbols) {
    if (symbol.rfind("__odr_asan", 0) != 0) {
      out.push_back(symbol);
    }
  }
  return out;
}

TEST(ElfReader, GoodPluginExportsExactlyTheManifestAndTheFactory) {
  const ElfExports exports = read_elf_exports(good_bytes());
  ASSERT_EQ(exports.error, ElfReadError::kNone) << exports.detail;
  EXPECT_EQ(exports.machine, kHostMachine);
  // Hidden visibility: everything else the plugin defines stays out of the dynamic symbol table.
  EXPECT_EQ(plugin_symbols(exports),
            (std::vector<std::string>{"entre_plugin_factory", "entre_plugin_manifest"}));
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(exports.symbols, plugin_symbols(exports)); // nothing else at all
#endif
}

TEST(ElfReader, GoodPluginManifestHasTheCompiledValues) {
  const ElfExports exports = read_elf_exports(good_bytes());
  ASSERT_TRUE(exports.manifest.has_value()) << exports.manifest_detail;
  EXPECT_EQ(exports.manifest_symbol_size, sizeof(sdk::PluginManifest));
  EXPECT_TRUE(exports.manifest_detail.empty());
  const sdk::PluginManifest& m = *exports.manifest;
  EXPECT_EQ(std::memcmp(m.magic, sdk::kManifestMagic, sizeof(m.magic)), 0);
  EXPECT_EQ(m.manifest_bytes, sizeof(sdk::PluginManifest));
  EXPECT_EQ(m.abi_major, static_cast<uint32_t>(ENTRE_SDK_ABI_MAJOR));
  EXPECT_EQ(m.abi_minor, static_cast<uint32_t>(ENTRE_SDK_ABI_MINOR));
  EXPECT_EQ(m.boost_version, static_cast<uint32_t>(BOOST_VERSION));
  EXPECT_EQ(m.kind, static_cast<uint32_t>(sdk::PluginKind::kCodec));
  EXPECT_EQ(m.flags, 0u);
  EXPECT_EQ(array_text(m.id, sizeof(m.id)), "entre.fixture.good");
  EXPECT_EQ(array_text(m.version, sizeof(m.version)), "1.0.0");
  EXPECT_EQ(array_text(m.summary, sizeof(m.summary)), "loader test fixture: G.711 mu-law codec");
}

TEST(ElfReader, HandWrittenManifestMatchesTheMacroLayout) {
  // The failing fixtures write their manifest by hand; this one changes nothing, so the only
  // difference in each failing fixture is the field it means to break.
  const ElfExports good = read_elf_exports(good_bytes());
  const ElfExports hand = read_elf_exports(read_file(FIXTURE_HAND));
  ASSERT_TRUE(good.manifest && hand.manifest);
  EXPECT_EQ(std::memcmp(good.manifest->magic, hand.manifest->magic, 8), 0);
  EXPECT_EQ(good.manifest->manifest_bytes, hand.manifest->manifest_bytes);
  EXPECT_EQ(good.manifest->abi_major, hand.manifest->abi_major);
  EXPECT_EQ(good.manifest->abi_minor, hand.manifest->abi_minor);
  EXPECT_EQ(good.manifest->boost_version, hand.manifest->boost_version);
  EXPECT_EQ(good.manifest->kind, hand.manifest->kind);
  EXPECT_EQ(hand.symbols, good.symbols);
}

TEST(ElfReader, ReadsTheManifestAsItIsWithoutJudgingIt) {
  const ElfExports exports = read_elf_exports(read_file(FIXTURE_ABI_MAJOR));
  ASSERT_EQ(exports.error, ElfReadError::kNone) << exports.detail;
  ASSERT_TRUE(exports.manifest.has_value());
  EXPECT_EQ(exports.manifest->abi_major, static_cast<uint32_t>(ENTRE_SDK_ABI_MAJOR + 1));
}

TEST(ElfReader, FileAndBytesGiveTheSameAnswer) {
  const ElfExports from_file = read_elf_exports_file(FIXTURE_GOOD);
  const ElfExports from_bytes = read_elf_exports(good_bytes());
  ASSERT_EQ(from_file.error, ElfReadError::kNone);
  EXPECT_EQ(from_file.symbols, from_bytes.symbols);
  ASSERT_TRUE(from_file.manifest && from_bytes.manifest);
  EXPECT_EQ(std::memcmp(&*from_file.manifest, &*from_bytes.manifest, sizeof(sdk::PluginManifest)),
            0);
}

TEST(ElfReader, MissingManifestAndMissingFactoryShowInTheSymbols) {
  const ElfExports no_manifest = read_elf_exports(read_file(FIXTURE_NO_MANIFEST));
  ASSERT_EQ(no_manifest.error, ElfReadError::kNone) << no_manifest.detail;
  EXPECT_EQ(plugin_symbols(no_manifest), std::vector<std::string>{"entre_plugin_factory"});
  EXPECT_FALSE(no_manifest.manifest.has_value());
  EXPECT_EQ(no_manifest.manifest_symbol_size, 0u);

  const ElfExports no_factory = read_elf_exports(read_file(FIXTURE_NO_FACTORY));
  ASSERT_EQ(no_factory.error, ElfReadError::kNone) << no_factory.detail;
  EXPECT_EQ(plugin_symbols(no_factory), std::vector<std::string>{"entre_plugin_manifest"});
  EXPECT_TRUE(no_factory.manifest.has_value());
}

TEST(ElfReader, ManifestOfTheWrongSizeIsReportedNotRead) {
  const ElfExports exports = read_elf_exports(read_file(FIXTURE_SHORT_MANIFEST));
  ASSERT_EQ(exports.error, ElfReadError::kNone) << exports.detail;
  EXPECT_FALSE(exports.manifest.has_value());
  EXPECT_EQ(exports.manifest_symbol_size, 100u);
  EXPECT_NE(exports.manifest_detail.find("100 bytes"), std::string::npos)
      << exports.manifest_detail;
}

TEST(ElfReader, FileErrors) {
  EXPECT_EQ(read_elf_exports_file("/nonexistent/entre/plugin.so").error, ElfReadError::kCannotOpen);
  EXPECT_EQ(read_elf_exports_file("/").error, ElfReadError::kCannotOpen);
}

TEST(ElfReader, EmptyTextAndGarbageAreNotElf) {
  EXPECT_EQ(read_elf_exports({}).error, ElfReadError::kNotElf);
  const std::string text = "this is a text file named x.so\n";
  EXPECT_EQ(read_elf_exports({reinterpret_cast<const uint8_t*>(text.data()), text.size()}).error,
            ElfReadError::kNotElf);
  const Bytes magic_only = {0x7f, 'E', 'L', 'F'};
  EXPECT_EQ(read_elf_exports(magic_only).error, ElfReadError::kNotElf);
  std::mt19937_64 random(7);
  for (int i = 0; i < 200; ++i) {
    Bytes garbage(random() % 4096);
    std::generate(garbage.begin(), garbage.end(), [&] { return static_cast<uint8_t>(random()); });
    if (garbage.size() >= 4) {
      garbage[0] = 0; // make sure the magic is wrong
    }
    EXPECT_EQ(read_elf_exports(garbage).error, ElfReadError::kNotElf);
  }
}

TEST(ElfReader, RelocatableObjectIsNotASharedObject) {
  const ElfExports exports = read_elf_exports(read_file(FIXTURE_OBJECT));
  EXPECT_EQ(exports.error, ElfReadError::kNotElf);
  EXPECT_NE(exports.detail.find("ET_REL"), std::string::npos) << exports.detail;
}

TEST(ElfReader, HeaderIdentityIsChecked) {
  struct Case {
    const char* what;
    uint64_t offset;
    std::vector<uint8_t> value;
  };
  const uint16_t exec_type = ET_EXEC;
  const uint16_t i386 = EM_386;
  const std::vector<Case> cases = {
      {"32-bit class", EI_CLASS, {ELFCLASS32}},
      {"no class", EI_CLASS, {ELFCLASSNONE}},
      {"big endian", EI_DATA, {ELFDATA2MSB}},
      {"executable", offsetof(Elf64_Ehdr, e_type), {exec_type & 0xff, exec_type >> 8}},
      {"i386", offsetof(Elf64_Ehdr, e_machine), {i386 & 0xff, i386 >> 8}},
  };
  for (const Case& c : cases) {
    Bytes bytes = good_bytes();
    std::copy(c.value.begin(), c.value.end(), bytes.begin() + static_cast<long>(c.offset));
    const ElfExports exports = read_elf_exports(bytes);
    EXPECT_EQ(exports.error, ElfReadError::kNotElf) << c.what;
    EXPECT_FALSE(exports.detail.empty()) << c.what;
  }
}

TEST(ElfReader, SectionHeaderTableMustLieInsideTheFile) {
  const Layout layout(good_bytes());
  const uint64_t size = good_bytes().size();
  for (const uint64_t offset : {size, size - 1, size - sizeof(Elf64_Shdr) + 1, UINT64_MAX,
                                UINT64_MAX - sizeof(Elf64_Shdr) + 1, uint64_t{1} << 63}) {
    Bytes bytes = good_bytes();
    poke<uint64_t>(bytes, offsetof(Elf64_Ehdr, e_shoff), offset);
    EXPECT_EQ(read_elf_exports(bytes).error, ElfReadError::kMalformed) << offset;
  }
  Bytes many = good_bytes();
  poke<uint16_t>(many, offsetof(Elf64_Ehdr, e_shnum), 0xffff);
  EXPECT_EQ(read_elf_exports(many).error, ElfReadError::kMalformed);

  Bytes entsize = good_bytes();
  poke<uint16_t>(entsize, offsetof(Elf64_Ehdr, e_shentsize), 40);
  EXPECT_EQ(read_elf_exports(entsize).error, ElfReadError::kMalformed);

  // Extended numbering: e_shnum 0, the count in section 0's sh_size. A huge count is refused
  // before anything is allocated or read.
  Bytes extended = good_bytes();
  poke<uint16_t>(extended, offsetof(Elf64_Ehdr, e_shnum), 0);
  poke<uint64_t>(extended, layout.section_header_offset(0) + offsetof(Elf64_Shdr, sh_size),
                 UINT64_MAX);
  EXPECT_EQ(read_elf_exports(extended).error, ElfReadError::kMalformed);
  // ... and a correct one is followed.
  poke<uint64_t>(extended, layout.section_header_offset(0) + offsetof(Elf64_Shdr, sh_size),
                 layout.header.e_shnum);
  EXPECT_EQ(read_elf_exports(extended).symbols, read_elf_exports(good_bytes()).symbols);
}

TEST(ElfReader, NoSectionHeadersOrNoDynsymMeansNoDynamicSymbols) {
  Bytes stripped = good_bytes();
  poke<uint64_t>(stripped, offsetof(Elf64_Ehdr, e_shoff), 0);
  EXPECT_EQ(read_elf_exports(stripped).error, ElfReadError::kNoDynamicSymbols);

  const Layout layout(good_bytes());
  Bytes no_dynsym = good_bytes();
  poke<uint32_t>(no_dynsym,
                 layout.section_header_offset(layout.index_of(SHT_DYNSYM)) +
                     offsetof(Elf64_Shdr, sh_type),
                 SHT_PROGBITS);
  EXPECT_EQ(read_elf_exports(no_dynsym).error, ElfReadError::kNoDynamicSymbols);
}

TEST(ElfReader, BadDynamicSymbolTablesAreMalformed) {
  const Layout layout(good_bytes());
  const uint64_t dynsym = layout.section_header_offset(layout.index_of(SHT_DYNSYM));
  const auto mutate = [&](uint64_t field, auto value) {
    Bytes bytes = good_bytes();
    poke(bytes, dynsym + field, value);
    return read_elf_exports(bytes).error;
  };
  EXPECT_EQ(mutate(offsetof(Elf64_Shdr, sh_link), uint32_t{0xffff}), ElfReadError::kMalformed);
  EXPECT_EQ(mutate(offsetof(Elf64_Shdr, sh_link), uint32_t{0}), ElfReadError::kMalformed);
  EXPECT_EQ(mutate(offsetof(Elf64_Shdr, sh_entsize), uint64_t{16}), ElfReadError::kMalformed);
  EXPECT_EQ(mutate(offsetof(Elf64_Shdr, sh_size), uint64_t{25}), ElfReadError::kMalformed);
  EXPECT_EQ(mutate(offsetof(Elf64_Shdr, sh_size), UINT64_MAX - 7), ElfReadError::kMalformed);
  EXPECT_EQ(mutate(offsetof(Elf64_Shdr, sh_offset), UINT64_MAX - 7), ElfReadError::kMalformed);

  // A symbol name offset outside the string table.
  const Elf64_Shdr& strtab = layout.sections[layout.sections[layout.index_of(SHT_DYNSYM)].sh_link];
  Bytes bad_name = good_bytes();
  const uint64_t entry = layout.symbol_entry_offset(bad_name, "entre_plugin_factory");
  poke<uint32_t>(bad_name, entry + offsetof(Elf64_Sym, st_name),
                 static_cast<uint32_t>(strtab.sh_size));
  EXPECT_EQ(read_elf_exports(bad_name).error, ElfReadError::kMalformed);

  // A string table whose last name has no terminator: cut the table one byte short.
  Bytes unterminated = good_bytes();
  const uint64_t strtab_header =
      layout.section_header_offset(layout.sections[layout.index_of(SHT_DYNSYM)].sh_link);
  poke<uint64_t>(unterminated, strtab_header + offsetof(Elf64_Shdr, sh_size), strtab.sh_size - 1);
  const ElfExports cut = read_elf_exports(unterminated);
  EXPECT_TRUE(cut.error == ElfReadError::kMalformed || cut.error == ElfReadError::kNone);
}

TEST(ElfReader, ManifestAddressIsMappedThroughItsSection) {
  const Layout layout(good_bytes());
  const uint64_t entry = layout.symbol_entry_offset(good_bytes(), "entre_plugin_manifest");
  const auto value_offset = entry + offsetof(Elf64_Sym, st_value);
  const uint64_t value = peek<uint64_t>(good_bytes(), value_offset);

  const auto with_value = [&](uint64_t new_value) {
    Bytes bytes = good_bytes();
    poke<uint64_t>(bytes, value_offset, new_value);
    return read_elf_exports(bytes);
  };
  for (const uint64_t bad : {uint64_t{0}, UINT64_MAX, UINT64_MAX - 100, uint64_t{1} << 40}) {
    const ElfExports exports = with_value(bad);
    ASSERT_EQ(exports.error, ElfReadError::kNone) << bad;
    EXPECT_FALSE(exports.manifest.has_value()) << bad;
    EXPECT_FALSE(exports.manifest_detail.empty()) << bad;
  }
  // The allocated section holding the manifest (.rodata).
  std::optional<uint64_t> home;
  for (uint64_t i = 0; i < layout.sections.size(); ++i) {
    const Elf64_Shdr& section = layout.sections[i];
    if ((section.sh_flags & SHF_ALLOC) != 0 && section.sh_addr <= value &&
        value < section.sh_addr + section.sh_size) {
      EXPECT_FALSE(home.has_value()) << "allocated sections overlap";
      home = i;
    }
  }
  ASSERT_TRUE(home.has_value());
  const Elf64_Shdr& section = layout.sections[*home];
  // Straddling the end of its section.
  EXPECT_FALSE(with_value(section.sh_addr + section.sh_size - 10).manifest.has_value());
  // The last byte that still fits is fine.
  EXPECT_TRUE(with_value(section.sh_addr + section.sh_size - sizeof(sdk::PluginManifest))
                  .manifest.has_value());

  // A manifest in a section without file contents (SHT_NOBITS) is not read.
  Bytes nobits = good_bytes();
  poke<uint32_t>(nobits, layout.section_header_offset(*home) + offsetof(Elf64_Shdr, sh_type),
                 SHT_NOBITS);
  EXPECT_FALSE(read_elf_exports(nobits).manifest.has_value());
  // Nor in one that is not loaded (no SHF_ALLOC).
  Bytes unallocated = good_bytes();
  poke<uint64_t>(unallocated, layout.section_header_offset(*home) + offsetof(Elf64_Shdr, sh_flags),
                 0);
  EXPECT_FALSE(read_elf_exports(unallocated).manifest.has_value());
}

TEST(ElfReader, HiddenAndUndefinedSymbolsAreNotExports) {
  const Layout layout(good_bytes());
  const uint64_t entry = layout.symbol_entry_offset(good_bytes(), "entre_plugin_factory");
  Bytes hidden = good_bytes();
  hidden[entry + offsetof(Elf64_Sym, st_other)] = STV_HIDDEN;
  EXPECT_EQ(plugin_symbols(read_elf_exports(hidden)),
            std::vector<std::string>{"entre_plugin_manifest"});

  Bytes undefined = good_bytes();
  poke<uint16_t>(undefined, entry + offsetof(Elf64_Sym, st_shndx), SHN_UNDEF);
  EXPECT_EQ(plugin_symbols(read_elf_exports(undefined)),
            std::vector<std::string>{"entre_plugin_manifest"});

  Bytes local = good_bytes();
  local[entry + offsetof(Elf64_Sym, st_info)] = ELF64_ST_INFO(STB_LOCAL, STT_OBJECT);
  EXPECT_EQ(plugin_symbols(read_elf_exports(local)),
            std::vector<std::string>{"entre_plugin_manifest"});
}

// A minimal ELF shared object built by hand: null section, .dynsym, .dynstr and one allocated
// data section at address kDataAddress. Lets a test state exactly what the file contains.
struct MiniElf {
  static constexpr uint64_t kDataAddress = 0x10000;
  std::string names = std::string(1, '\0'); // the .dynstr contents; offset 0 is ""
  std::vector<Elf64_Sym> symbols = {Elf64_Sym{}};
  Bytes data;

  uint32_t add_name(std::string_view name) {
    const auto offset = static_cast<uint32_t>(names.size());
    names.append(name);
    names.push_back('\0');
    return offset;
  }
  // A defined, exported object in the data section.
  void add_object(std::string_view name, const void* contents, std::size_t size) {
    Elf64_Sym symbol{};
    symbol.st_name = add_name(name);
    symbol.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
    symbol.st_shndx = 3;
    symbol.st_value = kDataAddress + data.size();
    symbol.st_size = size;
    const auto* bytes = static_cast<const uint8_t*>(contents);
    data.insert(data.end(), bytes, bytes + size);
    symbols.push_back(symbol);
  }

  [[nodiscard]] Bytes build() const {
    Bytes out(sizeof(Elf64_Ehdr));
    const auto append = [&out](const void* p, std::size_t n) {
      const auto* b = static_cast<const uint8_t*>(p);
      out.insert(out.end(), b, b + n);
      out.resize((out.size() + 7) / 8 * 8);
    };
    const uint64_t names_offset = out.size();
    append(names.data(), names.size());
    const uint64_t symbols_offset = out.size();
    append(symbols.data(), symbols.size() * sizeof(Elf64_Sym));
    const uint64_t data_offset = out.size();
    append(data.data(), data.size());

    std::vector<Elf64_Shdr> sections(4);
    sections[1].sh_type = SHT_DYNSYM;
    sections[1].sh_flags = SHF_ALLOC;
    sections[1].sh_offset = symbols_offset;
    sections[1].sh_size = symbols.size() * sizeof(Elf64_Sym);
    sections[1].sh_link = 2;
    sections[1].sh_entsize = sizeof(Elf64_Sym);
    sections[2].sh_type = SHT_STRTAB;
    sections[2].sh_flags = SHF_ALLOC;
    sections[2].sh_offset = names_offset;
    sections[2].sh_size = names.size();
    sections[3].sh_type = SHT_PROGBITS;
    sections[3].sh_flags = SHF_ALLOC;
    sections[3].sh_addr = kDataAddress;
    sections[3].sh_offset = data_offset;
    sections[3].sh_size = data.size();
    const uint64_t sections_offset = out.size();
    append(sections.data(), sections.size() * sizeof(Elf64_Shdr));

    Elf64_Ehdr header{};
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT};
    std::copy(std::begin(ident), std::end(ident), std::begin(header.e_ident));
    header.e_type = ET_DYN;
    header.e_machine = kHostMachine;
    header.e_version = EV_CURRENT;
    header.e_ehsize = sizeof(Elf64_Ehdr);
    header.e_shoff = sections_offset;
    header.e_shentsize = sizeof(Elf64_Shdr);
    header.e_shnum = static_cast<uint16_t>(sections.size());
    std::memcpy(out.data(), &header, sizeof(header));
    return out;
  }
};

TEST(ElfReader, HandBuiltFileIsReadExactly) {
  MiniElf elf;
  sdk::PluginManifest manifest{};
  std::memcpy(manifest.magic, sdk::kManifestMagic, sizeof(manifest.magic));
  std::strcpy(manifest.id, "org.example.mini");
  const uint64_t factory_address = 0x1234;
  elf.add_object("zeta", &factory_address, sizeof(factory_address));
  elf.add_object("entre_plugin_manifest", &manifest, sizeof(manifest));
  elf.add_object("alpha", &factory_address, sizeof(factory_address));
  elf.add_object("alpha", &factory_address, sizeof(factory_address)); // listed once
  const ElfExports exports = read_elf_exports(elf.build());
  ASSERT_EQ(exports.error, ElfReadError::kNone) << exports.detail;
  EXPECT_EQ(exports.symbols, (std::vector<std::string>{"alpha", "entre_plugin_manifest", "zeta"}));
  ASSERT_TRUE(exports.manifest.has_value()) << exports.manifest_detail;
  EXPECT_EQ(std::memcmp(&*exports.manifest, &manifest, sizeof(manifest)), 0);
}

TEST(ElfReader, SymbolNameScanningIsBounded) {
  // Many symbols naming the same long string: a naive reader scans it once per symbol.
  MiniElf elf;
  const uint32_t long_name = elf.add_name(std::string(1 << 20, 'a'));
  for (int i = 0; i < 64; ++i) {
    Elf64_Sym symbol{};
    symbol.st_name = long_name;
    symbol.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
    symbol.st_shndx = SHN_ABS;
    elf.symbols.push_back(symbol);
  }
  const ElfExports exports = read_elf_exports(elf.build());
  EXPECT_EQ(exports.error, ElfReadError::kMalformed);
  EXPECT_NE(exports.detail.find("too long"), std::string::npos) << exports.detail;
}

// Checks what must hold for any answer, then returns it.
void expect_consistent(const ElfExports& exports) {
  if (exports.error != ElfReadError::kNone) {
    EXPECT_FALSE(exports.detail.empty());
    EXPECT_TRUE(exports.symbols.empty());
    EXPECT_FALSE(exports.manifest.has_value());
    return;
  }
  EXPECT_TRUE(std::is_sorted(exports.symbols.begin(), exports.symbols.end()));
  EXPECT_EQ(std::adjacent_find(exports.symbols.begin(), exports.symbols.end()),
            exports.symbols.end());
  if (exports.manifest) {
    EXPECT_EQ(exports.manifest_symbol_size, sizeof(sdk::PluginManifest));
  }
}

TEST(ElfReader, EveryTruncationIsRefused) {
  const Bytes& full = good_bytes();
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n < std::min<std::size_t>(full.size(), 512); ++n) {
    lengths.push_back(n);
  }
  for (std::size_t n = 512; n < full.size(); n += 13) {
    lengths.push_back(n);
  }
  for (std::size_t n = full.size() > 512 ? full.size() - 512 : 0; n < full.size(); ++n) {
    lengths.push_back(n);
  }
  std::mt19937_64 random(0x7e57);
  for (int i = 0; i < 500; ++i) {
    lengths.push_back(static_cast<std::size_t>(random() % full.size()));
  }
  for (const std::size_t n : lengths) {
    const Bytes prefix(full.begin(), full.begin() + static_cast<long>(n));
    const ElfExports exports = read_elf_exports(prefix);
    expect_consistent(exports);
    // The section header table is at the end of the file, so every cut loses it.
    EXPECT_NE(exports.error, ElfReadError::kNone) << "prefix of " << n << " bytes";
  }
}

TEST(ElfReader, RandomByteFlipsNeverCrash) {
  const Bytes& good = good_bytes();
  const Layout layout(good);
  const Elf64_Shdr& dynsym = layout.sections[layout.index_of(SHT_DYNSYM)];
  const Elf64_Shdr& dynstr = layout.sections[dynsym.sh_link];
  // Regions the reader actually interprets, where a flip is likeliest to matter.
  const std::vector<std::pair<uint64_t, uint64_t>> regions = {
      {0, sizeof(Elf64_Ehdr)},
      {layout.header.e_shoff, layout.header.e_shnum * sizeof(Elf64_Shdr)},
      {dynsym.sh_offset, dynsym.sh_size},
      {dynstr.sh_offset, dynstr.sh_size},
      {0, good.size()},
  };
  std::mt19937_64 random(0x5eed);
  int still_good = 0;
  for (int i = 0; i < 4000; ++i) {
    Bytes bytes = good;
    const int flips = 1 + static_cast<int>(random() % 8);
    for (int f = 0; f < flips; ++f) {
      const auto& [start, length] = regions[random() % regions.size()];
      const uint64_t at = start + random() % length;
      if (random() % 2 == 0) {
        bytes[at] ^= static_cast<uint8_t>(1u << (random() % 8));
      } else {
        bytes[at] = static_cast<uint8_t>(random());
      }
    }
    const ElfExports exports = read_elf_exports(bytes);
    expect_consistent(exports);
    still_good += exports.error == ElfReadError::kNone ? 1 : 0;
  }
  // Sanity: the mutations neither always nor never broke the file.
  EXPECT_GT(still_good, 0);
  EXPECT_LT(still_good, 4000);
}

TEST(ElfReader, RandomByteFlipsOnAHandBuiltFileNeverCrash) {
  // A small file is almost all structure, so nearly every flip lands on something the reader
  // interprets.
  MiniElf elf;
  sdk::PluginManifest manifest{};
  std::memcpy(manifest.magic, sdk::kManifestMagic, sizeof(manifest.magic));
  const uint64_t value = 1;
  elf.add_object("entre_plugin_factory", &value, sizeof(value));
  elf.add_object("entre_plugin_manifest", &manifest, sizeof(manifest));
  const Bytes original = elf.build();
  std::mt19937_64 random(0xf11b);
  for (int i = 0; i < 4000; ++i) {
    Bytes bytes = original;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[random() % bytes.size()] ^= static_cast<uint8_t>(1u << (random() % 8));
    }
    expect_consistent(read_elf_exports(bytes));
  }
}

TEST(ElfReader, RandomHeadersAfterTheMagicNeverCrash) {
  std::mt19937_64 random(0xe1f);
  for (int i = 0; i < 3000; ++i) {
    Bytes bytes(64 + random() % 2048);
    std::generate(bytes.begin(), bytes.end(), [&] { return static_cast<uint8_t>(random()); });
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT};
    std::copy(std::begin(ident), std::end(ident), bytes.begin());
    poke<uint16_t>(bytes, offsetof(Elf64_Ehdr, e_type), ET_DYN);
    poke<uint16_t>(bytes, offsetof(Elf64_Ehdr, e_machine), kHostMachine);
    poke<uint16_t>(bytes, offsetof(Elf64_Ehdr, e_ehsize), sizeof(Elf64_Ehdr));
    poke<uint16_t>(bytes, offsetof(Elf64_Ehdr, e_shentsize), sizeof(Elf64_Shdr));
    // Point the section table inside the buffer half the time.
    if (random() % 2 == 0) {
      poke<uint64_t>(bytes, offsetof(Elf64_Ehdr, e_shoff), random() % bytes.size());
      poke<uint16_t>(bytes, offsetof(Elf64_Ehdr, e_shnum), static_cast<uint16_t>(random() % 40));
    }
    expect_consistent(read_elf_exports(bytes));
  }
}

} // namespace
} // namespace entre
