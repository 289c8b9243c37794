package jsxbuild

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestManifestHostRequirements: the manifest tells the host the exact
// script sources its page's CSP needs for this document (the document's
// own hashes, nothing that lets other inline code run) and the iframe's
// allow attribute, which denies every feature in DeniedFeatures.
func TestManifestHostRequirements(t *testing.T) {
	for _, src := range []string{okComponent, "import { BarChart } from 'recharts';\nexport default () => <BarChart width={10} height={10} data={[]} />;\n"} {
		out, err := Compile(context.Background(), []byte(src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		h := out.Manifest.Host
		var docScriptSrc string
		for _, d := range strings.Split(out.Manifest.CSP, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(d), "script-src "); ok {
				docScriptSrc = v
			}
		}
		if docScriptSrc == "" || h.EmbedderScriptSrc != docScriptSrc {
			t.Errorf("host.embedderScriptSrc %q, want the document's script hashes %q", h.EmbedderScriptSrc, docScriptSrc)
		}
		for _, s := range strings.Fields(h.EmbedderScriptSrc) {
			if !regexp.MustCompile(`^'sha256-[A-Za-z0-9+/]{43}='$`).MatchString(s) {
				t.Errorf("host.embedderScriptSrc holds %q, which is not a sha256 hash source", s)
			}
		}
		if !strings.HasPrefix(h.EmbedderCSP, "script-src "+h.EmbedderScriptSrc+"; ") {
			t.Errorf("host.embedderCsp %q does not start with script-src and the document's hashes", h.EmbedderCSP)
		}
		for _, want := range []string{"frame-src 'none'", "child-src 'none'", "worker-src 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(h.EmbedderCSP, want) {
				t.Errorf("host.embedderCsp lacks %q: %s", want, h.EmbedderCSP)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "strict-dynamic", "*", "data:", "blob:", "http"} {
			if strings.Contains(h.EmbedderCSP, bad) {
				t.Errorf("host.embedderCsp allows %q: %s", bad, h.EmbedderCSP)
			}
		}
		if h.IframeAllow != IframeAllow() {
			t.Errorf("host.iframeAllow %q, want IframeAllow()", h.IframeAllow)
		}
	}
}

// TestIframeAllowDeniesPowerfulFeatures: the allow attribute sets every
// listed feature, and every powerful one issue 11's review named, to
// 'none', and nothing else.
func TestIframeAllowDeniesPowerfulFeatures(t *testing.T) {
	allow := IframeAllow()
	seen := map[string]bool{}
	for _, d := range strings.Split(allow, "; ") {
		name, val, ok := strings.Cut(d, " ")
		if !ok || val != "'none'" || !regexp.MustCompile(`^[a-z][a-z0-9-]*$`).MatchString(name) {
			t.Errorf("allow entry %q is not \"<feature> 'none'\"", d)
		}
		if seen[name] {
			t.Errorf("feature %q listed twice", name)
		}
		seen[name] = true
	}
	for _, f := range []string{"camera", "microphone", "geolocation", "display-capture", "usb", "serial", "hid", "bluetooth",
		"payment", "clipboard-read", "clipboard-write", "fullscreen", "screen-wake-lock", "window-management", "local-fonts",
		"publickey-credentials-get", "identity-credentials-get", "storage-access", "browsing-topics", "attribution-reporting",
		"direct-sockets", "local-network-access", "midi", "xr-spatial-tracking", "idle-detection", "web-share", "autoplay"} {
		if !seen[f] {
			t.Errorf("the iframe's allow attribute does not deny %q", f)
		}
	}
}

// TestHostFilesFollowTheManifest: web/host.js sets the manifest's
// iframeAllow on its frame (the same feature list as DeniedFeatures), and
// web/host.html's CSP lets scripts in only from its own files and the
// manifest's hashes: no 'unsafe-inline', no 'unsafe-eval', and the
// directives of host.embedderCsp.
func TestHostFilesFollowTheManifest(t *testing.T) {
	web := filepath.Join("..", "..", "web")
	js, err := os.ReadFile(filepath.Join(web, "host.js"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)var DENIED_FEATURES = \[(.*?)\];`).FindSubmatch(js)
	if m == nil {
		t.Fatal("web/host.js has no DENIED_FEATURES list")
	}
	var got []string
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllSubmatch(m[1], -1) {
		got = append(got, string(q[1]))
	}
	if strings.Join(got, ",") != strings.Join(DeniedFeatures, ",") {
		t.Errorf("web/host.js DENIED_FEATURES differs from jsxbuild.DeniedFeatures:\n js: %v\n go: %v", got, DeniedFeatures)
	}
	for _, want := range []string{`DENIED_FEATURES.map(function (f) { return f + " 'none'"; }).join("; ")`, `iframe.setAttribute("allow", IFRAME_ALLOW);`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("web/host.js lacks %s", want)
		}
	}

	page, err := os.ReadFile(filepath.Join(web, "host.html"))
	if err != nil {
		t.Fatal(err)
	}
	metas := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindAllSubmatch(page, -1)
	if len(metas) != 1 {
		t.Fatalf("web/host.html has %d CSP meta tags, want 1", len(metas))
	}
	csp := string(metas[0][1])
	var scriptSrc string
	for _, d := range strings.Split(csp, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "script-src "); ok {
			scriptSrc = v
		}
	}
	if scriptSrc != "'self' "+HostPagePlaceholder {
		t.Errorf("web/host.html script-src %q, want 'self' and the placeholder for the manifest's hashes", scriptSrc)
	}
	if !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("web/host.html CSP lacks default-src 'none': %s", csp)
	}
	for _, bad := range []string{"'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "'unsafe-inline'; script"} {
		if strings.Contains(csp, bad) {
			t.Errorf("web/host.html CSP allows %s: %s", bad, csp)
		}
	}
	if strings.Contains(scriptSrc, "unsafe") || strings.Contains(scriptSrc, "*") || strings.Contains(scriptSrc, ":") {
		t.Errorf("web/host.html script-src allows more than its own files and the hashes: %s", scriptSrc)
	}
	for _, d := range strings.Split(embedderDirectives, "; ") {
		if !strings.Contains(csp, d) {
			t.Errorf("web/host.html CSP lacks %q of host.embedderCsp: %s", d, csp)
		}
	}
	if regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]`).Match(page) || regexp.MustCompile(`(?i)\son[a-z]+=`).Match(page) {
		t.Error("web/host.html has inline script or an event handler attribute")
	}
}
