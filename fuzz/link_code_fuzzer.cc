// Link codes (sync/link.h) as a person types them on the linking device:
// parsing never crashes, and a code that parses encodes to one that parses
// to the same key and secret. Any key and secret round-trip through the
// encoding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "sync/link.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<sync::LinkCode> code = sync::ParseLinkCode(text);
  if (code.ok()) {
    FUZZ_CHECK(code->secret.size() == sync::kLinkSecretBytes);
    Result<sync::LinkCode> again =
        sync::ParseLinkCode(sync::EncodeLinkCode(*code));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->ephemeral_key == code->ephemeral_key);
    FUZZ_CHECK(
        crypto::ConstantTimeEquals(again->secret.view(), code->secret.view()));
  } else {
    FUZZ_CHECK(code.status().code() == StatusCode::kInvalidArgument);
  }

  constexpr size_t kKey = crypto::kBoxPublicKeyBytes;
  if (size >= kKey + sync::kLinkSecretBytes) {
    ByteView bytes(reinterpret_cast<const std::byte*>(data), size);
    Result<crypto::BoxPublicKey> key =
        crypto::BoxPublicKey::FromBytes(bytes.first(kKey));
    FUZZ_CHECK(key.ok());
    sync::LinkCode made{*key, crypto::SecretBytes::CopyFrom(
                                  bytes.subspan(kKey, sync::kLinkSecretBytes))};
    const std::string encoded = sync::EncodeLinkCode(made);
    Result<sync::LinkCode> parsed = sync::ParseLinkCode(encoded);
    FUZZ_CHECK(parsed.ok());
    FUZZ_CHECK(parsed->ephemeral_key == made.ephemeral_key);
    FUZZ_CHECK(
        crypto::ConstantTimeEquals(parsed->secret.view(), made.secret.view()));
  }
  return 0;
}
