#include "node/spec_file.h"

#include <gtest/gtest.h>

#include <sstream>

namespace braid::node {
namespace {

using sched::TaskSpec;

TaskSpec parsed(std::string_view line) {
  auto spec = spec_from_json_line(line);
  EXPECT_TRUE(spec.ok()) << line << ": " << (spec ? "" : spec.error().message);
  return spec ? spec.value() : TaskSpec{};
}

std::string refusal(std::string_view line) {
  auto spec = spec_from_json_line(line);
  EXPECT_FALSE(spec.ok()) << line;
  return spec ? "" : spec.error().message;
}

std::string file_refusal(const std::string& text) {
  std::istringstream in(text);
  auto specs = read_spec_lines(in, "tasks.jsonl");
  EXPECT_FALSE(specs.ok()) << text;
  return specs ? "" : specs.error().message;
}

TEST(SpecFile, EveryFieldReachesTheSpec) {
  TaskSpec s = parsed(
      R"({"argv": ["make", "-j2"], "name": "build", "priority": 7, "cpus": 2,
          "memory": 1048576, "after": ["n:1", "n:2"], "retries": 3, "retry_backoff": "2s",
          "time_limit": "1.5m", "cwd": "/src", "env": ["A=1", "B=x=y"], "pin": true})");
  EXPECT_EQ(s.argv, (std::vector<std::string>{"make", "-j2"}));
  EXPECT_EQ(s.name, "build");
  EXPECT_EQ(s.priority, 7);
  EXPECT_EQ(s.cpus, 2);
  EXPECT_EQ(s.memory_bytes, 1048576u);
  EXPECT_EQ(s.after, (std::vector<std::string>{"n:1", "n:2"}));
  EXPECT_EQ(s.retries, 3);
  EXPECT_EQ(s.retry_backoff_us, 2'000'000);
  EXPECT_EQ(s.time_limit_us, 90'000'000);
  EXPECT_EQ(s.cwd, "/src");
  EXPECT_EQ(s.env, (std::vector<std::string>{"A=1", "B=x=y"}));
  EXPECT_TRUE(s.pinned);
}

TEST(SpecFile, MissingFieldsKeepTheFlagDefaults) {
  TaskSpec s = parsed(R"({"argv": ["true"]})");
  TaskSpec defaults;
  EXPECT_EQ(s.priority, defaults.priority);
  EXPECT_EQ(s.cpus, defaults.cpus);
  EXPECT_EQ(s.memory_bytes, 0u);
  EXPECT_EQ(s.retries, 0);
  EXPECT_EQ(s.retry_backoff_us, defaults.retry_backoff_us);
  EXPECT_EQ(s.time_limit_us, 0);
  EXPECT_FALSE(s.pinned);
  EXPECT_TRUE(s.env.empty());
}

TEST(SpecFile, RequeueOnRestartIsYesNoOrTheNodesDefault) {
  EXPECT_EQ(parsed(R"({"argv": ["x"]})").requeue_on_restart, sched::RequeueOnRestart::kNodeDefault);
  EXPECT_EQ(parsed(R"({"argv": ["x"], "requeue_on_restart": true})").requeue_on_restart,
            sched::RequeueOnRestart::kYes);
  EXPECT_EQ(parsed(R"({"argv": ["x"], "requeue_on_restart": false})").requeue_on_restart,
            sched::RequeueOnRestart::kNo);
  EXPECT_EQ(refusal(R"({"argv": ["x"], "requeue_on_restart": 1})"),
            "requeue_on_restart must be true or false, got 1");
}

TEST(SpecFile, CmdRunsThroughTheShell) {
  TaskSpec s = parsed(R"({"cmd": "echo $HOME | wc -c"})");
  EXPECT_EQ(s.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo $HOME | wc -c"}));
}

TEST(SpecFile, MemoryTakesBytesOrTheSizesOfMemoryFlag) {
  EXPECT_EQ(parsed(R"({"argv": ["x"], "memory": "512M"})").memory_bytes, 512ull << 20);
  EXPECT_EQ(parsed(R"({"argv": ["x"], "memory": "2G"})").memory_bytes, 2ull << 30);
  EXPECT_EQ(parsed(R"({"argv": ["x"], "memory": "4kb"})").memory_bytes, 4096u);
  EXPECT_EQ(parsed(R"({"argv": ["x"], "memory": "100"})").memory_bytes, 100u);
  EXPECT_EQ(parsed(R"({"argv": ["x"], "memory": 0})").memory_bytes, 0u);
  EXPECT_EQ(refusal(R"({"argv": ["x"], "memory": -1})"),
            R"(memory must be bytes (an integer >= 0) or a size like "512M", got -1)");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "memory": 1.5})"),
            R"(memory must be bytes (an integer >= 0) or a size like "512M", got 1.5)");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "memory": "1.5G"})"),
            R"(memory must be bytes (an integer >= 0) or a size like "512M", got "1.5G" )"
            "(Value 1.5 could not be converted to UINT)");
}

