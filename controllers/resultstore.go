package controllers

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// maxConfigMapPayload keeps the compressed result under the API server's
// 1 MiB ConfigMap limit with room for metadata.
const maxConfigMapPayload = 1048576 - 8192

// ResultStatus describes payload for status.result, and, when payload is
// too large to keep inline, returns the owned ConfigMap to store it in.
// It is a pure function.
func ResultStatus(ce *execv1.CodeExecution, payload []byte, truncated bool) (*execv1.ExecutionResult, *corev1.ConfigMap, error) {
	sum := sha256.Sum256(payload)
	st := &execv1.ExecutionResult{SizeBytes: int64(len(payload)), SHA256: hex.EncodeToString(sum[:]), Truncated: truncated}
	if len(payload) <= execv1.MaxInlineResultBytes {
		st.Inline = string(payload)
		return st, nil, nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(payload); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	if buf.Len() > maxConfigMapPayload {
		return nil, nil, fmt.Errorf("the result is %d bytes, %d compressed: over what a ConfigMap holds", len(payload), buf.Len())
	}
	st.ConfigMapName = ResultConfigMapName(ce.Name, ce.UID)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      st.ConfigMapName,
			Namespace: ce.Namespace,
			Labels:    ownedLabels(ce, "result"),
			Annotations: map[string]string{
				execv1.AnnotationResultSHA256: st.SHA256,
			},
		},
		BinaryData: map[string][]byte{execv1.ResultConfigMapKey: buf.Bytes()},
		Immutable:  ptr.To(true),
	}
	return st, cm, nil
}

// maxStoredResult bounds what DecodeStoredResult inflates.
const maxStoredResult = 8 << 20

// DecodeStoredResult returns the result held by a result ConfigMap that
// ResultStatus built, checked against want, the execution's
// status.result: its sha256 and size. Nothing stored beside the data (the
// ConfigMap's annotation) is trusted: anyone who may create ConfigMaps in
// the namespace can write that too.
func DecodeStoredResult(cm *corev1.ConfigMap, want *execv1.ExecutionResult) ([]byte, error) {
	if want == nil || !hexSHA256.MatchString(want.SHA256) {
		return nil, fmt.Errorf("ConfigMap %s: the execution's status.result has no sha256 to check the result against", cm.Name)
	}
	zr, err := gzip.NewReader(bytes.NewReader(cm.BinaryData[execv1.ResultConfigMapKey]))
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s: %s is not gzip: %w", cm.Name, execv1.ResultConfigMapKey, err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxStoredResult+1))
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
	}
	if len(b) > maxStoredResult {
		return nil, fmt.Errorf("ConfigMap %s: the result inflates past %d bytes", cm.Name, maxStoredResult)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != want.SHA256 || int64(len(b)) != want.SizeBytes {
		return nil, fmt.Errorf("ConfigMap %s: the result does not match the sha256 and size in the execution's status", cm.Name)
	}
	return b, nil
}
