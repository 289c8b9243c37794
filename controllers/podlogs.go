package controllers

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// LogReader reads the tail of a container's log through the API server's
// pods/log subresource.
type LogReader interface {
	TailLog(ctx context.Context, namespace, pod, container string, limitBytes int64) ([]byte, error)
}

// ClientsetLogReader is the LogReader of the manager.
type ClientsetLogReader struct{ Clientset kubernetes.Interface }

// logTailLines is how many lines at the end of the log are searched for
// the result line; the runner prints its result last.
const logTailLines = int64(20)

// TailLog returns at most limitBytes of the last lines of the log.
func (l ClientsetLogReader) TailLog(ctx context.Context, namespace, pod, container string, limitBytes int64) ([]byte, error) {
	tail := logTailLines
	req := l.Clientset.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, TailLines: &tail, LimitBytes: &limitBytes,
	})
	rc, err := req.Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the log of Pod %s/%s: %w", namespace, pod, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limitBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the log of Pod %s/%s: %w", namespace, pod, err)
	}
	return b, nil
}
