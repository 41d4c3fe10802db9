#include "sutra/parts/part_plan.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace sutra::parts {
namespace {

std::optional<size_t> parse_count(std::string_view s) {
    size_t v = 0;
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, v);
    if (ec != std::errc() || p != end || s.empty()) return std::nullopt;
    return v;
}

constexpr size_t kMaxParts = 100000;

Result<size_t> env_count(const EnvFn& env, const char* name) {
    const char* v = env(name);
    if (!v) return make_error(Errc::not_found, std::string(name) + " is not set");
    auto n = parse_count(v);
    if (!n)
        return make_error(Errc::invalid_argument,
                          std::string(name) + "=\"" + v + "\" is not a whole number");
    return *n;
}

Status check_index(PartIndex p, const std::string& from) {
    if (p.n == 0 || p.n > kMaxParts)
        return make_error(Errc::invalid_argument,
                          from + ": the number of parts must be 1 to " + std::to_string(kMaxParts));
    if (p.k == 0 || p.k > p.n)
        return make_error(Errc::invalid_argument, from + ": part " + std::to_string(p.k) +
                                                      " is not one of 1.." + std::to_string(p.n));
    return {};
}

uint64_t record_bytes(const format::QbinRecord& r) {
    uint64_t n = dtype_size(r.dtype);
    for (uint64_t d : r.shape)
        n *= d;
    return n;
}

// Cuts weights w[0..m) into n contiguous non-empty runs, the k-th ending where the running
// sum comes closest to k/n of the total; returns the end (exclusive) of each run.
std::vector<size_t> balanced_cuts(const std::vector<uint64_t>& w, size_t n) {
    const size_t m = w.size();
    std::vector<long double> cum(m + 1, 0);
    for (size_t i = 0; i < m; ++i)
        cum[i + 1] = cum[i] + static_cast<long double>(w[i]);
    std::vector<size_t> ends;
    size_t prev = 0;
    for (size_t k = 1; k < n; ++k) {
        const long double target =
            cum[m] * static_cast<long double>(k) / static_cast<long double>(n);
        const size_t lo = prev + 1, hi = m - (n - k);
        size_t best = lo;
        for (size_t e = lo; e <= hi; ++e) {
            const long double d = cum[e] > target ? cum[e] - target : target - cum[e];
            const long double b = cum[best] > target ? cum[best] - target : target - cum[best];
            if (d < b) best = e;
            if (cum[e] > target) break;
        }
        ends.push_back(best);
        prev = best;
    }
    ends.push_back(m);
    return ends;
}

}  // namespace

Result<PartIndex> parse_part(std::string_view text, std::optional<size_t> parts, const EnvFn& env) {
    if (text == "env") {
        if (env("SLURM_ARRAY_TASK_ID")) {
            SUTRA_ASSIGN(const size_t id, env_count(env, "SLURM_ARRAY_TASK_ID"));
            SUTRA_ASSIGN(const size_t count, env_count(env, "SLURM_ARRAY_TASK_COUNT"));
            size_t min = 0;
            if (env("SLURM_ARRAY_TASK_MIN")) {
                SUTRA_ASSIGN(min, env_count(env, "SLURM_ARRAY_TASK_MIN"));
            }
            if (id < min)
                return make_error(Errc::invalid_argument,
                                  "--part env: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN");
            PartIndex p{id - min + 1, count};
            if (parts && *parts != count)
                return make_error(Errc::invalid_argument,
                                  "--parts " + std::to_string(*parts) +
                                      " but the Slurm array has " + std::to_string(count) +
                                      " tasks (SLURM_ARRAY_TASK_COUNT); submit it with "
                                      "--array=1-" +
                                      std::to_string(*parts));
            SUTRA_TRY(check_index(p, "--part env (Slurm array: task " + std::to_string(id) +
                                         " from " + std::to_string(min) + ", " +
                                         std::to_string(count) + " tasks)"));
            return p;
        }
        if (env("JOB_COMPLETION_INDEX")) {
            SUTRA_ASSIGN(const size_t index, env_count(env, "JOB_COMPLETION_INDEX"));
            if (!parts)
                return make_error(Errc::invalid_argument,
                                  "--part env on a Kubernetes Indexed Job needs --parts N (the "
                                  "Job's completions): JOB_COMPLETION_INDEX gives only the index");
            PartIndex p{index + 1, *parts};
            SUTRA_TRY(check_index(p, "--part env (JOB_COMPLETION_INDEX=" + std::to_string(index) +
                                         ", --parts " + std::to_string(*parts) + ")"));
            return p;
        }
        return make_error(Errc::invalid_argument,
                          "--part env: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor "
                          "JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; give --part "
                          "K/N instead");
    }
    const size_t slash = text.find('/');
    const auto k =
        slash == std::string_view::npos ? std::nullopt : parse_count(text.substr(0, slash));
    const auto n =
        slash == std::string_view::npos ? std::nullopt : parse_count(text.substr(slash + 1));
    if (!k || !n)
        return make_error(Errc::invalid_argument,
                          "--part \"" + std::string(text) +
                              "\": expected K/N (part K of N, from 1, e.g. 2/4) or env");
    const PartIndex p{*k, *n};
    SUTRA_TRY(check_index(p, "--part " + std::string(text)));
    if (parts && *parts != p.n)
        return make_error(
            Errc::invalid_argument,
            "--parts " + std::to_string(*parts) + " does not match --part " + std::string(text));
    return p;
}

