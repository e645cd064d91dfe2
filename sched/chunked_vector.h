// ChunkedVector<T>: an array indexed 0..size()-1 that grows in fixed blocks
// of kBlockSize elements.
//
// Growing allocates and fills only the new blocks: an element never moves,
// and no resize touches the elements already there. A std::vector doubling
// past a few hundred thousand elements copies (and page-faults in) megabytes
// at once, which held braidd's loop for milliseconds per per-task array in
// the middle of a large submission. Indexing costs one more load than a
// vector's. Memory is the elements plus at most one partly used block and
// one pointer per block.
//
// Thread-safety: none.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace braid::sched {

template <typename T>
class ChunkedVector final {
 public:
  static constexpr std::size_t kBlockShift = 12;
  static constexpr std::size_t kBlockSize = std::size_t{1} << kBlockShift;  // elements per block

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Requires i < size().
  T& operator[](std::size_t i) { return blocks_[i >> kBlockShift][i & (kBlockSize - 1)]; }
  const T& operator[](std::size_t i) const {
    return blocks_[i >> kBlockShift][i & (kBlockSize - 1)];
  }

  // Grows to `size` elements, the new ones equal to `value`; never shrinks
  // (a smaller `size` changes nothing).
  void grow_to(std::size_t size, const T& value = T{}) {
    if (size <= size_) return;
    // The last block's elements past size_ hold whatever an earlier grow_to gave them.
    for (std::size_t i = size_; i < std::min(size, blocks_.size() * kBlockSize); ++i) {
      (*this)[i] = value;
    }
    while (blocks_.size() * kBlockSize < size) {
      auto block = std::make_unique<T[]>(kBlockSize);
      for (std::size_t i = 0; i < kBlockSize; ++i) block[i] = value;
      blocks_.push_back(std::move(block));
    }
    size_ = size;
  }

 private:
  std::vector<std::unique_ptr<T[]>> blocks_;
  std::size_t size_ = 0;
};

}  // namespace braid::sched
