// A generic conformance suite for storage plugins, driven through the SDK interface only.
// entre-plugin-check --conformance runs it against a plugin file (in a fresh temporary data
// directory); the storage plugins' own tests run it too. It checks the contract written in
// sdk/include/entre/sdk/storage.hpp: opening and the suite id, settings, contacts, messages
// (order, paging, states, unread counts), outbox, dedupe set, sessions, transactions (commit,
// rollback of every kind of write, no nesting), limits, empty and large values, and 10,000 rows.
//
// Each check uses contact keys and ids of its own, so the checks are independent; a check that
// fails rolls back any transaction it left open. The storage must start empty, and either not
// yet be opened or be opened with kStorageConformanceSuiteId; the suite opens it with that id.
#pragma once

#include "conformance/conformance.hpp"

#include <entre/sdk/storage.hpp>

#include <string_view>
#include <vector>

namespace entre {

inline constexpr std::string_view kStorageConformanceSuiteId = "entre-conformance-v1";

[[nodiscard]] std::vector<ConformanceCheck> run_storage_conformance(sdk::Storage& storage);

} // namespace entre
