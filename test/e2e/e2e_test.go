//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/testutil/mariadb"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// runTimeout bounds one execution from create to terminal status.
const runTimeout = 3 * time.Minute

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// run creates ce and waits for its terminal condition.
func run(t *testing.T, ce *execv1.CodeExecution) *metav1.Condition {
	t.Helper()
	create(t, ce)
	return waitDone(t, ce, runTimeout)
}

func waitDone(t *testing.T, ce *execv1.CodeExecution, timeout time.Duration) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	deadline := time.Now().Add(timeout)
	for {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce); err != nil {
			t.Fatal(err)
		}
		c = meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
		if c != nil && c.Status != metav1.ConditionUnknown {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not finish within %s; condition %v\nmanager log:\n%s", ce.Name, timeout, c,
				tailFile(filepath.Join(repoRoot(), "bin", "manager-e2e.log"), 3000))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func want(t *testing.T, c *metav1.Condition, reason string, msgPart string) {
	t.Helper()
	if c.Reason != reason || !strings.Contains(c.Message, msgPart) {
		t.Fatalf("Succeeded %s/%s %q, want reason %s with %q", c.Status, c.Reason, c.Message, reason, msgPart)
	}
}

// resultOf returns the result JSON, inline or from the owned ConfigMap.
func resultOf(t *testing.T, ce *execv1.CodeExecution) []byte {
	t.Helper()
	r := ce.Status.Result
	if r == nil {
		t.Fatalf("%s has no result; stderr %q", ce.Name, ce.Status.Stderr)
	}
	if r.ConfigMapName == "" {
		return []byte(r.Inline)
	}
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ce.Namespace, Name: r.ConfigMapName}, cm); err != nil {
		t.Fatal(err)
	}
	b, err := controllers.DecodeStoredResult(cm, ce.Status.Result)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonEqual(t *testing.T, want string, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("result is not JSON: %v: %.200s", err, got)
	}
	wb, _ := json.Marshal(w)
	gb, _ := json.Marshal(g)
	if !bytes.Equal(wb, gb) {
		t.Fatalf("result %s, want %s", gb, wb)
	}
}

func TestPythonAnalyticsOverACSVInput(t *testing.T) {
	ns := newNamespace(t, nil)
	create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns}, Data: map[string]string{
		"orders.csv": "order_id,category,amount\n1,books,12.5\n2,games,60\n3,books,7.5\n4,music,15.25\n",
	}})
	ce := wrappers.MakeCodeExecution("revenue", ns).Input("orders", "shop", "orders.csv").Code(
		"by = inputs['orders'].groupby('category')['amount'].sum()\nprint('categories', len(by))\nresult = by.to_dict()").Obj()
	c := run(t, ce)
	want(t, c, execv1.ReasonCompleted, "")
	jsonEqual(t, `{"books":20.0,"games":60.0,"music":15.25}`, resultOf(t, ce))
	if !strings.Contains(ce.Status.Stdout, "categories 3") {
		t.Errorf("stdout %q", ce.Status.Stdout)
	}
}

func TestMemoryHogEndsMemoryLimitExceeded(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("hog", ns).Memory("128Mi").Code(
		"chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n").Obj()
	want(t, run(t, ce), execv1.ReasonMemoryLimitExceeded, "")
}

func TestSleeperEndsTimeoutByTheRunnersClock(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("sleeper", ns).Timeout(3).Code("import time\ntime.sleep(600)\n").Obj()
	c := run(t, ce)
	want(t, c, execv1.ReasonTimeout, "")
	if strings.Contains(c.Message, "activeDeadlineSeconds") {
		t.Errorf("the Job's deadline ended it, not the runner: %q", c.Message)
	}
}

func TestSleeperEndsTimeoutByActiveDeadlineSeconds(t *testing.T) {
	stopManager()
	if err := startManager("--testing-disable-runner-wall-clock", "--deadline-grace-seconds", "40"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopManager()
		if err := startManager(); err != nil {
			t.Fatal(err)
		}
	})
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("deadline", ns).Timeout(2).Code("import time\ntime.sleep(600)\n").Obj()
	c := run(t, ce)
	// The reason's message comes from the Job's own DeadlineExceeded
	// condition; the terminal status then removes the Job and its Pod.
	want(t, c, execv1.ReasonTimeout, "activeDeadlineSeconds (42s)")
	wantNoWorkload(t, ns)
}

