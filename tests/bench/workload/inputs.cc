#include "tests/bench/workload/inputs.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace braid::bench::workload {

namespace {

// xorshift64*: small, fast, the same on every machine.
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

std::vector<std::string> vocabulary(int words) {
  Rng rng(7);
  std::vector<std::string> vocab;
  const char* letters = "etaoinshrdlcumwfgypbvkjxqz";
  for (int i = 0; i < words; ++i) {
    std::string w;
    const int len = 2 + static_cast<int>(rng.below(9));
    // Skewed towards frequent letters, as in prose.
    for (int k = 0; k < len; ++k) w += letters[rng.below(1 + rng.below(26))];
    vocab.push_back(w);
  }
  return vocab;
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

void make_text_files(const std::string& dir, int count, int min_kib, int max_kib) {
  static const std::vector<std::string> vocab = vocabulary(2048);
  for (int i = 0; i < count; ++i) {
    Rng rng(1000 + static_cast<std::uint64_t>(i));
    const std::size_t bytes =
        static_cast<std::size_t>(min_kib + static_cast<int>(rng.below(static_cast<std::uint64_t>(
                                               max_kib - min_kib + 1)))) *
        1024;
    std::string text;
    text.reserve(bytes + 4096);
    // Lines of Zipf-like words; about half repeat a recent line with one word
    // changed, as in logs and prose, so xz finds matches as on real text.
    std::vector<std::string> recent;
    while (text.size() < bytes) {
      std::string line;
      if (!recent.empty() && rng.below(2) == 0) {
        line = recent[rng.below(recent.size())];
        const std::size_t at = line.find(' ', rng.below(line.size()));
        if (at != std::string::npos) line.insert(at + 1, vocab[rng.below(64)] + " ");
      } else {
        const int words = 6 + static_cast<int>(rng.below(10));
        for (int w = 0; w < words; ++w) {
          // The product of two uniforms favours small ranks.
          const std::uint64_t rank =
              rng.below(vocab.size()) * rng.below(vocab.size()) / vocab.size();
          line += rng.below(100) < 4 ? std::to_string(rng.below(100000)) : vocab[rank];
          line += w + 1 < words ? " " : ".";
        }
      }
      text += line + "\n";
      if (recent.size() < 256) {
        recent.push_back(line);
      } else {
        recent[rng.below(recent.size())] = line;
      }
    }
    text.resize(bytes);
    write_file(dir + "/" + std::to_string(i) + ".txt", text);
  }
}

void make_c_sources(const std::string& dir, int count) {
  std::filesystem::create_directories(dir + "/src");
  std::filesystem::create_directories(dir + "/obj");
  for (int i = 0; i < count; ++i) {
    Rng rng(5000 + static_cast<std::uint64_t>(i));
    std::string c =
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\n"
        "#include <stdint.h>\n#include <ctype.h>\n#include <errno.h>\n#include <time.h>\n"
        "#include <unistd.h>\n#include <sys/types.h>\n#include <sys/stat.h>\n#include <fcntl.h>\n"
        "\nstruct rec_" +
        std::to_string(i) + " { int id; double weight; char name[32]; struct rec_" +
        std::to_string(i) + " *next; };\n\n";
    const int functions = 4 + static_cast<int>(rng.below(5));
    for (int f = 0; f < functions; ++f) {
      const std::string name = "f" + std::to_string(i) + "_" + std::to_string(f);
      const unsigned a = static_cast<unsigned>(rng.below(97) + 3);
      const unsigned b = static_cast<unsigned>(rng.below(31) + 2);
      char body[2048];
      std::snprintf(
          body, sizeof(body),
          "static double %s_helper(const double *v, size_t n) {\n"
          "  double acc = 0.0;\n"
          "  for (size_t k = 0; k < n; ++k) {\n"
          "    acc += sin(v[k] * %u.0) / (1.0 + fabs(v[k]));\n"
          "    if (k %% %u == 0) acc = sqrt(fabs(acc)) + v[k];\n"
          "  }\n"
          "  return acc;\n"
          "}\n\n"
          "int %s(struct rec_%d *head, const char *text, int mode) {\n"
          "  int count = 0;\n"
          "  double values[64];\n"
          "  for (int k = 0; k < 64; ++k) values[k] = (double)(k * %u %% 17);\n"
          "  for (struct rec_%d *r = head; r != NULL; r = r->next) {\n"
          "    switch ((r->id + mode) %% 5) {\n"
          "      case 0: r->weight += %s_helper(values, 64); break;\n"
          "      case 1: count += (int)strlen(r->name); break;\n"
          "      case 2: snprintf(r->name, sizeof r->name, \"%%d-%%s\", r->id, text); break;\n"
          "      case 3: r->weight = strtod(text, NULL) * %u; break;\n"
          "      default: if (isalpha((unsigned char)text[0])) count += toupper(text[0]);\n"
          "    }\n"
          "    if (r->weight > 1e6) { errno = ERANGE; return -1; }\n"
          "  }\n"
          "  for (int k = 0; text[k] != '\\0' && k < 1024; ++k) {\n"
          "    if (isdigit((unsigned char)text[k])) count = count * 10 + (text[k] - '0');\n"
          "    else if (text[k] == '%c') count ^= k << (k %% %u);\n"
          "  }\n"
          "  return count + (int)(time(NULL) %% %u);\n"
          "}\n\n",
          name.c_str(), a, b, name.c_str(), i, a, i, name.c_str(), b,
          static_cast<char>('a' + rng.below(26)), b, a);
      c += body;
    }
    c += "int main_" + std::to_string(i) + "(int argc, char **argv) {\n  int total = 0;\n";
    for (int f = 0; f < functions; ++f) {
      c += "  total += f" + std::to_string(i) + "_" + std::to_string(f) +
           "(NULL, argc > 1 ? argv[1] : \"x\", " + std::to_string(f) + ");\n";
    }
    c += "  return total;\n}\n";
    write_file(dir + "/src/" + std::to_string(i) + ".c", c);
  }
}

std::string write_job_script(const std::string& dir, const std::string& body) {
  const std::string path = dir + "/job.sh";
  write_file(path, "cd '" + dir + "' || exit 1\n" + body + "\n");
  return path;
}

}  // namespace braid::bench::workload
