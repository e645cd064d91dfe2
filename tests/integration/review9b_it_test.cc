// Second review of issue 9: the account limit is applied before a submission
// is stored, counting the new accounts of the whole submission, so what is
// stored is always admitted (braidd used to abort: "a stored submission no
// longer fits").
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

std::string accounts_file(const Daemon& d, const std::string& name, int first, int count) {
  const std::string file = d.data_dir() + "/" + name;
  std::ofstream out(file);
  for (int i = first; i < first + count; ++i) {
    out << R"({"argv": ["/bin/true"], "hold": true, "account": "u)" << i << "\"}\n";
  }
  return file;
}

TEST(Review9bIt, OneSubmissionOfManyNewAccountsIsAdmittedWholeOrRefusedWhole) {
  Daemon d({"--slots", "1"});
  // The default account is always held: 999 more fit. 1000 new accounts in
  // one file: refused whole, nothing stored.
  const RunResult over = d.cli({"submit", "--file", accounts_file(d, "over.jsonl", 0, 1000)});
  EXPECT_EQ(over.exit_code, 2) << over.out << over.err;
  EXPECT_NE(over.err.find("at most 1000"), std::string::npos) << over.err;
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["held"], 0);
  // 999: admitted whole; one more new account is then refused.
  const RunResult fits = d.cli({"submit", "--file", accounts_file(d, "fits.jsonl", 0, 999)});
  EXPECT_EQ(fits.exit_code, 0) << fits.err;
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["held"], 999);
  const RunResult more = d.cli({"submit", "--file", accounts_file(d, "more.jsonl", 999, 1)});
  EXPECT_EQ(more.exit_code, 2) << more.err;
  // Accounts already held are still welcome.
  const RunResult again = d.cli({"submit", "--file", accounts_file(d, "again.jsonl", 0, 3)});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  d.kill9();
  d.restart();
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["held"], 1002);
}

}  // namespace
}  // namespace braid::testing
