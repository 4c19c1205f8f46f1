package kubecluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// ImageEntrypoint maps a container image to the program that runs it on this machine: the
// local cluster has no container runtime, so an image is a program. Images named
// "ddp-verify" (any tag) run this binary; others have no entrypoint and their containers fail
// to start, with the image named. (A pause image has no program either: see [PauseImage].)
func ImageEntrypoint(image string) (string, error) {
	name := imageName(image)
	if name == "ddp-verify" || strings.HasSuffix(name, "/ddp-verify") {
		return os.Executable()
	}
	return "", fmt.Errorf("image %q has no program on this machine (the local cluster runs image ddp-verify as this binary)", image)
}

// PauseImage reports whether image is a pause image (any registry and tag: the image Chaos
// Mesh's pod-failure swaps in, gcr.io/google-containers/pause:latest by default). Its
// container runs as a pause container does: it starts, serves nothing (so its probes fail and
// its pod is not Ready) and ends when stopped. It needs no process for that.
func PauseImage(image string) bool {
	name := imageName(image)
	return name == "pause" || strings.HasSuffix(name, "/pause")
}

// imageName is an image reference without its tag or digest.
func imageName(image string) string {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name
}

// podRuntime runs the pods bound to one node as processes: each pod gets its own loopback
// address as its IP (POD_IP in its environment), each container a process whose probes the
// runtime executes; it reports the pods' status, restarts containers whose liveness probe
// fails or whose image changed, and honours termination grace periods.
type podRuntime struct {
	agent *NodeAgent
	mu    sync.Mutex
	pods  map[string]*podRun // by namespace/name
	stop  context.CancelFunc
	done  chan struct{}
}

// startPods starts the node's pod runtime: an informer on the pods bound to the node.
func (a *NodeAgent) startPods(ctx context.Context) *podRuntime {
	ctx, cancel := context.WithCancel(ctx)
	rt := &podRuntime{agent: a, pods: map[string]*podRun{}, stop: cancel, done: make(chan struct{})}
	f := informers.NewSharedInformerFactoryWithOptions(a.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.Node.Name).String()
	}))
	inf := f.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { rt.sync(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { rt.sync(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				rt.forget(p)
			} else if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				if p, ok := t.Obj.(*corev1.Pod); ok {
					rt.forget(p)
				}
			}
		},
	})
	go func() {
		defer close(rt.done)
		f.Start(ctx.Done())
		<-ctx.Done()
		f.Shutdown()
	}()
	return rt
}

// powerOff ends every pod's processes at once (SIGKILL), as a machine losing power does.
func (rt *podRuntime) powerOff() {
	rt.stop()
	<-rt.done
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, p := range rt.pods {
		p.kill()
	}
	rt.pods = map[string]*podRun{}
}

// runningContainer is a container whose process runs now.
type runningContainer struct {
	namespace, pod, container string
	pid                       int
	started                   time.Time
}

// running lists the node's containers whose processes run now (a pause container has none).
func (rt *podRuntime) running() []runningContainer {
	rt.mu.Lock()
	pods := make([]*podRun, 0, len(rt.pods))
	for _, p := range rt.pods {
		pods = append(pods, p)
	}
	rt.mu.Unlock()
	var out []runningContainer
	for _, p := range pods {
		p.mu.Lock()
		for _, c := range p.conts {
			if c.cmd != nil && c.cmd.Process != nil && !c.exited() {
				out = append(out, runningContainer{namespace: p.ns, pod: p.name, container: c.spec.Name, pid: c.cmd.Process.Pid, started: c.startedAt})
			}
		}
		p.mu.Unlock()
	}
	return out
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// sync acts on one pod's latest state: start it, restart containers whose image changed, or
// terminate it when it is being deleted.
func (rt *podRuntime) sync(ctx context.Context, pod *corev1.Pod) {
	rt.mu.Lock()
	run, ok := rt.pods[key(pod)]
	if ok && run.uid != string(pod.UID) {
		run.kill() // a new pod of the same name
		ok = false
	}
	switch {
	case pod.DeletionTimestamp != nil:
		rt.mu.Unlock()
		if ok {
			go rt.terminate(ctx, run, pod)
		} else {
			go rt.confirmDeletion(ctx, pod)
		}
		return
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		rt.mu.Unlock()
		return
	case !ok:
		run = newPodRun(rt, pod, rt.freeIP())
		rt.pods[key(pod)] = run
		rt.mu.Unlock()
		go run.start(ctx)
		return
	}
	rt.mu.Unlock()
	run.follow(pod)
}

func (rt *podRuntime) forget(pod *corev1.Pod) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if run, ok := rt.pods[key(pod)]; ok && run.uid == string(pod.UID) {
		run.kill()
		run.removeDir()
		delete(rt.pods, key(pod))
	}
}

