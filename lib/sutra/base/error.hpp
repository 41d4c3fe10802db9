#pragma once
// Errors as values: a closed error enum plus a message that names the file, tensor or offset
// concerned and, where there is one, the fix. The library never throws across its API and
// never exits; the CLI maps every error to exit code 2.
#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sutra {

enum class Errc {
    invalid_argument,  // a flag, option or config value is wrong
    not_found,         // a file, shard or tensor does not exist
    io,                // the operating system refused a read, write, rename, ...
    bad_format,        // the input is not a valid safetensors / index / qbin / config file
    unsupported,       // valid, but something sutra does not handle (dtype, architecture)
    too_large,         // a size or count exceeds a documented limit
    exists,            // the output exists and --force was not given
    corrupt,           // a checksum does not match
    interrupted,       // a signal asked us to stop
    internal,          // a bug: an invariant did not hold
};

const char* errc_name(Errc code);

struct Error {
    Errc code;
    std::string message;
};

// Result<T>: either a T or an Error. Result<void> carries only an optional Error.
template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    const Error& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }
    Error&& take_error() {
        assert(!ok());
        return std::get<1>(std::move(v_));
    }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : e_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
    bool ok() const { return !e_.has_value(); }
    explicit operator bool() const { return ok(); }
    const Error& error() const {
        assert(!ok());
        return *e_;
    }
    Error&& take_error() {
        assert(!ok());
        return std::move(*e_);
    }

  private:
    std::optional<Error> e_;
};

using Status = Result<void>;

inline Error make_error(Errc code, std::string message) {
    return Error{code, std::move(message)};
}

}  // namespace sutra

// Propagate an error from an expression returning Result<...>.
#define SUTRA_TRY(expr)                                           \
    do {                                                          \
        auto sutra_try_r_ = (expr);                               \
        if (!sutra_try_r_.ok()) return sutra_try_r_.take_error(); \
    } while (0)

#define SUTRA_CONCAT_INNER_(a, b) a##b
#define SUTRA_CONCAT_(a, b) SUTRA_CONCAT_INNER_(a, b)
// SUTRA_ASSIGN(auto x, expr): declares x from a Result or returns its error.
#define SUTRA_ASSIGN(decl, expr) SUTRA_ASSIGN_IMPL_(SUTRA_CONCAT_(sutra_r_, __LINE__), decl, expr)
#define SUTRA_ASSIGN_IMPL_(tmp, decl, expr) \
    auto tmp = (expr);                      \
    if (!tmp.ok()) return tmp.take_error(); \
    decl = std::move(tmp).value()
