package controllers

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
)

// Paths inside the sandbox Pod.
const (
	TaskMountPath       = "/var/run/codeexec/task"
	DatasourceMountPath = "/var/run/codeexec/datasource"
	ScratchMountPath    = "/scratch"
	datasourceFile      = "dsn"
	defaultSecretKey    = "dsn"
)

// SandboxUID is the fixed non-root uid and gid the sandbox Pod runs as.
const SandboxUID = int64(65532)

// JobOptions are the manager-wide settings of the Job builder.
type JobOptions struct {
	// RunnerImage is the image of the sandbox Pod.
	RunnerImage string
	// ImagePullPolicy of the runner container; empty means IfNotPresent.
	ImagePullPolicy corev1.PullPolicy
	// DeadlineGraceSeconds is added to timeoutSeconds to make the Job's
	// activeDeadlineSeconds, leaving the runner time to start and report.
	DeadlineGraceSeconds int32
	// ScratchSizeLimit bounds the scratch emptyDir.
	ScratchSizeLimit resource.Quantity
	// TTLSecondsAfterFinished is set on the Job. The reconciler passes nil
	// when creating the Job and sets the configured TTL only after the
	// result is persisted, so the TTL can never delete the Pod first.
	TTLSecondsAfterFinished *int32
	// RuntimeClassName, when set, runs the Pod under that RuntimeClass
	// (gVisor or Kata, where the cluster has them).
	RuntimeClassName *string
	// KueueQueueName, when set, creates the Job suspended with Kueue's
	// queue-name label so that Kueue admits it.
	KueueQueueName string
	// SandboxUIDBase and SandboxUIDCount are the range of the per-execution
	// uid Python code runs as (zero: DefaultSandboxUIDBase and
	// DefaultSandboxUIDCount). Keep it clear of uids used on the nodes.
	SandboxUIDBase, SandboxUIDCount int64
	// DisableRunnerWallClock turns the runner's own wall clock off, leaving
	// the Job's activeDeadlineSeconds alone to end a run. For end-to-end
	// tests of that deadline only.
	DisableRunnerWallClock bool
}

// LabelKueueQueueName is Kueue's label naming the LocalQueue of a Job.
const LabelKueueQueueName = "kueue.x-k8s.io/queue-name"

// SQLPermissions are what an ExecutionPolicy lets SQL do beyond the
// default guard.
type SQLPermissions struct {
	SystemSchemas bool
	Show          bool
	// Endpoints are the host:port addresses the policy declares for the
	// datasource; the runner refuses a DSN naming any other.
	Endpoints []string
}

// DefaultJobOptions returns the defaults of the manager's flags.
func DefaultJobOptions() JobOptions {
	return JobOptions{
		RunnerImage:          "codeexec.io/runner:dev",
		DeadlineGraceSeconds: 15,
		ScratchSizeLimit:     resource.MustParse("256Mi"),
		SandboxUIDBase:       DefaultSandboxUIDBase,
		SandboxUIDCount:      DefaultSandboxUIDCount,
	}
}

// ownedLabels are the labels on everything the controller creates for ce.
func ownedLabels(ce *execv1.CodeExecution, component string) map[string]string {
	return map[string]string{
		execv1.LabelExecutionName: labelValue(ce.Name),
		execv1.LabelExecutionUID:  string(ce.UID),
		execv1.LabelComponent:     component,
		execv1.LabelManagedBy:     execv1.ManagedByValue,
	}
}

func inputPath(in execv1.ExecutionInput) string {
	ext := ".csv"
	if in.Format == execv1.InputFormatJSON {
		ext = ".json"
	}
	return path.Join("inputs", in.Name+ext)
}

// BuildTask returns the runner's task for ce with resolved limits l.
func BuildTask(ce *execv1.CodeExecution, l execv1.ExecutionLimits, sql SQLPermissions) result.Task {
	t := result.Task{
		Language:       result.Language(strings.ToLower(string(ce.Spec.Language))),
		TimeoutSeconds: int64(ptr.Deref(l.TimeoutSeconds, execv1.DefaultTimeoutSeconds)),
		MemoryBytes:    l.Memory.Value(),
		MaxOutputBytes: int64(ptr.Deref(l.MaxOutputBytes, execv1.DefaultMaxOutputBytes)),
		MaxRows:        int64(ptr.Deref(l.MaxRows, execv1.DefaultMaxRows)),
	}
	for _, in := range ce.Spec.Inputs {
		format := "csv"
		if in.Format == execv1.InputFormatJSON {
			format = "json"
		}
		t.Inputs = append(t.Inputs, result.Input{Name: in.Name, Path: path.Join(TaskMountPath, inputPath(in)), Format: format})
	}
	if ce.Spec.Datasource != nil {
		t.DSNFile = path.Join(DatasourceMountPath, datasourceFile)
	}
	if ce.Spec.Language == execv1.LanguageSQL {
		t.AllowSystemSchemas, t.AllowShow = sql.SystemSchemas, sql.Show
		t.AllowedEndpoints = sql.Endpoints
	}
	return t
}

// BuildTaskConfigMap returns the ConfigMap carrying ce's code and task,
// mounted read-only into the sandbox Pod.
func BuildTaskConfigMap(ce *execv1.CodeExecution, l execv1.ExecutionLimits, sql SQLPermissions) (*corev1.ConfigMap, error) {
	task, err := json.Marshal(BuildTask(ce, l, sql))
	if err != nil {
		return nil, fmt.Errorf("encoding the task: %w", err)
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      TaskConfigMapName(ce.Name, ce.UID),
			Namespace: ce.Namespace,
			Labels:    ownedLabels(ce, "task"),
		},
		Data:      map[string]string{result.CodeFile: ce.Spec.Code, result.TaskFile: string(task)},
		Immutable: ptr.To(true),
	}, nil
}

