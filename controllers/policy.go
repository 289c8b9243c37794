package controllers

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// EffectivePolicy is what the ExecutionPolicies selecting one namespace
// amount to, merged with the most restrictive value winning.
type EffectivePolicy struct {
	// Names of the policies merged, sorted.
	Names []string
	// AllowedLanguages; nil allows all.
	AllowedLanguages map[execv1.Language]bool
	// Defaults and Max per language.
	Defaults map[execv1.Language]execv1.ExecutionLimits
	Max      map[execv1.Language]execv1.ExecutionLimits
	// maxFrom names the policy that set each maximum, for messages:
	// language/field → policy.
	maxFrom map[string]string
	// AllowedSecrets; nil allows any.
	AllowedSecrets map[string]bool
	// MaxConcurrent is the per-namespace cap; nil means none.
	MaxConcurrent    *int32
	RuntimeClassName *string
	KueueQueueName   string
	// SQL permissions; false unless every policy allows.
	SQLSystemSchemas bool
	SQLShow          bool
}

// SelectPolicies returns the policies whose namespaceSelector matches the
// namespace labels, sorted by name.
func SelectPolicies(policies []execv1.ExecutionPolicy, nsLabels map[string]string) ([]execv1.ExecutionPolicy, error) {
	var out []execv1.ExecutionPolicy
	for _, p := range policies {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.NamespaceSelector)
		if err != nil {
			return nil, fmt.Errorf("ExecutionPolicy %s: spec.namespaceSelector: %w", p.Name, err)
		}
		if sel.Matches(labels.Set(nsLabels)) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// MergePolicies merges policies (sorted by name) into one, the most
// restrictive value of each field winning. It is a pure function.
func MergePolicies(policies []execv1.ExecutionPolicy) EffectivePolicy {
	e := EffectivePolicy{
		Defaults: map[execv1.Language]execv1.ExecutionLimits{},
		Max:      map[execv1.Language]execv1.ExecutionLimits{},
		maxFrom:  map[string]string{},
	}
	if len(policies) == 0 {
		return e
	}
	e.SQLSystemSchemas, e.SQLShow = true, true
	for _, p := range policies {
		s := p.Spec
		e.Names = append(e.Names, p.Name)
		if len(s.AllowedLanguages) > 0 {
			e.AllowedLanguages = intersect(e.AllowedLanguages, s.AllowedLanguages)
		}
		if len(s.AllowedDatasourceSecrets) > 0 {
			e.AllowedSecrets = intersect(e.AllowedSecrets, s.AllowedDatasourceSecrets)
		}
		for _, l := range s.Limits {
			e.Defaults[l.Language] = minLimits(e.Defaults[l.Language], l.Default, nil, "", "")
			e.Max[l.Language] = minLimits(e.Max[l.Language], l.Max, e.maxFrom, string(l.Language), p.Name)
		}
		if s.MaxConcurrentExecutions != nil && (e.MaxConcurrent == nil || *s.MaxConcurrentExecutions < *e.MaxConcurrent) {
			e.MaxConcurrent = s.MaxConcurrentExecutions
		}
		if e.RuntimeClassName == nil && s.RuntimeClassName != nil {
			e.RuntimeClassName = s.RuntimeClassName
		}
		if e.KueueQueueName == "" {
			e.KueueQueueName = s.KueueQueueName
		}
		e.SQLSystemSchemas = e.SQLSystemSchemas && s.SQLSystemSchemas == execv1.PermissionAllow
		e.SQLShow = e.SQLShow && s.SQLShowStatements == execv1.PermissionAllow
	}
	return e
}

// Resolve checks spec against the policy and returns the limits that will
// run: the spec's, then the policy's defaults, then the built-in defaults
// lowered to the policy's maximums. A spec that breaks the policy gets an
// error naming the field, the requested value, the maximum and the policy.
func (e EffectivePolicy) Resolve(spec execv1.CodeExecutionSpec) (execv1.ExecutionLimits, error) {
	lang := spec.Language
	if e.AllowedLanguages != nil && !e.AllowedLanguages[lang] {
		return execv1.ExecutionLimits{}, fmt.Errorf("spec.language: %s is not allowed by ExecutionPolicy %s (allowed: %s)",
			lang, strings.Join(e.Names, ", "), joinKeys(e.AllowedLanguages))
	}
	if ds := spec.Datasource; ds != nil && e.AllowedSecrets != nil && !e.AllowedSecrets[ds.SecretRef.Name] {
		return execv1.ExecutionLimits{}, fmt.Errorf("spec.datasource.secretRef.name: Secret %q is not allowed by ExecutionPolicy %s (allowed: %s)",
			ds.SecretRef.Name, strings.Join(e.Names, ", "), joinKeys(e.AllowedSecrets))
	}
	max := e.Max[lang]
	builtin := minLimits(BuiltinDefaults(), max, nil, "", "")
	l := ResolveLimits(ResolveLimits(spec.Limits, e.Defaults[lang]), builtin)
	check := func(field string, over bool, got, limit string) error {
		if !over {
			return nil
		}
		return fmt.Errorf("spec.limits.%s: requested %s is over the maximum %s of ExecutionPolicy %s", field, got, limit, e.maxFrom[string(lang)+"/"+field])
	}
	var err error
	if max.CPU != nil && err == nil {
		err = check("cpu", l.CPU.Cmp(*max.CPU) > 0, l.CPU.String(), max.CPU.String())
	}
	if max.Memory != nil && err == nil {
		err = check("memory", l.Memory.Cmp(*max.Memory) > 0, l.Memory.String(), max.Memory.String())
	}
	if max.TimeoutSeconds != nil && err == nil {
		err = check("timeoutSeconds", *l.TimeoutSeconds > *max.TimeoutSeconds, fmt.Sprint(*l.TimeoutSeconds), fmt.Sprint(*max.TimeoutSeconds))
	}
	if max.MaxOutputBytes != nil && err == nil {
		err = check("maxOutputBytes", *l.MaxOutputBytes > *max.MaxOutputBytes, fmt.Sprint(*l.MaxOutputBytes), fmt.Sprint(*max.MaxOutputBytes))
	}
	if max.MaxRows != nil && err == nil {
		err = check("maxRows", *l.MaxRows > *max.MaxRows, fmt.Sprint(*l.MaxRows), fmt.Sprint(*max.MaxRows))
	}
	if err != nil {
		return execv1.ExecutionLimits{}, err
	}
	return l, nil
}

// minLimits returns, field by field, the smaller of a and b (a set value
// beats an unset one). When from is not nil it records which policy set
// each field that b lowered.
func minLimits(a, b execv1.ExecutionLimits, from map[string]string, lang, policy string) execv1.ExecutionLimits {
	out := *a.DeepCopy()
	note := func(field string) {
		if from != nil {
			from[lang+"/"+field] = policy
		}
	}
	q := func(x, y *resource.Quantity, field string) *resource.Quantity {
		if y != nil && (x == nil || y.Cmp(*x) < 0) {
			note(field)
			c := y.DeepCopy()
			return &c
		}
		return x
	}
	i := func(x, y *int32, field string) *int32 {
		if y != nil && (x == nil || *y < *x) {
			note(field)
			v := *y
			return &v
		}
		return x
	}
	out.CPU = q(out.CPU, b.CPU, "cpu")
	out.Memory = q(out.Memory, b.Memory, "memory")
	out.TimeoutSeconds = i(out.TimeoutSeconds, b.TimeoutSeconds, "timeoutSeconds")
	out.MaxOutputBytes = i(out.MaxOutputBytes, b.MaxOutputBytes, "maxOutputBytes")
	out.MaxRows = i(out.MaxRows, b.MaxRows, "maxRows")
	return out
}

func intersect[T comparable](have map[T]bool, list []T) map[T]bool {
	out := map[T]bool{}
	for _, v := range list {
		if have == nil || have[v] {
			out[v] = true
		}
	}
	return out
}

func joinKeys[T ~string](m map[T]bool) string {
	var s []string
	for k := range m {
		s = append(s, string(k))
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
