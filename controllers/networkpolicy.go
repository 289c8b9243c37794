package controllers

import (
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/endpoint"
)

// Endpoint is one place a SQL execution may connect: a declared endpoint
// of its datasource and the addresses it stands for.
type Endpoint struct {
	// IPs are the endpoint's address, or the addresses its name resolved
	// to when the execution started (none when it did not resolve).
	IPs  []net.IP
	Port int32
	// NeedsDNS is true when the endpoint is named by host.
	NeedsDNS bool
}

// NetworkPolicyName is the name of the NetworkPolicy of an execution.
func NetworkPolicyName(ce *execv1.CodeExecution) string { return childName(ce.Name, ce.UID, "net") }

// DeclaredEndpoints turns the host:port endpoints an ExecutionPolicy
// declares for a datasource into Endpoints, resolving names with lookup.
// Declared endpoints that do not parse are dropped (policies are
// validated before they are merged). It reads no Secret.
func DeclaredEndpoints(declared []string, lookup func(host string) ([]net.IP, error)) []Endpoint {
	var out []Endpoint
	for _, d := range declared {
		p, err := endpoint.Parse(d)
		if err != nil {
			continue
		}
		if p.IsIP() {
			out = append(out, Endpoint{IPs: []net.IP{net.IP(p.IP.AsSlice())}, Port: p.Port})
			continue
		}
		ips, _ := lookup(p.Host)
		out = append(out, Endpoint{IPs: ips, Port: p.Port, NeedsDNS: true})
	}
	return out
}

// BuildNetworkPolicy returns the NetworkPolicy that isolates ce's Pod: no
// ingress; no egress for Python and JSX; for SQL, egress to the declared
// endpoints of its datasource only (each address on its port), and DNS
// only when one of them is named by host. It is a pure function.
func BuildNetworkPolicy(ce *execv1.CodeExecution, eps []Endpoint) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{
			Name:      NetworkPolicyName(ce),
			Namespace: ce.Namespace,
			Labels:    ownedLabels(ce, "network"),
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{
				execv1.LabelExecutionUID: string(ce.UID),
				execv1.LabelComponent:    "sandbox",
			}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{},
			Egress:      []networkingv1.NetworkPolicyEgressRule{},
		},
	}
	if ce.Spec.Language != execv1.LanguageSQL {
		return np
	}
	dns := false
	for _, ep := range eps {
		dns = dns || ep.NeedsDNS
		if len(ep.IPs) == 0 {
			continue
		}
		rule := networkingv1.NetworkPolicyEgressRule{
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(ep.Port))}},
		}
		for _, ip := range ep.IPs {
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("%s/%d", ip.String(), bits)}})
		}
		np.Spec.Egress = append(np.Spec.Egress, rule)
	}
	if dns {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			}},
			Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
				{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
			},
		})
	}
	return np
}
