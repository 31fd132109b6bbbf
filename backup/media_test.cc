// Compressed media are recognised by their first bytes, and a backup
// stores them without compressing them.
#include "backup/media.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "backup/archiver.h"
#include "backup/blob_store.h"
#include "backup/restorer.h"
#include "backup/test_util.h"
#include "storage/mem_backend.h"

namespace chatvault::backup {
namespace {

namespace fs = std::filesystem;

std::string_view Format(std::string_view head) {
  return CompressedMediaFormat(AsBytes(head));
}

TEST(MediaTest, RecognisesCompressedFormatsByTheirFirstBytes) {
  using std::string_view;
  EXPECT_EQ(Format(string_view("\xFF\xD8\xFF\xE0\0\x10JFIF", 10)), "jpeg");
  EXPECT_EQ(Format("\x89PNG\r\n\x1A\n\0\0\0\rIHDR"), "png");
  EXPECT_EQ(Format("GIF89a\x01\0"), "gif");
  EXPECT_EQ(Format(string_view("RIFF\x10\0\0\0WEBPVP8 ", 16)), "webp");
  EXPECT_EQ(Format(string_view("\0\0\0\x20"
                               "ftypisom",
                               12)),
            "mp4");
  EXPECT_EQ(Format(string_view("\0\0\0\x18"
                               "ftypheic",
                               12)),
            "mp4");
  EXPECT_EQ(Format("\x1A\x45\xDF\xA3\x9F\x42\x86\x81"), "webm");
  EXPECT_EQ(Format("OggS\0\x02\0\0"), "ogg");
  EXPECT_EQ(Format("ID3\x04\0\0"), "mp3");
  EXPECT_EQ(Format("\xFF\xFB\x90\x64"), "mp3");
  EXPECT_EQ(Format("#!AMR\n"), "amr");
  EXPECT_EQ(Format("%PDF-1.7\n"), "pdf");
  EXPECT_EQ(Format("PK\x03\x04\x14\0"), "zip");
  EXPECT_EQ(Format("\x1F\x8B\x08\0"), "gzip");
  EXPECT_EQ(Format("\x28\xB5\x2F\xFD\x04\0"), "zstd");
  EXPECT_EQ(Format(string_view("\xFD"
                               "7zXZ\0\0",
                               7)),
            "xz");
  // Not compressed, or not recognisable: compression is tried.
  EXPECT_EQ(Format(string_view("RIFF\x10\0\0\0WAVEfmt ", 16)), "");
  EXPECT_EQ(Format("SQLite format 3"), "");
  EXPECT_EQ(Format("hello, world"), "");
  EXPECT_EQ(Format(""), "");
  EXPECT_EQ(Format("\xFF"), "");
  EXPECT_EQ(Format("RIFF"), "");
  EXPECT_EQ(Format(string_view("\0\0\0\x20"
                               "ftyp",
                               7)),
            "");
}

TEST(MediaTest, BackupStoresMediaAsTheyAre) {
  char tmpl[] = "/tmp/chatvault-media-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  // Two files of 200 KiB of zeros, which zstd would shrink to almost
  // nothing: one starts like a JPEG, the other like nothing known.
  std::string zeros(200 * 1024, '\0');
  std::string jpeg = zeros, plain = zeros;
  jpeg.replace(0, 4, "\xFF\xD8\xFF\xE1");
  plain.replace(0, 4, "data");
  fs::create_directories(dir + "/src");
  std::ofstream(dir + "/src/photo.jpg", std::ios::binary) << jpeg;
  std::ofstream(dir + "/src/notes.bin", std::ios::binary) << plain;

  storage::MemBackend backend;
  Result<std::unique_ptr<Repository>> repo =
      Repository::Init(&backend, AsBytes("pw"),
                       crypto::RecoveryCode::Generate(), testing::FastInit());
  ASSERT_TRUE(repo.ok());
  BackupOptions o;
  o.paths = {dir + "/src/photo.jpg"};
  Result<BackupResult> photo = Backup(repo->get(), o);
  ASSERT_TRUE(photo.ok()) << photo.status().ToString();
  o.paths = {dir + "/src/notes.bin"};
  Result<BackupResult> notes = Backup(repo->get(), o);
  ASSERT_TRUE(notes.ok()) << notes.status().ToString();
  // The photo's pack holds its bytes whole; the other file's, a few.
  EXPECT_GT(photo->pack_bytes_written, jpeg.size());
  EXPECT_LT(notes->pack_bytes_written, plain.size() / 10);

  RestoreOptions ro;
  ro.target = dir + "/restore";
  ASSERT_TRUE(Restore(repo->get(), photo->snapshot_id, ro).ok());
  std::ifstream f(ro.target + dir + "/src/photo.jpg", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), jpeg);
  fs::remove_all(dir);
}

// Media are cut into chunks four times larger on average (never above
// twice the repository's maximum), and still restore exactly.
TEST(MediaTest, MediaAreCutIntoLargerChunks) {
  char tmpl[] = "/tmp/chatvault-media-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::mt19937_64 rng(5);
  std::string noise(2 << 20, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  std::string video = noise, other = noise;
  video.replace(0, 12,
                std::string("\0\0\0\x20"
                            "ftypisom",
                            12));
  other.replace(0, 12, "not media at");
  fs::create_directories(dir + "/src");
  std::ofstream(dir + "/src/clip.mp4", std::ios::binary) << video;
  std::ofstream(dir + "/src/blob.bin", std::ios::binary) << other;

  storage::MemBackend backend;
  Result<std::unique_ptr<Repository>> repo = Repository::Init(
      &backend, AsBytes("pw"), crypto::RecoveryCode::Generate(),
      testing::FastInit({4096, 16384, 65536, 1}));
  ASSERT_TRUE(repo.ok());
  BackupOptions o;
  o.paths = {dir + "/src"};
  Result<BackupResult> r = Backup(repo->get(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::map<std::string, int> chunks;
  ASSERT_TRUE(ListSnapshot(repo->get(), r->snapshot_id,
                           [&](const std::string& path, const pb::Node& n) {
                             chunks[fs::path(path).filename()] =
                                 n.content_size();
                             return Status::OK();
                           })
                  .ok());
  // 2 MiB at 16 KiB and at 64 KiB on average.
  EXPECT_GT(chunks["blob.bin"], 80);
  EXPECT_LT(chunks["clip.mp4"], 50);
  EXPECT_GE(chunks["clip.mp4"], 2 * 1024 / 128);  // at most 128 KiB each

  RestoreOptions ro;
  ro.target = dir + "/restore";
  ASSERT_TRUE(Restore(repo->get(), r->snapshot_id, ro).ok());
  std::ifstream f(ro.target + dir + "/src/clip.mp4", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), video);
  fs::remove_all(dir);
}

// The largest chunk size init allows still backs up media (the media
// sizes are capped where the chunker's masks end).
TEST(MediaTest, LargestChunkSizeStillBacksUpMedia) {
  char tmpl[] = "/tmp/chatvault-media-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/photo.jpg", std::ios::binary)
      << std::string("\xFF\xD8\xFF\xE0", 4) << std::string(1000, 'p');
  storage::MemBackend backend;
  Result<std::unique_ptr<Repository>> repo = Repository::Init(
      &backend, AsBytes("pw"), crypto::RecoveryCode::Generate(),
      testing::FastInit({2 << 20, 8 << 20, 32 << 20, 1}));
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  BackupOptions o;
  o.paths = {dir + "/photo.jpg"};
  Result<BackupResult> r = Backup(repo->get(), o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace chatvault::backup
