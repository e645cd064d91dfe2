// Second review of issue 9: braidd aborts when a stored submission crosses
// the account limit (check() before the write, submit_as() after it).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

// One `braid submit --file` whose 1000 lines name 1000 new accounts: every
// line passes check() (1 account held), the batch is stored, and admission
// refuses the 1000th new account ("a stored submission no longer fits"):
// braidd calls std::abort(). Expected: either the submission is refused
// whole, or it is admitted; braidd keeps running either way.
TEST(Review9bIt, ASubmissionOfManyNewAccountsDoesNotKillBraidd) {
  Daemon d({"--slots", "1"});
  const std::string file = d.data_dir() + "/accounts.jsonl";
  {
    std::ofstream out(file);
    for (int i = 0; i < 1000; ++i) {
      out << R"({"argv": ["/bin/true"], "hold": true, "account": "u)" << i << "\"}\n";
    }
  }
  const RunResult r = d.cli({"submit", "--file", file});
  const bool died = eventually([&] { return !d.alive(); }, std::chrono::seconds(2));
  EXPECT_FALSE(died) << "braidd died; braid exit " << r.exit_code << " " << r.err << "\nlog:\n"
                     << d.log().substr(d.log().size() > 2000 ? d.log().size() - 2000 : 0);
  if (!died) return;
  // The tasks were stored before the abort, and the restart restores them
  // all (restore() does not check the limit): 1001 accounts, no crash, but
  // the submitter was told nothing was submitted ("cannot reach braidd").
  d.restart();
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["held"], 1000);
}

}  // namespace
}  // namespace braid::testing
