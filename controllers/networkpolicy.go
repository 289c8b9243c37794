package controllers

import (
	"fmt"
	"net"
	"strconv"

	"github.com/go-sql-driver/mysql"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
)

// Endpoint is where a SQL execution may connect: the datasource's
// addresses and port, and whether it needs DNS to find them.
type Endpoint struct {
	IPs  []net.IP
	Port int32
	// NeedsDNS is true when the datasource is named by host.
	NeedsDNS bool
}

// ParseDatasource reads the host and port of a go-sql-driver/mysql DSN.
// The DSN never appears in the error.
func ParseDatasource(dsn string) (host string, port int32, err error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", 0, fmt.Errorf("the DSN is not in go-sql-driver/mysql form (user:password@tcp(host:port)/db)")
	}
	if cfg.Net != "tcp" && cfg.Net != "tcp4" && cfg.Net != "tcp6" {
		return "", 0, fmt.Errorf("the DSN's network is %q; a sandbox can only reach a database over tcp", cfg.Net)
	}
	h, p, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return "", 0, fmt.Errorf("the DSN's address has no port")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("the DSN's port is not a number from 1 to 65535")
	}
	return h, int32(n), nil
}

// NetworkPolicyName is the name of the NetworkPolicy of an execution.
func NetworkPolicyName(ce *execv1.CodeExecution) string { return childName(ce.Name, ce.UID, "net") }

// BuildNetworkPolicy returns the NetworkPolicy that isolates ce's Pod: no
// ingress; no egress for Python and JSX; for SQL, egress to the
// datasource's addresses and port only, and DNS only when the datasource
// is named by host. It is a pure function.
func BuildNetworkPolicy(ce *execv1.CodeExecution, ep *Endpoint) *networkingv1.NetworkPolicy {
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
	if ce.Spec.Language != execv1.LanguageSQL || ep == nil {
		return np
	}
	if len(ep.IPs) > 0 {
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
	if ep.NeedsDNS {
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
