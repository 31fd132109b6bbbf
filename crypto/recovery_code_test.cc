#include "crypto/recovery_code.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/random.h"

namespace chatvault::crypto {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The code without dashes.
std::string Plain(const RecoveryCode& code) {
  SecretBytes f = code.Format();
  std::string out;
  for (char c : f.chars()) {
    if (c != '-') out.push_back(c);
  }
  return out;
}

TEST(RecoveryCodeTest, FormatIs16GroupsOf4) {
  SecretBytes f = RecoveryCode::Generate().Format();
  std::string_view s = f.chars();
  ASSERT_EQ(s.size(), 64u + 15u);
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 5 == 4) {
      EXPECT_EQ(s[i], '-') << i;
    } else {
      EXPECT_NE(kAlphabet.find(s[i]), std::string_view::npos) << s[i];
    }
  }
}

TEST(RecoveryCodeTest, RoundTripsManySeeds) {
  for (int i = 0; i < 200; ++i) {
    RecoveryCode code = RecoveryCode::Generate();
    SecretBytes text = code.Format();
    Result<RecoveryCode> back = RecoveryCode::Parse(text.chars());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(ConstantTimeEquals(back->seed().view(), code.seed().view()));
  }
}

TEST(RecoveryCodeTest, ExtremeSeedsRoundTrip) {
  for (unsigned char fill : {0x00, 0xff, 0x80, 0x01}) {
    SecretBytes seed(32);
    for (std::byte& b : seed.mutable_view()) b = std::byte{fill};
    Result<RecoveryCode> code = RecoveryCode::FromSeed(std::move(seed));
    ASSERT_TRUE(code.ok());
    Result<RecoveryCode> back = RecoveryCode::Parse(code->Format().chars());
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(ConstantTimeEquals(back->seed().view(), code->seed().view()));
  }
}

// Known answers, computed independently with a Python implementation of the
// grammar in docs/design.md (BIP 173 reference polymod), so that a mistake
// made the same way in Format and Parse cannot pass.
TEST(RecoveryCodeTest, KnownAnswers) {
  struct Case {
    unsigned char fill;
    const char* code;
  } cases[] = {
      {0x00,
       "0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-"
       "BBGF-WE94-7FX4"},
      {0xff,
       "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZG-"
       "1C6G-T9YE-XJY8"},
  };
  for (const Case& c : cases) {
    SecretBytes seed(32);
    for (std::byte& b : seed.mutable_view()) b = std::byte{c.fill};
    Result<RecoveryCode> code = RecoveryCode::FromSeed(std::move(seed));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(code->Format().chars(), c.code);
    Result<RecoveryCode> parsed = RecoveryCode::Parse(c.code);
    ASSERT_TRUE(parsed.ok());
    for (std::byte b : parsed->seed().view()) EXPECT_EQ(b, std::byte{c.fill});
  }
}

TEST(RecoveryCodeTest, ParsingIgnoresCaseSpacesDashesAndConfusables) {
  RecoveryCode code = RecoveryCode::Generate();
  std::string plain = Plain(code);
  std::string messy;
  for (size_t i = 0; i < plain.size(); ++i) {
    char c = plain[i];
    if (c == '0' && i % 2 == 0) c = 'O';
    if (c == '1' && i % 2 == 0) c = 'l';
    if (c >= 'A' && c <= 'Z' && i % 3 == 0) c = static_cast<char>(c + 32);
    messy.push_back(c);
    if (i % 4 == 3) messy += (i % 8 == 3) ? " " : " - ";
  }
  Result<RecoveryCode> back = RecoveryCode::Parse("  " + messy + "\n");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(ConstantTimeEquals(back->seed().view(), code.seed().view()));
}

// Every single wrong character, at every position, to every other
// character of the alphabet, is detected.
TEST(RecoveryCodeTest, EverySingleSubstitutionIsDetected) {
  for (int round = 0; round < 3; ++round) {
    std::string plain = Plain(RecoveryCode::Generate());
    for (size_t pos = 0; pos < plain.size(); ++pos) {
      for (char c : kAlphabet) {
        if (c == plain[pos]) continue;
        std::string bad = plain;
        bad[pos] = c;
        Result<RecoveryCode> r = RecoveryCode::Parse(bad);
        ASSERT_FALSE(r.ok()) << "pos " << pos << " char " << c;
        ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      }
    }
  }
}

// Every swap of two different characters, adjacent or not, is detected.
TEST(RecoveryCodeTest, EveryTranspositionIsDetected) {
  for (int round = 0; round < 3; ++round) {
    std::string plain = Plain(RecoveryCode::Generate());
    for (size_t i = 0; i < plain.size(); ++i) {
      for (size_t j = i + 1; j < plain.size(); ++j) {
        if (plain[i] == plain[j]) continue;
        std::string bad = plain;
        std::swap(bad[i], bad[j]);
        ASSERT_FALSE(RecoveryCode::Parse(bad).ok()) << i << "<->" << j;
      }
    }
  }
}

TEST(RecoveryCodeTest, RandomMultiCharacterDamageIsDetected) {
  std::string plain = Plain(RecoveryCode::Generate());
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bad = plain;
    int changes = 2 + static_cast<int>(RandomUniform(6));
    for (int k = 0; k < changes; ++k) {
      bad[RandomUniform(64)] = kAlphabet[RandomUniform(32)];
    }
    if (bad == plain) continue;
    ASSERT_FALSE(RecoveryCode::Parse(bad).ok()) << bad;
  }
}

TEST(RecoveryCodeTest, ErrorsSayWhatIsWrongWithoutEchoingTheCode) {
  std::string plain = Plain(RecoveryCode::Generate());
  Result<RecoveryCode> shorter = RecoveryCode::Parse(plain.substr(0, 60));
  EXPECT_EQ(shorter.status().message(),
            "a recovery code has 64 characters (16 groups of 4); this one has "
            "60");
  Result<RecoveryCode> longer = RecoveryCode::Parse(plain + "A");
  EXPECT_NE(longer.status().message().find("more than 64"),
            std::string_view::npos);
  std::string with_u = plain;
  with_u[10] = 'U';
  Result<RecoveryCode> bad_char = RecoveryCode::Parse(with_u);
  EXPECT_NE(bad_char.status().message().find("at character 11"),
            std::string_view::npos);
  std::string typo = plain;
  typo[5] = typo[5] == 'A' ? 'B' : 'A';
  Result<RecoveryCode> mismatch = RecoveryCode::Parse(typo);
  EXPECT_NE(mismatch.status().message().find("checksum"),
            std::string_view::npos);
  for (const Result<RecoveryCode>* r :
       {&shorter, &longer, &bad_char, &mismatch}) {
    EXPECT_EQ(r->status().message().find(plain.substr(0, 8)),
              std::string_view::npos);
  }
}

TEST(RecoveryCodeTest, SeedLengthChecked) {
  EXPECT_FALSE(RecoveryCode::FromSeed(SecretBytes(16)).ok());
}

}  // namespace
}  // namespace chatvault::crypto
