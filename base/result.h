// Result<T>: either a value of type T or a non-OK Status explaining why there
// is none. The return type of every fallible function that produces a value.
//
//   Result<Config> LoadConfig(...);
//   ASSIGN_OR_RETURN(Config config, LoadConfig(...));
//
// Thread-safety: as for any value type.
#ifndef CHATVAULT_BASE_RESULT_H_
#define CHATVAULT_BASE_RESULT_H_

#include <cassert>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/status.h"

namespace chatvault {

template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cvref_t<T>, Status>,
                "Result<Status> is meaningless; return Status");

 public:
  // A value, or something T can be made from: implicitly only where U
  // converts implicitly to T (as std::expected), so `return 32;` cannot
  // build a 32-byte secret through an explicit constructor. A Result<bool>
  // is only ever made from a bool, never from a pointer.
  template <typename U = T>
  requires(std::is_constructible_v<T, U&&> &&
           !std::is_same_v<std::remove_cvref_t<U>, Status> &&
           !std::is_same_v<std::remove_cvref_t<U>, Result<T>> &&
           !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t> &&
           (!std::is_same_v<std::remove_cv_t<T>, bool> ||
            std::is_same_v<std::remove_cvref_t<U>,
                           bool>)) explicit(!std::is_convertible_v<U&&, T>)
      Result(U&& value)  // NOLINT
      : v_(std::in_place_index<0>, std::forward<U>(value)) {}
  // An error. REQUIRES: !status.ok(); an OK status here is a bug and becomes
  // an IOError so that it is never mistaken for a value.
  Result(Status status)  // NOLINT(google-explicit-constructor)
      : v_(std::in_place_index<1>, std::move(status)) {
    assert(!std::get<1>(v_).ok());
    if (std::get<1>(v_).ok()) {
      v_.template emplace<1>(StatusCode::kIOError,
                             "internal error: OK status used as an error");
    }
  }

  bool ok() const { return v_.index() == 0; }

  // OK when holding a value. Returns a copy, so the Result keeps its error.
  Status status() const { return ok() ? Status() : std::get<1>(v_); }

  // REQUIRES: ok(). Aborts otherwise: reading a value that is not there is a
  // bug, never a recoverable condition.
  const T& value() const& {
    CheckOk();
    return std::get<0>(v_);
  }
  T& value() & {
    CheckOk();
    return std::get<0>(v_);
  }
  // By value, so that `for (auto& x : F().value())` cannot dangle.
  T value() && {
    CheckOk();
    return std::get<0>(std::move(v_));
  }

  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void CheckOk() const {
    if (!ok()) std::abort();
  }

  std::variant<T, Status> v_;
};

}  // namespace chatvault

#define CHATVAULT_CONCAT_INNER_(a, b) a##b
#define CHATVAULT_CONCAT_(a, b) CHATVAULT_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (a Result<T>); on error returns its Status from the
// enclosing function, otherwise moves the value into `lhs`, which may be a
// declaration: ASSIGN_OR_RETURN(auto key, DeriveKey(...));
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  CHATVAULT_ASSIGN_OR_RETURN_IMPL_(  \
      CHATVAULT_CONCAT_(chatvault_result_, __COUNTER__), lhs, rexpr)

#define CHATVAULT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                     \
  if (!tmp.ok()) return tmp.status();                     \
  lhs = std::move(tmp).value()

#endif  // CHATVAULT_BASE_RESULT_H_
