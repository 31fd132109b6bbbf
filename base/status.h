// Status: the outcome of an operation that can fail, and Result<T>: a value
// or the Status saying why there is none.
//
// A Status is cheap when OK (one null pointer) and carries a code and a
// user-facing message otherwise. Messages are written for the person running
// chatvault: they say what failed and, where we know, what to do next. They
// never contain secrets.
//
// Thread-safety: a Status or Result is a value; distinct objects may be used
// from distinct threads, const methods may be called concurrently.
#ifndef CHATVAULT_BASE_STATUS_H_
#define CHATVAULT_BASE_STATUS_H_

#include <memory>
#include <string>
#include <string_view>

namespace chatvault {

// The codes are few on purpose: callers branch on them (retry? tell the user
// the repository is damaged? map to an exit code?), not on messages.
enum class StatusCode : int {
  kOk = 0,
  kNotFound,           // the object, file or key does not exist
  kAlreadyExists,      // create-if-absent found something there
  kCorruption,         // data failed authentication or does not parse
  kInvalidArgument,    // the caller's input is malformed
  kIOError,            // the operating system or a peer failed permanently
  kUnavailable,        // transient: retrying later may succeed
  kPermissionDenied,   // wrong passphrase, missing rights, read-only target
  kCancelled,          // the operation was interrupted on request
  kResourceExhausted,  // disk full, quota exceeded, out of memory
  kLocked,             // another operation holds the repository's lock
  kExpired,            // a single-use code that expired or was used already
};

// Returns the code's name, e.g. "Corruption".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() noexcept = default;
  // REQUIRES: code != kOk.
  Status(StatusCode code, std::string_view message);

  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) {
    return Status(StatusCode::kNotFound, msg);
  }
  static Status AlreadyExists(std::string_view msg) {
    return Status(StatusCode::kAlreadyExists, msg);
  }
  static Status Corruption(std::string_view msg) {
    return Status(StatusCode::kCorruption, msg);
  }
  static Status InvalidArgument(std::string_view msg) {
    return Status(StatusCode::kInvalidArgument, msg);
  }
  static Status IOError(std::string_view msg) {
    return Status(StatusCode::kIOError, msg);
  }
  static Status Unavailable(std::string_view msg) {
    return Status(StatusCode::kUnavailable, msg);
  }
  static Status PermissionDenied(std::string_view msg) {
    return Status(StatusCode::kPermissionDenied, msg);
  }
  static Status Cancelled(std::string_view msg) {
    return Status(StatusCode::kCancelled, msg);
  }
  static Status ResourceExhausted(std::string_view msg) {
    return Status(StatusCode::kResourceExhausted, msg);
  }
  static Status Locked(std::string_view msg) {
    return Status(StatusCode::kLocked, msg);
  }
  static Status Expired(std::string_view msg) {
    return Status(StatusCode::kExpired, msg);
  }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return ok() ? StatusCode::kOk : state_->code; }
  // Empty when OK.
  std::string_view message() const;

  // True when retrying the same operation later may succeed.
  bool IsRetryable() const { return code() == StatusCode::kUnavailable; }
  // True when stored data is damaged or forged.
  bool IsDataLoss() const { return code() == StatusCode::kCorruption; }

  // "Corruption: <message>", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>", same code.
  // OK stays OK.
  Status WithContext(std::string_view context) const;

  // Explicitly discards this status. Use only with a comment saying why the
  // failure does not matter.
  void IgnoreError() const {}

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<State> state_;
};

inline bool operator==(const Status& a, const Status& b) {
  return a.code() == b.code() && a.message() == b.message();
}

}  // namespace chatvault

// Evaluates `expr` (a Status); returns it from the enclosing function if it is
// not OK.
#define RETURN_IF_ERROR(expr)                                          \
  do {                                                                 \
    ::chatvault::Status chatvault_status_macro_ = (expr);              \
    if (!chatvault_status_macro_.ok()) return chatvault_status_macro_; \
  } while (0)

#endif  // CHATVAULT_BASE_STATUS_H_
