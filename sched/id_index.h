// IdIndex: task id -> TaskKey, a hash index that grows in steps.
//
// A std::unordered_map relinks every entry at once when it grows: at 2^18
// ids that held braidd's loop ~0.1 s in the middle of a submission. IdIndex
// keeps two maps instead. When the one that takes inserts (`fill_`) reaches
// its load limit, it becomes the draining map and an empty map with buckets
// for twice its entries takes the inserts; every later insert moves
// kMovesPerInsert entries from the draining map over (node handles: no
// allocation, the id is not copied). The draining map is empty long before
// the new one reaches its own limit, so no insert does more than
// O(kMovesPerInsert) work plus one bucket array allocation at a step. That
// allocation is zeroed, so the insert that begins a step is O(n) after all,
// though cheap per id: 2 ms at 173k ids, 15 ms at 713k, 51 ms at 2.9M (review
// measurement); sharding the index would divide it.
// Lookups and erases look in both maps.
//
// Any id can be indexed (local "<node>:<seq>" ids and ids adopted from
// peers alike). Memory is that of one unordered_map, plus, while a step is
// under way, the draining map's bucket array.
//
// Thread-safety: none (one owner, like the torus).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sched/types.h"

namespace braid::sched {

class IdIndex final {
 public:
  // Entries moved to the growing map per insert while a step is under way.
  static constexpr std::size_t kMovesPerInsert = 8;

  // Adds id -> key; false (and no change) if the id is already indexed.
  bool insert(std::string id, TaskKey key);
  std::optional<TaskKey> find(std::string_view id) const;
  // False if the id was not indexed.
  bool erase(std::string_view id);
  std::size_t size() const { return fill_.size() + draining_.size(); }
  // Room for `ids` entries in all without a step; finishes a step under way
  // (O(size), meant before restoring many tasks).
  void reserve(std::size_t ids);
  // A step is under way: entries are still being moved to the larger map.
  bool growing() const { return !draining_.empty(); }

 private:
  using Map = std::unordered_map<std::string, TaskKey>;
  void move_some(std::size_t count);  // from draining_ to fill_

  Map fill_;      // takes inserts
  Map draining_;  // the map fill_ was before the last step; emptied by inserts
};

}  // namespace braid::sched