std::filesystem::path part_path(const std::filesystem::path& output, PartIndex p) {
    std::filesystem::path out = output;
    out += ".part-" + std::to_string(p.k) + "-of-" + std::to_string(p.n);
    return out;
}

int block_of(std::string_view tensor) {
    size_t start = 0;
    while (start <= tensor.size()) {
        size_t end = tensor.find('.', start);
        if (end == std::string_view::npos) end = tensor.size();
        const std::string_view c = tensor.substr(start, end - start);
        if (!c.empty() && c.size() <= 6 &&
            std::all_of(c.begin(), c.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
            return static_cast<int>(*parse_count(c));
        start = end + 1;
    }
    return -1;
}

int last_block(const std::vector<format::QbinRecord>& records, const std::vector<bool>* only,
               int all) {
    if (!only) return all;
    int last = -1;
    for (size_t i = 0; i < records.size(); ++i)
        if ((*only)[i]) last = std::max(last, block_of(records[i].name));
    return last;
}

Result<std::vector<size_t>> assign_parts(const std::vector<format::QbinRecord>& records, size_t n) {
    if (n == 0) return make_error(Errc::invalid_argument, "parts: at least one part");
    std::vector<size_t> part(records.size(), 0);
    // Blocks in ascending order, each with its weight; outside tensors before the first block
    // record (`head`) and after it (`tail`).
    std::map<int, uint64_t> blocks;
    uint64_t head = 0, tail = 0;
    bool seen_block = false;
    for (const auto& r : records) {
        const int b = block_of(r.name);
        if (b >= 0) {
            blocks[b] += record_bytes(r);
            seen_block = true;
        } else {
            (seen_block ? tail : head) += record_bytes(r);
        }
    }
    if (blocks.empty()) {  // no blocks: runs of records
        if (records.size() < n)
            return make_error(Errc::invalid_argument,
                              "--part: the model has " + std::to_string(records.size()) +
                                  " tensors and no decoder blocks; use at most " +
                                  std::to_string(records.size()) + " parts");
        std::vector<uint64_t> w;
        for (const auto& r : records)
            w.push_back(record_bytes(r));
        const auto ends = balanced_cuts(w, n);
        size_t i = 0;
        for (size_t k = 0; k < n; ++k)
            for (; i < ends[k]; ++i)
                part[i] = k + 1;
        return part;
    }
    if (blocks.size() < n)
        return make_error(Errc::invalid_argument,
                          "--part: the model has " + std::to_string(blocks.size()) +
                              " decoder blocks, and every part needs at least one; use at most " +
                              std::to_string(blocks.size()) + " parts");
    std::vector<int> ids;
    std::vector<uint64_t> w;
    for (const auto& [b, bytes] : blocks) {
        ids.push_back(b);
        w.push_back(bytes);
    }
    w.front() += head;
    w.back() += tail;
    const auto ends = balanced_cuts(w, n);
    std::map<int, size_t> part_of_block;
    size_t i = 0;
    for (size_t k = 0; k < n; ++k)
        for (; i < ends[k]; ++i)
            part_of_block[ids[i]] = k + 1;
    seen_block = false;
    for (size_t r = 0; r < records.size(); ++r) {
        const int b = block_of(records[r].name);
        if (b >= 0) seen_block = true;
        part[r] = b >= 0 ? part_of_block[b] : (seen_block ? n : 1);
    }
    return part;
}

}  // namespace sutra::parts
