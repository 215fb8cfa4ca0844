// Fuzzes the ELF reader that inspects plugin files before they are loaded.
#include "loader/elf_manifest.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const entre::ElfExports result = entre::read_elf_exports({data, size});
  if (result.manifest && result.manifest_symbol_size != sizeof(entre::sdk::PluginManifest)) {
    __builtin_trap(); // a manifest is only returned when the symbol has the right size
  }
  return 0;
}
