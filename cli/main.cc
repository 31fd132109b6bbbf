#include "cli/app.h"

int main(int argc, char** argv) {
  chatvault::cli::HardenProcess();
  return chatvault::cli::Run(argc, argv);
}
