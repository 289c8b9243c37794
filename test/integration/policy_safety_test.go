package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/controllers"
	"github.com/codeexec/codeexec-operator/internal/runner"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

func rawPolicy(name string, spec map[string]any) *unstructured.Unstructured {
	u := controllers.PolicyObject()
	u.SetName(name)
	u.Object["spec"] = spec
	return u
}

// Every field Go rejects is rejected when the policy is applied, naming the
// field: a typo never reaches the manager.
func TestPolicySchemaRejectsWhatGoRejects(t *testing.T) {
	sel := map[string]any{"matchLabels": map[string]any{"team": "x"}}
	cases := map[string]struct {
		spec map[string]any
		want string
	}{
		"operator in lower case": {spec: map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{
			map[string]any{"key": "team", "operator": "in", "values": []any{"a"}}}}}, want: "operator"},
		"In without values": {spec: map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{
			map[string]any{"key": "team", "operator": "In"}}}}, want: "values must be non-empty for In"},
		"Exists with values": {spec: map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{
			map[string]any{"key": "team", "operator": "Exists", "values": []any{"a"}}}}}, want: "empty for Exists"},
		"bad key": {spec: map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{
			map[string]any{"key": "a b", "operator": "Exists"}}}}, want: "must be a valid label key"},
		"bad matchLabels value": {spec: map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "a b"}}},
			want: "matchLabels values must be valid label values"},
		"max cpu 1n": {spec: map[string]any{"namespaceSelector": sel, "limits": []any{map[string]any{"language": "Python", "max": map[string]any{"cpu": "1n"}}}},
			want: "max.cpu must be a quantity from 10m to 64"},
		"default memory 1Ki": {spec: map[string]any{"namespaceSelector": sel, "limits": []any{map[string]any{"language": "Python", "default": map[string]any{"memory": "1Ki"}}}},
			want: "default.memory must be a quantity from 64Mi to 64Gi"},
		"default over max": {spec: map[string]any{"namespaceSelector": sel, "limits": []any{map[string]any{"language": "Python",
			"default": map[string]any{"timeoutSeconds": 60}, "max": map[string]any{"timeoutSeconds": 30}}}}, want: "each default must not exceed the maximum"},
		"int32 overflow":  {spec: map[string]any{"namespaceSelector": sel, "maxConcurrentExecutions": int64(3000000000)}, want: "maxConcurrentExecutions"},
		"language typo":   {spec: map[string]any{"allowedLanguages": []any{"python"}}, want: "allowedLanguages"},
		"permission typo": {spec: map[string]any{"sqlShowStatements": "allow"}, want: "sqlShowStatements"},
		"runtime class":   {spec: map[string]any{"runtimeClassName": "G Visor"}, want: "runtimeClassName"},
		"queue name":      {spec: map[string]any{"kueueQueueName": "team/a"}, want: "kueueQueueName"},
		"secret name":     {spec: map[string]any{"datasources": []any{map[string]any{"secretName": "Prod_DB", "endpoints": []any{"db:3306"}}}}, want: "secretName"},
		"endpoint port":   {spec: map[string]any{"datasources": []any{map[string]any{"secretName": "db", "endpoints": []any{"db:99999"}}}}, want: "the port must be from 1 to 65535"},
		"endpoint host":   {spec: map[string]any{"datasources": []any{map[string]any{"secretName": "db", "endpoints": []any{"999.1.1.1:3306"}}}}, want: "the host must be a valid IP address or DNS name"},
		"endpoint form":   {spec: map[string]any{"datasources": []any{map[string]any{"secretName": "db", "endpoints": []any{"DB:3306"}}}}, want: "must be host:port"},
		"no endpoints":    {spec: map[string]any{"datasources": []any{map[string]any{"secretName": "db", "endpoints": []any{}}}}, want: "endpoints"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := k8s.Create(context.Background(), rawPolicy("it-schema", tc.spec), client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create error = %v, want Invalid mentioning %q", err, tc.want)
			}
			// The same spec, read as the manager reads it, is unusable too.
			if sp := controllers.ReadPolicy(rawPolicy("it-schema", tc.spec)); sp.Err == nil {
				t.Errorf("the schema refuses it but ValidatePolicy accepts it")
			}
		})
	}
	t.Run("a valid policy is accepted", func(t *testing.T) {
		ok := rawPolicy("it-schema-ok", map[string]any{
			"namespaceSelector": map[string]any{"matchExpressions": []any{map[string]any{"key": "team", "operator": "In", "values": []any{"a"}}}},
			"limits":            []any{map[string]any{"language": "Python", "default": map[string]any{"cpu": "250m"}, "max": map[string]any{"cpu": 1, "memory": "1Gi"}}},
			"datasources":       []any{map[string]any{"secretName": "db", "endpoints": []any{"db.shop.svc:3306", "10.0.0.5:3306", "[2001:db8::1]:3306"}}},
		})
		if err := k8s.Create(context.Background(), ok, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		if sp := controllers.ReadPolicy(ok); sp.Err != nil {
			t.Error(sp.Err)
		}
	})
}

