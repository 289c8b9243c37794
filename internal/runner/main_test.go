package runner

import (
	"testing"

	"github.com/codeexec/codeexec-operator/internal/testutil/netns"
)

// Tests of this package run code (Python attacks among it) only inside a
// private network namespace.
func TestMain(m *testing.M) { netns.Main(m) }
