#include "sync/home.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/clock.h"
#include "base/errno.h"
#include "base/fd.h"
#include "crypto/blake2b.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"

namespace chatvault::sync {
namespace {

constexpr char kIdentityFile[] = "/device";
constexpr char kReposDir[] = "/repos";

void Wipe(std::string* s) {
  crypto::SecureZero(
      MutableByteView(reinterpret_cast<std::byte*>(s->data()), s->size()));
  s->clear();
}

}  // namespace

Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return StatusFromErrno(ec.value(), "creating " + dir);
  // Only its owner may look inside: homes hold keys, caches plaintext.
  if (::chmod(dir.c_str(), 0700) != 0)
    return StatusFromErrno(errno, "chmod " + dir);
  return Status::OK();
}

namespace {

// Reads a whole file that must be the owner's alone.
Result<std::string> ReadPrivateFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return StatusFromErrno(errno, path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return StatusFromErrno(errno, path);
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied(
        path +
        " is readable or writable by others; it holds keys: run "
        "`chmod 600 " +
        path + "`");
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return StatusFromErrno(errno, path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

// Writes `data` to a new temporary file beside `path` (0600, synced) and
// returns its name.
Result<std::string> WriteTemporary(const std::string& path,
                                   std::string_view data) {
  std::string tmp = path + ".tmp-" + HexEncode([] {
                      Bytes b(6);
                      crypto::RandomBytes(b);
                      return b;
                    }());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return StatusFromErrno(errno, tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = StatusFromErrno(errno, tmp);
      ::unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    Status s = StatusFromErrno(errno, tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  Status closed = fd.Close(tmp);
  if (!closed.ok()) {
    ::unlink(tmp.c_str());
    return closed;
  }
  return tmp;
}

Status SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0)
    return StatusFromErrno(errno, "syncing " + dir);
  return Status::OK();
}

std::string StatePath(const std::string& home, ByteView repository_id) {
  return home + kReposDir + "/" + HexEncode(repository_id);
}

}  // namespace

std::string DefaultDeviceName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "device";
  return buf;
}

std::string DefaultHome() {
  if (const char* c = std::getenv("CHATVAULT_HOME"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && x[0] == '/') {
    return std::string(x) + "/chatvault";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.config/chatvault";
}

Bytes DeviceIdFor(const crypto::VerifyKey& identity) {
  return *crypto::Blake2b(identity.bytes(), kDeviceIdBytes);
}

Result<DeviceIdentity> DeviceIdentity::Load(const std::string& home) {
  const std::string path = home + kIdentityFile;
  Result<std::string> data = ReadPrivateFile(path);
  if (data.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("no device identity in " + home);
  }
  RETURN_IF_ERROR(data.status());
  return Decode(std::move(*data), path);
}

Result<DeviceIdentity> DeviceIdentity::LoadOrCreate(const std::string& home) {
  Result<DeviceIdentity> existing = Load(home);
  if (existing.status().code() != StatusCode::kNotFound) return existing;
  RETURN_IF_ERROR(MakePrivateDir(home));
  crypto::SecretBytes identity_seed = crypto::SecretBytes::Random(32);
  crypto::SecretBytes holder_seed = crypto::SecretBytes::Random(32);
  ASSIGN_OR_RETURN(crypto::SigningKey identity,
                   crypto::SigningKey::FromSeed(identity_seed));
  pb::DeviceIdentity record;
  record.set_device_id(
      std::string(AsChars(DeviceIdFor(identity.verify_key()))));
  record.set_identity_seed(std::string(identity_seed.chars()));
  record.set_holder_seed(std::string(holder_seed.chars()));
  record.set_created_unix_ms(UnixMs());
  std::string wire = record.SerializeAsString();
  Wipe(record.mutable_identity_seed());
  Wipe(record.mutable_holder_seed());
  const std::string path = home + kIdentityFile;
  Result<std::string> tmp = WriteTemporary(path, wire);
  Wipe(&wire);
  RETURN_IF_ERROR(tmp.status());
  // link(2) does not replace: of two processes creating an identity at
  // once, the first one's stays and both load it.
  int linked = ::link(tmp->c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp->c_str());
  if (linked != 0 && err != EEXIST) return StatusFromErrno(err, path);
  RETURN_IF_ERROR(SyncDir(home));
  return Load(home);
}

Result<DeviceIdentity> DeviceIdentity::Decode(std::string data,
                                              const std::string& path) {
  pb::DeviceIdentity record;
  bool parsed = record.ParseFromString(data);
  Wipe(&data);
  auto bad = [&](std::string_view what) {
    return Status::Corruption(path + ": " + std::string(what) +
                              "; move it away to make this a new device");
  };
  if (!parsed) return bad("does not parse");
  crypto::SecretBytes identity_seed =
      crypto::SecretBytes::CopyFrom(AsBytes(record.identity_seed()));
  crypto::SecretBytes holder_seed =
      crypto::SecretBytes::CopyFrom(AsBytes(record.holder_seed()));
  Wipe(record.mutable_identity_seed());
  Wipe(record.mutable_holder_seed());
  Result<crypto::SigningKey> identity =
      crypto::SigningKey::FromSeed(identity_seed);
  if (!identity.ok()) return bad("bad identity key");
  Result<crypto::BoxKeyPair> holder = crypto::BoxKeyPair::FromSeed(holder_seed);
  if (!holder.ok()) return bad("bad holder key");
  Bytes id = DeviceIdFor(identity->verify_key());
  if (!crypto::ConstantTimeEquals(id, AsBytes(record.device_id()))) {
    return bad("device ID does not match the identity key");
  }
  return DeviceIdentity(std::move(id), std::move(*identity),
                        std::move(*holder));
}

Result<pb::RepositoryState> LoadRepositoryState(const std::string& home,
                                                ByteView repository_id) {
  pb::RepositoryState state;
  const std::string path = StatePath(home, repository_id);
  Result<std::string> data = ReadPrivateFile(path);
  if (data.status().code() == StatusCode::kNotFound) {
    state.set_repository_id(std::string(AsChars(repository_id)));
    return state;
  }
  RETURN_IF_ERROR(data.status());
  if (!state.ParseFromString(*data) ||
      state.repository_id() != AsChars(repository_id)) {
    return Status::Corruption(path +
                              " is damaged; it holds what this "
                              "device pinned for the repository, so "
                              "it is not replaced silently: move it "
                              "away and link the device again");
  }
  return state;
}

Status UpdateRepositoryState(
    const std::string& home, ByteView repository_id,
    const std::function<Status(pb::RepositoryState&)>& update) {
  RETURN_IF_ERROR(MakePrivateDir(home));
  RETURN_IF_ERROR(MakePrivateDir(home + kReposDir));
  const std::string path = StatePath(home, repository_id);
  const std::string lock_path = path + ".lock";
  Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid()) return StatusFromErrno(errno, lock_path);
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return StatusFromErrno(errno, lock_path);
  }
  ASSIGN_OR_RETURN(pb::RepositoryState state,
                   LoadRepositoryState(home, repository_id));
  const std::string before = state.SerializeAsString();
  RETURN_IF_ERROR(update(state));
  // Most commands only confirm what is recorded: no write, no fsync.
  if (state.SerializeAsString() == before &&
      ::access(path.c_str(), F_OK) == 0) {
    return Status::OK();
  }
  ASSIGN_OR_RETURN(std::string tmp,
                   WriteTemporary(path, state.SerializeAsString()));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = StatusFromErrno(errno, path);
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDir(home + kReposDir);
}

}  // namespace chatvault::sync
