package controllers

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/runner"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// The endpoints a policy declares for the datasource are fixed in status
// when the policy is resolved, and the task and the NetworkPolicy are built
// from status alone: a policy edited (or an endpoint re-declared) between
// resolve and start cannot widen what the sandbox reaches, and no Secret is
// read to decide it.
func TestDeclaredEndpointsAreResolvedOnceIntoStatusAndDriveTheChildren(t *testing.T) {
	declaring := MergePolicies([]execv1.ExecutionPolicy{{Spec: execv1.ExecutionPolicySpec{
		Datasources: []execv1.DatasourcePolicy{{SecretName: "shop-db", Endpoints: []string{"10.0.0.5:3306", "db.shop.svc:3307"}}},
	}}})
	ce := wrappers.MakeCodeExecution("q", "ns").Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("shop-db", "dsn").Obj()
	ResolveStatus(ce, declaring, time.Unix(0, 0))
	if isFinished(ce) {
		t.Fatalf("resolve finished the execution: %+v", ce.Status.Conditions)
	}
	want := []string{"10.0.0.5:3306", "db.shop.svc:3307"}
	if diff := cmp.Diff(want, ce.Status.Sandbox.DatasourceEndpoints); diff != "" {
		t.Fatalf("status.sandbox.datasourceEndpoints (-want +got):\n%s", diff)
	}

	// The attacker's DSN would point elsewhere; the manager never looks.
	r := &CodeExecutionReconciler{LookupIP: func(_ context.Context, host string) ([]net.IP, error) {
		if host != "db.shop.svc" {
			t.Errorf("looked up %q", host)
		}
		return []net.IP{net.ParseIP("10.0.0.7")}, nil
	}}
	children, fail := r.children(context.Background(), ce)
	if fail != nil {
		t.Fatalf("children: %+v", *fail)
	}
	var task runner.Task
	if err := json.Unmarshal([]byte(children[0].(*corev1.ConfigMap).Data[runner.TaskFile]), &task); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, task.AllowedEndpoints); diff != "" {
		t.Errorf("task.allowedEndpoints (-want +got):\n%s", diff)
	}
	var cidrs []string
	for _, rule := range children[1].(*networkingv1.NetworkPolicy).Spec.Egress {
		for _, peer := range rule.To {
			if peer.IPBlock != nil {
				cidrs = append(cidrs, peer.IPBlock.CIDR)
			}
		}
	}
	if diff := cmp.Diff([]string{"10.0.0.5/32", "10.0.0.7/32"}, cidrs); diff != "" {
		t.Errorf("NetworkPolicy egress IP blocks (-want +got):\n%s", diff)
	}

	// Nothing declared for the execution's datasource: the policy refuses
	// it at resolve time, and no endpoint is recorded.
	none := MergePolicies([]execv1.ExecutionPolicy{{Spec: execv1.ExecutionPolicySpec{}}})
	ce2 := wrappers.MakeCodeExecution("q2", "ns").Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("shop-db", "dsn").Obj()
	ResolveStatus(ce2, none, time.Unix(0, 0))
	if !isFinished(ce2) || ce2.Status.Sandbox != nil {
		t.Errorf("undeclared datasource: finished=%v sandbox=%+v", isFinished(ce2), ce2.Status.Sandbox)
	}
}
