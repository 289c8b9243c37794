package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
		s.NamespaceSelector = execv1.NamespaceSelector{MatchLabels: map[string]execv1.LabelValue{"team": "a"}}
	})
	notProd := policy("not-prod", func(s *execv1.ExecutionPolicySpec) {
		s.NamespaceSelector = execv1.NamespaceSelector{MatchExpressions: []execv1.NamespaceSelectorRequirement{
			{Key: "env", Operator: execv1.SelectorOpNotIn, Values: []string{"prod"}}}}
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
		s.Datasources = []execv1.DatasourcePolicy{{SecretName: "reports-db", Endpoints: []string{"db.reports.svc:3306"}}}
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
			wantErr:  `spec.datasource.secretRef.name: Secret "prod-db" is not declared in spec.datasources of ExecutionPolicy b-loose (declared: reports-db)`,
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

// stored reads p as the manager does, from unstructured data.
func stored(t *testing.T, obj map[string]any) StoredPolicy {
	t.Helper()
	return ReadPolicy(&unstructured.Unstructured{Object: obj})
}

func policyObj(name string, spec map[string]any) map[string]any {
	return map[string]any{"apiVersion": "execution.codeexec.io/v1alpha1", "kind": "ExecutionPolicy",
		"metadata": map[string]any{"name": name}, "spec": spec}
}

// A policy author's typo must never fail namespaces the policy does not
// select; a namespace it selects runs nothing until it is fixed; a
// namespace no policy selects runs nothing unless the manager allows it.
func TestPolicyForIsolatesUnusablePolicies(t *testing.T) {
	good := stored(t, policyObj("good", map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "a"}}}))
	badOperator := stored(t, policyObj("bad-operator", map[string]any{"namespaceSelector": map[string]any{
		"matchExpressions": []any{map[string]any{"key": "team", "operator": "in", "values": []any{"a", "b"}}}}}))
	overflow := stored(t, policyObj("overflow", map[string]any{
		"namespaceSelector":       map[string]any{"matchLabels": map[string]any{"team": "b"}},
		"maxConcurrentExecutions": int64(3000000000)}))
	tinyCPU := stored(t, policyObj("tiny-cpu", map[string]any{
		"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "c"}},
		"limits":            []any{map[string]any{"language": "Python", "max": map[string]any{"cpu": "1n"}}}}))
	badEndpoint := stored(t, policyObj("bad-endpoint", map[string]any{
		"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "d"}},
		"datasources":       []any{map[string]any{"secretName": "db", "endpoints": []any{"db:99999"}}}}))
	for _, sp := range []StoredPolicy{badOperator, overflow, tinyCPU, badEndpoint} {
		if sp.Err == nil {
			t.Errorf("%s: no error", sp.Name)
		}
	}
	if good.Err != nil {
		t.Fatalf("good: %v", good.Err)
	}
	if badOperator.Selector != nil {
		t.Error("a selector with operator \"in\" was read")
	}
	all := []StoredPolicy{badOperator, overflow, tinyCPU, badEndpoint, good}
	python := wrappers.MakeCodeExecution("x", "ns").Obj().Spec
	cases := map[string]struct {
		labels          map[string]string
		allowUnselected bool
		wantNames       string
		wantRefusal     string
	}{
		"selected by a good policy only": {labels: map[string]string{"team": "a"}, wantNames: "good"},
		"selected by an overflowing one": {labels: map[string]string{"team": "b"}, wantRefusal: `ExecutionPolicy overflow (the policy does not decode`},
		"selected by a too-small one":    {labels: map[string]string{"team": "c"}, wantRefusal: `ExecutionPolicy tiny-cpu (spec.limits[0].max.cpu: Invalid value: "1n": must be from 10m to 64) selects namespace "ns" and is unusable`},
		"selected by a bad endpoint":     {labels: map[string]string{"team": "d"}, wantRefusal: `spec.datasources[0].endpoints[0]: Invalid value: "db:99999"`},
		"selected by none":               {labels: map[string]string{"team": "z"}, wantRefusal: `no ExecutionPolicy selects namespace "ns"`},
		"selected by none, allowed":      {labels: map[string]string{"team": "z"}, allowUnselected: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := PolicyFor(all, "ns", tc.labels, tc.allowUnselected)
			if got := strings.Join(e.Names, ","); got != tc.wantNames {
				t.Errorf("names %q, want %q", got, tc.wantNames)
			}
			_, err := e.Resolve(python)
			if tc.wantRefusal == "" {
				if err != nil {
					t.Errorf("Resolve: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantRefusal) {
				t.Errorf("Resolve error %v, want one containing %q", err, tc.wantRefusal)
			}
		})
	}
}

