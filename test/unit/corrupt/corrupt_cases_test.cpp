// The corrupt-input collection (test/corrupt/, see its README): every malformed file must fail
// with its own one-line error (exit 2; `validate` exit 1 with the damage named on stdout) and
// leave nothing behind; every valid-but-unusual file must be accepted. The files and
// test/corrupt/cases.json are generated once by test/corrupt/make_cases.py and committed; this
// test only reads them. Non-files (a directory, FIFOs, devices, symbolic links) are made here at
// run time. A case marked "bug" in cases.json (a known library bug) fails the test.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::test::CliRun;
using sutra::test::listing;
using sutra::test::TempDir;

struct Case {
    std::string name;
    fs::path path;  // absolute
    std::string command;
    int expect_exit = 0;
    std::string message;
    std::string why;
    std::string bug;  // non-empty: a known library bug makes this case fail today
};

fs::path corrupt_dir() {
    return sutra::test::source_dir() / "test" / "corrupt";
}

std::vector<Case> load_cases() {
    std::ifstream in(corrupt_dir() / "cases.json");
    REQUIRE(in.good());
    const auto j = nlohmann::json::parse(in);
    REQUIRE(j.is_array());
    std::vector<Case> v;
    for (const auto& e : j) {
        Case c;
        c.name = e.at("name").get<std::string>();
        c.path = corrupt_dir() / e.at("path").get<std::string>();
        c.command = e.at("command").get<std::string>();
        c.expect_exit = e.at("expect_exit").get<int>();
        c.message = e.at("message").get<std::string>();
        c.why = e.at("why").get<std::string>();
        if (e.contains("bug")) c.bug = e.at("bug").get<std::string>();
        v.push_back(std::move(c));
    }
    return v;
}

// One run of sutra on an input, with its own output folder, and the input's bytes before it.
struct Run {
    std::string command;
    fs::path input;
    std::unique_ptr<TempDir> out = std::make_unique<TempDir>();
    std::vector<std::string> args;
    std::optional<sutra::test::Bytes> before;
    CliRun result;
};

std::optional<sutra::test::Bytes> snapshot(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return std::nullopt;
    return sutra::test::read_bytes(p);
}

Run prepare(const std::string& command, const fs::path& input) {
    Run r;
    r.command = command;
    r.input = input;
    const fs::path out = r.out->path();
    if (command == "inspect" || command == "validate")
        r.args = {command, input.string()};
    else if (command == "quantize")
        r.args = {"quantize", input.string(), "-o", (out / "out.qbin").string(), "--method", "rtn"};
    else if (command == "dequantize")
        r.args = {"dequantize", input.string(), "-o", (out / "out.safetensors").string()};
    else
        FAIL("unknown command " << command);
    r.before = snapshot(input);
    return r;
}

// Runs them all, a few processes at a time (most of a run is process start-up, which
// overlaps well, above all under the sanitizers).
void execute(std::vector<Run>& runs) {
    std::atomic<size_t> next{0};
    const unsigned n = std::clamp(2 * std::thread::hardware_concurrency(), 2u, 8u);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < n; ++t)
        pool.emplace_back([&] {
            for (size_t i = next++; i < runs.size(); i = next++)
                runs[i].result = sutra::test::run_sutra(runs[i].args);
        });
    for (auto& t : pool)
        t.join();
}

// The contract for the expected exit code:
//   2: one stderr line "sutra: error: ..." holding `message` and the input's name, stdout empty;
//   1: (validate) stdout names the damage (`message`) and says FAIL, stderr empty;
//   0: success, stderr empty; a quantize output passes validate, a dequantize output inspect.
// In every case the input is unchanged and a failure leaves the output folder empty.
void check_run(const Run& run, int expect_exit, const std::string& message) {
    const CliRun& r = run.result;
    const fs::path out = run.out->path();
    INFO("exit " << r.code << "; stdout: " << r.out << "; stderr: " << r.err);
    if (expect_exit == 2) {
        sutra::test::check_one_line_error(r, {message, run.input.filename().string()});
        CHECK(listing(out).empty());
    } else if (expect_exit == 1) {
        CHECK(r.code == 1);
        CHECK(r.err.empty());
        CHECK_THAT(r.out, Catch::Contains(message));
        CHECK_THAT(r.out, Catch::Contains("FAIL"));
        CHECK(listing(out).empty());
    } else {
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        if (run.command == "quantize") {
            REQUIRE(listing(out) == std::vector<std::string>{"out.qbin"});
            CHECK(sutra::test::run_sutra({"validate", (out / "out.qbin").string()}).code == 0);
        } else if (run.command == "dequantize") {
            REQUIRE(listing(out) == std::vector<std::string>{"out.safetensors"});
            CHECK(sutra::test::run_sutra({"inspect", (out / "out.safetensors").string()}).code ==
                  0);
        } else {
            CHECK(listing(out).empty());
        }
    }
    CHECK(snapshot(run.input) == run.before);
}

