//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// BenchmarkExecutionsVsBareJobs runs 20 trivial Python executions one
// after another, from create to terminal status, against 20 bare Jobs
// running python3 -c 'print(1)' in the same image, and prints p50, p95,
// the ratio of p50s and where an execution's time goes. It asserts
// nothing. `make bench-e2e`.
func BenchmarkExecutionsVsBareJobs(b *testing.B) {
	const n = 20
	ctx := context.Background()
	t := &testing.T{}
	for range b.N {
		ns := newNamespace(t, nil)
		var cx []time.Duration
		phases := make([][4]time.Duration, 0, n)
		for i := range n {
			ce := wrappers.MakeCodeExecution(fmt.Sprintf("bench-%02d", i), ns).Code("result = 1").Obj()
			start := time.Now()
			if err := k8s.Create(ctx, ce); err != nil {
				b.Fatal(err)
			}
			var jobSeen, runningSeen, doneSeen time.Time
			for {
				now := time.Now()
				if now.Sub(start) > 3*time.Minute {
					b.Fatalf("%s did not finish", ce.Name)
				}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(ce), ce); err != nil {
					b.Fatal(err)
				}
				if c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded); c != nil && c.Status != metav1.ConditionUnknown {
					cx = append(cx, now.Sub(start))
					if doneSeen.IsZero() {
						doneSeen = now
					}
					phases = append(phases, [4]time.Duration{jobSeen.Sub(start), runningSeen.Sub(jobSeen), doneSeen.Sub(runningSeen), now.Sub(doneSeen)})
					break
				}
				if jobSeen.IsZero() && k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: controllers.JobName(ce.Name, ce.UID)}, &batchv1.Job{}) == nil {
					jobSeen = now
				}
				var pods corev1.PodList
				_ = k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{execv1.LabelExecutionUID: string(ce.UID)})
				for _, p := range pods.Items {
					for _, s := range p.Status.ContainerStatuses {
						if runningSeen.IsZero() && (s.State.Running != nil || s.State.Terminated != nil) {
							runningSeen = now
						}
						if doneSeen.IsZero() && s.State.Terminated != nil {
							doneSeen = now
						}
					}
				}
				if runningSeen.IsZero() && !doneSeen.IsZero() {
					runningSeen = doneSeen
				}
				if jobSeen.IsZero() && !runningSeen.IsZero() {
					jobSeen = runningSeen
				}
				time.Sleep(20 * time.Millisecond)
			}
		}

		var bare []time.Duration
		for i := range n {
			job := bareJob(ns, fmt.Sprintf("bare-%02d", i))
			start := time.Now()
			if err := k8s.Create(ctx, job); err != nil {
				b.Fatal(err)
			}
			for {
				if time.Since(start) > 3*time.Minute {
					b.Fatalf("%s did not finish", job.Name)
				}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
					b.Fatal(err)
				}
				if jobDone(job) {
					bare = append(bare, time.Since(start))
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		p50c, p95c := pct(cx, 50), pct(cx, 95)
		p50b, p95b := pct(bare, 50), pct(bare, 95)
		fmt.Printf("bench-e2e: %d executions create->terminal: p50 %v p95 %v\n", n, p50c, p95c)
		fmt.Printf("bench-e2e: %d bare Jobs create->Complete:    p50 %v p95 %v\n", n, p50b, p95b)
		fmt.Printf("bench-e2e: ratio of p50s %.2f (target <= 1.2)\n", p50c.Seconds()/p50b.Seconds())
		var split [4][]time.Duration
		for _, p := range phases {
			for k := range 4 {
				split[k] = append(split[k], p[k])
			}
		}
		fmt.Printf("bench-e2e: phase p50s: create->Job %v, Job->Pod running %v, running->runner done %v, done->status written %v\n",
			pct(split[0], 50), pct(split[1], 50), pct(split[2], 50), pct(split[3], 50))
		b.ReportMetric(p50c.Seconds()/p50b.Seconds(), "ratio")
	}
}

func jobDone(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// bareJob runs python3 -c 'print(1)' in the runner image with the same
// Pod hardening and resources as a sandbox Job.
func bareJob(ns, name string) *batchv1.Job {
	ce := wrappers.MakeCodeExecution(name, ns).UID(name).Obj()
	l := controllers.ResolveLimits(ce.Spec.Limits, controllers.BuiltinDefaults())
	o := controllers.DefaultJobOptions()
	o.RunnerImage, o.ImagePullPolicy = runnerImage, corev1.PullNever
	job := controllers.BuildJob(ce, l, o)
	job.Name = name
	spec := &job.Spec.Template.Spec
	spec.Volumes = nil
	spec.Containers = spec.Containers[:1] // a bare Job: one container
	c := &spec.Containers[0]
	c.VolumeMounts, c.Args = nil, nil
	c.Command = []string{"python3", "-c", "print(1)"}
	job.Spec.TTLSecondsAfterFinished = ptr.To(int32(60))
	return job
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1].Round(time.Millisecond)
}
