package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// maxNameLen is the longest child name: Job names become the
// batch.kubernetes.io/job-name label value, which is capped at 63.
const maxNameLen = 63

// childName returns a deterministic DNS-1123 label for an object derived
// from the CodeExecution named name with the given uid: the name, cut to
// fit, then a short hash of the UID, then suffix. The UID makes a
// recreated CodeExecution of the same name get new children instead of
// colliding with the old ones while they are garbage-collected.
func childName(name string, uid types.UID, suffix string) string {
	sum := sha256.Sum256([]byte(uid))
	h := hex.EncodeToString(sum[:])[:8]
	tail := "-" + h
	if suffix != "" {
		tail += "-" + suffix
	}
	keep := maxNameLen - len(tail)
	if len(name) > keep {
		name = strings.TrimRight(name[:keep], "-.")
	}
	name = strings.ReplaceAll(name, ".", "-")
	return name + tail
}

// JobName is the name of the Job of a CodeExecution.
func JobName(name string, uid types.UID) string { return childName(name, uid, "") }

// TaskConfigMapName is the name of the ConfigMap holding the code and task.
func TaskConfigMapName(name string, uid types.UID) string { return childName(name, uid, "task") }

// ResultConfigMapName is the name of the ConfigMap holding a large result.
func ResultConfigMapName(name string, uid types.UID) string {
	return childName(name, uid, "result")
}

// labelValue cuts s to a valid label value (names are DNS subdomains, so
// only the length and the last character can be wrong).
func labelValue(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimRight(s, "-._")
}
