package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// SandboxOptions configure `runner sandbox`.
type SandboxOptions struct {
	// Config is the execution, as for `runner run`.
	Config Config
	// Socket is the judge's Unix socket.
	Socket string
	// ConnectTimeout bounds the wait for the judge's socket.
	ConnectTimeout time.Duration
}

// Sandbox connects to the judge, then runs the code and sends the one
// ExecutionResult line over that connection. The connection is made
// before any code runs, so it is the judge's first (and only accepted)
// one. When the judge goes away, the run is cancelled.
func Sandbox(ctx context.Context, o SandboxOptions) error {
	// The code runs as this uid: keep this process's memory, file
	// descriptors (the connection) and environment out of its reach.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	conn, err := dialJudge(ctx, o.Socket, o.ConnectTimeout)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The judge never writes: a read returns only when it closed the
		// connection (it decided without us) or exited.
		_, _ = io.Copy(io.Discard, conn)
		cancel()
	}()
	res := Run(ctx, o.Config)
	if _, err := conn.Write(append(result.Encode(res), '\n')); err != nil {
		return fmt.Errorf("sending the result to the judge: %w", err)
	}
	return conn.CloseWrite()
}

// dialJudge connects to the judge's socket, waiting for it to appear.
func dialJudge(ctx context.Context, path string, d time.Duration) (*net.UnixConn, error) {
	deadline := time.Now().Add(d)
	for {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			return conn, nil
		}
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("connecting to the judge at %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the judge's socket %s did not appear within %s: %w", path, d, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
