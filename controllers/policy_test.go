package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

func q(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }

func policy(name string, mut func(*execv1.ExecutionPolicySpec)) execv1.ExecutionPolicy {
	p := execv1.ExecutionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
	mut(&p.Spec)
	return p
}

func TestSelectPolicies(t *testing.T) {
	all := policy("all", func(*execv1.ExecutionPolicySpec) {})
	teamA := policy("team-a", func(s *execv1.ExecutionPolicySpec) {
		s.NamespaceSelector = metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	})
	notProd := policy("not-prod", func(s *execv1.ExecutionPolicySpec) {
		s.NamespaceSelector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}}}}
	})
	cases := map[string]struct {
		labels map[string]string
		want   []string
	}{
		"team a in prod": {labels: map[string]string{"team": "a", "env": "prod"}, want: []string{"all", "team-a"}},
		"team b in dev":  {labels: map[string]string{"team": "b", "env": "dev"}, want: []string{"all", "not-prod"}},
		"no labels":      {labels: nil, want: []string{"all", "not-prod"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := SelectPolicies([]execv1.ExecutionPolicy{teamA, notProd, all}, tc.labels)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, p.Name)
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("SelectPolicies (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestMergeAndResolve(t *testing.T) {
	strict := policy("a-strict", func(s *execv1.ExecutionPolicySpec) {
		s.AllowedLanguages = []execv1.Language{execv1.LanguagePython, execv1.LanguageSQL}
		s.Limits = []execv1.LanguageLimits{{Language: execv1.LanguagePython,
			Default: execv1.ExecutionLimits{TimeoutSeconds: ptr.To(int32(20))},
			Max:     execv1.ExecutionLimits{Memory: q("1Gi"), TimeoutSeconds: ptr.To(int32(60))}}}
		s.MaxConcurrentExecutions = ptr.To(int32(5))
		s.SQLSystemSchemas = execv1.PermissionAllow
		s.RuntimeClassName = ptr.To("gvisor")
	})
	loose := policy("b-loose", func(s *execv1.ExecutionPolicySpec) {
		s.AllowedLanguages = []execv1.Language{execv1.LanguagePython, execv1.LanguageJSX}
		s.Limits = []execv1.LanguageLimits{{Language: execv1.LanguagePython,
			Default: execv1.ExecutionLimits{TimeoutSeconds: ptr.To(int32(40)), Memory: q("256Mi")},
			Max:     execv1.ExecutionLimits{Memory: q("2Gi"), CPU: q("1")}}}
		s.MaxConcurrentExecutions = ptr.To(int32(3))
		s.RuntimeClassName = ptr.To("kata")
		s.AllowedDatasourceSecrets = []string{"reports-db"}
	})
	tiny := policy("tiny", func(s *execv1.ExecutionPolicySpec) {
		s.Limits = []execv1.LanguageLimits{{Language: execv1.LanguagePython, Max: execv1.ExecutionLimits{Memory: q("256Mi")}}}
	})
	cases := map[string]struct {
		policies []execv1.ExecutionPolicy
		spec     execv1.CodeExecutionSpec
		want     execv1.ExecutionLimits
		wantErr  string
	}{
		"no policy: built-in defaults": {
			spec: wrappers.MakeCodeExecution("x", "ns").Obj().Spec,
			want: BuiltinDefaults(),
		},
		"most restrictive default and max win": {
			policies: []execv1.ExecutionPolicy{strict, loose},
			spec:     wrappers.MakeCodeExecution("x", "ns").Obj().Spec,
			want: execv1.ExecutionLimits{CPU: q("500m"), Memory: q("256Mi"), TimeoutSeconds: ptr.To(int32(20)),
				MaxOutputBytes: ptr.To(execv1.DefaultMaxOutputBytes), MaxRows: ptr.To(execv1.DefaultMaxRows)},
		},
		"the spec's values are kept within the maximums": {
			policies: []execv1.ExecutionPolicy{strict, loose},
			spec:     wrappers.MakeCodeExecution("x", "ns").Memory("1Gi").Timeout(60).CPU("1").Obj().Spec,
			want: execv1.ExecutionLimits{CPU: q("1"), Memory: q("1Gi"), TimeoutSeconds: ptr.To(int32(60)),
				MaxOutputBytes: ptr.To(execv1.DefaultMaxOutputBytes), MaxRows: ptr.To(execv1.DefaultMaxRows)},
		},
		"over the maximum names field, value, maximum and policy": {
			policies: []execv1.ExecutionPolicy{strict, loose},
			spec:     wrappers.MakeCodeExecution("x", "ns").Memory("1536Mi").Obj().Spec,
			wantErr:  "spec.limits.memory: requested 1536Mi is over the maximum 1Gi of ExecutionPolicy a-strict",
		},
		"timeout over the maximum": {
			policies: []execv1.ExecutionPolicy{strict},
			spec:     wrappers.MakeCodeExecution("x", "ns").Timeout(61).Obj().Spec,
			wantErr:  "spec.limits.timeoutSeconds: requested 61 is over the maximum 60 of ExecutionPolicy a-strict",
		},
		"built-in default lowered to a smaller maximum": {
			policies: []execv1.ExecutionPolicy{tiny},
			spec:     wrappers.MakeCodeExecution("x", "ns").Obj().Spec,
			want: execv1.ExecutionLimits{CPU: q("500m"), Memory: q("256Mi"), TimeoutSeconds: ptr.To(execv1.DefaultTimeoutSeconds),
				MaxOutputBytes: ptr.To(execv1.DefaultMaxOutputBytes), MaxRows: ptr.To(execv1.DefaultMaxRows)},
		},
		"language outside the intersection": {
			policies: []execv1.ExecutionPolicy{strict, loose},
			spec:     wrappers.MakeCodeExecution("x", "ns").Language(execv1.LanguageJSX).Code("<div/>").Obj().Spec,
			wantErr:  "spec.language: JSX is not allowed by ExecutionPolicy a-strict, b-loose (allowed: Python)",
		},
		"datasource secret not allowed": {
			policies: []execv1.ExecutionPolicy{loose},
			spec:     wrappers.MakeCodeExecution("x", "ns").Language(execv1.LanguagePython).Datasource("prod-db", "dsn").Obj().Spec,
			wantErr:  `spec.datasource.secretRef.name: Secret "prod-db" is not allowed by ExecutionPolicy b-loose (allowed: reports-db)`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := MergePolicies(tc.policies).Resolve(tc.spec)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestMergeScalars(t *testing.T) {
	a := policy("a", func(s *execv1.ExecutionPolicySpec) {
		s.MaxConcurrentExecutions = ptr.To(int32(5))
		s.SQLSystemSchemas, s.SQLShowStatements = execv1.PermissionAllow, execv1.PermissionAllow
		s.KueueQueueName = "team-a"
	})
	b := policy("b", func(s *execv1.ExecutionPolicySpec) {
		s.MaxConcurrentExecutions = ptr.To(int32(3))
		s.SQLShowStatements = execv1.PermissionAllow
		s.RuntimeClassName = ptr.To("gvisor")
		s.KueueQueueName = "shared"
	})
	e := MergePolicies([]execv1.ExecutionPolicy{a, b})
	got := []string{strings.Join(e.Names, ","), string(rune('0' + *e.MaxConcurrent)), ptr.Deref(e.RuntimeClassName, ""), e.KueueQueueName}
	want := []string{"a,b", "3", "gvisor", "team-a"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merge (-want,+got):\n%s", diff)
	}
	if e.SQLSystemSchemas || !e.SQLShow {
		t.Errorf("SQL permissions: systemSchemas %t show %t, want false true (Deny wins)", e.SQLSystemSchemas, e.SQLShow)
	}
	if none := MergePolicies(nil); none.SQLSystemSchemas || none.SQLShow || none.MaxConcurrent != nil {
		t.Errorf("no policy must allow nothing extra and cap nothing: %+v", none)
	}
}
