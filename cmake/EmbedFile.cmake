# Compiles a file's exact bytes into a target, so the program serves it without any file at run time.
#
#   include(${CMAKE_SOURCE_DIR}/cmake/EmbedFile.cmake)
#   ci_embed_file(<target> INPUT <file> HEADER <name.hpp> NAMESPACE <c++ namespace> [VARIABLE <name>])
#
# generates <binary dir>/generated/<name.hpp> at build time (again whenever the file changes) with
#
#   namespace <namespace> { inline constexpr std::string_view <name>{"...", <size>}; }
#
# (VARIABLE defaults to kContent) and adds it and its directory to the target. The same file run as a
# script does the generation:  cmake -DINPUT=f -DOUTPUT=h -DNAMESPACE=ns -DVARIABLE=v -P EmbedFile.cmake
# Another script that needs more than the bytes can include() this file and call
# ci_embed_literal(<out variable> <file>) for the C++ string literal of a file.

# Sets <out> to a C++ string literal (possibly split over lines) holding every byte of <input>:
# "\xNN" for every byte, never followed by a hex digit inside the same literal, so never ambiguous.
function(ci_embed_literal out input)
  file(READ "${input}" hex HEX)
  string(REGEX REPLACE "(................................................................)" "\\1\"\n    \"" literal "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" literal "${literal}")
  set(${out} "\"${literal}\"" PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  foreach(required INPUT OUTPUT NAMESPACE)
    if(NOT DEFINED ${required})
      message(FATAL_ERROR "EmbedFile.cmake: -D${required}=... is required")
    endif()
  endforeach()
  if(NOT DEFINED VARIABLE)
    set(VARIABLE kContent)
  endif()
  ci_embed_literal(literal "${INPUT}")
  file(SIZE "${INPUT}" size)
  get_filename_component(name "${INPUT}" NAME)
  file(WRITE "${OUTPUT}.tmp" "// Generated from ${name} by cmake/EmbedFile.cmake; do not edit.
#pragma once
#include <string_view>

namespace ${NAMESPACE} {

inline constexpr std::string_view ${VARIABLE}{
    ${literal},
    ${size}};

}  // namespace ${NAMESPACE}
")
  file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
  return()
endif()

set(CI_EMBED_FILE_SCRIPT "${CMAKE_CURRENT_LIST_FILE}")

function(ci_embed_file target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "INPUT;HEADER;NAMESPACE;VARIABLE" "")
  if(NOT ARG_INPUT OR NOT ARG_HEADER OR NOT ARG_NAMESPACE)
    message(FATAL_ERROR "ci_embed_file(${target}): INPUT, HEADER and NAMESPACE are required")
  endif()
  if(NOT ARG_VARIABLE)
    set(ARG_VARIABLE kContent)
  endif()
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/generated")
  set(header "${dir}/${ARG_HEADER}")
  get_filename_component(name "${ARG_INPUT}" NAME)
  add_custom_command(OUTPUT "${header}"
    COMMAND ${CMAKE_COMMAND} "-DINPUT=${ARG_INPUT}" "-DOUTPUT=${header}" "-DNAMESPACE=${ARG_NAMESPACE}"
            "-DVARIABLE=${ARG_VARIABLE}" -P "${CI_EMBED_FILE_SCRIPT}"
    DEPENDS "${ARG_INPUT}" "${CI_EMBED_FILE_SCRIPT}"
    COMMENT "Embedding ${name}")
  target_sources(${target} PRIVATE "${header}")
  target_include_directories(${target} PRIVATE "${dir}")
endfunction()
