//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// podPeakMemory returns the peak memory of the Pod's cgroup on this node
// (cgroup v1 memory.max_usage_in_bytes or v2 memory.peak), or -1.
func podPeakMemory(podUID string) int64 {
	pat := []string{
		"/sys/fs/cgroup/memory/kubepods/pod" + podUID + "/memory.max_usage_in_bytes",
		"/sys/fs/cgroup/memory/kubepods/*/pod" + podUID + "/memory.max_usage_in_bytes",
		"/sys/fs/cgroup/kubepods/pod" + podUID + "/memory.peak",
		"/sys/fs/cgroup/kubepods/*/pod" + podUID + "/memory.peak",
	}
	for _, p := range pat {
		m, _ := filepath.Glob(p)
		for _, f := range m {
			b, err := os.ReadFile(f)
			if err == nil {
				if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

// BenchmarkRuntimeClassCost runs the same Python execution (import pandas,
// a small DataFrame, 2 s asleep so the Pod's cgroup can be read) under
// each runtime side by side and prints the create-to-verdict latency and
// the Pod's peak memory. It prints, never asserts.
//
//	make test-e2e ARGS='-run ^$ -bench RuntimeClassCost -benchtime 1x'
func BenchmarkRuntimeClassCost(b *testing.B) {
	const n = 4
	code := "import pandas as pd, time\ndf = pd.DataFrame({'a': range(1000)})\ntime.sleep(2)\nresult = int(df['a'].sum())\n"
	type stat struct {
		lat  []time.Duration
		peak []int64
	}
	stats := map[string]*stat{}
	for _, rc := range runtimes() {
		stats[rc] = &stat{}
	}
	for i := 0; i < b.N; i++ {
		for round := 0; round < n; round++ {
			for _, rc := range runtimes() { // interleaved, so load hits both alike
				st := stats[rc]
				b.Run(fmt.Sprintf("%s-%d", rc, round), func(b *testing.B) {
					ns := runtimeNamespace(b, rc)
					ce := wrappers.MakeCodeExecution("bench", ns).Code(code).Obj()
					start := time.Now()
					if err := k8s.Create(context.Background(), ce); err != nil {
						b.Fatal(err)
					}
					var peak int64 = -1
					for {
						pods, _ := clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{
							LabelSelector: execv1.LabelExecutionUID + "=" + string(ce.UID)})
						if pods != nil && len(pods.Items) == 1 {
							if v := podPeakMemory(string(pods.Items[0].UID)); v > peak {
								peak = v
							}
						}
						if done(ce) {
							break
						}
						if time.Since(start) > 3*time.Minute {
							b.Fatalf("%s did not finish", ce.Name)
						}
						time.Sleep(100 * time.Millisecond)
					}
					st.lat = append(st.lat, time.Since(start))
					st.peak = append(st.peak, peak)
				})
			}
		}
	}
	for _, rc := range runtimes() {
		st := stats[rc]
		var sum time.Duration
		var mem int64
		for i := range st.lat {
			sum += st.lat[i]
			mem += st.peak[i]
		}
		if len(st.lat) == 0 {
			continue
		}
		fmt.Printf("runtime %-7s executions %d  mean create->verdict %6.2fs  mean Pod peak memory %6.1f MiB  (each: %v, %v)\n",
			rc, len(st.lat), (sum / time.Duration(len(st.lat))).Seconds(), float64(mem)/float64(len(st.peak))/(1<<20), st.lat, st.peak)
	}
}

func done(ce *execv1.CodeExecution) bool {
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
		return false
	}
	for _, c := range ce.Status.Conditions {
		if c.Type == execv1.ConditionSucceeded && c.Status != metav1.ConditionUnknown {
			return true
		}
	}
	return false
}
