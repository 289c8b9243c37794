//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// runtimes are the RuntimeClasses the boundary tests run under: "runc"
// (none named) by default; E2E_RUNTIMES=runc,gvisor adds "gvisor", which
// hack/cluster-up.sh registers with CLUSTER_GVISOR=1 (make test-e2e-gvisor).
func runtimes() []string {
	if v := os.Getenv("E2E_RUNTIMES"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"runc"}
}

// runtimeNamespace returns a namespace whose executions run under rc,
// through an ExecutionPolicy that names the RuntimeClass.
func runtimeNamespace(t testing.TB, rc string) string {
	t.Helper()
	if rc == "runc" {
		return newNamespace(t, nil)
	}
	key := "e2e.codeexec.io/runtime-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ns := newNamespace(t, map[string]string{key: rc})
	p := &execv1.ExecutionPolicy{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-" + rc + "-"},
		Spec: execv1.ExecutionPolicySpec{
			NamespaceSelector: execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{key: execv1.LabelValue(rc)}},
			RuntimeClassName:  ptr.To(rc),
		},
	}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), p) })
	return ns
}

// The attacker's prelude: empty the audit hook's watch list (a tripwire,
// not the boundary), then find the runner that writes the verdict (argv[1]
// "run" in a single-container Pod, "judge" in the split one).
const attackPrelude = `
import os, signal, resource, gc, json
for f in gc.get_objects():
    if type(f).__name__ == 'function' and f.__name__ == 'hook' and f.__closure__:
        for c in f.__closure__:
            try:
                if isinstance(c.cell_contents, frozenset) and 'open' in c.cell_contents:
                    c.cell_contents = frozenset()
            except ValueError:
                pass
def judges():
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            argv = open('/proc/%s/cmdline' % d, 'rb').read().split(b'\0')
        except OSError:
            continue
        if len(argv) > 1 and argv[1] in (b'judge', b'run'):
            out.append(int(d))
    return out
def attempt(f):
    try:
        f()
        return 'done'
    except OSError as e:
        return os.strerror(e.errno) if e.errno else str(e)
targets = judges()
`

