//go:build !runner_slim

package runner

import (
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/codeexec/codeexec-operator/internal/endpoint"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// checkDSNEndpoint refuses, before any connection, a DSN whose host:port
// is not among allowed: the endpoints the ExecutionPolicy declares for the
// datasource Secret, which travel in the task. nil (the command line)
// checks nothing; a task always carries a list, and an empty one allows
// nothing. The address checked is the one the driver dials (ParseDSN
// fills in its defaults); neither the DSN nor the password appears in the
// message.
func checkDSNEndpoint(dsn string, allowed []string) *result.ExecutionResult {
	if allowed == nil {
		return nil
	}
	refuse := func(msg string) *result.ExecutionResult {
		r := result.Failure(result.InvalidInput, msg)
		return &r
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return refuse("the DSN file does not hold a valid DSN (user:password@tcp(host:port)/db)")
	}
	if cfg.Net != "tcp" && cfg.Net != "tcp4" && cfg.Net != "tcp6" {
		return refuse(fmt.Sprintf("the DSN's network is %q; a sandbox reaches a database only over tcp, at an endpoint the ExecutionPolicy declares", cfg.Net))
	}
	ep, err := endpoint.Address(cfg.Addr)
	if err != nil {
		return refuse("the DSN's " + err.Error())
	}
	if !endpoint.Allowed(ep, allowed) {
		list := strings.Join(allowed, ", ")
		if list == "" {
			list = "none"
		}
		return refuse(fmt.Sprintf("the DSN's host:port %s is not an endpoint the ExecutionPolicy declares for this datasource (declared: %s)", ep, list))
	}
	return nil
}