void check_case(const std::string& command, const fs::path& input, int expect_exit,
                const std::string& message) {
    Run run = prepare(command, input);
    run.result = sutra::test::run_sutra(run.args);
    check_run(run, expect_exit, message);
}

// Opens each FIFO for writing after `limit` unless `done` is set first, releasing a reader that
// blocks on it; fired() tells whether that was needed (i.e. sutra would have hung).
class FifoWatchdog {
  public:
    FifoWatchdog(std::vector<fs::path> fifos, std::chrono::seconds limit)
        : fifos_(std::move(fifos)), thread_([this, limit] { watch(limit); }) {}
    ~FifoWatchdog() { stop(); }
    FifoWatchdog(const FifoWatchdog&) = delete;
    FifoWatchdog& operator=(const FifoWatchdog&) = delete;
    void stop() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            done_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    bool fired() const { return fired_; }

  private:
    void watch(std::chrono::seconds limit) {
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
        fired_ = true;
        while (!done_) {  // keep releasing until the run ends
            for (const auto& f : fifos_) {
                const int fd = ::open(f.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd >= 0) ::close(fd);
            }
            cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return done_; });
        }
    }

    std::vector<fs::path> fifos_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::atomic<bool> fired_{false};
    std::thread thread_;
};

}  // namespace

TEST_CASE("corrupt collection: each malformed input fails with its own error, unusual ones pass",
          "[corrupt]") {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<Case> cases = load_cases();
    std::set<std::string> names, malformed, accepted, all_paths;
    std::map<std::string, int> runs_by_command;
    std::vector<const Case*> to_run;
    std::vector<Run> runs;
    for (const Case& c : cases) {
        INFO("case " << c.name << " (" << c.why << ")");
        CHECK(names.insert(c.name).second);
        REQUIRE(fs::exists(c.path));
        all_paths.insert(c.path.string());
        (c.expect_exit == 0 ? accepted : malformed).insert(c.path.string());
        REQUIRE(c.bug.empty());  // a known bug is fixed, or it fails here
        REQUIRE((c.expect_exit == 0) == c.message.empty());
        REQUIRE((c.expect_exit != 1 || c.command == "validate"));
        ++runs_by_command[c.command];
        to_run.push_back(&c);
        runs.push_back(prepare(c.command, c.path));
    }
    execute(runs);
    for (size_t i = 0; i < runs.size(); ++i) {
        const Case& c = *to_run[i];
        INFO("case " << c.name << " (" << c.why << ")");
        check_run(runs[i], c.expect_exit, c.message);
    }
    // No input is both accepted and refused.
    for (const auto& p : accepted)
        CHECK(malformed.count(p) == 0);

    // Every file under cases/ belongs to some case (no orphans from an old generation).
    for (const auto& e : fs::recursive_directory_iterator(corrupt_dir() / "cases")) {
        if (!e.is_regular_file()) continue;
        const std::string f = e.path().string();
        bool used = false;
        for (const auto& p : all_paths)
            used = used || f == p || f.rfind(p + "/", 0) == 0;
        INFO("file " << f);
        CHECK(used);
    }

    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN("corrupt collection: " << malformed.size() << " malformed inputs, " << accepted.size()
                                << " accepted inputs; " << runs.size() << " runs (inspect "
                                << runs_by_command["inspect"] << ", quantize "
                                << runs_by_command["quantize"] << ", validate "
                                << runs_by_command["validate"] << ", dequantize "
                                << runs_by_command["dequantize"] << ") in " << secs << " s");
    CHECK(malformed.size() >= 60);
    CHECK(accepted.size() >= 10);
}

