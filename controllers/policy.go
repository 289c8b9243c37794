package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/endpoint"
)

// BaselinePolicyName is the name of the ExecutionPolicy shipped in
// config/samples, which selects namespaces labelled
// execution.codeexec.io/enabled=true.
const BaselinePolicyName = "codeexec-baseline"

// EffectivePolicy is what the ExecutionPolicies selecting one namespace
// amount to, merged with the most restrictive value winning.
type EffectivePolicy struct {
	// Names of the policies merged, sorted.
	Names []string
	// Refusal, when not empty, refuses every execution of the namespace:
	// no policy selects it, or one that does is unusable.
	Refusal string
	// AllowedLanguages; nil allows all.
	AllowedLanguages map[execv1.Language]bool
	// Defaults and Max per language.
	Defaults map[execv1.Language]execv1.ExecutionLimits
	Max      map[execv1.Language]execv1.ExecutionLimits
	// maxFrom names the policy that set each maximum, for messages:
	// language/field → policy.
	maxFrom map[string]string
	// Datasources maps each usable datasource Secret to the endpoints its
	// DSN may name (canonical host:port, sorted); nil when no policy
	// declares a datasource.
	Datasources map[string][]string
	// datasourcesFrom names the policies that declare datasources.
	datasourcesFrom []string
	// MaxConcurrent is the per-namespace cap; nil means none.
	MaxConcurrent    *int32
	RuntimeClassName *string
	KueueQueueName   string
	// SQL permissions; false unless every policy allows.
	SQLSystemSchemas bool
	SQLShow          bool
}

// StoredPolicy is one ExecutionPolicy as the manager reads it from the API
// server, decoded without trusting that it passed today's schema (it may
// have been stored before the schema tightened).
type StoredPolicy struct {
	Name string
	// Selector is nil when the namespaceSelector cannot be read: the
	// policy then selects nothing.
	Selector labels.Selector
	// Policy is the decoded policy; nil when it does not decode.
	Policy *execv1.ExecutionPolicy
	// Err says why the manager cannot use the policy; nil when it can.
	Err error
}

// PolicyObject returns an empty ExecutionPolicy as unstructured data. The
// manager reads and watches policies this way so that one stored policy
// that does not decode into the Go type cannot fail the list, the cache
// or the watch of all the others.
func PolicyObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(execv1.GroupVersion.WithKind("ExecutionPolicy"))
	return u
}

// PolicyListObject is PolicyObject's list.
func PolicyListObject() *unstructured.UnstructuredList {
	u := &unstructured.UnstructuredList{}
	u.SetGroupVersionKind(execv1.GroupVersion.WithKind("ExecutionPolicyList"))
	return u
}

// ReadPolicy decodes and validates one stored ExecutionPolicy. It is a
// pure function and never fails: what is wrong ends up in Err.
func ReadPolicy(u *unstructured.Unstructured) StoredPolicy {
	sp := StoredPolicy{Name: u.GetName()}
	var sel execv1.NamespaceSelector
	raw, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "namespaceSelector")
	if err := remarshal(raw, &sel); err != nil {
		sp.Err = field.Invalid(field.NewPath("spec", "namespaceSelector"), "", err.Error())
		return sp
	}
	s, err := NamespaceSelectorAsSelector(sel)
	if err != nil {
		sp.Err = field.Invalid(field.NewPath("spec", "namespaceSelector"), "", err.Error())
		return sp
	}
	sp.Selector = s
	p := &execv1.ExecutionPolicy{}
	if err := remarshal(u.Object, p); err != nil {
		sp.Err = fmt.Errorf("the policy does not decode: %w", err)
		return sp
	}
	sp.Policy = p
	sp.Err = ValidatePolicy(p)
	return sp
}

// remarshal decodes v (unstructured data) into out through JSON, with
// JSON's own checks (a number out of an int32's range, a quantity that
// does not parse).
func remarshal(v any, out any) error {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// NamespaceSelectorAsSelector converts a policy's namespaceSelector into a
// labels.Selector, with Kubernetes' own checks of keys, operators and
// values.
func NamespaceSelectorAsSelector(s execv1.NamespaceSelector) (labels.Selector, error) {
	ls := &metav1.LabelSelector{}
	for k, v := range s.MatchLabels {
		if ls.MatchLabels == nil {
			ls.MatchLabels = map[string]string{}
		}
		ls.MatchLabels[k] = string(v)
	}
	for _, r := range s.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values,
		})
	}
	return metav1.LabelSelectorAsSelector(ls)
}

