// Package endpoint parses and compares the host:port endpoints an
// ExecutionPolicy declares for a datasource. It is a leaf package shared by
// the manager (NetworkPolicy egress, policy validation) and the runner (the
// DSN check before connecting), so that both read an endpoint the same way
// and the CRD's CEL rules have one Go counterpart.
package endpoint

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Endpoint is a parsed host:port.
type Endpoint struct {
	// Host is a lower-case DNS name or the canonical text of an IP address
	// (no brackets).
	Host string
	// IP is the address when Host is an IP address.
	IP netip.Addr
	// Port is from 1 to 65535.
	Port int32
}

// IsIP says whether the endpoint is an IP address rather than a name.
func (e Endpoint) IsIP() bool { return e.IP.IsValid() }

// String is the canonical host:port (IPv6 in brackets).
func (e Endpoint) String() string {
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// Parse reads a declared endpoint: a lower-case DNS name or an IP address
// (IPv6 in brackets), a colon and a port from 1 to 65535. It accepts what
// the CRD's rules accept and nothing else.
func Parse(s string) (Endpoint, error) {
	host, port, err := split(s)
	if err != nil {
		return Endpoint{}, err
	}
	if strings.HasPrefix(s, "[") {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return Endpoint{}, fmt.Errorf("%q: the host in brackets is not an IPv6 address", s)
		}
		ip = ip.Unmap()
		return Endpoint{Host: ip.String(), IP: ip, Port: port}, nil
	}
	if strings.Trim(host, "0123456789.") == "" {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is4() {
			return Endpoint{}, fmt.Errorf("%q: the host is not a valid IPv4 address", s)
		}
		return Endpoint{Host: ip.String(), IP: ip, Port: port}, nil
	}
	if errs := validation.IsDNS1123Subdomain(host); len(errs) > 0 {
		return Endpoint{}, fmt.Errorf("%q: the host is not a lower-case DNS name: %s", s, strings.Join(errs, "; "))
	}
	return Endpoint{Host: host, Port: port}, nil
}

func split(s string) (string, int32, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("%q is not host:port", s)
	}
	host, p := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", 0, fmt.Errorf("%q is not host:port", s)
		}
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", 0, fmt.Errorf("%q: an IPv6 address must be in brackets", s)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q has no host", s)
	}
	if len(p) == 0 || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return "", 0, fmt.Errorf("%q: the port is not a number from 1 to 65535", s)
	}
	n, _ := strconv.Atoi(p)
	if n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("%q: the port is not a number from 1 to 65535", s)
	}
	return host, int32(n), nil
}

// Address reads the host:port a client is about to dial (for example the
// Addr of a parsed DSN) in the same canonical form as Parse: names are
// lower-cased and a trailing dot is dropped, IP addresses are canonical.
// Unlike Parse it accepts any host text, so that a refusal can name it.
func Address(addr string) (Endpoint, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return Endpoint{}, fmt.Errorf("the address %q is not host:port", addr)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return Endpoint{}, fmt.Errorf("the address %q has no port from 1 to 65535", addr)
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return Endpoint{}, fmt.Errorf("the address %q has an IPv6 zone", addr)
		}
		ip = ip.Unmap()
		return Endpoint{Host: ip.String(), IP: ip, Port: int32(n)}, nil
	}
	return Endpoint{Host: strings.TrimSuffix(strings.ToLower(h), "."), Port: int32(n)}, nil
}

// Allowed reports whether e is one of the declared endpoints. Names match
// names and addresses match addresses: a name is never resolved here.
// Declared endpoints that do not parse match nothing.
func Allowed(e Endpoint, declared []string) bool {
	for _, d := range declared {
		p, err := Parse(d)
		if err != nil {
			continue
		}
		if p.Port == e.Port && p.Host == e.Host && p.IP == e.IP {
			return true
		}
	}
	return false
}
