package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Files inside the task directory the controller mounts read-only into the
// Pod (from a ConfigMap it owns). Code never travels in environment
// variables or arguments.
const (
	TaskFile = "task.json"
	CodeFile = "code"
)

// Task is the contract between the controller and the runner in a Pod: the
// controller writes it as task.json beside the code; the runner reads it
// with `runner run --task-dir DIR`. Input and DSN paths are absolute paths
// inside the Pod.
type Task struct {
	Language           Language `json:"language"`
	TimeoutSeconds     int64    `json:"timeoutSeconds"`
	CPUTimeSeconds     int64    `json:"cpuTimeSeconds,omitempty"`
	MemoryBytes        int64    `json:"memoryBytes"`
	MaxOutputBytes     int64    `json:"maxOutputBytes"`
	MaxRows            int64    `json:"maxRows,omitempty"`
	Inputs             []Input  `json:"inputs,omitempty"`
	DSNFile            string   `json:"dsnFile,omitempty"`
	AllowSystemSchemas bool     `json:"allowSystemSchemas,omitempty"`
	AllowShow          bool     `json:"allowShow,omitempty"`
	// AllowedEndpoints are the host:port addresses the ExecutionPolicy
	// declares for the datasource; the DSN must name one of them.
	AllowedEndpoints []string `json:"allowedEndpoints,omitempty"`
}

// Config converts t and the code into a Config.
func (t Task) Config(code []byte) Config {
	return Config{
		Language:           t.Language,
		Code:               code,
		Timeout:            time.Duration(t.TimeoutSeconds) * time.Second,
		CPUTime:            time.Duration(t.CPUTimeSeconds) * time.Second,
		MemoryBytes:        t.MemoryBytes,
		MaxOutputBytes:     t.MaxOutputBytes,
		MaxRows:            t.MaxRows,
		Inputs:             t.Inputs,
		DSNFile:            t.DSNFile,
		AllowSystemSchemas: t.AllowSystemSchemas,
		AllowShow:          t.AllowShow,
		// Never nil from a task: an absent list allows no endpoint.
		AllowedEndpoints: append([]string{}, t.AllowedEndpoints...),
	}
}

// maxTaskFile bounds task.json; the code has its own bound in the API.
const maxTaskFile = 64 << 10

// LoadTask reads task.json and the code from dir.
func LoadTask(dir string, maxCode int64) (Config, error) {
	tb, err := readBounded(filepath.Join(dir, TaskFile), maxTaskFile)
	if err != nil {
		return Config{}, err
	}
	var t Task
	if err := json.Unmarshal(tb, &t); err != nil {
		return Config{}, fmt.Errorf("parsing %s: %w", TaskFile, err)
	}
	code, err := readBounded(filepath.Join(dir, CodeFile), maxCode)
	if err != nil {
		return Config{}, err
	}
	return t.Config(code), nil
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d", path, st.Size(), max)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, nil
}
