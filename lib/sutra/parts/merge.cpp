#include "sutra/parts/merge.hpp"

#include <chrono>
#include <map>

#include "sutra/base/checksum.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/parts/part_file.hpp"

namespace sutra::parts {
namespace {

constexpr uint64_t kCopyBytes = 4u << 20;

std::string part_name(PartIndex p) {
    return "part " + std::to_string(p.k) + " of " + std::to_string(p.n);
}

}  // namespace

Result<MergeReport> merge_parts(const MergeOptions& opt) {
    const auto t0 = std::chrono::steady_clock::now();
    if (opt.parts.empty()) return make_error(Errc::invalid_argument, "merge: no part files given");
    std::vector<PartFile> parts;
    for (const auto& path : opt.parts) {
        SUTRA_ASSIGN(PartFile p, open_part_file(path));
        parts.push_back(std::move(p));
    }
    // One run, each part once, none missing.
    const PartFile& first = parts.front();
    std::map<size_t, size_t> by_k;
    for (size_t i = 0; i < parts.size(); ++i) {
        const PartFile& p = parts[i];
        if (p.run_id != first.run_id || p.run.index.n != first.run.index.n)
            return make_error(Errc::invalid_argument,
                              p.path.string() + " (" + part_name(p.run.index) +
                                  ") comes from another run than " + first.path.string() + " (" +
                                  part_name(first.run.index) +
                                  "): another model, other options or another number of parts; "
                                  "merge the parts of one run");
        if (auto [it, fresh] = by_k.emplace(p.run.index.k, i); !fresh)
            return make_error(Errc::invalid_argument,
                              p.path.string() + " and " + parts[it->second].path.string() +
                                  " are both " + part_name(p.run.index) + "; give each part once");
    }
    const size_t n = first.run.index.n;
    for (size_t k = 1; k <= n; ++k)
        if (!by_k.count(k))
            return make_error(Errc::invalid_argument,
                              part_name({k, n}) + " is missing (" +
                                  part_path(opt.output, {k, n}).filename().string() +
                                  "): run `sutra quantize ... --part " + std::to_string(k) + "/" +
                                  std::to_string(n) + "` and give it too");

    // The records with every part's checksums; where each record's bytes lie in its part.
    std::vector<format::QbinRecord> records = first.run.records;
    std::vector<size_t> owner(records.size(), 0);
    std::vector<uint64_t> at(records.size(), 0);
    for (const auto& p : parts) {
        uint64_t offset = p.data_offset;
        for (size_t r = 0; r < records.size(); ++r) {
            if (!p.run.ours[r]) continue;
            owner[r] = by_k[p.run.index.k];
            at[r] = offset;
            records[r].xxh3 = p.run.records[r].xxh3;
            for (const auto& t : format::stored_tensors(records[r]))
                offset += t.nbytes;
        }
    }

    std::vector<std::filesystem::path> inputs(opt.parts.begin(), opt.parts.end());
    SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(opt.output, opt.force, inputs));
    SUTRA_ASSIGN(format::QbinWriter w,
                 format::QbinWriter::begin(std::move(out), records, first.run.extra));
    std::vector<uint8_t> buf;
    for (size_t r = 0; r < records.size(); ++r) {
        const PartFile& p = parts[owner[r]];
        uint64_t offset = at[r];
        const auto stored = format::stored_tensors(records[r]);
        for (size_t s = 0; s < stored.size(); ++s) {
            Hasher h;
            for (uint64_t done = 0; done < stored[s].nbytes;) {
                const uint64_t len = std::min(kCopyBytes, stored[s].nbytes - done);
                buf.resize(len);
                SUTRA_TRY(p.file.read_at(offset + done, buf));
                h.update(buf);
                SUTRA_TRY(w.append(r, s, buf));
                done += len;
            }
            offset += stored[s].nbytes;
            if (h.digest() != records[r].xxh3[s])
                return make_error(Errc::invalid_argument,
                                  p.path.string() + " is damaged: the bytes of '" +
                                      records[r].stored[s] +
                                      "' do not match its checksum; quantize " +
                                      part_name(p.run.index) + " again");
        }
    }
    for (const auto& p : parts)
        SUTRA_TRY(p.file.check_unchanged());
    SUTRA_TRY(w.finish());
    MergeReport rep;
    rep.output = opt.output.string();
    rep.parts = parts.size();
    rep.records = records.size();
    rep.output_bytes = w.file_size();
    rep.run = first.run_id;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

}  // namespace sutra::parts
