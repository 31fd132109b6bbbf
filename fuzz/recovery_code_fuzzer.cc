// Recovery codes (crypto/recovery_code.h) as a person types them: parsing
// never crashes, a code that parses formats to 16 groups of four that parse
// to the same seed, and any seed round-trips through the format.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/recovery_code.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

namespace {

void CheckRoundTrip(const crypto::RecoveryCode& code) {
  crypto::SecretBytes text = code.Format();
  FUZZ_CHECK(text.size() == crypto::kRecoveryCodeChars + 15);
  Result<crypto::RecoveryCode> again =
      crypto::RecoveryCode::Parse(text.chars());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(
      crypto::ConstantTimeEquals(again->seed().view(), code.seed().view()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<crypto::RecoveryCode> code = crypto::RecoveryCode::Parse(text);
  if (code.ok()) {
    FUZZ_CHECK(code->seed().size() == crypto::kRecoverySeedBytes);
    CheckRoundTrip(*code);
  } else {
    FUZZ_CHECK(code.status().code() == StatusCode::kInvalidArgument);
  }
  if (size >= crypto::kRecoverySeedBytes) {
    Result<crypto::RecoveryCode> made =
        crypto::RecoveryCode::FromSeed(crypto::SecretBytes::CopyFrom(
            ByteView(reinterpret_cast<const std::byte*>(data),
                     crypto::kRecoverySeedBytes)));
    FUZZ_CHECK(made.ok());
    CheckRoundTrip(*made);
  }
  return 0;
}
