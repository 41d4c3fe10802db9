// How a quantization splits into parts (--part K/N, --part env) and which part runs which
// tensors: contiguous decoder blocks, balanced, the same for every caller.
#include "sutra/parts/part_plan.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <string>

using sutra::parts::assign_parts;
using sutra::parts::block_of;
using sutra::parts::parse_part;
using sutra::parts::PartIndex;

namespace {

sutra::parts::EnvFn env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
        const auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

sutra::format::QbinRecord rec(const std::string& name, uint64_t rows, uint64_t cols) {
    sutra::format::QbinRecord r;
    r.name = name;
    r.dtype = sutra::DType::F16;
    r.shape = {rows, cols};
    return r;
}

}  // namespace

TEST_CASE("parts: --part K/N and --part env", "[parts]") {
    const auto none = env_of({});
    auto p = parse_part("2/4", std::nullopt, none);
    REQUIRE(p.ok());
    CHECK(p->k == 2);
    CHECK(p->n == 4);
    CHECK(parse_part("1/1", std::nullopt, none).ok());
    CHECK(parse_part("4/4", 4, none).ok());
    for (const char* bad : {"0/4", "5/4", "2", "2/", "/4", "a/b", "2/4/1", "-1/4", "2/0", ""}) {
        INFO(bad);
        CHECK_FALSE(parse_part(bad, std::nullopt, none).ok());
    }
    CHECK_FALSE(parse_part("2/4", 3, none).ok());  // --parts disagrees
    CHECK_FALSE(parse_part("env", std::nullopt, none).ok());

    // Slurm: --array=0-3 and --array=1-4 give the same parts.
    auto s0 = parse_part("env", std::nullopt,
                         env_of({{"SLURM_ARRAY_TASK_ID", "0"},
                                 {"SLURM_ARRAY_TASK_MIN", "0"},
                                 {"SLURM_ARRAY_TASK_COUNT", "4"}}));
    REQUIRE(s0.ok());
    CHECK(s0->k == 1);
    CHECK(s0->n == 4);
    auto s4 = parse_part("env", std::nullopt,
                         env_of({{"SLURM_ARRAY_TASK_ID", "4"},
                                 {"SLURM_ARRAY_TASK_MIN", "1"},
                                 {"SLURM_ARRAY_TASK_COUNT", "4"}}));
    REQUIRE(s4.ok());
    CHECK(s4->k == 4);
    CHECK_FALSE(parse_part("env", 3,
                           env_of({{"SLURM_ARRAY_TASK_ID", "1"},
                                   {"SLURM_ARRAY_TASK_MIN", "1"},
                                   {"SLURM_ARRAY_TASK_COUNT", "4"}}))
                    .ok());
    CHECK_FALSE(parse_part("env", std::nullopt,
                           env_of({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}))
                    .ok());

    // Kubernetes: the 0-based completion index, the count from --parts.
    auto k = parse_part("env", 4, env_of({{"JOB_COMPLETION_INDEX", "3"}}));
    REQUIRE(k.ok());
    CHECK(k->k == 4);
    CHECK(k->n == 4);
    auto no_count = parse_part("env", std::nullopt, env_of({{"JOB_COMPLETION_INDEX", "0"}}));
    REQUIRE_FALSE(no_count.ok());
    CHECK_THAT(no_count.error().message, Catch::Contains("--parts"));
    CHECK_FALSE(parse_part("env", 4, env_of({{"JOB_COMPLETION_INDEX", "4"}})).ok());

    CHECK(sutra::parts::part_path("out/m.qbin", PartIndex{3, 8}) == "out/m.qbin.part-3-of-8");
}

TEST_CASE("parts: the block of a tensor", "[parts]") {
    CHECK(block_of("model.layers.12.mlp.up_proj.weight") == 12);
    CHECK(block_of("blocks.0.att.key.weight") == 0);
    CHECK(block_of("rwkv.blocks.3.ffn.value.weight") == 3);
    CHECK(block_of("backbone.layers.23.mixer.in_proj.weight") == 23);
    CHECK(block_of("model.embed_tokens.weight") == -1);
    CHECK(block_of("lm_head.weight") == -1);
    CHECK(block_of("model.norm.weight") == -1);
    CHECK(block_of("w2.weight") == -1);  // not a number by itself
}

TEST_CASE("parts: contiguous blocks, balanced, outside tensors at the ends", "[parts]") {
    std::vector<sutra::format::QbinRecord> rs;
    rs.push_back(rec("model.embed_tokens.weight", 100, 64));
    // Checkpoint order is not block order (names sort as text).
    for (int b : {0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9}) {
        rs.push_back(rec("model.layers." + std::to_string(b) + ".q.weight", 64, 64));
        rs.push_back(rec("model.layers." + std::to_string(b) + ".up.weight", 128, 64));
    }
    rs.push_back(rec("model.norm.weight", 1, 64));
    rs.push_back(rec("lm_head.weight", 100, 64));

    for (size_t n : {1u, 2u, 3u, 4u, 12u}) {
        INFO(n);
        auto split = assign_parts(rs, n);
        REQUIRE(split.ok());
        CHECK(split->front() == 1);  // the embedding with the first part
        CHECK(split->back() == n);   // lm_head with the last
        CHECK((*split)[rs.size() - 2] == n);
        // Both tensors of a block together; blocks in block order over the parts, each part
        // at least one block.
        std::map<int, size_t> of_block;
        for (size_t i = 1; i + 2 < rs.size(); ++i) {
            const int b = block_of(rs[i].name);
            if (of_block.count(b)) CHECK(of_block[b] == (*split)[i]);
            of_block[b] = (*split)[i];
        }
        size_t prev = 1;
        std::map<size_t, int> blocks_in;
        for (const auto& [b, part] : of_block) {
            CHECK(part >= prev);
            CHECK(part <= prev + 1);
            prev = part;
            ++blocks_in[part];
        }
        CHECK(blocks_in.size() == n);
        if (n == 4) {  // 12 equal blocks plus ends of about one block each: 3 or 4 per part
            for (const auto& [part, count] : blocks_in)
                CHECK((count == 3 || count == 2 || count == 4));
        }
        // The same records always give the same split.
        CHECK(assign_parts(rs, n).value() == *split);
    }
    auto too_many = assign_parts(rs, 13);
    REQUIRE_FALSE(too_many.ok());
    CHECK_THAT(too_many.error().message, Catch::Contains("12 decoder blocks"));

    // No blocks: runs of records.
    std::vector<sutra::format::QbinRecord> flat = {rec("a.weight", 10, 10), rec("b.weight", 10, 10),
                                                   rec("c.weight", 10, 10)};
    auto f = assign_parts(flat, 3);
    REQUIRE(f.ok());
    CHECK(*f == std::vector<size_t>{1, 2, 3});
    CHECK_FALSE(assign_parts(flat, 4).ok());
}
