package kubecluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Cloud is the local cluster's cloud as EC2 shows it to Chaos Mesh's AWSChaos: each node is an
// instance ([InstanceID], also in the Node's providerID), StopInstances powers its node agent
// off (the agent and its pods end at once, its heartbeats stop) and StartInstances powers it on
// again. It answers the EC2 Query API (form-encoded POST, XML answers) on loopback; a request
// must carry the cloud's access key id in its SigV4 Authorization header (the signature itself
// is not checked: the point is that the controller used the credentials of the Secret the
// chaos object names). Anything else it is asked is an error that names the action.
type Cloud struct {
	// URL is the endpoint to put in an AWSChaos's spec.endpoint.
	URL string
	// AccessKeyID and SecretAccessKey are the credentials it accepts ([Cloud.Secret] holds them).
	AccessKeyID, SecretAccessKey string
	// Region is the region the nodes' instances are in.
	Region string

	cluster *Cluster
	srv     *http.Server
	ctx     context.Context
	cancel  context.CancelFunc

	mu    sync.Mutex
	calls []EC2Call
}

// EC2Call is one action the cloud was asked for.
type EC2Call struct {
	At       time.Time
	Action   string
	Instance string
	Node     string
	Err      string // the EC2 error code, when it failed
}

// DefaultRegion is the region of the local cluster's instances (the plan's).
const DefaultRegion = "us-east-1"

// StartCloud serves the cluster's EC2 endpoint on a loopback port until [Cloud.Close].
func (c *Cluster) StartCloud() (*Cloud, error) {
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl := &Cloud{
		URL: "http://" + ln.Addr().String(), AccessKeyID: "AKIADDPVERIFYLOCAL01", SecretAccessKey: hex.EncodeToString(secret),
		Region: DefaultRegion, cluster: c, ctx: ctx, cancel: cancel,
	}
	cl.srv = &http.Server{Handler: cl, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = cl.srv.Serve(ln) }()
	return cl, nil
}

// Close stops serving.
func (cl *Cloud) Close() error {
	cl.cancel()
	return cl.srv.Close()
}

// Secret is the Secret Chaos Mesh reads an AWSChaos's credentials from (the keys it expects).
func (cl *Cloud) Secret(namespace, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Data:       map[string][]byte{"aws_access_key_id": []byte(cl.AccessKeyID), "aws_secret_access_key": []byte(cl.SecretAccessKey)},
	}
}

// WriteSecret creates namespace when it is missing and [Cloud.Secret] in it; a Secret of that
// name already there is kept.
func (cl *Cloud) WriteSecret(ctx context.Context, client kubernetes.Interface, namespace, name string) error {
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	if err == nil || apierrors.IsAlreadyExists(err) {
		_, err = client.CoreV1().Secrets(namespace).Create(ctx, cl.Secret(namespace, name), metav1.CreateOptions{})
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("the cloud's credentials in namespace %s: %w", namespace, err)
	}
	return nil
}

// Calls returns the actions asked so far, oldest first.
func (cl *Cloud) Calls() []EC2Call {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]EC2Call(nil), cl.calls...)
}

// EC2 instance states (code and name), as DescribeInstances and Stop/StartInstances give them.
type instanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

var (
	statePending  = instanceState{0, "pending"}
	stateRunning  = instanceState{16, "running"}
	stateStopping = instanceState{64, "stopping"}
	stateStopped  = instanceState{80, "stopped"}
)

type stateChange struct {
	InstanceID    string        `xml:"instanceId"`
	CurrentState  instanceState `xml:"currentState"`
	PreviousState instanceState `xml:"previousState"`
}

type stateChangeResponse struct {
	XMLName   xml.Name
	Xmlns     string        `xml:"xmlns,attr"`
	RequestID string        `xml:"requestId"`
	Instances []stateChange `xml:"instancesSet>item"`
}

type ec2Error struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

var credentialKey = regexp.MustCompile(`Credential=([^/,\s]+)/`)

