package run

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/dailydoco/ddp-verify/agents"
)

// Where load agents run (Options.AgentsOn).
const (
	AgentsOnLocal      = "local"      // processes on this machine
	AgentsOnKubernetes = "kubernetes" // the pods of an Indexed Job in a cluster
)

// AgentJob describes the Indexed Job that runs a run's load agents in a cluster.
type AgentJob struct {
	// Kubeconfig and Context choose the cluster (empty: $KUBECONFIG or ~/.kube/config, its
	// current context); Namespace defaults to "default".
	Kubeconfig, Context, Namespace string
	// Image runs `ddp-verify agent` (default "ddp-verify"); CPU and Memory are each agent's
	// requests (default 1 and 512Mi).
	Image, CPU, Memory string
	// Listen is where the coordinator listens (default 127.0.0.1:0, which the pods of the local
	// cluster reach); CoordinatorURL is the address the agents are given (default
	// http://LISTEN): a cluster elsewhere needs an address its pods can reach, such as this
	// machine's, or a Service in front of it.
	Listen, CoordinatorURL string
}

// Labels of an agent Job and its pods.
const (
	agentAppLabel = "app.kubernetes.io/name"
	agentAppName  = "ddp-verify-agent"
	RunIDLabel    = "ddp-verify.dailydoco.io/run-id"
	// completionIndexAnnotation is where the Job controller writes a pod's completion index.
	completionIndexAnnotation = "batch.kubernetes.io/job-completion-index"
)

// Manifest renders the Indexed Job of n agents of run runID that report to coordinator:
// completion index = the agent's index and segment, no retry of a failed index (the run has
// already counted the agent lost), each agent's resources, the run id label.
func (j AgentJob) Manifest(runID string, n int, coordinator string) (*batchv1.Job, error) {
	cpu, err := resource.ParseQuantity(orString(j.CPU, "1"))
	if err != nil {
		return nil, fmt.Errorf("agent CPU %q: %w", j.CPU, err)
	}
	mem, err := resource.ParseQuantity(orString(j.Memory, "512Mi"))
	if err != nil {
		return nil, fmt.Errorf("agent memory %q: %w", j.Memory, err)
	}
	count, none := int32(n), int32(0)
	mode := batchv1.IndexedCompletion
	labels := map[string]string{agentAppLabel: agentAppName, RunIDLabel: runID}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: jobName(runID), Namespace: orString(j.Namespace, "default"), Labels: labels},
		Spec: batchv1.JobSpec{
			Completions: &count, Parallelism: &count, CompletionMode: &mode, BackoffLimitPerIndex: &none,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "agent", Image: orString(j.Image, "ddp-verify"),
						Args: []string{"agent", "--coordinator", coordinator},
						Env:  []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: mem},
						},
					}},
				},
			},
		},
	}, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// jobName is the agent Job's name: the run id (a label value, newRunID) in lower case, as
// object names must be.
func jobName(runID string) string {
	return strings.TrimRight(("ddp-verify-agents-" + strings.ToLower(runID))[:min(63, len("ddp-verify-agents-")+len(runID))], "-.")
}

// agentJobRun is a run's agents as an Indexed Job: applied, its pods watched, deleted.
type agentJobRun struct {
	client kubernetes.Interface
	job    *batchv1.Job
	stop   context.CancelFunc
	done   chan struct{}
}

// startAgentJob applies the Job of the run's agents and watches its pods: a pod that fails
// before its agent's final report makes the coordinator count that agent lost, named by its
// completion index.
func startAgentJob(j AgentJob, c *agents.Coordinator, runID string, n int, coordinator string) (*agentJobRun, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = j.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: j.Context}).ClientConfig()
	if err != nil {
		return nil, badInput("--agents-on kubernetes: kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, badInput("--agents-on kubernetes: %w", err)
	}
	job, err := j.Manifest(runID, n, coordinator)
	if err != nil {
		return nil, badInput("--agents-on kubernetes: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if job, err = client.BatchV1().Jobs(job.Namespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return nil, infra("--agents-on kubernetes: create the agents' Job: %w", err)
	}
	wctx, stop := context.WithCancel(context.Background())
	jr := &agentJobRun{client: client, job: job, stop: stop, done: make(chan struct{})}
	go jr.watch(wctx, c)
	return jr, nil
}

// watch reports every agent pod that failed to the coordinator, once a second.
func (jr *agentJobRun) watch(ctx context.Context, c *agents.Coordinator) {
	defer close(jr.done)
	reported := map[string]bool{}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		pods, err := jr.client.CoreV1().Pods(jr.job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + jr.job.Name})
		if err != nil {
			return
		}
		for _, p := range pods.Items {
			i, err := strconv.Atoi(p.Annotations[completionIndexAnnotation])
			if err != nil || p.Status.Phase != corev1.PodFailed || reported[p.Name] {
				continue
			}
			reported[p.Name] = true
			c.Fail(i, fmt.Errorf("its pod %s failed (%s)", p.Name, podFailure(p)))
		}
	}, time.Second)
}

// podFailure says why a pod failed: its container's exit code and reason.
func podFailure(p corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			return fmt.Sprintf("exit code %d, %s", t.ExitCode, t.Reason)
		}
	}
	return p.Status.Reason
}

// delete removes the Job and its pods.
func (jr *agentJobRun) delete() {
	jr.stop()
	<-jr.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bg := metav1.DeletePropagationBackground
	_ = jr.client.BatchV1().Jobs(jr.job.Namespace).Delete(ctx, jr.job.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
}

// WriteAgentJob prints the Indexed Job `run --agents n --agents-on kubernetes` applies, for
// `plan`: the coordinator's address is known only when the run starts.
func WriteAgentJob(w io.Writer, j AgentJob, n int) error {
	job, err := j.Manifest("RUN-ID", n, "http://COORDINATOR")
	if err != nil {
		return badInput("%w", err)
	}
	b, err := yaml.Marshal(job)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nLOAD AGENTS JOB (run --agents %d --agents-on kubernetes; the run fills in its id and the coordinator's URL)\n", n)
	_, err = w.Write(b)
	return err
}
