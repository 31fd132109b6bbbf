#include "storage/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>

namespace chatvault::storage {
namespace {

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

struct Transfer {
  const HttpRequest* request;
  uint64_t sent = 0;
  Status abort_status;
  HttpResponse response;
};

size_t ReadBody(char* buf, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  ByteView rest = t->request->body.subspan(t->sent);
  size_t n = std::min(rest.size(), size * nitems);
  if (n > 0) std::memcpy(buf, rest.data(), n);
  t->sent += n;
  if (t->request->on_upload_progress) {
    Status s = t->request->on_upload_progress(t->sent);
    if (!s.ok()) {
      t->abort_status = s;
      return CURL_READFUNC_ABORT;
    }
  }
  return n;
}

// Lets curl rewind the body: it resends a request whose reused keep-alive
// connection turns out to have been closed by the server meanwhile (servers
// close idle connections), and fails with CURLE_SEND_FAIL_REWIND without this.
int SeekBody(void* userdata, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(userdata);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<uint64_t>(offset) > t->request->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  const auto* p = reinterpret_cast<const std::byte*>(ptr);
  t->response.body.insert(t->response.body.end(), p, p + n);
  return n;
}

size_t OnHeader(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nitems;
  std::string_view line(buffer, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
    line.remove_suffix(1);
  }
  if (line.starts_with("HTTP/")) {
    // A new response (after "100 Continue" or a redirect): start over.
    t->response.headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (name == "content-length") {
    // Reserve once instead of growing the body buffer step by step.
    size_t n_bytes = std::strtoull(std::string(value).c_str(), nullptr, 10);
    if (n_bytes <= (size_t{1} << 31)) t->response.body.reserve(n_bytes);
  }
  t->response.headers.emplace_back(std::move(name), std::string(value));
  return n;
}

Status StatusFromCurl(CURLcode code, const char* detail) {
  std::string msg = "HTTP request failed: ";
  msg += detail[0] ? detail : curl_easy_strerror(code);
  msg += " (curl error " + std::to_string(static_cast<int>(code)) + ")";
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_FAIL_REWIND:
      return Status::Unavailable(msg);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::InvalidArgument(msg);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return Status::PermissionDenied(
          msg + "; the server's TLS certificate is not trusted");
    default:
      return Status::IOError(msg);
  }
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

HttpClient::HttpClient(HttpOptions options) : options_(options) {
  static GlobalInit init;
}

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::Borrow() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::Return(void* handle) {
  std::lock_guard lock(mu_);
  idle_.push_back(handle);
}

Result<HttpResponse> HttpClient::Perform(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(Borrow());
  if (curl == nullptr)
    return Status::ResourceExhausted("cannot create a curl handle");
  // Options persist across uses of a handle; reset them but keep the
  // connection cache.
  curl_easy_reset(curl);

  Transfer t;
  t.request = &request;
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // No "Expect: 100-continue" round trip before uploads.
  headers = curl_slist_append(headers, "Expect:");

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT,
                   options_.low_speed_bytes_per_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options_.low_speed_time.count()));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_slist* connect_to = nullptr;
  if (!options_.connect_to.empty()) {
    connect_to =
        curl_slist_append(nullptr, ("::" + options_.connect_to).c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
  }
  // Larger buffers than the 16/64 KiB defaults: fewer callbacks and system
  // calls for 16 MiB packs.
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekBody);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    if (request.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.response.status);
  // Drop the handle's reference to our header list before freeing it.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_CONNECT_TO, nullptr);
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_to);
  if (rc != CURLE_OK) {
    // A handle whose transfer failed may hold a broken connection; closing
    // it is cheaper than finding out later.
    curl_easy_cleanup(curl);
    if (rc == CURLE_ABORTED_BY_CALLBACK && !t.abort_status.ok()) {
      return t.abort_status;
    }
    return StatusFromCurl(rc, error);
  }
  // An HTTP/1 response with neither a length nor chunked encoding ends
  // where the connection does, and curl accepts one cut off inside its
  // headers as complete: such a body cannot be told from a truncated one.
  // S3 servers always send one or the other. (HTTP/2 frames its streams,
  // and a length is optional there.)
  const long status = t.response.status;
  long version = 0;
  curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version);
  const bool http1 =
      version == CURL_HTTP_VERSION_1_0 || version == CURL_HTTP_VERSION_1_1;
  if (http1 && request.method != "HEAD" && status != 204 && status != 304 &&
      status >= 200 && t.response.Header("content-length").empty() &&
      t.response.Header("transfer-encoding").find("chunked") ==
          std::string::npos) {
    curl_easy_cleanup(curl);
    return Status::Unavailable(
        "the response to " + request.method + " " + request.url +
        " came without a length, so it may be incomplete (HTTP " +
        std::to_string(status) + ")");
  }
  Return(curl);
  return std::move(t.response);
}

}  // namespace chatvault::storage