// TestPodAttacksOnTheRunner reproduces issue 12's attacks in a real Pod,
// under runc and gVisor: the verdict and the summary stay the runner's.
func TestPodAttacksOnTheRunner(t *testing.T) {
	forged := `{"succeeded":true,"reason":"Completed","message":"forged","durationMillis":1,"size":2,"sha256":"` + strings.Repeat("0", 64) + `"}`
	cases := map[string]struct {
		code    string
		timeout int32
		reason  string
		msg     string
		result  string
	}{
		"pidfd signals at the runner": {
			code: attackPrelude + `
out = {}
for s in (signal.SIGQUIT, signal.SIGSEGV, signal.SIGABRT, signal.SIGTERM, signal.SIGSTOP):
    for p in targets:
        out.setdefault(s.name, []).append(attempt(lambda: signal.pidfd_send_signal(os.pidfd_open(p), s)))
import time; time.sleep(1)
result = {"judges": len(targets), "done": {k: v for k, v in out.items() if 'done' in v}}
`,
			// The judge is in another container's PID namespace: the code
			// does not even see it.
			reason: execv1.ReasonCompleted, result: `{"judges": 0, "done": {}}`,
		},
		"prlimit on the runner": {
			code: attackPrelude + `
out = {}
for name, r, v in (("NOFILE", resource.RLIMIT_NOFILE, 5), ("FSIZE", resource.RLIMIT_FSIZE, 0), ("AS", resource.RLIMIT_AS, 1 << 20)):
    for p in targets:
        out.setdefault(name, []).append(attempt(lambda: resource.prlimit(p, r, (v, v))))
result = {"judges": len(targets), "done": {k: v for k, v in out.items() if 'done' in v}}
`,
			reason: execv1.ReasonCompleted, result: `{"judges": 0, "done": {}}`,
		},
		"a pre-written termination log": {
			code: attackPrelude + `
for p in targets:
    attempt(lambda: resource.prlimit(p, resource.RLIMIT_FSIZE, (0, 0)))
d = os.open('/dev', os.O_RDONLY)
fd = os.open('termination-log', os.O_WRONLY | os.O_TRUNC, dir_fd=d)
os.write(fd, b'` + forged + `')
os.close(fd)
raise SystemExit(7)
`,
			reason: execv1.ReasonRuntimeError, msg: "7",
		},
		// kill(-1) reaches every process the caller may signal but itself
		// and its namespace's init. In the sandbox container that is
		// nothing: the judge lives in another container's PID namespace
		// and the supervisor is PID 1 of the code's. The kernel says ESRCH.
		"kill -1": {
			code:   attackPrelude + "os.kill(-1, signal.SIGKILL)\n",
			reason: execv1.ReasonRuntimeError, msg: "ProcessLookupError",
		},
		// The kernel drops SIGSTOP and SIGKILL sent to a namespace's init
		// from inside it: the supervisor (PID 1) keeps its wall clock and
		// reports the timeout; the judge relays it.
		"SIGSTOP to every process the code can see": {
			code: attackPrelude + `
for d in os.listdir('/proc'):
    if d.isdigit() and int(d) != os.getpid():
        attempt(lambda: os.kill(int(d), signal.SIGSTOP))
        attempt(lambda: os.kill(int(d), signal.SIGKILL))
import time; time.sleep(600)
`,
			timeout: 5, reason: execv1.ReasonTimeout, msg: "wall-clock limit of 5s",
		},
		// The supervisor (PID 1 of the sandbox container, the code's uid)
		// has a handler for every catchable signal, so the kernel delivers
		// them all from inside the namespace; runner.SignalContext drops
		// each one (SIGQUIT, SIGSEGV, SIGABRT used to make it dump and
		// exit): the code completes and the verdict is its result.
		"every signal to the supervisor": {
			code: attackPrelude + `
sent = {}
for s in range(1, 65):
    if s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGINT, signal.SIGTERM):
        continue
    r = attempt(lambda: signal.pidfd_send_signal(os.pidfd_open(1), s))
    sent[r] = sent.get(r, 0) + 1
import time; time.sleep(1)
result = sent
`,
			timeout: 20, reason: execv1.ReasonCompleted, result: `{"done": 60}`,
		},
		// SIGTERM is the kubelet's stop: the supervisor cancels the run and
		// still reports; the code can end its own run this way, nothing more.
		"SIGTERM to the supervisor": {
			code: attackPrelude + `
attempt(lambda: os.kill(1, signal.SIGTERM))
import time; time.sleep(600)
`,
			timeout: 20, reason: execv1.ReasonRuntimeError, msg: "cancelled",
		},
	}
	for _, rc := range runtimes() {
		t.Run(rc, func(t *testing.T) {
			t.Parallel()
			ns := runtimeNamespace(t, rc)
			for name, tc := range cases {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					w := wrappers.MakeCodeExecution(strings.ReplaceAll(strings.ToLower(strings.Fields(name)[0]), "-", "")+
						strconv.Itoa(len(name)), ns).Code(tc.code)
					if tc.timeout > 0 {
						w = w.Timeout(tc.timeout)
					}
					ce := w.Obj()
					create(t, ce)
					summaries := watchSummaries(t, ce)
					c := waitDone(t, ce, runTimeout)
					if c.Reason != tc.reason || !strings.Contains(c.Message, tc.msg) || strings.Contains(c.Message, "forged") {
						t.Fatalf("Succeeded %s/%s %q, want %s with %q\nstdout %q\nstderr %q", c.Status, c.Reason, c.Message,
							tc.reason, tc.msg, ce.Status.Stdout, ce.Status.Stderr)
					}
					judgesVerdict(t, c, summaries)
					if tc.result != "" {
						jsonEqual(t, tc.result, resultOf(t, ce))
					}
					checkRuntime(t, ce, rc)
				})
			}
		})
	}
}

// podSummaries is what a watch on an execution's Pod saw: the termination
// messages of the runner (the judge) and of the sandbox container.
type podSummaries struct {
	mu              sync.Mutex
	runner, sandbox string
}

func (p *podSummaries) get() (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runner, p.sandbox
}

