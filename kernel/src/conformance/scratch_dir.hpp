// A private scratch directory for plugins under test: created fresh (mode 0700) under the system's
// temporary directory, and removed with everything in it when the object is destroyed. The
// conformance tools give each plugin instance its own, as Host::data_dir() promises.
#pragma once

#include <filesystem>
#include <string>

namespace entre {

class ScratchDirectory {
 public:
  // Throws std::runtime_error when the directory cannot be made.
  explicit ScratchDirectory(const std::string& prefix = "entre-plugin-check");
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // A new subdirectory `name` of this one (created, mode 0700); throws std::runtime_error if it
  // cannot be made.
  [[nodiscard]] std::filesystem::path make_subdirectory(const std::string& name) const;

 private:
  std::filesystem::path path_;
};

} // namespace entre