func TestForkBombIsContained(t *testing.T) {
	ns := newNamespace(t, nil)
	code, err := os.ReadFile(filepath.Join(repoRoot(), "..", "shared", "corpus", "python", "fork_01_fork_bomb.py"))
	if err != nil {
		t.Fatalf("the corpus must sit beside the repository: %v", err)
	}
	ce := wrappers.MakeCodeExecution("forkbomb", ns).Timeout(10).Code(string(code)).Obj()
	c := run(t, ce)
	if c.Reason == execv1.ReasonCompleted {
		t.Errorf("a fork bomb completed: %q", c.Message)
	}
	// Nothing the code started outlives the run on the node.
	eventually(t, 60*time.Second, "no sandbox process left on the node", func() error {
		if n := processesOfUID(65532); n > 0 {
			return fmt.Errorf("%d processes of uid 65532 still run", n)
		}
		return nil
	})
}

func processesOfUID(uid int) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Uid:") && strings.Fields(line)[1] == fmt.Sprint(uid) {
				n++
			}
		}
	}
	return n
}

const hardeningProbe = `import os
status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
def cg(*paths):
    for p in paths:
        try:
            return open(p).read().strip()
        except OSError:
            pass
    return None
result = {
    'uid': os.getuid(), 'gid': os.getgid(),
    'capEff': status['CapEff'].strip(), 'capBnd': status['CapBnd'].strip(),
    'noNewPrivs': status['NoNewPrivs'].strip(), 'seccomp': status['Seccomp'].strip(),
    'rootReadOnly': bool(os.statvfs('/').f_flag & 1),
    'token': os.path.exists('/var/run/secrets/kubernetes.io/serviceaccount/token'),
    'memoryLimit': cg('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'),
}
`

