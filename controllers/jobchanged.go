package controllers

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
)

// JobSpecChanged compares the mutable fields of the live Job's spec with
// built, the Job the controller builds for the execution (BuildJob from
// the execution's recorded status, never from anything on the Job), and
// returns "" when they agree, else the first field that differs with both
// values ("spec.backoffLimit 6, built 0"). It is a pure function.
//
// Anyone who may update Jobs in the namespace can change these fields of
// a running Job, and the Job controller obeys the Job as it is: a raised
// backoffLimit (or parallelism, completions, a podFailurePolicy that
// ignores failures, a successPolicy) runs the code a second time; a
// lowered activeDeadlineSeconds ends it with a deadline the code was not
// given; a ttlSecondsAfterFinished deletes the Job under the controller.
// The verdict of a Job that is no longer the one the controller created
// cannot be trusted, so a difference ends the execution.
//
// Fields the built Job leaves unset are compared with the API server's
// defaults (completionMode NonIndexed, podReplacementPolicy
// TerminatingOrFailed or Failed). spec.suspend is not compared here:
// SuspendedAfterStart judges it (Kueue suspends and resumes a Job
// legitimately). The immutable fields (template, selector, managedBy) are
// checked when a Job is adopted (differs) and cannot change afterwards.
//
// Two fields are bounded instead of compared, so that a manager restarted
// with other Job options (--deadline-grace-seconds, a TTL) does not end
// every running execution: activeDeadlineSeconds must be at least the
// recorded timeoutSeconds plus MinDeadlineGraceSeconds (a larger deadline
// only delays the backstop; the runner's wall clock still ends the code),
// and ttlSecondsAfterFinished is not compared (it only deletes a finished
// Job; one deleted before its result is read ends the execution as
// PodFailed, saying so).
func JobSpecChanged(built, live *batchv1.Job, timeoutSeconds int64) string {
	b, l := &built.Spec, &live.Spec
	i32 := func(name string, bv, lv *int32) string {
		if equality.Semantic.DeepEqual(bv, lv) {
			return ""
		}
		return fmt.Sprintf("%s %s, built %s", name, show(lv), show(bv))
	}
	for _, d := range []string{
		i32("spec.backoffLimit", b.BackoffLimit, l.BackoffLimit),
		i32("spec.parallelism", b.Parallelism, l.Parallelism),
		i32("spec.completions", b.Completions, l.Completions),
		i32("spec.backoffLimitPerIndex", b.BackoffLimitPerIndex, l.BackoffLimitPerIndex),
		i32("spec.maxFailedIndexes", b.MaxFailedIndexes, l.MaxFailedIndexes),
	} {
		if d != "" {
			return d
		}
	}
	if min := timeoutSeconds + MinDeadlineGraceSeconds; l.ActiveDeadlineSeconds == nil || *l.ActiveDeadlineSeconds < min {
		return fmt.Sprintf("spec.activeDeadlineSeconds %s, built %s (timeoutSeconds %d needs at least %d)",
			show(l.ActiveDeadlineSeconds), show(b.ActiveDeadlineSeconds), timeoutSeconds, min)
	}
	if d := FirstDiff("spec.podFailurePolicy", b.PodFailurePolicy, l.PodFailurePolicy); d != "" {
		return d + " differs from what was built"
	}
	if d := FirstDiff("spec.successPolicy", b.SuccessPolicy, l.SuccessPolicy); d != "" {
		return d + " differs from what was built"
	}
	if bm, lm := ptr.Deref(b.CompletionMode, batchv1.NonIndexedCompletion), ptr.Deref(l.CompletionMode, batchv1.NonIndexedCompletion); bm != lm {
		return fmt.Sprintf("spec.completionMode %s, built %s", lm, bm)
	}
	if b.PodReplacementPolicy != nil {
		if !equality.Semantic.DeepEqual(b.PodReplacementPolicy, l.PodReplacementPolicy) {
			return fmt.Sprintf("spec.podReplacementPolicy %s, built %s", show(l.PodReplacementPolicy), show(b.PodReplacementPolicy))
		}
	} else if l.PodReplacementPolicy != nil {
		def := batchv1.TerminatingOrFailed
		if b.PodFailurePolicy != nil {
			def = batchv1.Failed
		}
		if *l.PodReplacementPolicy != def {
			return fmt.Sprintf("spec.podReplacementPolicy %s, built unset (%s)", *l.PodReplacementPolicy, def)
		}
	}
	return ""
}

// MinDeadlineGraceSeconds is the least a Job's activeDeadlineSeconds may
// exceed the execution's timeoutSeconds by: the judge reports within the
// timeout plus its report grace (4 s).
const MinDeadlineGraceSeconds = 5

func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
