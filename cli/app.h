// The chatvault command line: parses arguments into options and calls the
// library. Holds no logic of its own beyond presentation.
//
// Thread-safety: Run is called once, from main.
#ifndef CHATVAULT_CLI_APP_H_
#define CHATVAULT_CLI_APP_H_

namespace chatvault::cli {

// Runs the command line and returns the process exit code.
int Run(int argc, char** argv);

// Makes the process unsuitable for leaking secrets: no core dumps, no
// ptrace attach by other processes of the same user.
void HardenProcess();

}  // namespace chatvault::cli

#endif  // CHATVAULT_CLI_APP_H_