// BuildJob returns the Job that runs ce with resolved limits l. It is a
// pure function: no client, no clock. The owner reference is set by the
// caller just before creating it.
func BuildJob(ce *execv1.CodeExecution, l execv1.ExecutionLimits, o JobOptions) *batchv1.Job {
	timeout := ptr.Deref(l.TimeoutSeconds, execv1.DefaultTimeoutSeconds)
	res := corev1.ResourceList{corev1.ResourceCPU: *l.CPU, corev1.ResourceMemory: *l.Memory}
	podLabels := ownedLabels(ce, "sandbox")
	podLabels[execv1.LabelLanguage] = strings.ToLower(string(ce.Spec.Language))

	sources := []corev1.VolumeProjection{{
		ConfigMap: &corev1.ConfigMapProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: TaskConfigMapName(ce.Name, ce.UID)},
			Items: []corev1.KeyToPath{
				{Key: result.CodeFile, Path: result.CodeFile},
				{Key: result.TaskFile, Path: result.TaskFile},
			},
		},
	}}
	for _, in := range ce.Spec.Inputs {
		sources = append(sources, corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: in.ConfigMapKeyRef.Name},
			Items:                []corev1.KeyToPath{{Key: in.ConfigMapKeyRef.Key, Path: inputPath(in)}},
		}})
	}
	volumes := []corev1.Volume{
		{Name: "task", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: sources, DefaultMode: ptr.To(int32(0o444)),
		}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(o.ScratchSizeLimit),
		}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "task", MountPath: TaskMountPath, ReadOnly: true},
		{Name: "scratch", MountPath: ScratchMountPath},
	}
	if ds := ce.Spec.Datasource; ds != nil && ce.Spec.Language == execv1.LanguageSQL {
		key := ds.SecretRef.Key
		if key == "" {
			key = defaultSecretKey
		}
		volumes = append(volumes, corev1.Volume{Name: "datasource", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  ds.SecretRef.Name,
			Items:       []corev1.KeyToPath{{Key: key, Path: datasourceFile}},
			DefaultMode: ptr.To(int32(0o440)),
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "datasource", MountPath: DatasourceMountPath, ReadOnly: true})
	}
	pullPolicy := o.ImagePullPolicy
	if pullPolicy == "" {
		pullPolicy = corev1.PullIfNotPresent
	}

	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        JobName(ce.Name, ce.UID),
			Namespace:   ce.Namespace,
			Labels:      ownedLabels(ce, "sandbox"),
			Annotations: map[string]string{execv1.AnnotationExecutionName: ce.Name},
		},
		Spec: batchv1.JobSpec{
			Parallelism:             ptr.To(int32(1)),
			Completions:             ptr.To(int32(1)),
			BackoffLimit:            ptr.To(int32(0)),
			ActiveDeadlineSeconds:   ptr.To(int64(timeout) + int64(o.DeadlineGraceSeconds)),
			TTLSecondsAfterFinished: o.TTLSecondsAfterFinished,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels,
					Annotations: map[string]string{execv1.AnnotationExecutionName: ce.Name},
				},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To(int64(2)),
					RuntimeClassName:              o.RuntimeClassName,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To(SandboxUID),
						RunAsGroup:     ptr.To(SandboxUID),
						FSGroup:        ptr.To(SandboxUID),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            execv1.RunnerContainerName,
						Image:           o.RunnerImage,
						ImagePullPolicy: pullPolicy,
						Args: []string{"run",
							"--task-dir", TaskMountPath,
							"--scratch-dir", ScratchMountPath,
							"--termination-log", corev1.TerminationMessagePathDefault,
							"--max-stream-bytes", strconv.Itoa(result.RunnerStreamBytes),
						},
						Env: []corev1.EnvVar{
							{Name: "HOME", Value: ScratchMountPath},
							{Name: "TMPDIR", Value: ScratchMountPath},
						},
						Resources:                corev1.ResourceRequirements{Limits: res, Requests: res.DeepCopy()},
						VolumeMounts:             mounts,
						TerminationMessagePath:   corev1.TerminationMessagePathDefault,
						TerminationMessagePolicy: corev1.TerminationMessageReadFile,
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             ptr.To(true),
							RunAsUser:                ptr.To(SandboxUID),
							RunAsGroup:               ptr.To(SandboxUID),
							ReadOnlyRootFilesystem:   ptr.To(true),
							AllowPrivilegeEscalation: ptr.To(false),
							Privileged:               ptr.To(false),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
					}},
					Volumes: volumes,
				},
			},
		},
	}
	if len(ce.Status.Policies) > 0 {
		// The sandbox-policy admission policy checks these against the
		// ExecutionPolicies that select the namespace.
		job.Annotations[AnnotationPolicies] = strings.Join(ce.Status.Policies, ",")
	}
	if o.DisableRunnerWallClock {
		c := &job.Spec.Template.Spec.Containers[0]
		c.Args = append(c.Args, "--no-wall-clock")
	}
	if ce.Spec.Language == execv1.LanguagePython {
		// User code runs only for Python: it gets a container and a uid
		// of its own, out of reach of the judge (docs/pod-boundary.md).
		splitSandbox(job, ce, o)
	}
	if o.KueueQueueName != "" {
		job.Labels[LabelKueueQueueName] = o.KueueQueueName
		job.Spec.Suspend = ptr.To(true)
	}
	return job
}
