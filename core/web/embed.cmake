# Turns the console page into a C++ header at build time, so the gateway serves it without any
# file at run time:  cmake -DINPUT=test.html -DOUTPUT=console_page.hpp -P embed.cmake
# The header holds the page's exact bytes and the SHA-256 of its one inline <script> and one
# <style>, which the Content-Security-Policy allows by hash instead of 'unsafe-inline'.

# The bytes go in as cmake/EmbedFile.cmake writes them (ci_embed_literal).
include("${CMAKE_CURRENT_LIST_DIR}/../../cmake/EmbedFile.cmake")

file(READ "${INPUT}" page)
file(SIZE "${INPUT}" page_size)

# Sets <out> to the hex SHA-256 of the text between <open> and <close>, which must occur once.
function(inline_digest out open close)
  string(FIND "${page}" "${open}" first)
  string(FIND "${page}" "${open}" last REVERSE)
  string(FIND "${page}" "${close}" end)
  if(first EQUAL -1 OR NOT first EQUAL last OR end LESS first)
    message(FATAL_ERROR "${INPUT}: needs exactly one ${open}...${close} (the CSP allows it by hash)")
  endif()
  string(LENGTH "${open}" open_length)
  math(EXPR begin "${first} + ${open_length}")
  math(EXPR length "${end} - ${begin}")
  string(SUBSTRING "${page}" ${begin} ${length} content)
  string(SHA256 digest "${content}")
  set(${out} ${digest} PARENT_SCOPE)
endfunction()

inline_digest(script_sha256 "<script>" "</script>")
inline_digest(style_sha256 "<style>" "</style>")

ci_embed_literal(literal "${INPUT}")

file(WRITE "${OUTPUT}.tmp" "// Generated from core/web/test.html by core/web/embed.cmake; do not edit.
#pragma once
#include <string_view>

namespace ci::console_page {

inline constexpr std::string_view kPage{
    ${literal},
    ${page_size}};
inline constexpr std::string_view kScriptSha256Hex = \"${script_sha256}\";
inline constexpr std::string_view kStyleSha256Hex = \"${style_sha256}\";

}  // namespace ci::console_page
")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