// watchSummaries watches ce's Pod (ce is created, the Pod not yet) until
// the test ends and records its containers' termination messages.
func watchSummaries(t *testing.T, ce *execv1.CodeExecution) *podSummaries {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := clientset.CoreV1().Pods(ce.Namespace).Watch(ctx, metav1.ListOptions{
		LabelSelector: execv1.LabelExecutionUID + "=" + string(ce.UID)})
	if err != nil {
		t.Fatal(err)
	}
	p := &podSummaries{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			p.mu.Lock()
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.State.Terminated == nil || cs.State.Terminated.Message == "" {
					continue
				}
				switch cs.Name {
				case execv1.RunnerContainerName:
					p.runner = cs.State.Terminated.Message
				case controllers.SandboxContainerName:
					p.sandbox = cs.State.Terminated.Message
				}
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// judgesVerdict asserts that the execution's verdict is the judge's: the
// runner container's termination summary carries the reason the status
// shows, and nothing the code forged. What the sandbox container's own
// termination log said (the code may write there) is only logged.
func judgesVerdict(t *testing.T, c *metav1.Condition, s *podSummaries) {
	t.Helper()
	var runner, sandbox string
	eventually(t, 30*time.Second, "the runner container's termination summary", func() error {
		if runner, sandbox = s.get(); runner == "" {
			return fmt.Errorf("not seen yet")
		}
		return nil
	})
	var sum struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(runner), &sum); err != nil {
		t.Fatalf("the runner's summary is not JSON: %v: %q", err, runner)
	}
	if sum.Reason != c.Reason || strings.Contains(runner, "forged") {
		t.Errorf("the status says %s %q, the judge's summary %q", c.Reason, c.Message, runner)
	}
	t.Logf("judge: %s; the sandbox container's own termination message: %.200q", runner, sandbox)
}

// checkRuntime asserts the execution's Pod ran under rc, split in two.
func checkRuntime(t *testing.T, ce *execv1.CodeExecution, rc string) {
	t.Helper()
	pods, err := clientset.CoreV1().Pods(ce.Namespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: execv1.LabelExecutionUID + "=" + string(ce.UID)})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of %s: %v (%d)", ce.Name, err, len(pods.Items))
	}
	spec := pods.Items[0].Spec
	if got := ptr.Deref(spec.RuntimeClassName, "runc"); got != rc {
		t.Errorf("the Pod ran under %q, want %q", got, rc)
	}
	if len(spec.Containers) != 2 || spec.Containers[1].Name != controllers.SandboxContainerName {
		t.Errorf("the Pod has containers %d, want runner and sandbox", len(spec.Containers))
	}
}

// threadHolder starts as many threads as it may (up to 60) and holds them
// for hold seconds; it prints when it holds them.
const threadHolder = `
import threading, time, sys
stop = threading.Event()
ts = []
try:
    for _ in range(60):
        t = threading.Thread(target=stop.wait)
        t.start()
        ts.append(t)
except RuntimeError as e:
    print('stopped at', len(ts), e)
print('holding', len(ts), time.time(), flush=True)
time.sleep(%d)
stop.set()
result = {"held": len(ts), "until": time.time()}
`

const eightThreads = `
import threading, time
stop = threading.Event()
ts = [threading.Thread(target=stop.wait) for _ in range(8)]
for t in ts:
    t.start()
started = time.time()
stop.set()
for t in ts:
    t.join()
result = {"started": len(ts), "at": started}
`

// TestConcurrentExecutionsDoNotShareAThreadBudget: one execution holds
// many threads while another, on the same node, starts 8. Under one shared
// uid the kernel's per-uid RLIMIT_NPROC count made the second fail.
func TestConcurrentExecutionsDoNotShareAThreadBudget(t *testing.T) {
	ns := newNamespace(t, nil)
	// 1 GiB: room for 60 thread stacks under RLIMIT_AS, so that only the
	// uid's RLIMIT_NPROC (64, the supervisor's threads included) bounds it.
	holder := wrappers.MakeCodeExecution("holder", ns).Timeout(90).Memory("1Gi").Code(fmt.Sprintf(threadHolder, 40)).Obj()
	create(t, holder)
	// Wait until the holder's code runs; the check at the end proves the
	// two overlapped.
	eventually(t, 2*time.Minute, "the holder's sandbox running", func() error {
		pods, err := clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{
			LabelSelector: execv1.LabelExecutionUID + "=" + string(holder.UID)})
		if err != nil || len(pods.Items) == 0 {
			return fmt.Errorf("no pod yet: %v", err)
		}
		for _, cs := range pods.Items[0].Status.ContainerStatuses {
			if cs.Name == controllers.SandboxContainerName && cs.State.Running != nil {
				return nil
			}
		}
		return fmt.Errorf("sandbox not running")
	})
	eight := wrappers.MakeCodeExecution("eight", ns).Code(eightThreads).Obj()
	c := run(t, eight)
	want(t, c, execv1.ReasonCompleted, "")
	var e struct {
		Started int     `json:"started"`
		At      float64 `json:"at"`
	}
	if err := json.Unmarshal(resultOf(t, eight), &e); err != nil || e.Started != 8 {
		t.Fatalf("eight: %s (%v)", resultOf(t, eight), err)
	}
	hc := waitDone(t, holder, 3*time.Minute)
	want(t, hc, execv1.ReasonCompleted, "")
	var h struct {
		Held  int     `json:"held"`
		Until float64 `json:"until"`
	}
	if err := json.Unmarshal(resultOf(t, holder), &h); err != nil {
		t.Fatal(err)
	}
	if h.Held < 50 {
		t.Errorf("the holder held only %d threads: %s", h.Held, holder.Status.Stdout)
	}
	// Both ran on one node clock: the 8 threads started while the holder
	// held its own.
	if e.At >= h.Until {
		t.Fatalf("the 8 threads started at %f, after the holder let go at %f: the test proved nothing", e.At, h.Until)
	}
}
