package integration

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
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
		apiCalls.reset()
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
		time.Sleep(2 * time.Second) // the status writes that follow the creates
		printCalls("bench-controller: manager API calls per execution, create to Job", apiCalls.reset(), n)

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

// printCalls prints the manager's API calls per execution, by kind.
func printCalls(what string, counts map[string]int, n int) {
	total := 0
	keys := make([]string, 0, len(counts))
	for k, v := range counts {
		total += v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(counts[k])/float64(n)))
	}
	fmt.Printf("%s: %.2f (%s)\n", what, float64(total)/float64(n), strings.Join(parts, ", "))
}

// BenchmarkQueueDrain creates 1,000 executions in one namespace under a
// concurrency cap of 10 and drains the queue by deleting each running
// execution's Job (which ends it as PodFailed and frees its slot). It
// prints the drain time, whether the executions started in FIFO order,
// and the manager's status writes and API calls per execution. It asserts
// nothing.
//
//	go test ./test/integration/ -run '^$' -bench BenchmarkQueueDrain -benchtime 1x
func BenchmarkQueueDrain(b *testing.B) {
	const n, cap = 1000, 10
	ctx := context.Background()
	for range b.N {
		tt := &testing.T{}
		ns, _ := newPolicy(tt, fmt.Sprintf("bench-queue-%d", time.Now().UnixNano()%100000), execv1.ExecutionPolicySpec{MaxConcurrentExecutions: ptr.To(int32(cap))})
		var names []string
		for i := range n {
			ce := wrappers.MakeCodeExecution(fmt.Sprintf("q-%04d", i), ns).Obj()
			if err := k8s.Create(ctx, ce); err != nil {
				b.Fatal(err)
			}
			names = append(names, ce.Name)
		}
		apiCalls.reset()
		start := time.Now()
		var order []string
		seen := map[string]bool{}
		maxRunning := 0
		for done := 0; done < n; {
			var list execv1.CodeExecutionList
			if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
			done, running := 0, 0
			for i := range list.Items {
				ce := &list.Items[i]
				c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
				finished := c != nil && c.Status != metav1.ConditionUnknown
				if ce.Status.JobUID != "" && !seen[ce.Name] {
					seen[ce.Name] = true
					order = append(order, ce.Name)
				}
				if finished {
					done++
					continue
				}
				if ce.Status.JobUID != "" {
					running++
					job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ce.Status.JobName}}
					_ = k8s.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
				}
			}
			maxRunning = max(maxRunning, running)
			if done == n {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		drain := time.Since(start)
		fifo := 0
		for i := 1; i < len(order); i++ {
			if order[i] < order[i-1] {
				fifo++
			}
		}
		fmt.Printf("bench-queue: %d executions, cap %d: drained in %v; %d started out of FIFO order (by poll, 50 ms resolution); at most %d seen running\n",
			n, cap, drain.Round(time.Millisecond), fifo, maxRunning)
		printCalls("bench-queue: manager API calls per execution while draining", apiCalls.reset(), n)
		_ = names
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