// Bounds the CRD schema states for the fields of ExecutionLimits; Go
// checks them again for policies stored before the schema said so.
const (
	maxTimeoutSeconds = 3600
	maxMaxRows        = 100000
	maxPolicyCap      = 10000
)

// ValidatePolicy checks everything the manager relies on when it enforces
// p: the same rules as the CRD's schema and CEL. It is a pure function.
func ValidatePolicy(p *execv1.ExecutionPolicy) error {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	s := p.Spec
	if _, err := NamespaceSelectorAsSelector(s.NamespaceSelector); err != nil {
		errs = append(errs, field.Invalid(spec.Child("namespaceSelector"), "", err.Error()))
	}
	langs := map[execv1.Language]bool{execv1.LanguagePython: true, execv1.LanguageSQL: true, execv1.LanguageJSX: true}
	for i, l := range s.AllowedLanguages {
		if !langs[l] {
			errs = append(errs, field.NotSupported(spec.Child("allowedLanguages").Index(i), l, []string{"Python", "SQL", "JSX"}))
		}
	}
	seen := map[execv1.Language]bool{}
	for i, l := range s.Limits {
		path := spec.Child("limits").Index(i)
		if !langs[l.Language] {
			errs = append(errs, field.NotSupported(path.Child("language"), l.Language, []string{"Python", "SQL", "JSX"}))
		}
		if seen[l.Language] {
			errs = append(errs, field.Duplicate(path.Child("language"), l.Language))
		}
		seen[l.Language] = true
		errs = append(errs, validateLimitBounds(path.Child("default"), l.Default)...)
		errs = append(errs, validateLimitBounds(path.Child("max"), l.Max)...)
		errs = append(errs, validateDefaultWithinMax(path.Child("default"), l.Default, l.Max)...)
	}
	if rc := s.RuntimeClassName; rc != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*rc) {
			errs = append(errs, field.Invalid(spec.Child("runtimeClassName"), *rc, msg))
		}
	}
	for _, msg := range validation.IsValidLabelValue(s.KueueQueueName) {
		errs = append(errs, field.Invalid(spec.Child("kueueQueueName"), s.KueueQueueName, msg))
	}
	if c := s.MaxConcurrentExecutions; c != nil && (*c < 1 || *c > maxPolicyCap) {
		errs = append(errs, field.Invalid(spec.Child("maxConcurrentExecutions"), *c, fmt.Sprintf("must be from 1 to %d", maxPolicyCap)))
	}
	for name, perm := range map[string]execv1.Permission{"sqlSystemSchemas": s.SQLSystemSchemas, "sqlShowStatements": s.SQLShowStatements} {
		if perm != "" && perm != execv1.PermissionAllow && perm != execv1.PermissionDeny {
			errs = append(errs, field.NotSupported(spec.Child(name), perm, []string{"Allow", "Deny"}))
		}
	}
	secrets := map[string]bool{}
	for i, d := range s.Datasources {
		path := spec.Child("datasources").Index(i)
		for _, msg := range validation.IsDNS1123Subdomain(d.SecretName) {
			errs = append(errs, field.Invalid(path.Child("secretName"), d.SecretName, msg))
		}
		if secrets[d.SecretName] {
			errs = append(errs, field.Duplicate(path.Child("secretName"), d.SecretName))
		}
		secrets[d.SecretName] = true
		if len(d.Endpoints) == 0 {
			errs = append(errs, field.Required(path.Child("endpoints"), "at least one host:port"))
		}
		for j, e := range d.Endpoints {
			if _, err := endpoint.Parse(e); err != nil {
				errs = append(errs, field.Invalid(path.Child("endpoints").Index(j), e, err.Error()))
			}
		}
	}
	return errs.ToAggregate()
}

func validateLimitBounds(path *field.Path, l execv1.ExecutionLimits) field.ErrorList {
	var errs field.ErrorList
	quantity := func(name string, v *resource.Quantity, lo, hi resource.Quantity) {
		if v != nil && (v.Cmp(lo) < 0 || v.Cmp(hi) > 0) {
			errs = append(errs, field.Invalid(path.Child(name), v.String(), fmt.Sprintf("must be from %s to %s", lo.String(), hi.String())))
		}
	}
	integer := func(name string, v *int32, hi int32) {
		if v != nil && (*v < 1 || *v > hi) {
			errs = append(errs, field.Invalid(path.Child(name), *v, fmt.Sprintf("must be from 1 to %d", hi)))
		}
	}
	quantity("cpu", l.CPU, minCPU, maxCPU)
	quantity("memory", l.Memory, minMemory, maxMemory)
	integer("timeoutSeconds", l.TimeoutSeconds, maxTimeoutSeconds)
	integer("maxOutputBytes", l.MaxOutputBytes, execv1.DefaultMaxOutputBytes)
	integer("maxRows", l.MaxRows, maxMaxRows)
	return errs
}

