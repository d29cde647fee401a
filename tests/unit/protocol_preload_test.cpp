// The preload list's names: what the gateway lets through ([worker] preload) is what the agent
// takes, and nothing else can reach the Python line the agent writes from it.
#include <gtest/gtest.h>

#include <string>

#include "code_interpreter/protocol/preload.hpp"

namespace ci::protocol {
namespace {

TEST(PreloadList, ModuleNamesAreDottedAsciiIdentifiers) {
    for (const char* good : {"numpy", "matplotlib.pyplot", "_x", "a1.b_2.C3", "__future__"})
        EXPECT_TRUE(is_module_name(good)) << good;
    for (const char* bad : {"", ".", "a.", ".a", "a..b", "1a", "a.1b", "a-b", "a b", "a'", "a)", "é", "a,b", "a;b"})
        EXPECT_FALSE(is_module_name(bad)) << bad;
    EXPECT_TRUE(is_module_name(std::string(kMaxModuleNameLength, 'a')));
    EXPECT_FALSE(is_module_name(std::string(kMaxModuleNameLength + 1, 'a')));
}

TEST(PreloadList, ParsesCommaSeparatedDistinctNames) {
    EXPECT_EQ(parse_preload_list(""), std::vector<std::string>{});
    EXPECT_EQ(parse_preload_list("numpy,pandas,matplotlib.pyplot"),
              (std::vector<std::string>{"numpy", "pandas", "matplotlib.pyplot"}));
    for (const char* bad : {",", "numpy,", ",numpy", "numpy,,pandas", "numpy,numpy", "numpy, pandas"})
        EXPECT_FALSE(parse_preload_list(bad)) << bad;
    std::string many;
    for (std::size_t i = 0; i <= kMaxPreloadModules; ++i) many += (many.empty() ? "m" : ",m") + std::to_string(i);
    EXPECT_FALSE(parse_preload_list(many));
    EXPECT_TRUE(parse_preload_list(many.substr(0, many.rfind(','))));
}

}  // namespace
}  // namespace ci::protocol