// ServeHTTP answers one EC2 Query API request.
func (cl *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := requestID()
	if err := r.ParseForm(); err != nil {
		cl.fail(w, reqID, "", nil, &apiError{http.StatusBadRequest, "MalformedQueryString", err.Error()})
		return
	}
	action := r.Form.Get("Action")
	if m := credentialKey.FindStringSubmatch(r.Header.Get("Authorization")); m == nil || m[1] != cl.AccessKeyID {
		cl.fail(w, reqID, action, nil, &apiError{http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"})
		return
	}
	ids := instanceIDs(r.Form)
	var change func(*NodeAgent) (stateChange, error)
	switch action {
	case "StopInstances":
		change = cl.stop
	case "StartInstances":
		change = cl.start
	default:
		cl.fail(w, reqID, action, ids, &apiError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("the local cloud answers StopInstances and StartInstances, not %q", action)})
		return
	}
	if len(ids) == 0 {
		cl.fail(w, reqID, action, nil, &apiError{http.StatusBadRequest, "MissingParameter", "the request must contain the parameter InstanceId"})
		return
	}
	agents, err := cl.agents(ids)
	if err != nil {
		cl.fail(w, reqID, action, ids, err)
		return
	}
	resp := stateChangeResponse{XMLName: xml.Name{Local: action + "Response"}, Xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/", RequestID: reqID}
	for i, a := range agents {
		sc, err := change(a)
		if err != nil {
			cl.fail(w, reqID, action, ids, &apiError{http.StatusInternalServerError, "InternalError", err.Error()})
			return
		}
		cl.record(EC2Call{At: time.Now(), Action: action, Instance: ids[i], Node: a.Node.Name})
		resp.Instances = append(resp.Instances, sc)
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(resp)
}

// instanceIDs reads InstanceId.1, InstanceId.2, ... in order.
func instanceIDs(form map[string][]string) []string {
	type kv struct {
		n  int
		id string
	}
	var got []kv
	for k, v := range form {
		var n int
		if _, err := fmt.Sscanf(k, "InstanceId.%d", &n); err == nil && len(v) > 0 {
			got = append(got, kv{n, v[0]})
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].n < got[j].n })
	ids := make([]string, len(got))
	for i, g := range got {
		ids[i] = g.id
	}
	return ids
}

// agents finds the node agent of every instance, or names those that do not exist.
func (cl *Cloud) agents(ids []string) ([]*NodeAgent, error) {
	byID := map[string]*NodeAgent{}
	cl.cluster.mu.Lock()
	for _, a := range cl.cluster.Nodes {
		byID[InstanceID(a.Node.Name)] = a
	}
	cl.cluster.mu.Unlock()
	var out []*NodeAgent
	var missing []string
	for _, id := range ids {
		a, ok := byID[id]
		if !ok {
			missing = append(missing, id)
		}
		out = append(out, a)
	}
	if len(missing) > 0 {
		return nil, &apiError{http.StatusBadRequest, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(missing, ", "))}
	}
	return out, nil
}

func (cl *Cloud) stop(a *NodeAgent) (stateChange, error) {
	sc := stateChange{InstanceID: InstanceID(a.Node.Name), PreviousState: stateStopped, CurrentState: stateStopped}
	if a.PoweredOn() {
		sc.PreviousState, sc.CurrentState = stateRunning, stateStopping
	}
	a.PowerOff()
	return sc, nil
}

func (cl *Cloud) start(a *NodeAgent) (stateChange, error) {
	sc := stateChange{InstanceID: InstanceID(a.Node.Name), PreviousState: stateRunning, CurrentState: stateRunning}
	if !a.PoweredOn() {
		sc.PreviousState, sc.CurrentState = stateStopped, statePending
	}
	return sc, a.PowerOn(cl.ctx)
}

func (cl *Cloud) record(c EC2Call) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.calls = append(cl.calls, c)
}

func (cl *Cloud) fail(w http.ResponseWriter, reqID, action string, ids []string, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{http.StatusInternalServerError, "InternalError", err.Error()}
	}
	cl.record(EC2Call{At: time.Now(), Action: action, Instance: strings.Join(ids, ","), Err: ae.code})
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(ae.status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(ec2Error{Code: ae.code, Message: ae.message, RequestID: reqID})
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
