// Known-answer tests of storage/sigv4 against external vectors: the AWS
// Signature Version 4 test suite (as shipped by boto/botocore and by
// awslabs/aws-c-auth) and the worked examples of the Amazon S3 API
// reference. Sources, licences and which cases run: tests/vectors/sigv4/
// SOURCES.md.
//
// The vectors are read at run time from tests/vectors/sigv4/, found from the
// working directory (ctest runs tests from the repository root). A missing
// directory fails the tests; it never skips them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "crypto/secret_bytes.h"
#include "storage/sigv4.h"

namespace chatvault::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::string_view kVectorDir = "tests/vectors/sigv4";
constexpr std::string_view kBotocoreDir = "botocore_aws4_testsuite";
constexpr std::string_view kAwsCAuthDir = "aws-c-auth_v4";
// Sentinel case name used when the vector directory cannot be found, so the
// parameterised suites fail loudly instead of instantiating nothing.
constexpr std::string_view kMissing = "vector_directory_missing";

// The cases each suite must find; a changed count means vectors were lost
// or added without updating SOURCES.md.
constexpr size_t kBotocoreCases = 26;  // 34 minus 8 in normalize-path/
constexpr size_t kAwsCAuthCases = 31;  // 38 minus 7 "*-normalized"

// Looks for tests/vectors/sigv4 in the working directory and its parents,
// so the tests also work when started from a build directory. Empty if not
// found.
fs::path FindVectorRoot() {
  std::error_code ec;
  fs::path dir = fs::current_path(ec);
  if (ec) return {};
  while (true) {
    fs::path candidate = dir / kVectorDir;
    if (fs::is_directory(candidate, ec)) return candidate;
    if (!dir.has_parent_path() || dir.parent_path() == dir) return {};
    dir = dir.parent_path();
  }
}

