package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// TestBadPolicyStoredBeforeTheSchemaFailsOnlyItsNamespaces: a policy that
// the schema refuses today may already be in etcd, stored under an older,
// looser CRD. Install such a loose CRD, store the policy, put the real CRD
// back: executions in the namespaces it selects end with PolicyViolation
// naming it, executions elsewhere run, and the policy reports itself
// unusable.
func TestBadPolicyStoredBeforeTheSchemaFailsOnlyItsNamespaces(t *testing.T) {
	ctx := context.Background()
	s := k8sruntime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	ac, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	crdName := "executionpolicies." + execv1.GroupVersion.Group
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := ac.Get(ctx, client.ObjectKey{Name: crdName}, crd); err != nil {
		t.Fatal(err)
	}
	real := crd.Spec.Versions[0].Schema.DeepCopy()
	loose := &apiextensionsv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
		"spec":   {Type: "object", XPreserveUnknownFields: ptrTo(true)},
		"status": {Type: "object", XPreserveUnknownFields: ptrTo(true)},
	}}
	crd.Spec.Versions[0].Schema = &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: loose}
	if err := ac.Update(ctx, crd); err != nil {
		t.Fatalf("installing the loose CRD: %v", err)
	}
	restored := false
	restore := func() {
		if restored {
			return
		}
		eventually(t, waitFor, "the real CRD back", func() error {
			cur := &apiextensionsv1.CustomResourceDefinition{}
			if err := ac.Get(ctx, client.ObjectKey{Name: crdName}, cur); err != nil {
				return err
			}
			cur.Spec.Versions[0].Schema = real.DeepCopy()
			return ac.Update(ctx, cur)
		})
		restored = true
	}
	t.Cleanup(restore)

	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": execv1.GroupVersion.String(), "kind": "ExecutionPolicy",
		"metadata": map[string]any{"name": "it-stored-bad"},
		"spec": map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"stored-policy": "bad"}},
			"limits":            []any{map[string]any{"language": "Python", "max": map[string]any{"cpu": "1n"}}},
		},
	}}
	// The loose schema may take a moment to be served.
	eventually(t, waitFor, "the loose CRD to accept the bad policy", func() error { return k8s.Create(ctx, bad) })
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), bad) })
	restore()
	// The real schema refuses it now, as it would have from the start.
	eventually(t, waitFor, "the real schema to refuse a copy", func() error {
		cp := bad.DeepCopy()
		cp.SetName("it-stored-bad-copy")
		cp.SetResourceVersion("")
		cp.SetUID("")
		if err := k8s.Create(ctx, cp); err == nil {
			_ = k8s.Delete(ctx, cp)
			return fmt.Errorf("the real schema accepted the bad policy")
		}
		return nil
	})

	badNS := newNamespace(t, map[string]string{"stored-policy": "bad"})
	goodNS := newNamespace(t, nil)
	victim := wrappers.MakeCodeExecution("under-bad", badNS).Obj()
	bystander := wrappers.MakeCodeExecution("elsewhere", goodNS).Obj()
	create(t, victim)
	create(t, bystander)
	c := waitDone(t, victim)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation, "ExecutionPolicy it-stored-bad")
	waitJob(t, bystander)
	eventually(t, waitFor, "Ready=False on the stored bad policy", func() error {
		p := &execv1.ExecutionPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: "it-stored-bad"}, p); err != nil {
			return err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, execv1.ConditionPolicyReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != execv1.ReasonPolicyInvalid || !strings.Contains(c.Message, "spec.limits[0].max.cpu") {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
}

func ptrTo[T any](v T) *T { return &v }
