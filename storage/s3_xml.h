// The XML bodies S3 answers with: error documents, ListObjectsV2 pages,
// InitiateMultipartUpload, DeleteObjects and ListMultipartUploads results.
// They come from the server, which is not trusted: a malformed or hostile
// body gives an error or nothing, never more. Separate from S3Backend so
// that the fuzz targets (fuzz/) can feed them arbitrary bytes.
//
// Thread-safety: all functions are thread-safe.
#ifndef CHATVAULT_STORAGE_S3_XML_H_
#define CHATVAULT_STORAGE_S3_XML_H_

#include <cstddef>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "storage/backend.h"

namespace chatvault::storage {

struct S3Error {
  std::string code;
  std::string message;
};

// The code and message of an <Error> document; nullopt if `body` is not
// XML or not an error.
std::optional<S3Error> ParseS3Error(ByteView body);

// One page of a ListObjectsV2 result: calls `fn` for each key longer than
// `strip` (the bytes of the key prefix), with those bytes removed, that is
// a valid object name (others were not written by chatvault), and returns
// the first error `fn` returns. Sets `*next_token` to the continuation
// token of a truncated listing, or empty for the last page. Corruption for
// a body that is not XML, or a truncated listing without a token.
Status ParseListObjectsPage(ByteView body, size_t strip, const ListFn& fn,
                            std::string* next_token);

// The upload ID of an InitiateMultipartUpload result; empty if it has none.
std::string ParseUploadId(ByteView body);

// A DeleteObjects result: IOError naming the first key S3 reports it could
// not delete, OK otherwise.
Status ParseDeleteResult(ByteView body);

// The uploads a ListMultipartUploads result lists.
int CountMultipartUploadsIn(ByteView body);

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_S3_XML_H_