// terminate stops a pod's containers within its grace period and confirms the deletion, as
// a kubelet does (a delete with grace 0 once the processes are gone).
func (rt *podRuntime) terminate(ctx context.Context, run *podRun, pod *corev1.Pod) {
	grace := 30 * time.Second
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	run.terminate(grace)
	run.removeDir()
	rt.mu.Lock()
	if rt.pods[key(pod)] == run {
		delete(rt.pods, key(pod))
	}
	rt.mu.Unlock()
	rt.confirmDeletion(ctx, pod)
}

func (rt *podRuntime) confirmDeletion(ctx context.Context, pod *corev1.Pod) {
	zero := int64(0)
	uid := pod.UID
	err := rt.agent.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
		rt.agent.log.Warn("confirm pod deletion", "pod", key(pod), "err", err)
	}
}

// podRun is one pod on the node.
type podRun struct {
	rt      *podRuntime
	uid     string
	ns      string
	name    string
	ip      string
	mu      sync.Mutex
	pod     *corev1.Pod
	conts   []*containerRun
	started time.Time
	ending  bool
}

func newPodRun(rt *podRuntime, pod *corev1.Pod, ip string) *podRun {
	return &podRun{rt: rt, uid: string(pod.UID), ns: pod.Namespace, name: pod.Name, pod: pod.DeepCopy(), ip: ip}
}

// freeIP gives a new pod the node's next address that no pod of the node holds (past the
// last address, a held one: a node runs far fewer pods than it has addresses); rt.mu held.
func (rt *podRuntime) freeIP() string {
	held := map[string]bool{}
	for _, p := range rt.pods {
		held[p.ip] = true
	}
	ip := rt.agent.podIP()
	for tries := 1; held[ip] && tries < 1<<16; tries++ {
		ip = rt.agent.podIP()
	}
	return ip
}

// podIP is the node's next pod address from a counter of the node's: in the pod network
// 10.244.<1+node>.<1..254> (a /24 per node, as a CNI's node CIDRs), else the loopback address
// 127.<2+node>.x.y.
func (a *NodeAgent) podIP() string {
	n := int(a.podSeq.Add(1))
	if a.podNetwork.IsValid() {
		b := a.podNetwork.Masked().Addr().As4()
		return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], 1+a.Node.Index%254, 1+n%254)
	}
	return fmt.Sprintf("127.%d.%d.%d", 2+a.Node.Index, (n/250)%250, 1+n%250)
}

// dir is the pod's own working directory (its containers' writable layer, shared by them):
// PODS_DIR/NAMESPACE_NAME_UID, or "" (the agent's) when the agent has no pods directory.
func (p *podRun) dir() string {
	if p.rt.agent.podsDir == "" {
		return ""
	}
	return filepath.Join(p.rt.agent.podsDir, p.ns+"_"+p.name+"_"+p.uid)
}

// removeDir removes the pod's directory once it is gone, as its containers' layers go.
func (p *podRun) removeDir() {
	if d := p.dir(); d != "" {
		_ = os.RemoveAll(d)
	}
}

// start starts every container and then follows them: probes every second, status on change.
func (p *podRun) start(ctx context.Context) {
	p.mu.Lock()
	if p.ending { // killed (its node powered off) before it started
		p.mu.Unlock()
		return
	}
	p.started = time.Now()
	for _, c := range p.pod.Spec.Containers {
		cr := &containerRun{spec: c, pod: p}
		p.conts = append(p.conts, cr)
		cr.run()
	}
	p.mu.Unlock()
	p.report(ctx)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		if p.ending {
			p.mu.Unlock()
			return
		}
		changed := false
		for _, c := range p.conts {
			changed = c.check() || changed
		}
		over := p.finished()
		p.mu.Unlock()
		if changed {
			p.report(ctx)
		}
		if over {
			return
		}
	}
}

// finished reports whether every container has ended for good (a Job's pod).
func (p *podRun) finished() bool {
	for _, c := range p.conts {
		if !c.finished {
			return false
		}
	}
	return len(p.conts) > 0
}

