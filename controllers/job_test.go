package controllers

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

const testUID = "0b7b3f0e-4a43-4c51-9d2f-6b1c2c7a9e10"

func TestBuildJob(t *testing.T) {
	opts := JobOptions{
		RunnerImage:          "example.com/runner:v1",
		DeadlineGraceSeconds: 15,
		ScratchSizeLimit:     resource.MustParse("256Mi"),
	}
	jobName := JobName("cx", testUID)
	taskCM := TaskConfigMapName("cx", testUID)
	labels := map[string]string{
		execv1.LabelExecutionName: "cx",
		execv1.LabelExecutionUID:  testUID,
		execv1.LabelComponent:     "sandbox",
		execv1.LabelManagedBy:     execv1.ManagedByValue,
	}
	podLabels := func(lang string) map[string]string {
		m := map[string]string{execv1.LabelLanguage: lang}
		for k, v := range labels {
			m[k] = v
		}
		return m
	}
	res := func(cpu, mem string) corev1.ResourceRequirements {
		l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
		return corev1.ResourceRequirements{Limits: l, Requests: l.DeepCopy()}
	}
	taskVolume := func(extra ...corev1.VolumeProjection) corev1.Volume {
		src := append([]corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: taskCM},
			Items:                []corev1.KeyToPath{{Key: "code", Path: "code"}, {Key: "task.json", Path: "task.json"}},
		}}}, extra...)
		return corev1.Volume{Name: "task", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: src, DefaultMode: ptr.To(int32(0o444)),
		}}}
	}
	scratch := corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
		SizeLimit: ptr.To(resource.MustParse("256Mi")),
	}}}
	baseMounts := []corev1.VolumeMount{
		{Name: "task", MountPath: "/var/run/codeexec/task", ReadOnly: true},
		{Name: "scratch", MountPath: "/scratch"},
	}
	job := func(lang string, deadline int64, r corev1.ResourceRequirements, volumes []corev1.Volume, mounts []corev1.VolumeMount) *batchv1.Job {
		return &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: jobName, Namespace: "ns", Labels: labels,
				Annotations: map[string]string{execv1.AnnotationExecutionName: "cx"}},
			Spec: batchv1.JobSpec{
				Parallelism:           ptr.To(int32(1)),
				Completions:           ptr.To(int32(1)),
				BackoffLimit:          ptr.To(int32(0)),
				ActiveDeadlineSeconds: ptr.To(deadline),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: podLabels(lang),
						Annotations: map[string]string{execv1.AnnotationExecutionName: "cx"}},
					Spec: corev1.PodSpec{
						RestartPolicy:                 corev1.RestartPolicyNever,
						AutomountServiceAccountToken:  ptr.To(false),
						EnableServiceLinks:            ptr.To(false),
						TerminationGracePeriodSeconds: ptr.To(int64(2)),
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot:   ptr.To(true),
							RunAsUser:      ptr.To(int64(65532)),
							RunAsGroup:     ptr.To(int64(65532)),
							FSGroup:        ptr.To(int64(65532)),
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name:            "runner",
							Image:           "example.com/runner:v1",
							ImagePullPolicy: corev1.PullIfNotPresent,
							Args: []string{"run", "--task-dir", "/var/run/codeexec/task", "--scratch-dir", "/scratch",
								"--termination-log", "/dev/termination-log", "--max-stream-bytes", "65536"},
							Env:                      []corev1.EnvVar{{Name: "HOME", Value: "/scratch"}, {Name: "TMPDIR", Value: "/scratch"}},
							Resources:                r,
							VolumeMounts:             mounts,
							TerminationMessagePath:   "/dev/termination-log",
							TerminationMessagePolicy: corev1.TerminationMessageReadFile,
							SecurityContext: &corev1.SecurityContext{
								RunAsNonRoot:             ptr.To(true),
								RunAsUser:                ptr.To(int64(65532)),
								RunAsGroup:               ptr.To(int64(65532)),
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
	}

	// python: the judge in "runner" (uid 65532, reads the socket), the
	// code in "sandbox" (a uid of its own, the channel read-only).
	python := func(j *batchv1.Job) *batchv1.Job {
		spec := &j.Spec.Template.Spec
		r := spec.Containers[0]
		uid := SandboxUIDFor(testUID, opts)
		spec.SecurityContext.FSGroup = nil
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "channel", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi")),
		}}})
		judge := *r.DeepCopy()
		judge.Args = []string{"judge", "--task-dir", "/var/run/codeexec/task", "--channel", "/var/run/codeexec/channel/judge.sock",
			"--termination-log", "/dev/termination-log", "--max-stream-bytes", "65536"}
		judge.Env = nil
		judge.Resources = res("100m", "64Mi")
		judge.VolumeMounts = []corev1.VolumeMount{
			{Name: "task", MountPath: "/var/run/codeexec/task", ReadOnly: true},
			{Name: "channel", MountPath: "/var/run/codeexec/channel"},
		}
		sandbox := *r.DeepCopy()
		sandbox.Name = "sandbox"
		sandbox.Args = []string{"sandbox", "--task-dir", "/var/run/codeexec/task", "--scratch-dir", "/scratch",
			"--channel", "/var/run/codeexec/channel/judge.sock", "--max-stream-bytes", "65536"}
		sandbox.VolumeMounts = append(append([]corev1.VolumeMount{}, r.VolumeMounts...),
			corev1.VolumeMount{Name: "channel", MountPath: "/var/run/codeexec/channel", ReadOnly: true})
		sandbox.SecurityContext.RunAsUser = ptr.To(uid)
		sandbox.SecurityContext.RunAsGroup = ptr.To(uid)
		spec.Containers = []corev1.Container{judge, sandbox}
		return j
	}

	cases := map[string]struct {
		ce   *execv1.CodeExecution
		opts func(*JobOptions)
		want *batchv1.Job
	}{
		"python with defaults": {
			ce:   wrappers.MakeCodeExecution("cx", "ns").UID(testUID).Obj(),
			want: python(job("python", 45, res("500m", "512Mi"), []corev1.Volume{taskVolume(), scratch}, baseMounts)),
		},
		"python with inputs and limits": {
			ce: wrappers.MakeCodeExecution("cx", "ns").UID(testUID).CPU("2").Memory("1Gi").Timeout(100).
				Input("orders", "shop", "orders.csv").Obj(),
			want: python(job("python", 115, res("2", "1Gi"), []corev1.Volume{taskVolume(corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "shop"},
				Items:                []corev1.KeyToPath{{Key: "orders.csv", Path: "inputs/orders.csv"}},
			}}), scratch}, baseMounts)),
		},
		"sql mounts the datasource secret only for SQL": {
			ce: wrappers.MakeCodeExecution("cx", "ns").UID(testUID).Language(execv1.LanguageSQL).Code("SELECT 1").
				Datasource("db", "").Obj(),
			want: job("sql", 45, res("500m", "512Mi"), []corev1.Volume{taskVolume(), scratch, {Name: "datasource",
				VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: "db", Items: []corev1.KeyToPath{{Key: "dsn", Path: "dsn"}}, DefaultMode: ptr.To(int32(0o440)),
				}}}}, append(append([]corev1.VolumeMount{}, baseMounts...),
				corev1.VolumeMount{Name: "datasource", MountPath: "/var/run/codeexec/datasource", ReadOnly: true})),
		},
		"jsx gets no datasource even if one is set": {
			ce: wrappers.MakeCodeExecution("cx", "ns").UID(testUID).Language(execv1.LanguageJSX).Code("<div/>").
				Datasource("db", "dsn").Obj(),
			want: job("jsx", 45, res("500m", "512Mi"), []corev1.Volume{taskVolume(), scratch}, baseMounts),
		},
		"kueue creates the job suspended and labelled": {
			ce:   wrappers.MakeCodeExecution("cx", "ns").UID(testUID).Obj(),
			opts: func(o *JobOptions) { o.KueueQueueName = "team-a" },
			want: func() *batchv1.Job {
				j := python(job("python", 45, res("500m", "512Mi"), []corev1.Volume{taskVolume(), scratch}, baseMounts))
				j.Labels = map[string]string{LabelKueueQueueName: "team-a"}
				for k, v := range labels {
					j.Labels[k] = v
				}
				j.Spec.Suspend = ptr.To(true)
				return j
			}(),
		},
		"ttl and runtime class from options": {
			ce: wrappers.MakeCodeExecution("cx", "ns").UID(testUID).Obj(),
			opts: func(o *JobOptions) {
				o.TTLSecondsAfterFinished = ptr.To(int32(60))
				o.RuntimeClassName = ptr.To("gvisor")
			},
			want: func() *batchv1.Job {
				j := python(job("python", 45, res("500m", "512Mi"), []corev1.Volume{taskVolume(), scratch}, baseMounts))
				j.Spec.TTLSecondsAfterFinished = ptr.To(int32(60))
				j.Spec.Template.Spec.RuntimeClassName = ptr.To("gvisor")
				return j
			}(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := opts
			if tc.opts != nil {
				tc.opts(&o)
			}
			l := ResolveLimits(tc.ce.Spec.Limits, BuiltinDefaults())
			got := BuildJob(tc.ce, l, o)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("BuildJob (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestBuildTaskConfigMap(t *testing.T) {
	ce := wrappers.MakeCodeExecution("cx", "ns").UID(testUID).Code("result = inputs['orders']").Timeout(7).Memory("1Gi").
		Input("orders", "shop", "orders.csv").Obj()
	ce.Spec.Inputs = append(ce.Spec.Inputs, execv1.ExecutionInput{Name: "meta", Format: execv1.InputFormatJSON,
		ConfigMapKeyRef: execv1.ConfigMapKeyReference{Name: "shop", Key: "meta.json"}})
	cm, err := BuildTaskConfigMap(ce, ResolveLimits(ce.Spec.Limits, BuiltinDefaults()), SQLPermissions{SystemSchemas: true})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["code"] != ce.Spec.Code {
		t.Errorf("code = %q, want the spec's code", cm.Data["code"])
	}
	if cm.Immutable == nil || !*cm.Immutable {
		t.Error("the task ConfigMap must be immutable")
	}
	var got result.Task
	if err := json.Unmarshal([]byte(cm.Data["task.json"]), &got); err != nil {
		t.Fatal(err)
	}
	want := result.Task{
		Language: "python", TimeoutSeconds: 7, MemoryBytes: 1 << 30, MaxOutputBytes: 1 << 20, MaxRows: 1000,
		Inputs: []result.Input{
			{Name: "orders", Path: "/var/run/codeexec/task/inputs/orders.csv", Format: "csv"},
			{Name: "meta", Path: "/var/run/codeexec/task/inputs/meta.json", Format: "json"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task (-want,+got):\n%s", diff)
	}
}

func TestChildNames(t *testing.T) {
	long := "a-very-long-name-that-goes-on-and-on-and-on-well-past-sixty-three-characters.with.dots"
	cases := map[string]struct{ name, uid string }{
		"short": {"cx", testUID},
		"long":  {long, testUID},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, n := range []string{JobName(tc.name, "u1"), TaskConfigMapName(tc.name, "u1"), ResultConfigMapName(tc.name, "u1")} {
				if len(n) > 63 {
					t.Errorf("%q is %d characters, over 63", n, len(n))
				}
			}
			if first, again := JobName(tc.name, "u1"), JobName(tc.name, "u1"); first != again {
				t.Error("JobName is not deterministic")
			}
			if JobName(tc.name, "u1") == JobName(tc.name, "u2") {
				t.Error("JobName must differ for a recreated object (another UID)")
			}
		})
	}
}

func TestSandboxUIDFor(t *testing.T) {
	o := DefaultJobOptions()
	seen := map[int64]string{}
	for i := 0; i < 2000; i++ {
		ceUID := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919)
		uid := SandboxUIDFor(ceUID, o)
		if uid < DefaultSandboxUIDBase || uid >= DefaultSandboxUIDBase+DefaultSandboxUIDCount+1 {
			t.Fatalf("uid %d for %s is outside the range", uid, ceUID)
		}
		if uid == JudgeUID {
			t.Fatalf("uid %d is the judge's", uid)
		}
		if again := SandboxUIDFor(ceUID, o); again != uid {
			t.Fatalf("not deterministic: %d then %d", uid, again)
		}
		if other, dup := seen[uid]; dup {
			t.Errorf("%s and %s share uid %d", other, ceUID, uid)
		}
		seen[uid] = ceUID
	}
	// A range that contains the judge's uid never yields it.
	small := JobOptions{SandboxUIDBase: JudgeUID, SandboxUIDCount: 1}
	if got := SandboxUIDFor(testUID, small); got == JudgeUID {
		t.Errorf("SandboxUIDFor gave the judge's uid %d", got)
	}
}

// The boundary by construction: in every Python Pod the code's container
// has a uid that is neither root nor the judge's (nor the pause
// container's), no capability, and cannot write the judge's channel.
func TestPythonPodSeparatesJudgeAndSandbox(t *testing.T) {
	ce := wrappers.MakeCodeExecution("cx", "ns").UID(testUID).Obj()
	j := BuildJob(ce, ResolveLimits(ce.Spec.Limits, BuiltinDefaults()), DefaultJobOptions())
	spec := j.Spec.Template.Spec
	if len(spec.Containers) != 2 || spec.Containers[0].Name != execv1.RunnerContainerName || spec.Containers[1].Name != SandboxContainerName {
		t.Fatalf("containers %v, want runner then sandbox", spec.Containers)
	}
	judge, sb := spec.Containers[0], spec.Containers[1]
	ju, su, pu := *judge.SecurityContext.RunAsUser, *sb.SecurityContext.RunAsUser, *spec.SecurityContext.RunAsUser
	if su == ju || su == pu || su == 0 || *sb.SecurityContext.RunAsGroup == *judge.SecurityContext.RunAsGroup {
		t.Errorf("sandbox uid %d / judge %d / pod %d must differ", su, ju, pu)
	}
	if ptr.Deref(spec.ShareProcessNamespace, false) {
		t.Error("the sandbox must not share the judge's PID namespace")
	}
	for _, m := range sb.VolumeMounts {
		if m.Name == "channel" && !m.ReadOnly {
			t.Error("the sandbox mounts the channel writable")
		}
	}
	for _, m := range judge.VolumeMounts {
		if m.Name == "scratch" {
			t.Error("the judge mounts the code's scratch")
		}
	}
	if judge.Args[0] != "judge" || sb.Args[0] != "sandbox" {
		t.Errorf("args %v / %v", judge.Args, sb.Args)
	}
}
