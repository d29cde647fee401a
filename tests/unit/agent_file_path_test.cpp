// The text checks of the file operations' paths.
#include <climits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "code_interpreter/agent/workspace_path.hpp"

namespace ci::agent {
namespace {

using Names = std::vector<std::string>;

TEST(AgentFilePath, SplitsIntoComponentsDroppingEmptyAndDotOnes) {
    EXPECT_EQ(parse_workspace_path("a").components, Names{"a"});
    EXPECT_EQ(parse_workspace_path("a//b/./c/").components, (Names{"a", "b", "c"}));
    EXPECT_EQ(parse_workspace_path("./a").components, Names{"a"});
    EXPECT_EQ(parse_workspace_path("...").components, Names{"..."});
    EXPECT_EQ(parse_workspace_path("a..b/..c").components, (Names{"a..b", "..c"}));
    EXPECT_TRUE(parse_workspace_path("a").error.empty());
}

TEST(AgentFilePath, DotAndItsVariantsAreTheWorkspaceItself) {
    for (const char* root : {".", "./", ".//.", "./."}) {
        const WorkspacePath path = parse_workspace_path(root);
        EXPECT_TRUE(path.error.empty()) << root;
        EXPECT_TRUE(path.components.empty()) << root;
    }
}

TEST(AgentFilePath, RefusesEmptyAbsoluteDotDotNulAndOverlongPaths) {
    const std::string overlong(PATH_MAX, 'a');
    for (const std::string& bad :
         {std::string(""), std::string("/etc/passwd"), std::string("/"), std::string(".."),
          std::string("../x"), std::string("a/../../x"), std::string("a/.."),
          std::string("a\0b", 3), overlong}) {
        const WorkspacePath path = parse_workspace_path(bad);
        EXPECT_FALSE(path.error.empty()) << bad;
        EXPECT_TRUE(path.components.empty()) << bad;
    }
    EXPECT_NE(parse_workspace_path("/etc").error.find("absolute"), std::string::npos);
    EXPECT_NE(parse_workspace_path("a/../b").error.find(".."), std::string::npos);
}

TEST(AgentFilePath, JoinsAPrefixOfTheComponents) {
    const Names names{"a", "b", "c"};
    EXPECT_EQ(join_components(names, 0), ".");
    EXPECT_EQ(join_components(names, 1), "a");
    EXPECT_EQ(join_components(names, 3), "a/b/c");
}

}  // namespace
}  // namespace ci::agent