func TestPodRunsHardenedAsTheKernelSeesIt(t *testing.T) {
	ns := newNamespace(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	ce := wrappers.MakeCodeExecution("hardening", ns).Memory("256Mi").Code(hardeningProbe).Obj()
	c := run(t, ce)
	want(t, c, execv1.ReasonCompleted, "")
	var got struct {
		UID, GID                   int
		CapEff, CapBnd, NoNewPrivs string
		Seccomp                    string
		RootReadOnly, Token        bool
		MemoryLimit                *string
	}
	if err := json.Unmarshal(resultOf(t, ce), &got); err != nil {
		t.Fatal(err)
	}
	// The code runs as the execution's own uid, never the judge's.
	if uid := controllers.SandboxUIDFor(string(ce.UID), controllers.DefaultJobOptions()); got.UID != int(uid) || got.GID != int(uid) {
		t.Errorf("runs as %d:%d, want the execution's uid %d", got.UID, got.GID, uid)
	}
	if got.CapEff != "0000000000000000" || got.CapBnd != "0000000000000000" {
		t.Errorf("capabilities eff %s bnd %s, want none", got.CapEff, got.CapBnd)
	}
	if got.NoNewPrivs != "1" || got.Seccomp != "2" {
		t.Errorf("NoNewPrivs %s Seccomp %s, want 1 and 2 (filter)", got.NoNewPrivs, got.Seccomp)
	}
	if !got.RootReadOnly {
		t.Error("the root filesystem is writable")
	}
	if got.Token {
		t.Error("a service-account token is mounted")
	}
	if got.MemoryLimit == nil || *got.MemoryLimit != fmt.Sprint(256<<20) {
		t.Errorf("cgroup memory limit %v, want %d", got.MemoryLimit, 256<<20)
	}
}

// bridgeAddress is the host's address on the local cluster's Pod bridge,
// where the test's MariaDB listens so that sandbox Pods reach it.
func bridgeAddress(t *testing.T) string {
	t.Helper()
	addr := envOr("E2E_HOST_ADDRESS", "")
	if addr == "" {
		t.Fatal("E2E_HOST_ADDRESS is not set: make test-e2e sets it to the host's address on the Pod bridge")
	}
	if net.ParseIP(addr) == nil {
		t.Fatalf("E2E_HOST_ADDRESS %q is not an IP address", addr)
	}
	return addr
}

func TestSQLReadsMariaDBAndRefusesAWrite(t *testing.T) {
	db := mariadb.Start(t, mariadb.Options{
		Schema:      filepath.Join(repoRoot(), "hack", "demo", "shop.sql"),
		Database:    "shop",
		BindAddress: bridgeAddress(t),
	})
	ns := newNamespace(t, nil)
	// The manager reads no Secret: the policy declares where shop-db may go.
	pol := &execv1.ExecutionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "e2e-sql-" + ns}, Spec: execv1.ExecutionPolicySpec{
		NamespaceSelector: execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{"kubernetes.io/metadata.name": execv1.LabelValue(ns)}},
		Datasources: []execv1.DatasourcePolicy{{SecretName: "shop-db",
			Endpoints: []string{net.JoinHostPort(db.Host, strconv.Itoa(db.Port))}}},
	}}
	create(t, pol)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), pol) })
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-db", Namespace: ns},
		StringData: map[string]string{"dsn": db.ReadOnlyTCPDSN()}})
	read := wrappers.MakeCodeExecution("read", ns).Language(execv1.LanguageSQL).Datasource("shop-db", "dsn").
		Code("SELECT category, COUNT(*) AS n FROM orders GROUP BY category ORDER BY category").Obj()
	want(t, run(t, read), execv1.ReasonCompleted, "")
	var res struct {
		SQL      string
		Rows     [][]any
		RowCount int
	}
	if err := json.Unmarshal(resultOf(t, read), &res); err != nil {
		t.Fatal(err)
	}
	if res.RowCount == 0 || len(res.Rows) != res.RowCount || !strings.Contains(strings.ToLower(res.SQL), "limit 1000") {
		t.Errorf("result %+v", res)
	}
	write := wrappers.MakeCodeExecution("write", ns).Language(execv1.LanguageSQL).Datasource("shop-db", "dsn").
		Code("DELETE FROM orders").Obj()
	want(t, run(t, write), execv1.ReasonSecurityViolation, "")
	var n int
	if err := db.Admin(t).QueryRow("SELECT COUNT(*) FROM orders").Scan(&n); err != nil || n == 0 {
		t.Errorf("orders after the refused write: %d rows, %v", n, err)
	}
}

func TestJSXReturnsItsDocument(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("chart", ns).Language(execv1.LanguageJSX).Code(
		"import React from 'react';\nexport default function Hello() { return <h1>Hello from the sandbox</h1>; }\n").Obj()
	want(t, run(t, ce), execv1.ReasonCompleted, "")
	var res struct {
		JS       string `json:"js"`
		HTML     string `json:"html"`
		Manifest struct {
			Sandbox string `json:"sandbox"`
			SHA256  string `json:"sha256"`
		} `json:"manifest"`
	}
	if err := json.Unmarshal(resultOf(t, ce), &res); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(res.HTML))
	if !strings.Contains(res.HTML, "Content-Security-Policy") || res.Manifest.Sandbox != "allow-scripts" ||
		res.Manifest.SHA256 != hex.EncodeToString(sum[:]) || !strings.Contains(res.JS, "Hello from the sandbox") {
		t.Errorf("document: sandbox %q sha256 match %t, CSP %t, js %d bytes", res.Manifest.Sandbox,
			res.Manifest.SHA256 == hex.EncodeToString(sum[:]), strings.Contains(res.HTML, "Content-Security-Policy"), len(res.JS))
	}
}

