#pragma once
// Errors cross the plugin boundary as values: a plugin operation returns either its value or a
// human-readable message saying what failed and why, with the kind of failure so the core can
// answer and retry fittingly.
#include <optional>
#include <string>
#include <utility>

namespace ci::plugin {

enum class FailureKind {
    other,
    unavailable,  // the service the plugin drives (a daemon, an API) cannot be reached now
    not_found,    // something the operator must provide is missing (an image, a template...)
    exhausted,    // the host ran out of something (disk space, loop devices, addresses...)
    conflict,     // someone else got there first (another gateway's claim on a session)
};

inline const char* to_string(FailureKind kind) {
    switch (kind) {
        case FailureKind::other: return "failed";
        case FailureKind::unavailable: return "unavailable";
        case FailureKind::not_found: return "not_found";
        case FailureKind::exhausted: return "exhausted";
        case FailureKind::conflict: return "conflict";
    }
    return "failed";
}

class Status {
public:
    static Status success() { return Status{}; }
    static Status failure(std::string message, FailureKind kind = FailureKind::other) {
        Status s;
        s.error_ = message.empty() ? std::string("unspecified error") : std::move(message);
        s.kind_ = kind;
        return s;
    }
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }
    FailureKind kind() const { return kind_; }

private:
    std::string error_;
    FailureKind kind_ = FailureKind::other;
};

template <class T>
class Result {
public:
    static Result success(T value) {
        Result r;
        r.value_ = std::move(value);
        return r;
    }
    static Result failure(std::string message, FailureKind kind = FailureKind::other) {
        Result r;
        r.error_ = message.empty() ? std::string("unspecified error") : std::move(message);
        r.kind_ = kind;
        return r;
    }
    bool ok() const { return value_.has_value(); }
    const std::string& error() const { return error_; }
    FailureKind kind() const { return kind_; }
    T& value() { return *value_; }
    const T& value() const { return *value_; }

private:
    std::optional<T> value_;
    std::string error_;
    FailureKind kind_ = FailureKind::other;
};

}  // namespace ci::plugin