std::string MissingDirectoryMessage() {
  std::error_code ec;
  return "SigV4 vectors not found: no " + std::string(kVectorDir) +
         " under the working directory (" + fs::current_path(ec).string() +
         ") or its parents. Run the test from the repository root, as ctest "
         "does.";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return {};
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XY only: '+' stays '+', as in a path (SigV4 never treats it as a
// space).
std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 &&
        HexDigit(s[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct HttpRequest {
  std::string method;
  std::string path;                                        // decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  HeaderList headers;
  std::string body;
};

// Parses the suites' raw requests: "METHOD TARGET HTTP/1.1", "Name:value"
// lines, continuation lines starting with whitespace (kept as "\n" + line,
// for the signer to fold), an optional blank line and the body. The target
// may contain raw spaces (get-space-unnormalized), so the version is split
// off at the last space.
HttpRequest ParseHttpRequest(std::string_view text) {
  HttpRequest request;
  size_t eol = text.find('\n');
  std::string_view line = text.substr(0, eol);
  size_t pos = eol == std::string_view::npos ? text.size() : eol + 1;

  const size_t first_space = line.find(' ');
  const size_t last_space = line.rfind(' ');
  EXPECT_TRUE(first_space != std::string_view::npos && last_space > first_space)
      << "bad request line: " << line;
  if (first_space == std::string_view::npos || last_space <= first_space) {
    return request;
  }
  request.method = std::string(line.substr(0, first_space));
  std::string_view target =
      line.substr(first_space + 1, last_space - first_space - 1);
  const size_t question = target.find('?');
  request.path = PercentDecode(target.substr(0, question));
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      std::string_view param = query.substr(0, amp);
      const size_t eq = param.find('=');
      request.query.emplace_back(PercentDecode(param.substr(0, eq)),
                                 eq == std::string_view::npos
                                     ? ""
                                     : PercentDecode(param.substr(eq + 1)));
      query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    }
  }

  while (pos < text.size()) {
    eol = text.find('\n', pos);
    line = text.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (line.empty()) {
      request.body = std::string(text.substr(pos));
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      EXPECT_FALSE(request.headers.empty()) << "continuation without header";
      if (!request.headers.empty()) {
        request.headers.back().second.append("\n").append(line);
      }
      continue;
    }
    const size_t colon = line.find(':');
    EXPECT_NE(colon, std::string_view::npos) << "bad header line: " << line;
    if (colon == std::string_view::npos) continue;
    request.headers.emplace_back(std::string(line.substr(0, colon)),
                                 std::string(line.substr(colon + 1)));
  }
  return request;
}

SigV4Request ToSigV4Request(HttpRequest http) {
  SigV4Request request;
  request.method = std::move(http.method);
  request.path = std::move(http.path);
  request.query = std::move(http.query);
  request.headers = std::move(http.headers);
  request.payload_hash = Sha256Hex(http.body);
  return request;
}

SigV4Credentials Credentials(std::string_view access_key_id,
                             std::string_view secret,
                             std::string session_token = "") {
  return {std::string(access_key_id),
          crypto::SecretBytes::CopyFrom(AsBytes(secret)),
          std::move(session_token)};
}

struct VectorCase {
  std::string name;  // the case directory's name
  fs::path dir;      // empty: the vector directory is missing
};

// Keeps gtest from printing the struct as raw bytes.
void PrintTo(const VectorCase& c, std::ostream* os) { *os << c.name; }

std::string ParamName(const ::testing::TestParamInfo<VectorCase>& info) {
  std::string name = info.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

std::vector<VectorCase> Sorted(std::vector<VectorCase> cases) {
  std::sort(cases.begin(), cases.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return cases;
}

// ---------------------------------------------------------------------------
// botocore's copy of the AWS SigV4 test suite: CASE/CASE.{req,creq,sts,authz}.

constexpr std::string_view kSuiteAccessKey = "AKIDEXAMPLE";
constexpr std::string_view kSuiteSecret =
    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

std::chrono::system_clock::time_point SuiteTime() {
  return std::chrono::sys_days{std::chrono::year{2015} / 8 / 30} + 12h + 36min;
}

// Every directory holding CASE.req, except those under normalize-path/: its
// cases expect "." and ".." resolved and "//" merged, which S3 does not do
// (an S3 key may contain those), so our signer must not either.
std::vector<VectorCase> BotocoreCases() {
  const fs::path root = FindVectorRoot();
  if (root.empty()) return {{std::string(kMissing), {}}};
  std::vector<VectorCase> cases;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root / kBotocoreDir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory()) continue;
    const std::string name = it->path().filename().string();
    if (name == "normalize-path") {
      it.disable_recursion_pending();
      continue;
    }
    if (fs::exists(it->path() / (name + ".req"))) {
      cases.push_back({name, it->path()});
    }
  }
  return Sorted(std::move(cases));
}

// The session token of post-sts-token/, the last line of its readme.txt.
std::string StsToken(const fs::path& sts_dir) {
  std::string readme = ReadFile(sts_dir / "readme.txt");
  while (!readme.empty() && (readme.back() == '\n' || readme.back() == '\r')) {
    readme.pop_back();
  }
  return readme.substr(readme.rfind('\n') + 1);
}

class BotocoreSuite : public ::testing::TestWithParam<VectorCase> {};

TEST_P(BotocoreSuite, CanonicalRequestStringToSignAuthorization) {
  const VectorCase& c = GetParam();
  ASSERT_FALSE(c.dir.empty()) << MissingDirectoryMessage();
  const fs::path base = c.dir / c.name;
  HttpRequest http = ParseHttpRequest(ReadFile(base.string() + ".req"));
  SigV4Credentials credentials = Credentials(kSuiteAccessKey, kSuiteSecret);

  if (c.name == "get-vanilla-with-session-token") {
    // Its .req does not carry the token; the suite's README gives it. (That
    // case's .sreq has the vanilla signature by an upstream mistake; its
    // .authz is right and is what we compare.)
    credentials.session_token =
        "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  } else if (c.name == "post-sts-header-before") {
    // The token is signed. The .req already has the header; the signer
    // replaces it with the credentials' copy, so it is signed once.
    credentials.session_token = StsToken(c.dir.parent_path());
    auto it = std::find_if(
        http.headers.begin(), http.headers.end(),
        [](const auto& h) { return h.first == "X-Amz-Security-Token"; });
    ASSERT_NE(it, http.headers.end());
    EXPECT_EQ(it->second, credentials.session_token);
  }
  // post-sts-header-after: the token is added after signing, so it is not
  // part of the signature; sign with long-term credentials.

  SigV4Result result = SignV4(ToSigV4Request(std::move(http)), credentials,
                              "us-east-1", "service", SuiteTime());
  EXPECT_EQ(result.canonical_request, ReadFile(base.string() + ".creq"));
  EXPECT_EQ(result.string_to_sign, ReadFile(base.string() + ".sts"));
  EXPECT_EQ(result.authorization, ReadFile(base.string() + ".authz"));
}

INSTANTIATE_TEST_SUITE_P(AwsSigV4, BotocoreSuite,
                         ::testing::ValuesIn(BotocoreCases()), ParamName);

// ---------------------------------------------------------------------------
// aws-c-auth's suite: CASE/{context.json, request.txt, header-*.txt}. Only
// the header-signing answers are compared; the query-* files are presigned
// URLs, which we do not implement.

// Every case except "*-normalized" (path normalisation, which S3 does not
// do; their "*-unnormalized" twins run).
std::vector<VectorCase> AwsCAuthCases() {
  const fs::path root = FindVectorRoot();
  if (root.empty()) return {{std::string(kMissing), {}}};
  std::vector<VectorCase> cases;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root / kAwsCAuthDir, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (!it->is_directory()) continue;
    const std::string name = it->path().filename().string();
    if (name.ends_with("-normalized")) continue;
    cases.push_back({name, it->path()});
  }
  return Sorted(std::move(cases));
}

// "2015-08-30T12:36:00Z".
std::chrono::system_clock::time_point ParseTimestamp(const std::string& s) {
  int year = 0;
  unsigned month = 0, day = 0;
  int hour = 0, minute = 0, second = 0;
  char z = 0;
  EXPECT_EQ(std::sscanf(s.c_str(), "%d-%u-%uT%d:%d:%d%c", &year, &month, &day,
                        &hour, &minute, &second, &z),
            7)
      << s;
  EXPECT_EQ(z, 'Z') << s;
  return std::chrono::sys_days{std::chrono::year{year} / month / day} +
         std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second};
}

