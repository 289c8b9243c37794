package runner

// The judge and the sandbox: the two roles of the runner in a Python Pod.
//
// The user's code and the process that decides its verdict must not share
// a uid or a PID namespace, or the code can signal, prlimit, ptrace or
// pre-empt the judge (docs/pod-boundary.md has the threat model). In a Pod
// they are two containers with two uids:
//
//   - the judge (`runner judge`, container "runner", the one whose log and
//     termination message the controller reads) listens on a Unix socket in
//     an emptyDir that only it can write (the sandbox mounts it read-only),
//     accepts exactly one connection, reads one bounded report under its own
//     wall clock, validates it, decides the verdict, prints it and writes
//     the termination summary;
//   - the sandbox (`runner sandbox`, container "sandbox", another uid)
//     connects before it starts any user code, runs the code exactly as
//     `runner run` does (pyexec: rlimits, the code's own wall clock, the
//     kernel's exit status and CPU accounting as the parent sees them) and
//     sends the one ExecutionResult line over that connection.
//
// The code can kill or stop its supervisor in the sandbox container (same
// uid); it cannot write into the supervisor's connection (the socket is
// close-on-exec and the supervisor is not dumpable, so neither
// /proc/<pid>/fd, pidfd_getfd nor ptrace reach it), and the judge accepts
// only the first connection, made before the code existed. So the code can
// end its own run but cannot choose its verdict: a report that never comes
// is the judge's Timeout (its own clock) or RuntimeError (the sandbox
// stopped without reporting), and a report that comes is checked (size,
// UTF-8, JSON, a known reason, a Timeout only after the judge's clock saw
// the timeout pass).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// JudgeOptions configure `runner judge`.
type JudgeOptions struct {
	// Config holds the limits of the task (Timeout, MaxOutputBytes,
	// MaxStreamBytes, NoWallClock); the judge runs no code.
	Config Config
	// Socket is the path of the Unix socket the judge listens on, in a
	// directory the sandbox can reach but not write.
	Socket string
	// ConnectTimeout bounds the wait for the sandbox's connection.
	ConnectTimeout time.Duration
	// ReportGrace is added to the timeout for the report to arrive (the
	// sandbox's own wall clock ends the code at the timeout).
	ReportGrace time.Duration
}

// Defaults of the judge. The report grace stays under the Job's default
// deadline grace (15 s), so that the judge, not activeDeadlineSeconds,
// reports a run that never ends. The wait for the sandbox's connection
// counts no time of the code's (its clock starts at the connection) and is
// long: kubelet starts the sandbox container after the judge's, and on a
// loaded node that took more than 8 s (20 Pods starting at once on two
// cores). A sandbox that never connects is ended by the Job's deadline
// first, under the default grace; the bound only keeps a judge whose Pod
// has no deadline from waiting forever.
const (
	DefaultConnectTimeout = 2 * time.Minute
	DefaultReportGrace    = 4 * time.Second
)

// maxReportLine bounds the sandbox's report: the result, both streams with
// the worst JSON escaping (\u00XX, 6 bytes per byte), and the rest.
func maxReportLine(c Config) int64 {
	return c.MaxOutputBytes + 12*c.MaxStreamBytes + 64<<10
}

// Judge waits for the sandbox's one report and returns the verdict. It
// never runs code and never returns without an ExecutionResult.
func Judge(ctx context.Context, o JudgeOptions) result.ExecutionResult {
	c := o.Config.WithDefaults()
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ReportGrace <= 0 {
		o.ReportGrace = DefaultReportGrace
	}
	_ = os.Remove(o.Socket)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: o.Socket, Net: "unix"})
	if err != nil {
		return result.Failure(result.InternalError, fmt.Sprintf("judge: listening on %s: %v", o.Socket, err))
	}
	l.SetUnlinkOnClose(true)
	defer func() { _ = l.Close() }()
	// connect(2) needs write permission on the socket; the sandbox runs as
	// another uid. Its directory is read-only to the sandbox, so the
	// sandbox can neither replace nor remove the socket.
	if err := os.Chmod(o.Socket, 0o666); err != nil {
		return result.Failure(result.InternalError, fmt.Sprintf("judge: %v", err))
	}

	conn, err := acceptOne(ctx, l, o.ConnectTimeout)
	if err != nil {
		return result.Failure(result.InternalError, "judge: "+err.Error())
	}
	start := time.Now()
	defer func() { _ = conn.Close() }()
	_ = l.Close() // one connection only: the one made before any code ran

	if err := checkPeer(conn); err != nil {
		return result.Failure(result.InternalError, "judge: "+err.Error())
	}
	var deadline time.Time
	if !c.NoWallClock {
		deadline = start.Add(c.Timeout + o.ReportGrace)
	}
	line, rerr := readReport(ctx, conn, maxReportLine(c), deadline)
	elapsed := time.Since(start)
	res := verdict(c, line, rerr, elapsed)
	res.DurationMillis = elapsed.Milliseconds()
	return res
}