TEST_CASE("corrupt collection: non-files are refused, none of them hangs", "[corrupt]") {
    TempDir tmp;
    const fs::path accept = corrupt_dir() / "cases" / "accept" / "whitespace_padded.safetensors";
    REQUIRE(fs::exists(accept));

    // A folder named like a checkpoint.
    fs::create_directory(tmp / "folder.safetensors");
    // A FIFO as the checkpoint, as the index, and as a shard.
    REQUIRE(::mkfifo((tmp / "fifo.safetensors").c_str(), 0644) == 0);
    fs::create_directory(tmp / "fifo_index");
    REQUIRE(::mkfifo((tmp / "fifo_index" / "model.safetensors.index.json").c_str(), 0644) == 0);
    fs::create_directory(tmp / "fifo_shard");
    REQUIRE(::mkfifo((tmp / "fifo_shard" / "shard.safetensors").c_str(), 0644) == 0);
    sutra::test::write_text(tmp / "fifo_shard" / "model.safetensors.index.json",
                            "{\"weight_map\":{\"w\":\"shard.safetensors\"}}");
    // A folder as a shard.
    fs::create_directories(tmp / "dir_shard" / "shard.safetensors");
    sutra::test::write_text(tmp / "dir_shard" / "model.safetensors.index.json",
                            "{\"weight_map\":{\"w\":\"shard.safetensors\"}}");
    // Symbolic links: dangling, a loop, and one to a good file (accepted).
    fs::create_symlink(tmp / "nowhere.safetensors", tmp / "dangling.safetensors");
    fs::create_symlink(tmp / "loop_b.safetensors", tmp / "loop_a.safetensors");
    fs::create_symlink(tmp / "loop_a.safetensors", tmp / "loop_b.safetensors");
    fs::create_symlink(accept, tmp / "link.safetensors");

    const std::vector<fs::path> fifos = {tmp / "fifo.safetensors",
                                         tmp / "fifo_index" / "model.safetensors.index.json",
                                         tmp / "fifo_shard" / "shard.safetensors"};
    struct Runtime {
        fs::path path;
        std::string message;
        std::vector<std::string> commands;
    };
    const std::vector<std::string> all = {"inspect", "quantize", "validate", "dequantize"};
    const std::vector<Runtime> runtime = {
        {tmp / "folder.safetensors", "folder holds no *.safetensors file", all},
        {tmp / "dir_shard", "is a directory, not a file", all},
        {tmp / "fifo.safetensors", "is not a regular file", all},
        {tmp / "fifo_index", "is not a regular file", all},
        {tmp / "fifo_shard", "is not a regular file", all},
        {"/dev/zero", "is not a regular file", all},
        {"/dev/null", "is not a regular file", all},
        {tmp / "dangling.safetensors", "is a dangling symbolic link", all},
        {tmp / "loop_a.safetensors", "Too many levels of symbolic links", all},
        {tmp / "missing.safetensors", "no such file", all},
    };
    for (const auto& rt : runtime) {
        for (const auto& cmd : rt.commands) {
            INFO("non-file " << rt.path << ", " << cmd);
            const auto t0 = std::chrono::steady_clock::now();
            FifoWatchdog watchdog(fifos, std::chrono::seconds(5));
            check_case(cmd, rt.path, 2, rt.message);
            watchdog.stop();
            CHECK_FALSE(watchdog.fired());
            CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
        }
    }
    // A symbolic link to a good checkpoint is followed.
    for (const char* cmd : {"inspect", "quantize"}) {
        INFO("symbolic link to a good file, " << cmd);
        check_case(cmd, tmp / "link.safetensors", 0, "");
    }
    if (::geteuid() != 0) {  // root reads anything
        sutra::test::write_bytes(tmp / "unreadable.safetensors", sutra::test::read_bytes(accept));
        fs::permissions(tmp / "unreadable.safetensors", fs::perms::none);
        for (const char* cmd : {"inspect", "quantize", "validate"}) {
            INFO("unreadable file, " << cmd);
            check_case(cmd, tmp / "unreadable.safetensors", 2, "Permission denied");
        }
    }
}
