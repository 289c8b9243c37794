package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// BenchmarkControllerVsPlainJobs times 500 CodeExecutions until their 500
// Jobs exist against a plain client creating 500 equivalent Jobs, on the
// same API server, and prints both and the ratio. It asserts nothing.
//
//	make bench-controller
func BenchmarkControllerVsPlainJobs(b *testing.B) {
	const n = 500
	ctx := context.Background()
	for range b.N {
		nsCX := newNamespaceB(b)
		start := time.Now()
		for i := range n {
			ce := wrappers.MakeCodeExecution(fmt.Sprintf("bench-%d", i), nsCX).Obj()
			if err := k8s.Create(ctx, ce); err != nil {
				b.Fatal(err)
			}
		}
		created := time.Since(start)
		for {
			var jobs batchv1.JobList
			if err := k8s.List(ctx, &jobs, client.InNamespace(nsCX)); err != nil {
				b.Fatal(err)
			}
			if len(jobs.Items) == n {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		viaController := time.Since(start)

		nsPlain := newNamespaceB(b)
		start = time.Now()
		for i := range n {
			ce := wrappers.MakeCodeExecution(fmt.Sprintf("plain-%d", i), nsPlain).UID(fmt.Sprintf("uid-%d", i)).Obj()
			l := controllers.ResolveLimits(ce.Spec.Limits, controllers.BuiltinDefaults())
			job := controllers.BuildJob(ce, l, controllers.DefaultJobOptions())
			if err := k8s.Create(ctx, job); err != nil {
				b.Fatal(err)
			}
		}
		plain := time.Since(start)
		ratio := viaController.Seconds() / plain.Seconds()
		fmt.Printf("bench-controller: %d CodeExecutions -> %d Jobs: %v (creates took %v); %d plain Job creates: %v; ratio %.2f (target <= 1.3)\n",
			n, n, viaController.Round(time.Millisecond), created.Round(time.Millisecond), n, plain.Round(time.Millisecond), ratio)
		b.ReportMetric(ratio, "ratio")
	}
}

func newNamespaceB(b *testing.B) string {
	b.Helper()
	t := &testing.T{}
	ns := newNamespace(t, nil)
	if t.Failed() {
		b.Fatal("creating a namespace failed")
	}
	return ns
}
