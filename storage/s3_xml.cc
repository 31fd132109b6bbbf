#include "storage/s3_xml.h"

#include <cstdlib>
#include <pugixml.hpp>
#include <string_view>

namespace chatvault::storage {

std::optional<S3Error> ParseS3Error(ByteView body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return std::nullopt;
  pugi::xml_node err = doc.child("Error");
  if (!err) return std::nullopt;
  return S3Error{err.child_value("Code"), err.child_value("Message")};
}

Status ParseListObjectsPage(ByteView body, size_t strip, const ListFn& fn,
                            std::string* next_token) {
  next_token->clear();
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) {
    return Status::Corruption("S3 returned an unreadable listing");
  }
  pugi::xml_node result = doc.child("ListBucketResult");
  for (pugi::xml_node c : result.children("Contents")) {
    std::string key = c.child_value("Key");
    if (key.size() <= strip) continue;
    std::string name = key.substr(strip);
    // Keys that cannot be object names were not written by chatvault.
    if (!ValidateObjectName(name).ok()) continue;
    uint64_t size = std::strtoull(c.child_value("Size"), nullptr, 10);
    RETURN_IF_ERROR(fn(ObjectInfo{std::move(name), size}));
  }
  if (std::string_view(result.child_value("IsTruncated")) != "true") {
    return Status::OK();
  }
  *next_token = result.child_value("NextContinuationToken");
  if (next_token->empty()) {
    return Status::Corruption(
        "S3 listing is truncated but has no continuation token");
  }
  return Status::OK();
}

std::string ParseUploadId(ByteView body) {
  pugi::xml_document doc;
  doc.load_buffer(body.data(), body.size());
  return doc.child("InitiateMultipartUploadResult").child_value("UploadId");
}

Status ParseDeleteResult(ByteView body) {
  pugi::xml_document result;
  result.load_buffer(body.data(), body.size());
  pugi::xml_node err = result.child("DeleteResult").child("Error");
  if (err) {
    return Status::IOError(std::string("S3 could not delete '") +
                           err.child_value("Key") +
                           "': " + err.child_value("Code") + " (" +
                           err.child_value("Message") + ")");
  }
  return Status::OK();
}

int CountMultipartUploadsIn(ByteView body) {
  pugi::xml_document doc;
  doc.load_buffer(body.data(), body.size());
  int n = 0;
  for (pugi::xml_node u :
       doc.child("ListMultipartUploadsResult").children("Upload")) {
    (void)u;
    ++n;
  }
  return n;
}

}  // namespace chatvault::storage