TEST(SpecFile, EnvTakesAnObjectOrKeyValueStrings) {
  TaskSpec s = parsed(R"({"argv": ["x"], "env": {"B": "2", "A": "x=1"}})");
  EXPECT_EQ(s.env, (std::vector<std::string>{"A=x=1", "B=2"}));
  EXPECT_EQ(refusal(R"({"argv": ["x"], "env": {"A": 1}})"), "env.A must be a string, got 1");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "env": {"A=B": "1"}})"),
            R"(env key "A=B" must be non-empty and have no '=')");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "env": ["NOEQUALS"]})"),
            R"(env entry "NOEQUALS" must look like KEY=VALUE)");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "env": "A=1"})"),
            R"(env must be an object {"KEY": "VALUE"} or an array of "KEY=VALUE", got "A=1")");
}

TEST(SpecFile, UnknownFieldsAreNamedWithTheAllowedOnes) {
  EXPECT_EQ(refusal(R"({"argv": ["x"], "prio": 3})"),
            "unknown field \"prio\" (allowed: argv, cmd, name, priority, cpus, memory, after, "
            "retries, retry_backoff, time_limit, cwd, env, pin, requeue_on_restart, after_any, "
            "after_fail, hold, output, separate_stderr, account)");
  // A misspelt argv is reported as unknown, not as a missing command.
  EXPECT_EQ(refusal(R"({"args": ["x"]})").rfind("unknown field \"args\"", 0), 0u);
}

TEST(SpecFile, ExactlyOneOfArgvAndCmd) {
  EXPECT_EQ(refusal(R"({"name": "x"})"),
            R"(needs "argv" (an array of strings) or "cmd" (a shell command line))");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "cmd": "x"})"), R"(give either "argv" or "cmd", not both)");
  EXPECT_EQ(refusal(R"({"argv": []})"), "argv must be a non-empty array of strings, got []");
  EXPECT_EQ(refusal(R"({"argv": "ls -l"})"),
            R"(argv must be an array of strings (non-empty), got "ls -l")");
  EXPECT_EQ(refusal(R"({"argv": ["ls", 3]})"), "argv[1] must be a string, got 3");
  EXPECT_EQ(refusal(R"({"argv": [""]})"), "argv must name a program to run, got nothing");
  EXPECT_EQ(refusal(R"({"cmd": ""})"), R"(cmd must be a non-empty shell command line, got "")");
  EXPECT_EQ(refusal(R"({"cmd": ["ls"]})"), R"(cmd must be a string, got ["ls"])");
}

TEST(SpecFile, WrongTypesSayWhatIsAllowed) {
  EXPECT_EQ(refusal(R"({"argv": ["x"], "priority": "5"})"),
            R"(priority must be an integer 0..10, got "5")");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "priority": 5.5})"),
            "priority must be an integer 0..10, got 5.5");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "cpus": true})"),
            "cpus must be an integer at least 1, got true");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "retries": null})"),
            "retries must be an integer 0..100, got null");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "name": 7})"), "name must be a string, got 7");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "cwd": ["/"]})"), R"(cwd must be a string, got ["/"])");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "after": "n:1"})"),
            R"(after must be an array of task ids, got "n:1")");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "pin": 1})"), "pin must be true or false, got 1");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "time_limit": 30})"),
            R"(time_limit must be a duration string like "30s", got 30)");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "retry_backoff": 2})"),
            R"(retry_backoff must be a duration string like "2s", got 2)");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "name": "a\u0000b"})"),
            "name contains a NUL byte, which no program can receive");
}

TEST(SpecFile, BadValuesUseTheSpecRules) {
  EXPECT_EQ(refusal(R"({"argv": ["x"], "priority": 11})"), "priority must be 0..10, got 11");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "priority": 100000000000})"),
            "priority must be 0..10, got 100000000000");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "cpus": 0})"), "cpus must be at least 1, got 0");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "retries": 101})"), "retries must be 0..100, got 101");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "time_limit": "5 minutes"})"),
            "time_limit: invalid duration \"5 minutes\": use a number and a unit (us, ms, s, m, "
            "h), e.g. 10ms");
  EXPECT_EQ(refusal(R"({"argv": ["x"], "retry_backoff": "2h"})"),
            "retry_backoff must be 0s..1h, got 2h");
}

