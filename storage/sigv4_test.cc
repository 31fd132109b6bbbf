// Unit tests of the SigV4 building blocks. Whole-request known answers from
// AWS live in tests/sigv4_vectors_test.cc.
#include "storage/sigv4.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "crypto/secret_bytes.h"

namespace chatvault::storage {
namespace {

using std::chrono::sys_days;
using namespace std::chrono_literals;

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::chrono::system_clock::time_point SuiteTime() {
  return sys_days{std::chrono::year{2015} / 8 / 30} + 12h + 36min;
}

SigV4Credentials TestCredentials(std::string token = "") {
  return {"AKIDEXAMPLE",
          crypto::SecretBytes::CopyFrom(
              AsBytes("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")),
          std::move(token)};
}

SigV4Request BasicRequest() {
  SigV4Request request;
  request.method = "GET";
  request.path = "/";
  request.headers = {{"Host", "example.amazonaws.com"}};
  request.payload_hash = std::string(kEmptySha256);
  return request;
}

// The canonical request's lines between the query line and the blank line.
std::string HeaderBlock(const SigV4Result& result) {
  const std::string& creq = result.canonical_request;
  size_t start = 0;
  for (int i = 0; i < 3; ++i) start = creq.find('\n', start) + 1;
  return creq.substr(start, creq.find("\n\n", start) + 1 - start);
}

std::string QueryLine(const SigV4Result& result) {
  const std::string& creq = result.canonical_request;
  size_t start = creq.find('\n', creq.find('\n') + 1) + 1;
  return creq.substr(start, creq.find('\n', start) - start);
}

TEST(UriEncode, UnreservedCharactersKept) {
  const std::string unreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  EXPECT_EQ(UriEncode(unreserved, false), unreserved);
  EXPECT_EQ(UriEncode(unreserved, true), unreserved);
}

TEST(UriEncode, SpaceIsPercent20NeverPlus) {
  EXPECT_EQ(UriEncode("a b", false), "a%20b");
  EXPECT_EQ(UriEncode("a b", true), "a%20b");
}

TEST(UriEncode, PlusIsEncoded) { EXPECT_EQ(UriEncode("a+b", true), "a%2Bb"); }

TEST(UriEncode, Utf8BytesUpperCaseHex) {
  EXPECT_EQ(UriEncode("\xC3\xBC", false), "%C3%BC");        // ü
  EXPECT_EQ(UriEncode("\xE1\x88\xB4", true), "%E1%88%B4");  // ሴ
}

TEST(UriEncode, SlashKeptOnlyWhenAsked) {
  EXPECT_EQ(UriEncode("/a/b", true), "/a/b");
  EXPECT_EQ(UriEncode("/a/b", false), "%2Fa%2Fb");
}

TEST(UriEncode, ReservedAndControlBytes) {
  EXPECT_EQ(UriEncode("$&=?%*", false), "%24%26%3D%3F%25%2A");
  EXPECT_EQ(UriEncode(std::string_view("\0\x7f\xff", 3), false), "%00%7F%FF");
}

TEST(UriEncode, HeaderExample) {
  EXPECT_EQ(UriEncode("/bucket/a key+\xC3\xBC", true),
            "/bucket/a%20key%2B%C3%BC");
}

TEST(Sha256Hex, KnownAnswers) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AmzDate, FormatsUtc) {
  EXPECT_EQ(AmzDate(SuiteTime()), "20150830T123600Z");
  EXPECT_EQ(AmzDate(std::chrono::system_clock::time_point{}),
            "19700101T000000Z");
}

TEST(AmzDate, TruncatesSubSeconds) {
  EXPECT_EQ(AmzDate(SuiteTime() + 59s + 999ms), "20150830T123659Z");
}

TEST(SignV4, HeaderValuesTrimmedAndCollapsed) {
  SigV4Request request = BasicRequest();
  request.headers.emplace_back("My-Header1", "  value1 ");
  request.headers.emplace_back("My-Header2", "\"a   b \t  c\"");
  request.headers.emplace_back("My-Header3", "value1\n  value2\n     value3");
  SigV4Result result =
      SignV4(request, TestCredentials(), "us-east-1", "service", SuiteTime());
  EXPECT_EQ(HeaderBlock(result),
            "host:example.amazonaws.com\n"
            "my-header1:value1\n"
            "my-header2:\"a b c\"\n"
            "my-header3:value1 value2 value3\n"
            "x-amz-date:20150830T123600Z\n");
}

TEST(SignV4, HeadersLowerCasedAndSorted) {
  SigV4Request request = BasicRequest();
  request.headers.insert(request.headers.begin(), {"Zeta", "z"});
  request.headers.emplace_back("X-Amz-Content-Sha256", kEmptySha256);
  request.headers.emplace_back("ALPHA", "A");
  SigV4Result result =
      SignV4(request, TestCredentials(), "us-east-1", "service", SuiteTime());
  EXPECT_EQ(HeaderBlock(result),
            "alpha:A\n"
            "host:example.amazonaws.com\n"
            "x-amz-content-sha256:" +
                std::string(kEmptySha256) +
                "\n"
                "x-amz-date:20150830T123600Z\n"
                "zeta:z\n");
  EXPECT_NE(
      result.authorization.find(
          "SignedHeaders=alpha;host;x-amz-content-sha256;x-amz-date;zeta,"),
      std::string::npos)
      << result.authorization;
}

TEST(SignV4, DuplicateHeadersJoinedInGivenOrder) {
  SigV4Request request = BasicRequest();
  request.headers.emplace_back("My-Header1", "value4");
  request.headers.emplace_back("x-other", "o");
  request.headers.emplace_back("my-header1", "value1");
  request.headers.emplace_back("MY-HEADER1", " value3 ");
  SigV4Result result =
      SignV4(request, TestCredentials(), "us-east-1", "service", SuiteTime());
  EXPECT_EQ(HeaderBlock(result),
            "host:example.amazonaws.com\n"
            "my-header1:value4,value1,value3\n"
            "x-amz-date:20150830T123600Z\n"
            "x-other:o\n");
}

TEST(SignV4, DateHeaderSetBySigner) {
  SigV4Request request = BasicRequest();
  request.headers.emplace_back("X-Amz-Date", "19990101T000000Z");
  SigV4Result result =
      SignV4(request, TestCredentials(), "us-east-1", "service", SuiteTime());
  EXPECT_EQ(HeaderBlock(result),
            "host:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n");
  ASSERT_EQ(result.added_headers.size(), 1u);
  EXPECT_EQ(result.added_headers[0].first, "x-amz-date");
  EXPECT_EQ(result.added_headers[0].second, "20150830T123600Z");
}

// The AWS suite's get-vanilla case, as a smoke test of the whole chain.
TEST(SignV4, VanillaSignature) {
  SigV4Result result = SignV4(BasicRequest(), TestCredentials(), "us-east-1",
                              "service", SuiteTime());
  EXPECT_EQ(result.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n"
            "20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(result.signature,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(result.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
            "service/aws4_request, SignedHeaders=host;x-amz-date, "
            "Signature=" +
                result.signature);
}

TEST(SignV4, SessionTokenAddedAndSigned) {
  const std::string token =
      "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  SigV4Result result = SignV4(BasicRequest(), TestCredentials(token),
                              "us-east-1", "service", SuiteTime());
  EXPECT_EQ(HeaderBlock(result),
            "host:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n"
            "x-amz-security-token:" +
                token + "\n");
  EXPECT_NE(result.authorization.find(
                "SignedHeaders=host;x-amz-date;x-amz-security-token,"),
            std::string::npos);
  ASSERT_EQ(result.added_headers.size(), 2u);
  EXPECT_EQ(result.added_headers[1].first, "x-amz-security-token");
  EXPECT_EQ(result.added_headers[1].second, token);
  // get-vanilla-with-session-token from the AWS suite.
  EXPECT_EQ(result.signature,
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
}

TEST(SignV4, SessionTokenReplacesCallerCopy) {
  SigV4Request request = BasicRequest();
  request.headers.emplace_back("X-Amz-Security-Token", "stale");
  SigV4Result result = SignV4(request, TestCredentials("fresh"), "us-east-1",
                              "service", SuiteTime());
  EXPECT_EQ(HeaderBlock(result),
            "host:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n"
            "x-amz-security-token:fresh\n");
}

TEST(SignV4, QuerySortedByEncodedNameThenValue) {
  SigV4Request request = BasicRequest();
  request.query = {{"Param1", "value2"}, {"\xE1\x88\xB4", "x"},
                   {"Param1", "Value1"}, {"Param-3", "a b"},
                   {"Param", "v/+"},     {"empty", ""}};
  SigV4Result result =
      SignV4(request, TestCredentials(), "us-east-1", "service", SuiteTime());
  EXPECT_EQ(QueryLine(result),
            "%E1%88%B4=x&Param=v%2F%2B&Param-3=a%20b&Param1=Value1&"
            "Param1=value2&empty=");
}

TEST(SignV4, PathEncodedOnceAndNotNormalised) {
  SigV4Request request = BasicRequest();
  request.path = "//a/./b/../c%20d e";
  SigV4Result result =
      SignV4(request, TestCredentials(), "us-east-1", "s3", SuiteTime());
  EXPECT_EQ(result.canonical_request.substr(
                0, result.canonical_request.find('\n', 4)),
            "GET\n//a/./b/../c%2520d%20e");
}

TEST(SignV4, PayloadHashIsLastLine) {
  SigV4Request request = BasicRequest();
  request.payload_hash = "UNSIGNED-PAYLOAD";
  SigV4Result result =
      SignV4(request, TestCredentials(), "us-east-1", "s3", SuiteTime());
  EXPECT_TRUE(
      result.canonical_request.ends_with("\n\nhost;x-amz-date\n"
                                         "UNSIGNED-PAYLOAD"));
  EXPECT_NE(
      result.string_to_sign.find("\n20150830/us-east-1/s3/aws4_request\n"),
      std::string::npos);
}

}  // namespace
}  // namespace chatvault::storage
