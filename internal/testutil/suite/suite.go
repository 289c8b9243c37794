// Package suite holds what the integration (envtest) and end-to-end
// suites share: polling a condition until a deadline.
package suite

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Eventually polls cond every interval (immediately first) until it
// returns nil, and fails the test with cond's last error once timeout has
// passed. It polls through wait.PollUntilContextTimeout, so that a
// condition is judged on what it returns, not on how fast the machine is.
func Eventually(t testing.TB, interval, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), interval, timeout, true, func(context.Context) (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, last)
	}
}
