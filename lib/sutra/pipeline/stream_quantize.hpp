#pragma once
// The streaming, parallel part of `quantize`: every record not yet written is cut into row
// blocks (quantized records: round-to-nearest of the checkpoint's rows) or byte blocks (raw
// records: copied), in file order. `threads` threads (the caller is one of them) read,
// convert, quantize and pack blocks in any order; whichever finishes the block next in file
// order writes it and every ready block after it (pwrite at the planned offsets, and the
// checksums, one writer at a time), so the output is the same for every thread count and
// writing overlaps computing. At most `inflight` blocks exist at once, which bounds memory
// whatever the model size.
#include <cstdint>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/stage_times.hpp"
#include "sutra/plan/plan.hpp"

namespace sutra::pipeline {

struct StreamOptions {
    unsigned threads = 1;             // threads doing all the work, the caller included
    uint64_t block_bytes = 1u << 20;  // f32 bytes of one row block (at least one row)
    unsigned inflight = 0;            // blocks in flight; 0 = 2 * threads + 2
};

// Bytes of memory the stream holds at most for these options and records (buffers only).
uint64_t stream_memory_bound(const std::vector<format::QbinRecord>& records,
                             const StreamOptions& opt);

// Writes records[i] for every i with written[i] false. `records[i]` describes checkpoint
// tensor p.tensors[i].index. Errors are those of the first failing block in file order.
// Progress is reported from the calling thread, counting from `done_before` input bytes.
Status stream_records(const io::Checkpoint& ck, const plan::Plan& p,
                      const std::vector<format::QbinRecord>& records,
                      const std::vector<bool>& written, format::QbinWriter& w,
                      const StreamOptions& opt, StageTimes* times, ProgressObserver* progress,
                      uint64_t done_before = 0);

}  // namespace sutra::pipeline