// phase is the pod's phase: Succeeded or Failed once every container has ended for good (by
// their exit codes), else Running.
func (p *podRun) phase() corev1.PodPhase {
	if !p.finished() {
		return corev1.PodRunning
	}
	for _, c := range p.conts {
		if c.lastEnd == nil || c.lastEnd.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodSucceeded
}

// follow takes a new spec of the pod: a container whose image changed restarts.
func (p *podRun) follow(pod *corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pod = pod.DeepCopy()
	for i, c := range pod.Spec.Containers {
		if i < len(p.conts) && p.conts[i].spec.Image != c.Image {
			p.conts[i].spec = c
			p.conts[i].restart("image changed to " + c.Image)
		}
	}
}

// terminate sends every container SIGTERM and kills what is left after grace.
func (p *podRun) terminate(grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ending = true
	var wg sync.WaitGroup
	for _, c := range p.conts {
		wg.Go(func() { c.stop(grace) })
	}
	wg.Wait()
}

// kill ends every container at once.
func (p *podRun) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ending = true
	for _, c := range p.conts {
		c.stop(0)
	}
}

// report writes the pod's status: Running with its IP, each container's state, readiness
// and restarts, and the Ready condition.
func (p *podRun) report(ctx context.Context) {
	p.mu.Lock()
	pod := p.pod.DeepCopy()
	now := metav1.Now()
	ready := true
	phase := p.phase()
	var statuses []corev1.ContainerStatus
	for _, c := range p.conts {
		st := c.status()
		ready = ready && st.Ready
		statuses = append(statuses, st)
	}
	p.mu.Unlock()
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		return corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now}
	}
	pod.Status.Phase = phase
	pod.Status.HostIP = NodeIP(p.rt.agent.Node)
	pod.Status.HostIPs = []corev1.HostIP{{IP: pod.Status.HostIP}}
	pod.Status.PodIP = p.ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: p.ip}}
	start := metav1.NewTime(p.started)
	pod.Status.StartTime = &start
	pod.Status.ContainerStatuses = statuses
	pod.Status.Conditions = keepTransitions(pod.Status.Conditions, []corev1.PodCondition{
		cond(corev1.PodScheduled, true), cond(corev1.PodInitialized, true),
		cond(corev1.ContainersReady, ready), cond(corev1.PodReady, ready),
	})
	// The pod object may be older than the API server's (our own last status write not yet
	// seen by the informer): on a conflict, the latest one gets the status, as a kubelet's
	// status manager does.
	pods := p.rt.agent.client.CoreV1().Pods(p.ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		_, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
		latest, gerr := pods.Get(ctx, p.name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if string(latest.UID) != p.uid {
			return nil // a new pod of the same name: not ours to report
		}
		latest.Status = pod.Status
		pod = latest
		return err
	})
	if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		p.rt.agent.log.Warn("pod status", "pod", p.ns+"/"+p.name, "err", err)
	}
}

