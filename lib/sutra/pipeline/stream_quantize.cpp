#include "sutra/pipeline/stream_quantize.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "sutra/pipeline/tensor_writer.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {
namespace {

struct Job {
    size_t record = 0;
    uint64_t begin = 0;  // first row (quantized) or byte (raw)
    uint64_t count = 0;  // rows or bytes
    uint64_t input_bytes = 0;
};

uint64_t rows_per_block(const quant::QuantLayout& l, uint64_t block_bytes) {
    return std::max<uint64_t>(1, block_bytes / (l.cols * 4));
}

std::vector<Job> make_jobs(const io::Checkpoint& ck, const plan::Plan& p,
                           const std::vector<format::QbinRecord>& records,
                           const std::vector<bool>& written, uint64_t block_bytes) {
    std::vector<Job> jobs;
    for (size_t i = 0; i < records.size(); ++i) {
        if (written[i]) continue;
        const auto& t = ck.tensors()[p.tensors[i].index];
        if (records[i].quantized) {
            const auto& l = records[i].layout;
            const uint64_t step = rows_per_block(l, block_bytes);
            const uint64_t row_bytes = t.nbytes / l.rows;
            for (uint64_t r = 0; r < l.rows; r += step) {
                const uint64_t n = std::min(step, l.rows - r);
                jobs.push_back({i, r, n, n * row_bytes});
            }
        } else {
            const uint64_t step = std::max<uint64_t>(block_bytes, 1);
            if (t.nbytes == 0) jobs.push_back({i, 0, 0, 0});
            for (uint64_t b = 0; b < t.nbytes; b += step) {
                const uint64_t n = std::min(step, t.nbytes - b);
                jobs.push_back({i, b, n, n});
            }
        }
    }
    return jobs;
}

// A worker's reusable buffer: the stored bytes of one row block.
struct Scratch {
    std::vector<uint8_t> raw;
};

Status run_job(const io::Checkpoint& ck, const io::TensorRef& t, const format::QbinRecord& r,
               const Job& job, Scratch& s, PackedBlock& out, StageTimes* times) {
    if (!r.quantized) {
        out.parts[0].resize(job.count);
        ScopedStage st(times, Stage::read);
        return ck.read_raw(t, job.begin, out.parts[0]);
    }
    simd::RowFormat format = simd::RowFormat::f32;
    if (t.dtype == DType::F16)
        format = simd::RowFormat::f16;
    else if (t.dtype == DType::BF16)
        format = simd::RowFormat::bf16;
    else if (t.dtype != DType::F32)
        return make_error(Errc::unsupported, "tensor '" + t.name + "': dtype " +
                                                 std::string(dtype_name(t.dtype)) +
                                                 " cannot be quantized");
    const uint64_t row_bytes = r.layout.cols * dtype_size(t.dtype);
    s.raw.resize(job.count * row_bytes);
    {
        ScopedStage st(times, Stage::read);
        SUTRA_TRY(ck.read_raw(t, job.begin * row_bytes, s.raw));
    }
    return quantize_rows(r, job.begin, job.count, s.raw.data(), format, out, times);
}

// One slot of the ring of blocks in flight.
struct Slot {
    size_t job = SIZE_MAX;  // the job whose result this holds, once ready
    bool ready = false;
    Status status;
    PackedBlock block;
};

}  // namespace

uint64_t stream_memory_bound(const std::vector<format::QbinRecord>& records,
                             const StreamOptions& opt) {
    uint64_t widest = 0;  // the largest single row, which a block holds at least
    for (const auto& r : records)
        if (r.quantized) widest = std::max(widest, r.layout.cols * 4);
    const uint64_t block = std::max(opt.block_bytes, widest);
    const unsigned threads = std::max(opt.threads, 1u);
    const unsigned inflight = opt.inflight ? opt.inflight : 2 * threads + 2;
    // Per worker: the block's stored bytes (at most its f32 size) and the packed block it fills;
    // per slot, and for the writer, one packed block (at most the f32 block's size for a raw
    // copy).
    return threads * 2 * block + (inflight + 1) * block;
}

