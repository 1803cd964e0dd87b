// berth: the command-line client. See cli/README.md.
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return berth::cli::RunCli(args, std::cout, std::cerr);
}
