#include "crypto/kdf.h"

#include <sodium.h>

#include "crypto/sodium.h"

namespace chatvault::crypto {
namespace {
constexpr std::string_view kKdfPrefix{"chatvault-kdf\0", 14};
}  // namespace

Result<SecretBytes> DeriveSubkey(const SecretBytes& master,
                                 const KdfContext& context, size_t out_len,
                                 ByteView info) {
  if (master.size() < crypto_generichash_KEYBYTES_MIN ||
      master.size() > crypto_generichash_KEYBYTES_MAX) {
    return Status::InvalidArgument("KDF master key must be 16..64 bytes");
  }
  if (out_len < crypto_generichash_BYTES_MIN ||
      out_len > crypto_generichash_BYTES_MAX) {
    return Status::InvalidArgument("KDF output must be 16..64 bytes");
  }
  if (context.name.empty() || context.name.size() > 255) {
    return Status::InvalidArgument("KDF context must be 1..255 bytes");
  }
  EnsureSodium();
  crypto_generichash_state state;
  crypto_generichash_init(&state,
                          reinterpret_cast<const unsigned char*>(master.data()),
                          master.size(), out_len);
  auto update = [&state](ByteView b) {
    crypto_generichash_update(
        &state, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  };
  update(AsBytes(kKdfPrefix));
  const std::byte len{static_cast<unsigned char>(context.name.size())};
  update(ByteView(&len, 1));
  update(AsBytes(context.name));
  update(info);
  SecretBytes out(out_len);
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(out.data()),
                           out_len);
  sodium_memzero(&state, sizeof(state));
  return out;
}

}  // namespace chatvault::crypto
