#include "conformance/scratch_dir.hpp"

#include <stdexcept>
#include <system_error>

#include <stdlib.h>
#include <sys/stat.h>

namespace entre {

ScratchDirectory::ScratchDirectory(const std::string& prefix) {
  const std::filesystem::path base = std::filesystem::temp_directory_path();
  std::string pattern = (base / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot create a scratch directory in " + base.string());
  }
  path_ = pattern;
}

ScratchDirectory::~ScratchDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path ScratchDirectory::make_subdirectory(const std::string& name) const {
  std::filesystem::path dir = path_ / name;
  if (::mkdir(dir.c_str(), 0700) != 0) {
    throw std::runtime_error("cannot create the scratch directory " + dir.string());
  }
  return dir;
}

} // namespace entre