Status stream_records(const io::Checkpoint& ck, const plan::Plan& p,
                      const std::vector<format::QbinRecord>& records,
                      const std::vector<bool>& written, format::QbinWriter& w,
                      const StreamOptions& opt, StageTimes* times, ProgressObserver* progress,
                      uint64_t done_before) {
    const std::vector<Job> jobs = make_jobs(ck, p, records, written, opt.block_bytes);
    const unsigned threads = std::max(opt.threads, 1u);
    const size_t inflight = opt.inflight ? opt.inflight : 2 * threads + 2;
    std::vector<Slot> slots(inflight);
    std::mutex m;
    std::condition_variable cv;
    size_t next_job = 0;    // next job a thread takes
    size_t next_write = 0;  // next job to be written
    bool writing = false;   // a thread is writing (one at a time, in job order)
    bool stop = false;
    Status result;
    std::atomic<uint64_t> done{done_before};
    std::vector<StageTimes> thread_times(threads);

    // Every thread computes blocks; whichever finishes the block that is next in file order
    // writes it, and every ready block after it, while the others go on computing.
    auto write_ready = [&](std::unique_lock<std::mutex>& lock, StageTimes* t) {
        writing = true;
        PackedBlock block;
        while (!stop && next_write < jobs.size()) {
            Slot& slot = slots[next_write % inflight];
            if (!(slot.ready && slot.job == next_write)) break;
            Status st = std::move(slot.status);
            std::swap(slot.block, block);
            slot.ready = false;
            const Job& job = jobs[next_write];
            lock.unlock();
            if (st.ok()) {
                ScopedStage timer(t, Stage::write);
                const size_t parts = records[job.record].quantized ? 3 : 1;
                for (size_t k = 0; k < parts && st.ok(); ++k)
                    st = w.append(job.record, k, block.parts[k]);
            }
            lock.lock();
            if (!st.ok()) {
                stop = true;
                result = std::move(st);
            } else {
                done += job.input_bytes;
                ++next_write;
            }
            std::swap(slot.block, block);  // hand the buffers back for reuse
        }
        writing = false;
        cv.notify_all();
    };

    auto work = [&](unsigned id, bool report) {
        Scratch s;
        PackedBlock block;
        StageTimes* t = times ? &thread_times[id] : nullptr;
        std::unique_lock lock(m);
        for (;;) {
            cv.wait(lock, [&] {
                return stop || next_job >= jobs.size() || next_job < next_write + inflight;
            });
            if (stop || next_job >= jobs.size()) break;
            const size_t j = next_job++;
            lock.unlock();
            const Job& job = jobs[j];
            const auto& r = records[job.record];
            Status st;
            try {
                st = run_job(ck, ck.tensors()[p.tensors[job.record].index], r, job, s, block, t);
            } catch (const std::bad_alloc&) {
                st =
                    make_error(Errc::too_large, "out of memory quantizing tensor '" + r.name + "'");
            }
            lock.lock();
            Slot& slot = slots[j % inflight];
            slot.job = j;
            slot.ready = true;
            slot.status = std::move(st);
            std::swap(slot.block, block);
            if (!writing) write_ready(lock, t);
            if (report && progress) {
                const uint64_t d = done.load();
                lock.unlock();
                progress->on_progress(r.name, d);
                lock.lock();
            }
        }
        // The last blocks: wait until they are written (or writing stopped).
        while (!stop && next_write < jobs.size()) {
            if (!writing) {
                write_ready(lock, t);
                if (stop || next_write >= jobs.size()) break;
            }
            cv.wait(lock);
        }
    };

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i)
        pool.emplace_back(work, i, false);
    work(0, true);  // the calling thread is one of the workers, and reports progress
    {
        std::lock_guard lock(m);
        stop = true;
    }
    cv.notify_all();
    for (auto& th : pool)
        th.join();
    if (times)
        for (const auto& t : thread_times)
            times->merge(t);
    return result;
}

}  // namespace sutra::pipeline
