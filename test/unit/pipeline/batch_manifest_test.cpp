// The `sutra quantize --batch` manifest: JSON Lines of {"model", "output", "args"}; every
// malformed line refused with its line number before anything runs.
#include "sutra/pipeline/batch_manifest.hpp"

#include <catch2/catch.hpp>
#include <string>

using sutra::pipeline::parse_batch_manifest;

TEST_CASE("batch manifest: jobs in order, blank lines skipped, args as given", "[batch]") {
    const std::string text =
        "{\"model\": \"a/model\", \"output\": \"a.qbin\"}\n"
        "\n"
        "  \r\n"
        "{\"output\": \"b.qbin\", \"model\": \"b.safetensors\", \"args\": [\"--bits\", \"3\", "
        "\"--group-size\", \"64\"]}\r\n"
        "{\"model\": \"c\", \"output\": \"c.gguf\", \"args\": []}";
    auto jobs = parse_batch_manifest(text, "m.jsonl");
    REQUIRE(jobs.ok());
    REQUIRE(jobs->size() == 3);
    CHECK((*jobs)[0].line == 1);
    CHECK((*jobs)[0].model == "a/model");
    CHECK((*jobs)[0].output == "a.qbin");
    CHECK((*jobs)[0].args.empty());
    CHECK((*jobs)[1].line == 4);
    CHECK((*jobs)[1].model == "b.safetensors");
    CHECK((*jobs)[1].args == std::vector<std::string>{"--bits", "3", "--group-size", "64"});
    CHECK((*jobs)[2].line == 5);
    CHECK((*jobs)[2].output == "c.gguf");
}

TEST_CASE("batch manifest: a bad line is refused with its number and what is wrong", "[batch]") {
    const std::string good = "{\"model\": \"m\", \"output\": \"o\"}\n";
    const auto refused = [&](const std::string& bad, const std::string& words) {
        auto r = parse_batch_manifest(good + bad + "\n" + good, "jobs.jsonl");
        INFO(bad);
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("jobs.jsonl line 2"));
        CHECK_THAT(r.error().message, Catch::Contains(words));
    };
    refused("{\"model\": \"m\"", "");  // not JSON
    refused("[\"m\", \"o\"]", "not a JSON object");
    refused("{\"output\": \"o\"}", "no \"model\"");
    refused("{\"model\": \"m\"}", "no \"output\"");
    refused("{\"model\": 3, \"output\": \"o\"}", "\"model\" is not a string");
    refused("{\"model\": \"\", \"output\": \"o\"}", "\"model\" is empty");
    refused("{\"model\": \"m\", \"output\": \"o\", \"args\": \"--bits 4\"}", "not an array");
    refused("{\"model\": \"m\", \"output\": \"o\", \"args\": [\"--bits\", 4]}", "every entry");
    refused("{\"model\": \"m\", \"output\": \"o\", \"bits\": 4}", "unknown key \"bits\"");
    refused("{\"model\": \"m\", \"model\": \"n\", \"output\": \"o\"}", "");  // duplicate key
}

TEST_CASE("batch manifest: empty, too many jobs, too many args, too large", "[batch]") {
    CHECK_FALSE(parse_batch_manifest("", "m").ok());
    CHECK_FALSE(parse_batch_manifest("\n\n  \n", "m").ok());
    sutra::pipeline::BatchManifestLimits small;
    small.max_jobs = 2;
    small.max_args = 2;
    const std::string job = "{\"model\": \"m\", \"output\": \"o\"}\n";
    CHECK(parse_batch_manifest(job + job, "m", small).ok());
    auto many = parse_batch_manifest(job + job + job, "m", small);
    REQUIRE_FALSE(many.ok());
    CHECK_THAT(many.error().message, Catch::Contains("line 3"));
    auto args = parse_batch_manifest(
        "{\"model\": \"m\", \"output\": \"o\", \"args\": [\"a\", \"b\", \"c\"]}", "m", small);
    REQUIRE_FALSE(args.ok());
    CHECK_THAT(args.error().message, Catch::Contains("more than 2"));
    small.max_bytes = 10;
    CHECK_FALSE(parse_batch_manifest(job, "m", small).ok());
}
