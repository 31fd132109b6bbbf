// Link codes, QR rendering and the short authentication string.
#include "sync/link.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chatvault::sync {
namespace {

LinkCode NewCode() {
  return LinkCode{crypto::BoxKeyPair::Generate().public_key(),
                  crypto::SecretBytes::Random(kLinkSecretBytes)};
}

TEST(LinkCodeTest, RoundTripsAndToleratesCaseSpacesAndLookalikes) {
  LinkCode code = NewCode();
  std::string text = EncodeLinkCode(code);
  EXPECT_EQ(text.size(), 85u + 16u);  // 17 groups of 5, dash-separated
  Result<LinkCode> parsed = ParseLinkCode(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->ephemeral_key, code.ephemeral_key);
  EXPECT_TRUE(
      crypto::ConstantTimeEquals(parsed->secret.view(), code.secret.view()));
  // Lower case, spaces instead of dashes, O for 0 and l for 1.
  std::string loose;
  for (char c : text) {
    if (c == '-') {
      loose += ' ';
    } else if (c == '0') {
      loose += 'o';
    } else if (c == '1') {
      loose += 'l';
    } else {
      loose += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  Result<LinkCode> again = ParseLinkCode(loose);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->ephemeral_key, code.ephemeral_key);
}

TEST(LinkCodeTest, EveryWrongCharacterIsCaught) {
  std::string text = EncodeLinkCode(NewCode());
  int caught = 0, tried = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    std::string bad = text;
    bad[i] = text[i] == 'Z' ? 'Y' : (text[i] == '9' ? 'A' : 'Z');
    ++tried;
    Status s = ParseLinkCode(bad).status();
    if (s.code() == StatusCode::kInvalidArgument) ++caught;
    // The message never repeats the code.
    EXPECT_EQ(s.message().find(bad.substr(0, 11)), std::string::npos);
  }
  EXPECT_EQ(caught, tried);
  EXPECT_EQ(ParseLinkCode(text.substr(0, 50)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLinkCode(text + "U").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(LinkCodeTest, QrCodeIsDrawnSquareWithAQuietZone) {
  Result<std::string> qr = RenderQrCode(EncodeLinkCode(NewCode()));
  ASSERT_TRUE(qr.ok());
  // Every line is as wide as the symbol plus a quiet zone of 2 modules
  // on each side, and there are half as many lines (two modules a line).
  std::vector<size_t> widths;
  size_t width = 0;
  for (size_t i = 0; i < qr->size(); ++i) {
    const unsigned char c = static_cast<unsigned char>((*qr)[i]);
    if (c == '\n') {
      widths.push_back(width);
      width = 0;
    } else if ((c & 0xC0) != 0x80) {
      ++width;  // one code point: one module
    }
  }
  ASSERT_FALSE(widths.empty());
  for (size_t w : widths) EXPECT_EQ(w, widths.front());
  const size_t modules = widths.front() - 4;
  EXPECT_EQ((modules - 21) % 4, 0u);  // 21 + 4 * (version - 1)
  EXPECT_EQ(widths.size(), (widths.front() + 1) / 2);
  EXPECT_EQ(qr->substr(0, 3), "\u2588");  // the quiet zone is light
}

TEST(SasTest, BothSidesAgreeAndAnyChangeShows) {
  crypto::BoxKeyPair joiner = crypto::BoxKeyPair::Generate();
  crypto::BoxKeyPair linker = crypto::BoxKeyPair::Generate();
  const Bytes request = ToBytes("request bytes");
  const Bytes hello = ToBytes("hello bytes");
  Result<std::string> a =
      ComputeSas(joiner, linker.public_key(), request, hello);
  Result<std::string> b =
      ComputeSas(linker, joiner.public_key(), request, hello);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  ASSERT_EQ(a->size(), 7u);
  EXPECT_EQ((*a)[3], ' ');
  // Moving a byte from one message to the other changes it: the
  // transcript is length-prefixed.
  Result<std::string> shifted =
      ComputeSas(joiner, linker.public_key(), ToBytes("request byte"),
                 ToBytes("shello bytes"));
  ASSERT_TRUE(shifted.ok());
  EXPECT_NE(*shifted, *a);
  crypto::BoxKeyPair other = crypto::BoxKeyPair::Generate();
  EXPECT_NE(*ComputeSas(other, linker.public_key(), request, hello), *a);
}

}  // namespace
}  // namespace chatvault::sync
