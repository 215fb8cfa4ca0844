// A generic conformance suite for crypto-suite plugins, driven through the SDK interface only.
// entre-plugin-check --conformance runs it against a plugin file; the crypto plugin's own tests run
// it too. Each check is independent and reports what it expected and what it saw.
#pragma once

#include "conformance/conformance.hpp"

#include <entre/sdk/crypto.hpp>

#include <vector>

namespace entre {

// `pairwise`: the suite's optional PairwiseKeys interface, checked too when not null.
[[nodiscard]] std::vector<ConformanceCheck> run_crypto_conformance(sdk::CryptoSuite& suite,
                                                                   sdk::PairwiseKeys* pairwise);

} // namespace entre
