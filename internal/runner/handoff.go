package runner

// The runner is built two ways from the same sources:
//
//   - the default build links every language and runs each in process;
//   - the runner_slim build (the runner image's /usr/local/bin/runner,
//     `make build`'s bin/runner) links only what JSX needs, so that a JSX
//     execution, a few milliseconds of work, does not pay for the
//     initialisation of the SQL parser's tables and protobuf descriptors,
//     the MySQL driver and the rest. For Python and SQL it replaces itself
//     (execve, same PID, same arguments, same environment, before it has
//     read anything from stdin) with FullBinary, the default build, which
//     lies beside it.
//
// handOff is called by parseRun once the language is known and before the
// code is read from stdin: it returns nil when this binary runs lang
// itself and does not return when it hands the execution over.

// FullBinary is the file name of the default build beside a runner_slim
// build.
const FullBinary = "runner-full"

// handOffError means a runner_slim build could not start FullBinary: an
// InternalError of the installation, not of the code.
type handOffError struct{ err error }

func (e *handOffError) Error() string { return e.err.Error() }
func (e *handOffError) Unwrap() error { return e.err }
