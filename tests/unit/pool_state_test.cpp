#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "pool_state.hpp"

namespace ci {
namespace {

const std::string kKey(64, 'a');

SavedWorker leased() { return {"0123456789ab", kKey, true, "1b4e28ba-2fa1-41d2-883f-0016d3cca427", 1700000000123}; }

TEST(PoolState, TextRoundTripsEveryField) {
    auto back = parse_pool_state(pool_state_text({leased(), {"ba9876543210", kKey, false, "", 0}}));
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].id, "0123456789ab");
    EXPECT_EQ(back[0].key, kKey);
    EXPECT_TRUE(back[0].has_volume);
    EXPECT_EQ(back[0].user, "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
    EXPECT_EQ(back[0].session_started_ms, 1700000000123);
    EXPECT_EQ(back[1].user, "");
    EXPECT_FALSE(back[1].has_volume);
}

TEST(PoolState, RefusesWhatThePoolNeverWrites) {
    EXPECT_THROW(parse_pool_state("not json"), std::runtime_error);
    EXPECT_THROW(parse_pool_state(R"({"format": 2, "workers": []})"), std::runtime_error);
    EXPECT_THROW(parse_pool_state(R"({"format": 1, "workers": [{"id": "x"}]})"), std::runtime_error);
    auto with = [](SavedWorker w) { return pool_state_text({w}); };
    SavedWorker bad_id = leased();
    bad_id.id = "../../etc";
    EXPECT_THROW(parse_pool_state(with(bad_id)), std::runtime_error);
    SavedWorker short_key = leased();
    short_key.key = "abc";
    EXPECT_THROW(parse_pool_state(with(short_key)), std::runtime_error);
    SavedWorker bad_user = leased();
    bad_user.user = "not-a-uuid";
    EXPECT_THROW(parse_pool_state(with(bad_user)), std::runtime_error);
}

TEST(PoolState, FileIsPrivateReplacedWholeAndOptional) {
    auto dir = std::filesystem::temp_directory_path() / ("ci-pool-state-test-" + std::to_string(::getpid()));
    PoolStateFile file((dir / "sub" / "state.json").string());
    EXPECT_TRUE(file.load().empty());  // absent: nothing saved yet
    file.save({leased()});
    struct stat st{};
    ASSERT_EQ(::stat(file.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    file.save({});
    EXPECT_TRUE(file.load().empty());
    EXPECT_FALSE(std::filesystem::exists(file.path() + ".tmp"));
    std::ofstream(file.path()) << "garbage";
    EXPECT_THROW(file.load(), std::runtime_error);
    file.remove();
    EXPECT_FALSE(std::filesystem::exists(file.path()));
    EXPECT_FALSE(PoolStateFile("").enabled());
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ci