func TestLargeResultArrivesWhole(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("large", ns).Code(
		"result = [{'i': i, 'name': 'customer-%06d' % i, 'tags': ['a' * 40, 'b' * 40]} for i in range(5000)]").Obj()
	want(t, run(t, ce), execv1.ReasonCompleted, "")
	got := resultOf(t, ce)
	var rows []map[string]any
	if err := json.Unmarshal(got, &rows); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(got)
	if len(got) < 400<<10 || len(rows) != 5000 || rows[4999]["name"] != "customer-004999" ||
		ce.Status.Result.SHA256 != hex.EncodeToString(sum[:]) || ce.Status.Result.Truncated {
		t.Errorf("result of %d bytes, %d rows, status %+v", len(got), len(rows), ce.Status.Result)
	}
}

func TestManagerKilledMidwayLeavesOneJobEachAndAllTerminal(t *testing.T) {
	ns := newNamespace(t, nil)
	var ces []*execv1.CodeExecution
	for i := range 20 {
		ce := wrappers.MakeCodeExecution(fmt.Sprintf("burst-%02d", i), ns).CPU("50m").Memory("128Mi").Timeout(120).
			Code(fmt.Sprintf("import time\ntime.sleep(1)\nresult = %d", i)).Obj()
		create(t, ce)
		ces = append(ces, ce)
		if i == 9 {
			killManager()
		}
	}
	time.Sleep(2 * time.Second)
	if err := startManager(); err != nil {
		t.Fatal(err)
	}
	for i, ce := range ces {
		c := waitDone(t, ce, 5*time.Minute)
		want(t, c, execv1.ReasonCompleted, "")
		jsonEqual(t, fmt.Sprint(i), resultOf(t, ce))
	}
	uids := map[string]bool{}
	for _, ce := range ces {
		if ce.Status.JobUID == "" || uids[ce.Status.JobUID] {
			t.Errorf("%s: status.jobUID %q missing or shared", ce.Name, ce.Status.JobUID)
		}
		uids[ce.Status.JobUID] = true
	}
	wantNoWorkload(t, ns)
}

// wantNoWorkload waits until no Job and no Pod is left in ns: every
// execution there is terminal, and terminal means stopped.
func wantNoWorkload(t *testing.T, ns string) {
	t.Helper()
	eventually(t, time.Minute, "no Job or Pod left", func() error {
		var jobs batchv1.JobList
		var pods corev1.PodList
		if err := k8s.List(context.Background(), &jobs, client.InNamespace(ns)); err != nil {
			return err
		}
		if err := k8s.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(jobs.Items)+len(pods.Items) != 0 {
			return fmt.Errorf("%d Jobs and %d Pods left", len(jobs.Items), len(pods.Items))
		}
		return nil
	})
}

// A Job deleted by a user mid-run ends the execution; the Job is never
// recreated, so the code never runs a second time.
func TestDeletedJobIsNeverRecreated(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("once", ns).Timeout(120).Code("import time\ntime.sleep(600)\n").Obj()
	create(t, ce)
	eventually(t, runTimeout, "the runner running", func() error {
		_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce)
		c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
		if c == nil || c.Reason != execv1.ReasonRunning {
			return fmt.Errorf("condition %v", c)
		}
		return nil
	})
	job := &batchv1.Job{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: ce.Status.JobName}, job); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	want(t, waitDone(t, ce, runTimeout), execv1.ReasonPodFailed, "never recreated")
	wantNoWorkload(t, ns)
}

func TestPodDeletedMidRunEndsPodFailed(t *testing.T) {
	ns := newNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("doomed", ns).Timeout(120).Code("import time\ntime.sleep(600)\n").Obj()
	create(t, ce)
	eventually(t, runTimeout, "the runner running", func() error {
		_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(ce), ce)
		c := meta.FindStatusCondition(ce.Status.Conditions, execv1.ConditionSucceeded)
		if c == nil || c.Reason != execv1.ReasonRunning {
			return fmt.Errorf("condition %v", c)
		}
		return nil
	})
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{execv1.LabelExecutionUID: string(ce.UID)}); err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods %d, %v", len(pods.Items), err)
	}
	if err := k8s.Delete(context.Background(), &pods.Items[0]); err != nil {
		t.Fatal(err)
	}
	want(t, waitDone(t, ce, runTimeout), execv1.ReasonPodFailed, "")
	wantNoWorkload(t, ns)
}
