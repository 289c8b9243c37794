package result

// Files inside the task directory the controller mounts read-only into the
// Pod (from a ConfigMap it owns). Code never travels in environment
// variables or arguments.
const (
	TaskFile = "task.json"
	CodeFile = "code"
)

// Language names the kind of code to run, as on the command line and in a
// Task.
type Language string

// Languages the runner knows.
const (
	Python Language = "python"
	SQL    Language = "sql"
	JSX    Language = "jsx"
)

// Input is one named table for Python code.
type Input struct {
	// Name is the key in `inputs`; order of Inputs is the order of
	// `parent_dataframes`.
	Name string `json:"name"`
	// Path is a CSV or JSON file; the format comes from Format or, when
	// empty, from the extension.
	Path string `json:"path"`
	// Format is "csv" or "json"; empty means by extension.
	Format string `json:"format,omitempty"`
}

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

// MaxTaskFile bounds task.json; the code has its own bound in the API.
const MaxTaskFile = 64 << 10
