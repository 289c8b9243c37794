package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// The task contract lives in the leaf package result, which the manager
// imports without linking any language package.
const (
	TaskFile = result.TaskFile
	CodeFile = result.CodeFile
)

// Task is result.Task: what the controller mounts as task.json.
type Task = result.Task

// TaskConfig converts t and the code into a Config.
func TaskConfig(t Task, code []byte) Config {
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

// LoadTask reads task.json and the code from dir.
func LoadTask(dir string, maxCode int64) (Config, error) {
	tb, err := readBounded(filepath.Join(dir, TaskFile), result.MaxTaskFile)
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
	return TaskConfig(t, code), nil
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