// keepTransitions keeps the transition time of conditions whose status did not change.
func keepTransitions(old, next []corev1.PodCondition) []corev1.PodCondition {
	for i := range next {
		for _, o := range old {
			if o.Type == next[i].Type && o.Status == next[i].Status {
				next[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	return next
}

// containerRun is one container: a process, its probes and its restarts.
type containerRun struct {
	spec      corev1.Container
	pod       *podRun
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
	startedAt time.Time
	restarts  int32
	lastEnd   *corev1.ContainerStateTerminated
	waiting   string // why it is not running
	// waitReason is the waiting state's reason: reasonNotRunnable or reasonConfigError.
	waitReason string
	paused     chan struct{} // a pause container's: closed to stop it
	ready      bool
	finished   bool // exited, and its restart policy does not start it again
	probes     map[string]*probeState
}

type probeState struct {
	successes, failures int32
	last                time.Time // when it last ran
}

// Reasons a container waits.
const (
	reasonNotRunnable = "ImageNotRunnable"
	// reasonConfigError: its environment cannot be built yet (a kubelet's reason); retried.
	reasonConfigError = "CreateContainerConfigError"
)

// run starts the container's process with the pod's environment (containerEnv, plus POD_IP,
// POD_NAME, POD_NAMESPACE, NODE_NAME and DDP_LOCAL_POD=1).
func (c *containerRun) run() {
	c.ready, c.probes, c.waiting, c.waitReason = false, map[string]*probeState{}, "", reasonNotRunnable
	c.cmd, c.paused = nil, nil
	if PauseImage(c.spec.Image) {
		c.paused, c.done, c.startedAt = make(chan struct{}), make(chan struct{}), time.Now()
		done, paused := c.done, c.paused
		go func() { <-paused; close(done) }()
		return
	}
	bin, err := ImageEntrypoint(c.spec.Image)
	if err != nil {
		c.waiting = err.Error()
		return
	}
	// A command replaces the image's program unless it names it: its first word is dropped.
	args := append(slices.Clone(c.spec.Command), c.spec.Args...)
	if len(c.spec.Command) > 0 {
		if c.spec.Command[0] != "ddp-verify" {
			bin = c.spec.Command[0]
		}
		args = args[1:]
	}
	env, err := containerEnv(context.Background(), c.pod.rt, c.pod, c.spec)
	if err != nil {
		c.waiting, c.waitReason = err.Error(), reasonConfigError
		return
	}
	p := c.pod
	// DDP_LOCAL_POD=1 tells a program it runs as a pod of the local cluster.
	fixed := []string{"DDP_LOCAL_POD=1", "POD_IP=" + p.ip, "POD_NAME=" + p.name, "POD_NAMESPACE=" + p.ns, "NODE_NAME=" + p.rt.agent.Node.Name}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), fixed...), env...)
	var logFile *os.File
	if cmd.Dir = p.dir(); cmd.Dir != "" {
		if err := os.MkdirAll(cmd.Dir, 0o755); err != nil {
			c.waiting, c.waitReason = err.Error(), reasonConfigError
			return
		}
		// The container's output, kept across its restarts, as a kubelet's container logs.
		f, err := os.OpenFile(filepath.Join(cmd.Dir, c.spec.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			c.waiting, c.waitReason = err.Error(), reasonConfigError
			return
		}
		logFile, cmd.Stdout, cmd.Stderr = f, f, f
	}
	if err := c.pod.rt.agent.launch.start(cmd); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		c.waiting = err.Error()
		return
	}
	c.cmd, c.done, c.startedAt = cmd, make(chan struct{}), time.Now()
	done := c.done
	go func() {
		c.err = cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		close(done)
	}()
}

func (c *containerRun) exited() bool {
	if c.done == nil {
		return true
	}
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// check runs the container's due probes, restarts it when it exited or its liveness
// probe failed, and reports whether its status changed.
func (c *containerRun) check() bool {
	if c.waiting != "" {
		if c.waitReason != reasonConfigError {
			return false
		}
		was := c.waiting
		c.run() // a kubelet retries until the Secret or ConfigMap is there
		return c.waiting != was
	}
	if c.finished {
		return false
	}
	if c.exited() {
		if c.restartsUnder(c.pod.pod.Spec.RestartPolicy) {
			c.restart(fmt.Sprintf("exited (%v)", c.err))
		} else {
			c.recordEnd()
			c.finished, c.ready = true, false
		}
		return true
	}
	before := c.ready
	if c.probe("liveness", c.spec.LivenessProbe) == probeFailed {
		c.restart("liveness probe failed")
		return true
	}
	switch c.probe("readiness", c.spec.ReadinessProbe) {
	case probeSucceeded:
		c.ready = true
	case probeFailed:
		c.ready = false
	case probeNone:
		// No verdict this second (not due, or below its threshold): readiness stays as it
		// was; a container without a readiness probe is ready while it runs.
		if c.spec.ReadinessProbe == nil {
			c.ready = true
		}
	}
	return c.ready != before
}

type probeResult int

const (
	probeNone      probeResult = iota // not due, or below its thresholds
	probeSucceeded                    // reached its success threshold
	probeFailed                       // reached its failure threshold
)

// probe runs pr when due (initial delay, period) and applies its thresholds.
func (c *containerRun) probe(kind string, pr *corev1.Probe) probeResult {
	if pr == nil {
		return probeNone
	}
	period := max(time.Duration(pr.PeriodSeconds)*time.Second, time.Second)
	if time.Since(c.startedAt) < time.Duration(pr.InitialDelaySeconds)*time.Second {
		return probeNone
	}
	st := c.probes[kind]
	if st == nil {
		st = &probeState{}
		c.probes[kind] = st
	}
	// Checked every second: due once a period has passed since the last probe (with a
	// little slack for the ticker's jitter).
	if !st.last.IsZero() && time.Since(st.last) < period-100*time.Millisecond {
		return probeNone
	}
	st.last = time.Now()
	failures, successes := max(pr.FailureThreshold, 1), max(pr.SuccessThreshold, 1)
	if err := c.probeOnce(pr); err != nil {
		c.pod.rt.agent.log.Info("probe failed", "pod", c.pod.ns+"/"+c.pod.name, "container", c.spec.Name, "probe", kind, "err", err)
		st.failures, st.successes = st.failures+1, 0
		if st.failures >= failures {
			return probeFailed
		}
		return probeNone
	}
	st.successes, st.failures = st.successes+1, 0
	if st.successes >= successes {
		return probeSucceeded
	}
	return probeNone
}

// probeOnce runs one HTTP GET or TCP probe against the pod's IP.
func (c *containerRun) probeOnce(pr *corev1.Probe) error {
	timeout := max(time.Duration(pr.TimeoutSeconds)*time.Second, time.Second)
	port := func(p intstr.IntOrString) string {
		if p.Type == intstr.Int {
			return strconv.Itoa(p.IntValue())
		}
		for _, cp := range c.spec.Ports {
			if cp.Name == p.StrVal {
				return strconv.Itoa(int(cp.ContainerPort))
			}
		}
		return p.StrVal
	}
	switch {
	case pr.HTTPGet != nil:
		client := &http.Client{Timeout: timeout}
		resp, err := client.Get("http://" + net.JoinHostPort(c.pod.ip, port(pr.HTTPGet.Port)) + pr.HTTPGet.Path)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	case pr.TCPSocket != nil:
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(c.pod.ip, port(pr.TCPSocket.Port)), timeout)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return fmt.Errorf("only httpGet and tcpSocket probes are supported here")
}

// restartsUnder says whether a container that exited starts again under the pod's restart policy
// (Always, the default; OnFailure after a non-zero exit; Never).
func (c *containerRun) restartsUnder(policy corev1.RestartPolicy) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return c.cmd == nil || c.cmd.ProcessState == nil || c.cmd.ProcessState.ExitCode() != 0
	}
	return true
}