class AwsCAuthSuite : public ::testing::TestWithParam<VectorCase> {};

TEST_P(AwsCAuthSuite, HeaderSigning) {
  const VectorCase& c = GetParam();
  ASSERT_FALSE(c.dir.empty()) << MissingDirectoryMessage();
  const nlohmann::json context =
      nlohmann::json::parse(ReadFile(c.dir / "context.json"));
  const nlohmann::json& creds = context.at("credentials");
  std::string token;
  if (creds.contains("token") && !context.value("omit_session_token", false)) {
    token = creds.at("token").get<std::string>();
  }
  SigV4Credentials credentials =
      Credentials(creds.at("access_key_id").get<std::string>(),
                  creds.at("secret_access_key").get<std::string>(), token);

  SigV4Request request =
      ToSigV4Request(ParseHttpRequest(ReadFile(c.dir / "request.txt")));
  if (context.at("sign_body").get<bool>()) {
    request.headers.emplace_back("x-amz-content-sha256", request.payload_hash);
  }
  SigV4Result result =
      SignV4(request, credentials, context.at("region").get<std::string>(),
             context.at("service").get<std::string>(),
             ParseTimestamp(context.at("timestamp").get<std::string>()));

  EXPECT_EQ(result.canonical_request,
            ReadFile(c.dir / "header-canonical-request.txt"));
  EXPECT_EQ(result.string_to_sign,
            ReadFile(c.dir / "header-string-to-sign.txt"));
  EXPECT_EQ(result.signature, ReadFile(c.dir / "header-signature.txt"));
  const std::string signed_request =
      ReadFile(c.dir / "header-signed-request.txt");
  EXPECT_NE(
      signed_request.find("\nAuthorization:" + result.authorization + "\n"),
      std::string::npos)
      << signed_request;
}

INSTANTIATE_TEST_SUITE_P(AwsCAuth, AwsCAuthSuite,
                         ::testing::ValuesIn(AwsCAuthCases()), ParamName);

TEST(SigV4VectorFiles, AllCasesFound) {
  ASSERT_FALSE(FindVectorRoot().empty()) << MissingDirectoryMessage();
  EXPECT_EQ(BotocoreCases().size(), kBotocoreCases);
  EXPECT_EQ(AwsCAuthCases().size(), kAwsCAuthCases);
}

// ---------------------------------------------------------------------------
// Amazon S3 API Reference, "Authenticating Requests: Using the Authorization
// Header", the header-based examples. The presigned-URL example
// (sigv4-query-string-auth) and the chunked upload (sigv4-streaming,
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD) are left out: chatvault sends neither.

constexpr std::string_view kS3AccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kS3Secret =
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kS3Host = "examplebucket.s3.amazonaws.com";
constexpr std::string_view kS3Scope = "20130524/us-east-1/s3/aws4_request";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::chrono::system_clock::time_point S3DocTime() {
  return std::chrono::sys_days{std::chrono::year{2013} / 5 / 24};
}

SigV4Result SignS3DocExample(SigV4Request request) {
  return SignV4(request, Credentials(kS3AccessKey, kS3Secret), "us-east-1",
                "s3", S3DocTime());
}

std::string S3StringToSign(std::string_view creq_hash) {
  return "AWS4-HMAC-SHA256\n20130524T000000Z\n" + std::string(kS3Scope) + "\n" +
         std::string(creq_hash);
}

