// The config object (backup/repository.h, LoadConfig), read whenever a
// repository opens. Mode bit 0 clear: the input is the config's payload,
// sealed here under the fixed repository's epoch 0 key with its
// repository ID, as a holder of the keys could write it; set: the input
// is the stored object as it is. The repository opens only with format
// version 1; what opens gives chunker settings that Chunker::Create either
// accepts within its bounds or refuses, and a holder list that lists.
#include <cstddef>
#include <cstdint>

#include "backup/chunker.h"
#include "fuzz/fuzz_support.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FixedRepository& fixed = fuzz::FixedRepository::Get();
  fuzz::Reader in(data, size);
  const uint8_t mode = in.U8();
  const ByteView payload = in.Rest();

  storage::MemBackend backend;
  FUZZ_CHECK(backend
                 .Save(fixed.key_object_name(), fixed.key_object(),
                       storage::SaveMode::kOverwrite)
                 .ok());
  const Bytes object = mode & 1 ? Bytes(payload.begin(), payload.end())
                                : fixed.Seal(backup::ObjectType::kConfig,
                                             fixed.repository_id(), payload);
  FUZZ_CHECK(
      backend.Save("config", object, storage::SaveMode::kOverwrite).ok());

  Result<std::unique_ptr<backup::Repository>> repo =
      backup::Repository::OpenWithRecoveryCode(&backend, fixed.recovery_code());
  if (!repo.ok()) {
    FUZZ_CHECK(repo.status().code() == StatusCode::kCorruption ||
               repo.status().code() == StatusCode::kInvalidArgument);
    return 0;
  }
  const pb::Config& config = (*repo)->config();
  FUZZ_CHECK(config.format_version() == backup::kFormatVersion);
  FUZZ_CHECK((*repo)->opened_kind() == pb::HOLDER_KIND_RECOVERY_CODE);

  // As a backup reads its chunker settings (archiver.cc).
  const pb::ChunkerConfig& cc = config.chunker();
  Result<backup::GearTable> gear =
      backup::GearTable::FromKey((*repo)->keys().gear_key());
  FUZZ_CHECK(gear.ok());
  const backup::ChunkerParams params{cc.min_size(), cc.avg_size(),
                                     cc.max_size(),
                                     static_cast<int>(cc.normalization())};
  Result<backup::Chunker> chunker = backup::Chunker::Create(params, *gear);
  if (chunker.ok()) {
    FUZZ_CHECK(params.min_size <= params.avg_size &&
               params.avg_size <= params.max_size);
  } else {
    FUZZ_CHECK(chunker.status().code() == StatusCode::kInvalidArgument);
  }

  Result<std::vector<backup::Repository::Holder>> holders =
      (*repo)->ListHolders();
  FUZZ_CHECK(holders.ok());
  FUZZ_CHECK(holders->size() == 1);
  FUZZ_CHECK((*holders)[0].opened_this);
  return 0;
}