// restart ends the container's process and starts it again, counting the restart.
func (c *containerRun) restart(why string) {
	c.stop(time.Duration(0))
	c.pod.rt.agent.log.Info("container restarted", "pod", c.pod.ns+"/"+c.pod.name, "container", c.spec.Name, "why", why)
	c.restarts++
	c.run()
}

// stop sends SIGTERM and kills the process after grace (at once for 0), recording how it ended.
func (c *containerRun) stop(grace time.Duration) {
	if c.paused != nil && !c.exited() {
		close(c.paused) // a pause container ends on its signal, as pause does
		<-c.done
		c.lastEnd = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: metav1.NewTime(c.startedAt), FinishedAt: metav1.Now()}
		return
	}
	if c.cmd == nil || c.exited() {
		c.recordEnd()
		return
	}
	if grace > 0 {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
		}
	}
	if !c.exited() {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.recordEnd()
}

func (c *containerRun) recordEnd() {
	if c.cmd == nil || c.cmd.ProcessState == nil {
		return
	}
	code := int32(c.cmd.ProcessState.ExitCode())
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int32(ws.Signal()) // as a container runtime reports a signal: 137 for SIGKILL
	}
	c.lastEnd = &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", StartedAt: metav1.NewTime(c.startedAt), FinishedAt: metav1.Now()}
	if code == 0 {
		c.lastEnd.Reason = "Completed"
	}
}

// status is the container's status as a kubelet reports it.
func (c *containerRun) status() corev1.ContainerStatus {
	st := corev1.ContainerStatus{Name: c.spec.Name, Image: c.spec.Image, ImageID: c.spec.Image, RestartCount: c.restarts, Ready: c.ready}
	started := c.waiting == "" && !c.finished && !c.exited()
	st.Started = &started
	switch {
	case c.waiting != "":
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waitReason, Message: c.waiting}
	case started:
		st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt)}
		if c.cmd != nil {
			st.ContainerID = "process://" + strconv.Itoa(c.cmd.Process.Pid)
		}
		if c.paused != nil {
			st.ContainerID = "pause://" + c.pod.uid + "/" + c.spec.Name
		}
	default:
		st.State.Terminated = c.lastEnd
	}
	if c.lastEnd != nil && started {
		st.LastTerminationState.Terminated = c.lastEnd
	}
	return st
}