std::string S3Authorization(std::string_view signed_headers,
                            std::string_view signature) {
  return "AWS4-HMAC-SHA256 Credential=" + std::string(kS3AccessKey) + "/" +
         std::string(kS3Scope) +
         ", SignedHeaders=" + std::string(signed_headers) +
         ", Signature=" + std::string(signature);
}

TEST(S3DocExamples, GetObjectWithRange) {
  SigV4Result result = SignS3DocExample({
      .method = "GET",
      .path = "/test.txt",
      .query = {},
      .headers = {{"Host", std::string(kS3Host)},
                  {"Range", "bytes=0-9"},
                  {"x-amz-content-sha256", std::string(kEmptySha256)}},
      .payload_hash = std::string(kEmptySha256),
  });
  EXPECT_EQ(result.canonical_request,
            "GET\n/test.txt\n\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\n"
            "x-amz-content-sha256:" +
                std::string(kEmptySha256) +
                "\n"
                "x-amz-date:20130524T000000Z\n\n"
                "host;range;x-amz-content-sha256;x-amz-date\n" +
                std::string(kEmptySha256));
  EXPECT_EQ(result.string_to_sign,
            S3StringToSign("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb"
                           "2dc43964946972"));
  EXPECT_EQ(result.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(result.authorization,
            S3Authorization("host;range;x-amz-content-sha256;x-amz-date",
                            result.signature));
}

TEST(S3DocExamples, PutObjectDollarInKey) {
  const std::string payload_hash =
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
  ASSERT_EQ(Sha256Hex("Welcome to Amazon S3."), payload_hash);
  SigV4Result result = SignS3DocExample({
      .method = "PUT",
      .path = "/test$file.text",
      .query = {},
      .headers = {{"Host", std::string(kS3Host)},
                  {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                  {"x-amz-content-sha256", payload_hash}},
      .payload_hash = payload_hash,
  });
  EXPECT_EQ(result.canonical_request,
            "PUT\n/test%24file.text\n\n"
            "date:Fri, 24 May 2013 00:00:00 GMT\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:" +
                payload_hash +
                "\n"
                "x-amz-date:20130524T000000Z\n"
                "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
                "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-"
                "class\n" +
                payload_hash);
  EXPECT_EQ(result.string_to_sign,
            S3StringToSign("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a"
                           "76b4158342019d"));
  EXPECT_EQ(result.signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  EXPECT_EQ(
      result.authorization,
      S3Authorization("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-"
                      "class",
                      result.signature));
}

TEST(S3DocExamples, GetBucketLifecycle) {
  SigV4Result result = SignS3DocExample({
      .method = "GET",
      .path = "/",
      .query = {{"lifecycle", ""}},
      .headers = {{"Host", std::string(kS3Host)},
                  {"x-amz-content-sha256", std::string(kEmptySha256)}},
      .payload_hash = std::string(kEmptySha256),
  });
  EXPECT_EQ(result.canonical_request,
            "GET\n/\nlifecycle=\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:" +
                std::string(kEmptySha256) +
                "\n"
                "x-amz-date:20130524T000000Z\n\n"
                "host;x-amz-content-sha256;x-amz-date\n" +
                std::string(kEmptySha256));
  EXPECT_EQ(result.string_to_sign,
            S3StringToSign("9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94e"
                           "aebf79c77395ca"));
  EXPECT_EQ(result.signature,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  EXPECT_EQ(result.authorization,
            S3Authorization("host;x-amz-content-sha256;x-amz-date",
                            result.signature));
}

TEST(S3DocExamples, ListObjectsQuerySorted) {
  SigV4Result result = SignS3DocExample({
      .method = "GET",
      .path = "/",
      // Given out of order on purpose: the signer sorts.
      .query = {{"prefix", "J"}, {"max-keys", "2"}},
      .headers = {{"Host", std::string(kS3Host)},
                  {"x-amz-content-sha256", std::string(kEmptySha256)}},
      .payload_hash = std::string(kEmptySha256),
  });
  EXPECT_EQ(result.canonical_request,
            "GET\n/\nmax-keys=2&prefix=J\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:" +
                std::string(kEmptySha256) +
                "\n"
                "x-amz-date:20130524T000000Z\n\n"
                "host;x-amz-content-sha256;x-amz-date\n" +
                std::string(kEmptySha256));
  EXPECT_EQ(result.string_to_sign,
            S3StringToSign("df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c7475"
                           "0e0f1e7df1b9b7"));
  EXPECT_EQ(result.signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  EXPECT_EQ(result.authorization,
            S3Authorization("host;x-amz-content-sha256;x-amz-date",
                            result.signature));
}

}  // namespace
}  // namespace chatvault::storage
