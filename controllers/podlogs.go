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

// TailLog returns at most limitBytes of the log from its start. The
// runner writes little besides its result line, so a limit of the line's
// announced size plus some slack holds it. (tailLines would count the
// runtime's log records: containerd splits a long line into 16 KiB
// partial records, and a tail of a few records cuts a large result.)
func (l ClientsetLogReader) TailLog(ctx context.Context, namespace, pod, container string, limitBytes int64) ([]byte, error) {
	req := l.Clientset.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, LimitBytes: &limitBytes,
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