// A namespace no policy selects runs nothing, with a message naming the
// missing policy; the execution's Job is never created.
func TestUnselectedNamespaceRunsNothing(t *testing.T) {
	ns := newUnselectedNamespace(t, nil)
	ce := wrappers.MakeCodeExecution("unselected", ns).Obj()
	create(t, ce)
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation,
		fmt.Sprintf(`no ExecutionPolicy selects namespace %q`, ns))
	if !strings.Contains(c.Message, "execution.codeexec.io/enabled=true") || !strings.Contains(c.Message, "codeexec-baseline") {
		t.Errorf("the message %q does not say which policy is missing", c.Message)
	}
	if jobExists(ce) {
		t.Error("a Job was created in a namespace no policy selects")
	}
}

// The manager reads no Secret: the SQL task carries the declared endpoints
// and a Secret that no policy declares is refused, naming field, value and
// policy.
func TestDatasourceComesFromThePolicy(t *testing.T) {
	ns, _ := newPolicy(t, "it-ds", execv1.ExecutionPolicySpec{Datasources: []execv1.DatasourcePolicy{
		{SecretName: "shop", Endpoints: []string{"10.0.0.5:3306", "db.shop.svc:3306"}}}})
	ok := wrappers.MakeCodeExecution("declared", ns).Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("shop", "dsn").Obj()
	create(t, ok) // no Secret exists: the manager does not need it
	waitJob(t, ok)
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: controllers.TaskConfigMapName(ok.Name, ok.UID)}, cm); err != nil {
		t.Fatal(err)
	}
	var task runner.Task
	if err := json.Unmarshal([]byte(cm.Data[runner.TaskFile]), &task); err != nil {
		t.Fatal(err)
	}
	if strings.Join(task.AllowedEndpoints, ",") != "10.0.0.5:3306,db.shop.svc:3306" {
		t.Errorf("task allowedEndpoints %v", task.AllowedEndpoints)
	}
	bad := wrappers.MakeCodeExecution("undeclared", ns).Language(execv1.LanguageSQL).Code("SELECT 1").Datasource("prod", "dsn").Obj()
	// Admission refuses it once the admission policy sees it; before, the
	// controller does.
	if err := k8s.Create(context.Background(), bad); err != nil {
		if !strings.Contains(err.Error(), `Secret "prod" is not declared in spec.datasources of ExecutionPolicy it-ds`) {
			t.Fatalf("create: %v", err)
		}
		return
	}
	c := waitDone(t, bad)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation,
		`spec.datasource.secretRef.name: Secret "prod" is not declared in spec.datasources of ExecutionPolicy it-ds (declared: shop)`)
}

var _ = batchv1.Job{}

// The manager reports on each policy whether it enforces it.
func TestPolicyReportsReady(t *testing.T) {
	eventually(t, waitFor, "Ready=True on the baseline policy", func() error {
		p := &execv1.ExecutionPolicy{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: controllers.BaselinePolicyName}, p); err != nil {
			return err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, execv1.ConditionPolicyReady)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != execv1.ReasonPolicyValid || c.ObservedGeneration != p.Generation {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
}
