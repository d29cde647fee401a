#include "code_interpreter/protocol/base64.hpp"

#include <openssl/evp.h>

#include <climits>

namespace ci::protocol {
namespace {

bool is_base64_digit(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    // EVP_EncodeBlock takes an int length: larger inputs would need chunking, and the agent's
    // frames are far smaller.
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    if (bytes.empty()) return out;
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    // EVP_DecodeBlock skips surrounding whitespace and counts padding as zero bytes: check the
    // form here so that only canonical input is accepted, and take the padding off its length.
    if (text.size() % 4 != 0 || text.size() > INT_MAX) return std::nullopt;
    std::size_t padding = 0;
    while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=')
        ++padding;
    for (std::size_t i = 0; i < text.size() - padding; ++i)
        if (!is_base64_digit(text[i])) return std::nullopt;
    std::string out(3 * (text.size() / 4), '\0');
    if (text.empty()) return out;
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0 || static_cast<std::size_t>(n) < padding) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

}  // namespace ci::protocol