TEST(SpecFile, LineMustBeAJsonObject) {
  EXPECT_EQ(refusal(R"({"argv": ["x"])"),
            "not JSON: column 15: syntax error while parsing object - unexpected end of input; "
            "expected '}'");
  EXPECT_EQ(refusal(R"(["x"])"),
            R"(each line must be a JSON object {"argv": [...], ...}, got ["x"])");
}

TEST(SpecFile, FileSkipsBlankAndCommentLines) {
  std::istringstream in(
      "# tasks for tonight\n"
      "\n"
      "{\"argv\": [\"a\"]}\r\n"
      "   # indented comment\n"
      "  \t \n"
      "{\"cmd\": \"b\", \"priority\": 1}\n"
      "{\"argv\": [\"c\"]}");  // no final newline
  auto specs = read_spec_lines(in, "tasks.jsonl");
  ASSERT_TRUE(specs.ok()) << specs.error().message;
  ASSERT_EQ(specs.value().size(), 3u);
  EXPECT_EQ(specs.value()[0].argv, (std::vector<std::string>{"a"}));
  EXPECT_EQ(specs.value()[1].priority, 1);
  EXPECT_EQ(specs.value()[2].argv, (std::vector<std::string>{"c"}));
}

TEST(SpecFile, FileErrorsNameTheSourceAndLine) {
  EXPECT_EQ(file_refusal("{\"argv\": [\"a\"]}\n\n{\"argv\": [\"a\"], \"priority\": 11}\n"),
            "tasks.jsonl:3: priority must be 0..10, got 11");
  EXPECT_EQ(file_refusal("# one\n{\"argv\": [\"a\"], \"prio\": 1}\n"),
            "tasks.jsonl:2: unknown field \"prio\" (allowed: argv, cmd, name, priority, cpus, "
            "memory, after, retries, retry_backoff, time_limit, cwd, env, pin, requeue_on_restart, "
            "after_any, after_fail, hold, output, separate_stderr, account)");
  EXPECT_EQ(file_refusal("{\"argv\": [\"a\"]}\nargv=a\n").rfind("tasks.jsonl:2: not JSON: ", 0),
            0u);
  EXPECT_EQ(file_refusal(""), "no tasks in tasks.jsonl");
  EXPECT_EQ(file_refusal("# only comments\n\n"), "no tasks in tasks.jsonl");
}

TEST(SpecFile, FileRefusesMoreThanOneSubmissionHolds) {
  std::string text;
  for (std::size_t i = 0; i < kBatchTasksMax; ++i) text += "{\"argv\": [\"true\"]}\n";
  {
    std::istringstream in(text);
    auto specs = read_spec_lines(in, "big.jsonl");
    ASSERT_TRUE(specs.ok());
    EXPECT_EQ(specs.value().size(), kBatchTasksMax);
  }
  text += "# a comment\n{\"argv\": [\"true\"]}\n";
  std::istringstream in(text);
  auto specs = read_spec_lines(in, "big.jsonl");
  ASSERT_FALSE(specs.ok());
  EXPECT_EQ(specs.error().message,
            "big.jsonl:100002: more than 100000 tasks; one submission holds at most 100000: "
            "split the file");
}

TEST(SpecFile, ArrayReplacesBracesWithTheIndex) {
  TaskSpec pattern;
  pattern.argv = {"render", "--frame={}", "out/{}/{}.png", "plain"};
  pattern.name = "frame-{}";
  pattern.cwd = "/work/{}";
  pattern.env = {"FRAME={}", "X{}=keep-key"};
  pattern.after = {"n:{}"};
  pattern.priority = 2;
  auto specs = expand_array(pattern, 12);
  ASSERT_TRUE(specs.ok());
  ASSERT_EQ(specs.value().size(), 12u);
  const TaskSpec& s = specs.value()[11];
  EXPECT_EQ(s.argv, (std::vector<std::string>{"render", "--frame=11", "out/11/11.png", "plain"}));
  EXPECT_EQ(s.name, "frame-11");
  EXPECT_EQ(s.cwd, "/work/11");
  EXPECT_EQ(s.env, (std::vector<std::string>{"FRAME=11", "X{}=keep-key"}));
  EXPECT_EQ(s.after, (std::vector<std::string>{"n:{}"}));  // ids are not patterns
  EXPECT_EQ(s.priority, 2);
  EXPECT_EQ(specs.value()[0].argv[1], "--frame=0");
  EXPECT_EQ(specs.value()[0].array_index, 0);
  EXPECT_EQ(s.array_index, 11);
}