func validateDefaultWithinMax(path *field.Path, d, m execv1.ExecutionLimits) field.ErrorList {
	var errs field.ErrorList
	over := func(name string, isOver bool, got, limit string) {
		if isOver {
			errs = append(errs, field.Invalid(path.Child(name), got, "the default is over the maximum "+limit))
		}
	}
	if d.CPU != nil && m.CPU != nil {
		over("cpu", d.CPU.Cmp(*m.CPU) > 0, d.CPU.String(), m.CPU.String())
	}
	if d.Memory != nil && m.Memory != nil {
		over("memory", d.Memory.Cmp(*m.Memory) > 0, d.Memory.String(), m.Memory.String())
	}
	ints := []struct {
		name string
		d, m *int32
	}{{"timeoutSeconds", d.TimeoutSeconds, m.TimeoutSeconds}, {"maxOutputBytes", d.MaxOutputBytes, m.MaxOutputBytes}, {"maxRows", d.MaxRows, m.MaxRows}}
	for _, f := range ints {
		if f.d != nil && f.m != nil {
			over(f.name, *f.d > *f.m, fmt.Sprint(*f.d), fmt.Sprint(*f.m))
		}
	}
	return errs
}

// PolicyFor returns the effective policy of namespace ns (with labels
// nsLabels) from every stored policy. It is a pure function.
//
//   - A policy whose namespaceSelector cannot be read selects nothing: it
//     cannot tell which namespaces it meant, so it changes none.
//   - A policy that selects ns but is otherwise unusable refuses every
//     execution of ns (fail closed: a policy meant to restrict a namespace
//     never silently stops restricting it); other namespaces are
//     unaffected.
//   - When no policy selects ns, every execution is refused unless
//     allowUnselected.
func PolicyFor(stored []StoredPolicy, ns string, nsLabels map[string]string, allowUnselected bool) EffectivePolicy {
	var selected []execv1.ExecutionPolicy
	var broken []string
	set := labels.Set(nsLabels)
	for _, sp := range stored {
		if sp.Selector == nil || !sp.Selector.Matches(set) {
			continue
		}
		if sp.Err != nil || sp.Policy == nil {
			broken = append(broken, fmt.Sprintf("%s (%v)", sp.Name, sp.Err))
			continue
		}
		selected = append(selected, *sp.Policy)
	}
	sort.Slice(selected, func(i, j int) bool { return selected[i].Name < selected[j].Name })
	e := MergePolicies(selected)
	switch {
	case len(broken) > 0:
		sort.Strings(broken)
		e.Refusal = fmt.Sprintf("ExecutionPolicy %s selects namespace %q and is unusable; nothing runs in this namespace until it is fixed (see the policy's Ready condition)",
			strings.Join(broken, ", "), ns)
	case len(selected) == 0 && !allowUnselected:
		e.Refusal = fmt.Sprintf("no ExecutionPolicy selects namespace %q, and a namespace runs executions only under a policy that selects it: "+
			"label the namespace %s=true for the baseline policy %s, or create an ExecutionPolicy whose namespaceSelector matches it",
			ns, execv1.LabelExecutionsEnabled, BaselinePolicyName)
	}
	return e
}

