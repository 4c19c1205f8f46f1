package kubecluster

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerEnv builds a container's environment as a kubelet does: the Services of the pod's
// namespace as service links (NAME_SERVICE_HOST, NAME_SERVICE_PORT, NAME_SERVICE_PORT_PORTNAME
// for each Service with a cluster IP, unless the pod turns enableServiceLinks off; the older
// Docker-link variables NAME_PORT_... are not set), then the container's env in order: values
// with $(VAR) references expanded to the variables before them and the service links ($$ is
// a literal $, an unknown reference stays as written), the downward API's pod fields,
// and keys of Secrets and ConfigMaps. A missing Secret, ConfigMap or key that is not optional
// is an error (the kubelet's CreateContainerConfigError), and so is any other source.
func containerEnv(ctx context.Context, rt *podRuntime, p *podRun, spec corev1.Container) ([]string, error) {
	vars := map[string]string{}
	var out []string
	set := func(name, value string) {
		vars[name] = value
		out = append(out, name+"="+value)
	}
	links, err := serviceLinks(ctx, rt, p.pod)
	if err != nil {
		return nil, err
	}
	for _, kv := range links {
		set(kv[0], kv[1])
	}
	field := podFields(p, rt.agent.Node.Name)
	for _, e := range spec.Env {
		v, err := envValue(ctx, rt, p.ns, e, field, vars)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		set(e.Name, v)
	}
	return out, nil
}

// podFields are the downward API's pod fields by their paths.
func podFields(p *podRun, node string) map[string]string {
	field := map[string]string{"status.podIP": p.ip, "metadata.name": p.name, "metadata.namespace": p.ns,
		"spec.nodeName": node, "metadata.uid": p.uid, "spec.serviceAccountName": p.pod.Spec.ServiceAccountName}
	for k, v := range p.pod.Annotations {
		field["metadata.annotations['"+k+"']"] = v
	}
	for k, v := range p.pod.Labels {
		field["metadata.labels['"+k+"']"] = v
	}
	return field
}

func envValue(ctx context.Context, rt *podRuntime, ns string, e corev1.EnvVar, field, vars map[string]string) (string, error) {
	from := e.ValueFrom
	switch {
	case from == nil:
		return expandEnv(e.Value, vars), nil
	case from.FieldRef != nil:
		v, ok := field[from.FieldRef.FieldPath]
		if !ok {
			return "", fmt.Errorf("the downward API field %q is not supported here", from.FieldRef.FieldPath)
		}
		return v, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		return objectKey(ctx, "secret", ref.Name, ref.Key, ref.Optional, func(ctx context.Context) (map[string]string, error) {
			s, err := rt.agent.client.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			data := map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
			return data, nil
		})
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		return objectKey(ctx, "configmap", ref.Name, ref.Key, ref.Optional, func(ctx context.Context) (map[string]string, error) {
			m, err := rt.agent.client.CoreV1().ConfigMaps(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return m.Data, nil
		})
	}
	return "", fmt.Errorf("this env source (resourceFieldRef or another) is not supported here")
}

// objectKey reads key of a Secret or ConfigMap; optional ones may be missing (empty value).
func objectKey(ctx context.Context, kind, name, key string, optional *bool, get func(context.Context) (map[string]string, error)) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	data, err := get(ctx)
	if err != nil {
		if optional != nil && *optional {
			return "", nil
		}
		return "", fmt.Errorf("%s %q: %w", kind, name, err)
	}
	v, ok := data[key]
	if !ok && (optional == nil || !*optional) {
		return "", fmt.Errorf("%s %q has no key %q", kind, name, key)
	}
	return v, nil
}

// serviceLinks are the service environment variables of the pod's namespace, sorted.
func serviceLinks(ctx context.Context, rt *podRuntime, pod *corev1.Pod) ([][2]string, error) {
	if pod.Spec.EnableServiceLinks != nil && !*pod.Spec.EnableServiceLinks {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := rt.agent.client.CoreV1().Services(pod.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list the services for the service links: %w", err)
	}
	var out [][2]string
	for _, s := range list.Items {
		ip := s.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_")) + "_SERVICE_"
		out = append(out, [2]string{prefix + "HOST", ip}, [2]string{prefix + "PORT", strconv.Itoa(int(s.Spec.Ports[0].Port))})
		for _, port := range s.Spec.Ports {
			if port.Name != "" {
				out = append(out, [2]string{prefix + "PORT_" + strings.ToUpper(strings.ReplaceAll(port.Name, "-", "_")), strconv.Itoa(int(port.Port))})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// expandEnv expands $(VAR) references to vars, as a kubelet does: $$ is a literal $, and a
// reference to an unknown variable, or one not closed, stays as written.
func expandEnv(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
