// Recognising files that are compressed already (photos, video, voice
// notes, documents, archives) by their first bytes, so that the backup
// stores them as they are instead of spending zstd on them.
#ifndef CHATVAULT_BACKUP_MEDIA_H_
#define CHATVAULT_BACKUP_MEDIA_H_

#include <string_view>

#include "base/bytes.h"

namespace chatvault::backup {

// Bytes of a file's head that CompressedMediaFormat looks at, at most.
inline constexpr size_t kMediaHeadBytes = 16;

// The format's name ("jpeg", "mp4", …) if `head` (the file's first bytes)
// starts like a format whose content is compressed; empty otherwise.
std::string_view CompressedMediaFormat(ByteView head);

}  // namespace chatvault::backup

#endif  // CHATVAULT_BACKUP_MEDIA_H_