// acceptOne accepts the first connection on l within d.
func acceptOne(ctx context.Context, l *net.UnixListener, d time.Duration) (*net.UnixConn, error) {
	if err := l.SetDeadline(time.Now().Add(d)); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = l.SetDeadline(time.Now()) })
	defer stop()
	conn, err := l.AcceptUnix()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stopped before the sandbox connected: %w", ctx.Err())
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("the sandbox did not connect within %s", d)
		}
		return nil, fmt.Errorf("accepting the sandbox's connection: %w", err)
	}
	return conn, nil
}

// checkPeer refuses a sandbox that runs as the judge's own uid: then the
// code could signal and prlimit the judge, and the boundary this role
// exists for would be gone. A Pod built by the controller never does this.
func checkPeer(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("reading the sandbox's credentials: %w", cerr)
	}
	if int(cred.Uid) == os.Getuid() || cred.Uid == 0 {
		return fmt.Errorf("the sandbox runs as uid %d, which must be neither root nor the judge's uid %d", cred.Uid, os.Getuid())
	}
	return nil
}

// errReportTooLarge: the sandbox sent more than the judge reads.
var errReportTooLarge = errors.New("report too large")

// readReport reads one line of at most max bytes before deadline (zero:
// none).
func readReport(ctx context.Context, conn *net.UnixConn, max int64, deadline time.Time) ([]byte, error) {
	if !deadline.IsZero() {
		if err := conn.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReaderSize(io.LimitReader(conn, max+1), 64<<10)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if int64(len(line)) > max {
			return nil, errReportTooLarge
		}
		if err == nil {
			return bytes.TrimSuffix(line, []byte("\n")), nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return line, err
	}
}

// verdict decides the result from the report (or its absence) and what
// the judge saw itself.
func verdict(c Config, line []byte, rerr error, elapsed time.Duration) result.ExecutionResult {
	var ne net.Error
	switch {
	case errors.Is(rerr, errReportTooLarge):
		return result.Failure(result.OutputLimitExceeded, fmt.Sprintf("the sandbox's report is over %d bytes", maxReportLine(c)))
	case errors.Is(rerr, context.Canceled) || errors.Is(rerr, context.DeadlineExceeded):
		// The kubelet stopped the Pod (SIGTERM, see SignalContext): the
		// execution was cancelled, which is not a fault of the runner.
		return result.Failure(result.RuntimeError, "the execution was cancelled: the judge was stopped before the sandbox reported ("+rerr.Error()+")")
	case errors.As(rerr, &ne) && ne.Timeout():
		return result.Failure(result.Timeout, fmt.Sprintf("no result within the timeout of %s (the judge's clock)", c.Timeout))
	case rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, syscall.ECONNRESET):
		return result.Failure(result.InternalError, fmt.Sprintf("reading the sandbox's report: %v", rerr))
	case rerr != nil:
		// EOF before a whole line: the supervisor died (the code can kill
		// it, it shares its uid) or stopped mid-report.
		return result.Failure(result.RuntimeError, "the sandbox stopped before it reported a result (the code ended its own supervisor, or it was killed)")
	}
	res, err := checkReport(c, line)
	if err != nil {
		return result.Failure(result.RuntimeError, "the sandbox's report was refused: "+err.Error())
	}
	if res.Reason == result.Timeout && elapsed < c.Timeout {
		return result.Failure(result.RuntimeError, fmt.Sprintf("the sandbox reported a timeout after %s, before the timeout of %s", elapsed.Round(time.Millisecond), c.Timeout))
	}
	return res
}

// checkReport parses and bounds one ExecutionResult line from the sandbox.
func checkReport(c Config, line []byte) (result.ExecutionResult, error) {
	var res result.ExecutionResult
	if !utf8.Valid(line) {
		return res, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		return res, fmt.Errorf("not an ExecutionResult: %v", err)
	}
	if dec.More() {
		return res, errors.New("trailing data after the ExecutionResult")
	}
	if !result.IsRunnerReason(res.Reason) {
		return res, fmt.Errorf("unknown reason %q", result.TruncateUTF8(string(res.Reason), 64))
	}
	if res.Succeeded != (res.Reason == result.Completed) {
		return res, fmt.Errorf("succeeded=%t with reason %s", res.Succeeded, res.Reason)
	}
	if res.Result != nil && !json.Valid(res.Result) {
		return res, errors.New("the result is not JSON")
	}
	if int64(len(res.Result)) > c.MaxOutputBytes {
		return result.Failure(result.OutputLimitExceeded, fmt.Sprintf("the result is over the limit of %d bytes", c.MaxOutputBytes)), nil
	}
	for _, s := range []*string{&res.Stdout, &res.Stderr} {
		if int64(len(*s)) > c.MaxStreamBytes {
			*s = result.TruncateUTF8(*s, int(c.MaxStreamBytes))
			res.Truncated = true
		}
	}
	res.Message = strings.ToValidUTF8(res.Message, "\uFFFD")
	return res, nil
}
