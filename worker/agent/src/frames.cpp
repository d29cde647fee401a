#include "code_interpreter/agent/frames.hpp"

#include <cstdint>

namespace ci::agent {
namespace {

constexpr std::size_t kHeaderBytes = 4;

}  // namespace

std::optional<std::string> encode_frame(const nlohmann::json& body) {
    const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > kMaxFrameBytes) return std::nullopt;
    const auto size = static_cast<std::uint32_t>(text.size());
    std::string frame{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                      static_cast<char>(size >> 8), static_cast<char>(size)};
    frame += text;
    return frame;
}

void FrameReader::append(std::string_view bytes) {
    // Drop what was read once it is most of the buffer, so appending stays linear.
    if (start_ > 0 && start_ >= buffer_.size() / 2) {
        buffer_.erase(0, start_);
        start_ = 0;
    }
    buffer_.append(bytes);
}

std::optional<std::string> FrameReader::next() {
    if (failed_ || buffer_.size() - start_ < kHeaderBytes) return std::nullopt;
    std::size_t size = 0;
    for (std::size_t i = 0; i < kHeaderBytes; ++i)
        size = size << 8 | static_cast<unsigned char>(buffer_[start_ + i]);
    if (size > kMaxFrameBytes) {
        failed_ = true;
        return std::nullopt;
    }
    if (buffer_.size() - start_ - kHeaderBytes < size) return std::nullopt;
    std::string text = buffer_.substr(start_ + kHeaderBytes, size);
    start_ += kHeaderBytes + size;
    return text;
}

}  // namespace ci::agent
