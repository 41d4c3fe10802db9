#pragma once
// The .qbin records of one decoder block, for the methods that write a block at a time from
// transformed or rounded weights (AWQ, GPTQ): which record holds each of the seven linears
// and how it is quantized, and the writing of the block's norms and biases.
#include <array>
#include <string>
#include <unordered_map>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/pipeline/awq_block.hpp"

namespace sutra::pipeline {

class BlockRecords {
  public:
    explicit BlockRecords(const std::vector<format::QbinRecord>& records);
    struct Block {
        BlockQuant quant;
        std::array<size_t, 7> record{};  // kBlockLinears order
    };
    Result<Block> block(int layer) const;
    // Writes the block's norms and q/k/v biases from `w` (and marks them written); an error
    // when one of them is planned as quantized (the method changed it and needs it raw).
    Status write_norms_and_biases(const model::BlockWeights& w, format::QbinWriter& writer,
                                  std::vector<bool>& written, const char* method) const;

  private:
    const std::vector<format::QbinRecord>& records_;
    std::unordered_map<std::string, size_t> index_;
};

}  // namespace sutra::pipeline
