// Convenience header: the whole Entre SDK v1.
#pragma once

#include <entre/sdk/audio.hpp>
#include <entre/sdk/bytes.hpp>
#include <entre/sdk/codec.hpp>
#include <entre/sdk/crypto.hpp>
#include <entre/sdk/discovery.hpp>
#include <entre/sdk/export.hpp>
#include <entre/sdk/host.hpp>
#include <entre/sdk/net.hpp>
#include <entre/sdk/plugin.hpp>
#include <entre/sdk/relay.hpp>
#include <entre/sdk/status.hpp>
#include <entre/sdk/storage.hpp>
#include <entre/sdk/storage_checks.hpp>
#include <entre/sdk/transport.hpp>
#include <entre/sdk/version.hpp>