func TestValidatePolicyMatchesTheSchema(t *testing.T) {
	ok := func(*execv1.ExecutionPolicySpec) {}
	cases := map[string]struct {
		mut  func(*execv1.ExecutionPolicySpec)
		want string
	}{
		"empty is valid": {mut: ok},
		"operator in lower case": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.NamespaceSelector.MatchExpressions = []execv1.NamespaceSelectorRequirement{{Key: "team", Operator: "in", Values: []string{"a"}}}
		}, want: "spec.namespaceSelector"},
		"Exists with values": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.NamespaceSelector.MatchExpressions = []execv1.NamespaceSelectorRequirement{{Key: "team", Operator: "Exists", Values: []string{"a"}}}
		}, want: "spec.namespaceSelector"},
		"bad label key": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.NamespaceSelector.MatchLabels = map[string]execv1.LabelValue{"a b": "x"}
		}, want: "spec.namespaceSelector"},
		"memory too small": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.Limits = []execv1.LanguageLimits{{Language: execv1.LanguagePython, Max: execv1.ExecutionLimits{Memory: q("1Mi")}}}
		}, want: "spec.limits[0].max.memory"},
		"default over max": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.Limits = []execv1.LanguageLimits{{Language: execv1.LanguagePython,
				Default: execv1.ExecutionLimits{TimeoutSeconds: ptr.To(int32(60))}, Max: execv1.ExecutionLimits{TimeoutSeconds: ptr.To(int32(30))}}}
		}, want: "spec.limits[0].default.timeoutSeconds"},
		"unknown language": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.AllowedLanguages = []execv1.Language{"Ruby"}
		}, want: "spec.allowedLanguages[0]"},
		"runtime class not a name": {mut: func(s *execv1.ExecutionPolicySpec) { s.RuntimeClassName = ptr.To("G Visor") }, want: "spec.runtimeClassName"},
		"queue not a label value":  {mut: func(s *execv1.ExecutionPolicySpec) { s.KueueQueueName = "team/a" }, want: "spec.kueueQueueName"},
		"permission typo":          {mut: func(s *execv1.ExecutionPolicySpec) { s.SQLShowStatements = "allow" }, want: "spec.sqlShowStatements"},
		"secret name not a name": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.Datasources = []execv1.DatasourcePolicy{{SecretName: "Prod_DB", Endpoints: []string{"db:3306"}}}
		}, want: "spec.datasources[0].secretName"},
		"endpoint without port": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.Datasources = []execv1.DatasourcePolicy{{SecretName: "db", Endpoints: []string{"db"}}}
		}, want: "spec.datasources[0].endpoints[0]"},
		"no endpoints": {mut: func(s *execv1.ExecutionPolicySpec) {
			s.Datasources = []execv1.DatasourcePolicy{{SecretName: "db"}}
		}, want: "spec.datasources[0].endpoints"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := policy("p", tc.mut)
			err := ValidatePolicy(&p)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestDatasourcesMergeAndRefuse(t *testing.T) {
	a := policy("a", func(s *execv1.ExecutionPolicySpec) {
		s.Datasources = []execv1.DatasourcePolicy{
			{SecretName: "shop", Endpoints: []string{"db.shop.svc:3306", "10.0.0.5:3306"}},
			{SecretName: "hr", Endpoints: []string{"hr.svc:3306"}}}
	})
	b := policy("b", func(s *execv1.ExecutionPolicySpec) {
		s.Datasources = []execv1.DatasourcePolicy{{SecretName: "shop", Endpoints: []string{"10.0.0.5:3306"}}, {SecretName: "hr", Endpoints: []string{"hr.svc:3307"}}}
	})
	none := policy("c-none", func(*execv1.ExecutionPolicySpec) {})
	sql := func(secret string) execv1.CodeExecutionSpec {
		return wrappers.MakeCodeExecution("x", "ns").Language(execv1.LanguageSQL).Code("SELECT 1").Datasource(secret, "dsn").Obj().Spec
	}
	e := MergePolicies([]execv1.ExecutionPolicy{a, b, none})
	if diff := cmp.Diff([]string{"10.0.0.5:3306"}, e.DatasourceEndpoints(sql("shop"))); diff != "" {
		t.Errorf("shop endpoints (-want,+got):\n%s", diff)
	}
	if _, err := e.Resolve(sql("shop")); err != nil {
		t.Error(err)
	}
	for secret, want := range map[string]string{
		"hr":   `spec.datasource.secretRef.name: Secret "hr" has no endpoint that every ExecutionPolicy declaring it (a, b) allows`,
		"prod": `spec.datasource.secretRef.name: Secret "prod" is not declared in spec.datasources of ExecutionPolicy a, b (declared: hr, shop)`,
	} {
		if _, err := e.Resolve(sql(secret)); err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", secret, err, want)
		}
	}
	if _, err := MergePolicies([]execv1.ExecutionPolicy{none}).Resolve(sql("shop")); err == nil ||
		err.Error() != `spec.datasource.secretRef.name: Secret "shop" is not declared: no ExecutionPolicy selecting this namespace (c-none) declares a datasource in spec.datasources` {
		t.Errorf("no declaration: %v", err)
	}
}