TEST(SpecFile, OutputFields) {
  const TaskSpec s = parsed(R"({"argv": ["x"], "output": "o/%j.log", "separate_stderr": true})");
  EXPECT_EQ(s.output, "o/%j.log");
  EXPECT_TRUE(s.separate_stderr);
  EXPECT_EQ(parsed(R"({"argv": ["x"]})").array_index, -1);
  EXPECT_EQ(refusal(R"({"argv": ["x"], "separate_stderr": "yes"})"),
            R"(separate_stderr must be true or false, got "yes")");
}

TEST(SpecFile, Account) {
  EXPECT_EQ(parsed(R"({"argv": ["x"], "account": "lab-2"})").account, "lab-2");
  EXPECT_EQ(parsed(R"({"argv": ["x"]})").account, "");
  EXPECT_NE(refusal(R"({"argv": ["x"], "account": "a b"})").find("A-Z a-z 0-9 . _ -"),
            std::string::npos);
}

TEST(SpecFile, ArrayCountIsBounded) {
  TaskSpec pattern;
  pattern.argv = {"true"};
  EXPECT_EQ(expand_array(pattern, 1).value().size(), 1u);
  EXPECT_EQ(expand_array(pattern, 100'000).value().size(), 100'000u);
  EXPECT_EQ(expand_array(pattern, 0).error().message,
            "--array must be 1..100000, got 0 (one submission holds at most 100000 tasks)");
  EXPECT_EQ(expand_array(pattern, 100'001).error().message,
            "--array must be 1..100000, got 100001 (one submission holds at most 100000 tasks)");
}

std::vector<TaskSpec> echoes(std::size_t count, std::size_t arg_bytes) {
  TaskSpec spec;
  spec.argv = {"echo", std::string(arg_bytes, 'a')};
  return std::vector<TaskSpec>(count, spec);
}

std::vector<long long> indices(std::string_view text) {
  auto array = parse_array(text);
  EXPECT_TRUE(array.ok()) << text << ": " << (array ? "" : array.error().message);
  return array ? array.value().indices : std::vector<long long>{};
}

std::string array_refusal(std::string_view text) {
  auto array = parse_array(text);
  EXPECT_FALSE(array.ok()) << text;
  return array ? "" : array.error().message;
}

TEST(SpecFileArray, SlurmSyntax) {
  EXPECT_EQ(indices("3"), (std::vector<long long>{0, 1, 2}));  // the plain count of old
  EXPECT_EQ(indices("1-5"), (std::vector<long long>{1, 2, 3, 4, 5}));
  EXPECT_EQ(indices("0-20:5"), (std::vector<long long>{0, 5, 10, 15, 20}));
  EXPECT_EQ(indices("0-99:5").size(), 20u);
  EXPECT_EQ(indices("1,3,7-9"), (std::vector<long long>{1, 3, 7, 8, 9}));
  EXPECT_EQ(indices("7-9,1,3,8"), (std::vector<long long>{1, 3, 7, 8, 9}));  // sorted, distinct
  EXPECT_EQ(indices("4-4"), (std::vector<long long>{4}));
  EXPECT_EQ(indices("1-100").size(), 100u);
  auto throttled = parse_array("1-1000%4");
  ASSERT_TRUE(throttled.ok());
  EXPECT_EQ(throttled.value().indices.size(), 1000u);
  EXPECT_EQ(throttled.value().throttle, 4u);
  EXPECT_EQ(parse_array("5%2").value().throttle, 2u);
  EXPECT_EQ(parse_array("1-5").value().throttle, 0u);
}

TEST(SpecFileArray, BadSyntaxNamesWhatIsAllowed) {
  const std::string allowed =
      "; use N (indices 0..N-1), ranges and lists like 1-100, 0-99:5 or 1,3,7-9 (indices "
      "0..9999999), with an optional throttle %K, e.g. 1-1000%4";
  EXPECT_EQ(array_refusal("x"), "--array \"x\": \"x\" is not an index or a range" + allowed);
  EXPECT_EQ(array_refusal("5-1"), "--array \"5-1\": a range must go up" + allowed);
  EXPECT_EQ(array_refusal("1-5%0"),
            "--array \"1-5%0\": the throttle after % must be 1..100000" + allowed);
  EXPECT_EQ(array_refusal("0"), "--array \"0\": a count must be 1..100000" + allowed);
  EXPECT_FALSE(array_refusal("1-10:0").empty());
  EXPECT_FALSE(array_refusal("1,,2").empty());
  EXPECT_FALSE(array_refusal("1,").empty());
  EXPECT_FALSE(array_refusal("%4").empty());
  EXPECT_FALSE(array_refusal("-3").empty());
  EXPECT_FALSE(array_refusal("1-2-3").empty());
  EXPECT_FALSE(array_refusal("0-10000000").empty());
  EXPECT_FALSE(array_refusal("0-200000").empty());  // more tasks than one submission holds
}

TEST(SpecFileArray, TasksCarryTheirIndexAndThrottle) {
  TaskSpec pattern;
  pattern.argv = {"echo", "{}"};
  pattern.name = "job-{}";
  auto specs = expand_array(pattern, parse_array("2,5-6%2").value());
  ASSERT_TRUE(specs.ok());
  ASSERT_EQ(specs.value().size(), 3u);
  EXPECT_EQ(specs.value()[1].argv[1], "5");
  EXPECT_EQ(specs.value()[1].name, "job-5");
  EXPECT_EQ(specs.value()[1].array_index, 5);
  EXPECT_EQ(specs.value()[2].array_index, 6);
  EXPECT_EQ(specs.value()[0].array_throttle, 2u);
  EXPECT_EQ(expand_array(pattern, 2).value()[1].array_index, 1);
  EXPECT_EQ(expand_array(pattern, 2).value()[1].array_throttle, 0u);
}

TEST(SpecFile, DependencyKindsAndHold) {
  TaskSpec s = parsed(
      R"({"argv": ["true"], "after": ["n:1"], "after_any": ["n:2"], "after_fail": ["n:3", "n:4"],)"
      R"( "hold": true})");
  EXPECT_EQ(s.after, (std::vector<std::string>{"n:1", "n:2", "n:3", "n:4"}));
  EXPECT_EQ(s.after_kinds,
            (std::vector<sched::DepKind>{sched::DepKind::kOk, sched::DepKind::kAny,
                                         sched::DepKind::kFail, sched::DepKind::kFail}));
  EXPECT_TRUE(s.hold);
  EXPECT_TRUE(parsed(R"({"argv": ["true"], "after": ["n:1"]})").after_kinds.empty());
  EXPECT_EQ(refusal(R"({"argv": ["true"], "hold": 1})"), "hold must be true or false, got 1");
}

TEST(SpecFile, FullBatchesOfSmallTasksFitOneMessage) {
  EXPECT_TRUE(check_submit_size(echoes(kBatchTasksMax, 0)).ok());
  EXPECT_TRUE(check_submit_size(echoes(kBatchTasksMax, 400)).ok());
  EXPECT_TRUE(check_submit_size(echoes(1, 100'000)).ok());
}

TEST(SpecFile, BatchesPastTheDaemonsReadLimitAreRefused) {
  // 100000 tasks with a 700-byte argument are beyond braidd's 8 Mi words.
  EXPECT_EQ(check_submit_size(echoes(kBatchTasksMax, 700)).error().message,
            "these 100000 tasks are too large for one submission: about 84 MiB where braidd "
            "reads at most 64 MiB per message; split them into smaller files or --array counts");
  TaskSpec huge;
  huge.argv = std::vector<std::string>(600, std::string(128 * 1024, 'x'));
  EXPECT_EQ(check_submit_size({huge}).error().message,
            "the task is too large to submit: about 76 MiB where braidd reads at most 64 MiB "
            "per message; shorten its argv and env");
}

TEST(SpecFile, ConsecutiveIdsOfOneNodePrintAsARange) {
  std::vector<std::string> ids;
  for (int i = 5; i <= 1004; ++i) ids.push_back("node:" + std::to_string(i));
  EXPECT_EQ(format_ids(ids), "node:5..node:1004\n");
  EXPECT_EQ(format_ids({"a:b:9", "a:b:10"}), "a:b:9..a:b:10\n");  // node names may hold ':'
}

TEST(SpecFile, OtherIdsPrintOnePerLine) {
  EXPECT_EQ(format_ids({"n:7"}), "n:7\n");
  EXPECT_EQ(format_ids({}), "");
  EXPECT_EQ(format_ids({"n:1", "n:3"}), "n:1\nn:3\n");      // a gap
  EXPECT_EQ(format_ids({"n:2", "n:1"}), "n:2\nn:1\n");      // descending
  EXPECT_EQ(format_ids({"n:1", "m:2"}), "n:1\nm:2\n");      // two nodes
  EXPECT_EQ(format_ids({"n:09", "n:10"}), "n:09\nn:10\n");  // not canonical numbers
  EXPECT_EQ(format_ids({"x", "y"}), "x\ny\n");              // not node:seq
}

}  // namespace
}  // namespace braid::node
