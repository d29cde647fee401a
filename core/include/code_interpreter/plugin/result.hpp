#pragma once
// Errors cross the plugin boundary as values: a plugin operation returns either its value or a
// human-readable message saying what failed and why.
#include <optional>
#include <string>
#include <utility>

namespace ci::plugin {

class Status {
public:
    static Status success() { return Status{}; }
    static Status failure(std::string message) {
        Status s;
        s.error_ = message.empty() ? std::string("unspecified error") : std::move(message);
        return s;
    }
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }

private:
    std::string error_;
};

template <class T>
class Result {
public:
    static Result success(T value) {
        Result r;
        r.value_ = std::move(value);
        return r;
    }
    static Result failure(std::string message) {
        Result r;
        r.error_ = message.empty() ? std::string("unspecified error") : std::move(message);
        return r;
    }
    bool ok() const { return value_.has_value(); }
    const std::string& error() const { return error_; }
    T& value() { return *value_; }
    const T& value() const { return *value_; }

private:
    std::optional<T> value_;
    std::string error_;
};

}  // namespace ci::plugin