// SelectPolicies returns the policies whose namespaceSelector matches the
// namespace labels, sorted by name.
func SelectPolicies(policies []execv1.ExecutionPolicy, nsLabels map[string]string) ([]execv1.ExecutionPolicy, error) {
	var out []execv1.ExecutionPolicy
	for _, p := range policies {
		sel, err := NamespaceSelectorAsSelector(p.Spec.NamespaceSelector)
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
		if len(s.Datasources) > 0 {
			e.datasourcesFrom = append(e.datasourcesFrom, p.Name)
			e.Datasources = intersectDatasources(e.Datasources, s.Datasources)
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

// intersectDatasources keeps the Secrets both have (all of list when have
// is nil) and, for each, the endpoints both allow, in canonical form.
func intersectDatasources(have map[string][]string, list []execv1.DatasourcePolicy) map[string][]string {
	out := map[string][]string{}
	for _, d := range list {
		var eps []string
		for _, s := range d.Endpoints {
			if p, err := endpoint.Parse(s); err == nil {
				eps = append(eps, p.String())
			}
		}
		if have != nil {
			prev, ok := have[d.SecretName]
			if !ok {
				continue
			}
			keep := map[string]bool{}
			for _, s := range prev {
				keep[s] = true
			}
			var both []string
			for _, s := range eps {
				if keep[s] {
					both = append(both, s)
				}
			}
			eps = both
		}
		sort.Strings(eps)
		out[d.SecretName] = dedupe(eps)
	}
	return out
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// DatasourceEndpoints returns the endpoints the datasource Secret of spec
// may reach, or nil when spec has no datasource or the Secret is not
// declared.
func (e EffectivePolicy) DatasourceEndpoints(spec execv1.CodeExecutionSpec) []string {
	if spec.Datasource == nil {
		return nil
	}
	return e.Datasources[spec.Datasource.SecretRef.Name]
}

// Resolve checks spec against the policy and returns the limits that will
// run: the spec's, then the policy's defaults, then the built-in defaults,
// every default lowered to the policy's maximums. A spec that breaks the
// policy gets an error naming the field, the requested value, the maximum
// and the policy.
func (e EffectivePolicy) Resolve(spec execv1.CodeExecutionSpec) (execv1.ExecutionLimits, error) {
	if e.Refusal != "" {
		return execv1.ExecutionLimits{}, errors.New(e.Refusal)
	}
	lang := spec.Language
	if e.AllowedLanguages != nil && !e.AllowedLanguages[lang] {
		return execv1.ExecutionLimits{}, fmt.Errorf("spec.language: %s is not allowed by ExecutionPolicy %s (allowed: %s)",
			lang, strings.Join(e.Names, ", "), joinKeys(e.AllowedLanguages))
	}
	if err := e.checkDatasource(spec); err != nil {
		return execv1.ExecutionLimits{}, err
	}
	max := e.Max[lang]
	defaults := lowerSet(e.Defaults[lang], max)
	builtin := minLimits(BuiltinDefaults(), max, nil, "", "")
	l := ResolveLimits(ResolveLimits(spec.Limits, defaults), builtin)
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

// checkDatasource refuses a datasource Secret that no selecting policy
// declares, or whose declarations share no endpoint.
func (e EffectivePolicy) checkDatasource(spec execv1.CodeExecutionSpec) error {
	ds := spec.Datasource
	if ds == nil {
		return nil
	}
	name := ds.SecretRef.Name
	if e.Datasources == nil {
		return fmt.Errorf("spec.datasource.secretRef.name: Secret %q is not declared: no ExecutionPolicy selecting this namespace (%s) declares a datasource in spec.datasources",
			name, strings.Join(e.Names, ", "))
	}
	eps, ok := e.Datasources[name]
	if !ok {
		declared := make([]string, 0, len(e.Datasources))
		for k := range e.Datasources {
			declared = append(declared, k)
		}
		sort.Strings(declared)
		list := strings.Join(declared, ", ")
		if list == "" {
			list = "none in common"
		}
		return fmt.Errorf("spec.datasource.secretRef.name: Secret %q is not declared in spec.datasources of ExecutionPolicy %s (declared: %s)",
			name, strings.Join(e.datasourcesFrom, ", "), list)
	}
	if len(eps) == 0 {
		return fmt.Errorf("spec.datasource.secretRef.name: Secret %q has no endpoint that every ExecutionPolicy declaring it (%s) allows",
			name, strings.Join(e.datasourcesFrom, ", "))
	}
	return nil
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

// lowerSet lowers each field d sets to max's value when it is over it;
// fields d leaves out stay out.
func lowerSet(d, max execv1.ExecutionLimits) execv1.ExecutionLimits {
	m := minLimits(d, max, nil, "", "")
	if d.CPU == nil {
		m.CPU = nil
	}
	if d.Memory == nil {
		m.Memory = nil
	}
	if d.TimeoutSeconds == nil {
		m.TimeoutSeconds = nil
	}
	if d.MaxOutputBytes == nil {
		m.MaxOutputBytes = nil
	}
	if d.MaxRows == nil {
		m.MaxRows = nil
	}
	return m
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
