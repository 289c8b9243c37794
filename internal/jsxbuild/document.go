package jsxbuild

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
)

// Output is the compiled component: see the package comment for its JSON
// form.
type Output struct {
	JS       string   `json:"js"`
	HTML     string   `json:"html"`
	Manifest Manifest `json:"manifest"`
}

// Manifest tells a host how to render Output.HTML safely.
type Manifest struct {
	// Sandbox is the iframe sandbox attribute value: "allow-scripts", and
	// never allow-same-origin, allow-top-navigation*, allow-popups or
	// allow-forms next to it.
	Sandbox string `json:"sandbox"`
	// CSP is the Content-Security-Policy the document carries in a meta
	// tag; a host that serves the document itself may also send it as a
	// header.
	CSP string `json:"csp"`
	// SHA256 is the hex sha256 of the HTML bytes.
	SHA256 string `json:"sha256"`
	// Imports lists the modules the compiled code requires.
	Imports []string `json:"imports"`
	// Messages names the postMessage schema, see the package comment.
	Messages string `json:"messages"`
	// Host is what the embedding page and the browser must add for the
	// routes no document can close (docs/jsx-security.md).
	Host HostRequirements `json:"host"`
}

// HostRequirements are the host-side measures a document cannot take for
// itself, each measured in Chromium on the browser tests' second network.
type HostRequirements struct {
	// EmbedderCSP are directives the embedding page's own CSP must hold:
	// frame-src 'none' stops the frame navigating itself to a URL (its own
	// CSP cannot), and srcdoc documents inherit it.
	EmbedderCSP string `json:"embedderCsp"`
	// BrowserPolicies are Chromium enterprise policies for the viewers'
	// browsers. NetworkPredictionOptions=2 stops the DNS lookups and
	// speculative connections of <link rel=dns-prefetch>/<link
	// rel=preconnect> and of navigations that CSP then blocks (the
	// document cannot stop those). WebRtcIPHandling=disable_non_proxied_udp
	// is defence in depth for WebRTC, which the document already disables
	// in every realm its code can run in; measured: it stops UDP ICE and
	// STUN, not TURN over TCP.
	BrowserPolicies map[string]any `json:"browserPolicies"`
}

// DefaultHostRequirements is what every manifest carries.
func DefaultHostRequirements() HostRequirements {
	return HostRequirements{
		EmbedderCSP: "frame-src 'none'; child-src 'none'; worker-src 'none'",
		BrowserPolicies: map[string]any{
			"NetworkPredictionOptions": float64(2), // JSON numbers decode as float64
			"WebRtcIPHandling":         "disable_non_proxied_udp",
		},
	}
}

// SandboxTokens is the only sandbox attribute value a host may use.
const SandboxTokens = "allow-scripts"

// MessageSchema names the postMessage schema the document speaks.
const MessageSchema = "codeexec-jsx/1"

//go:embed runtime/*.js shim/boot.js
var assets embed.FS

// runtimeScript is one vendored or own script, already escaped for inline
// use, with its CSP hash source.
type runtimeScript struct {
	text string
	hash string // 'sha256-...'
}

// runtimeGroup is a set of scripts loaded (escaped and hashed) once, on
// first use: the recharts group is only paid for by code that imports it.
type runtimeGroup struct {
	files   []string
	once    sync.Once
	scripts []runtimeScript
	err     error
}

var (
	bootGroup     = &runtimeGroup{files: []string{"shim/boot.js"}}
	reactGroup    = &runtimeGroup{files: []string{"runtime/react.production.min.js", "runtime/react-dom.production.min.js"}}
	rechartsGroup = &runtimeGroup{files: []string{"runtime/prop-types.min.js", "runtime/recharts.min.js"}}
)

func (g *runtimeGroup) load() ([]runtimeScript, error) {
	g.once.Do(func() {
		for _, name := range g.files {
			b, err := assets.ReadFile(name)
			if err != nil {
				g.err = err
				return
			}
			// These files are fixed and ours: TestVendoredEscapeIsExact
			// proves the fast escape equals the tokenizing one on them.
			text, err := escapeTrusted(string(b))
			if err != nil {
				g.err = fmt.Errorf("%s: %w", name, err)
				return
			}
			g.scripts = append(g.scripts, runtimeScript{text: text, hash: scriptHash(text)})
		}
	})
	return g.scripts, g.err
}

// escapeTrusted escapes "</script", "<script" and "<!--" in a vendored
// script without tokenizing it, on the premise (checked by a test for
// every vendored file) that each occurrence sits inside a string, template
// or regular expression literal: the '<' (or an escaped "\<") becomes
// \x3C. The result is checked again as text.
func escapeTrusted(src string) (string, error) {
	if !hasDangerous(src) {
		return src, nil
	}
	var b strings.Builder
	b.Grow(len(src) + 64)
	last := 0
	for i := strings.IndexByte(src, '<'); i >= 0; {
		if dangerous(src, i) > 0 {
			k := i
			for k > 0 && src[k-1] == '\\' {
				k--
			}
			cut := i
			if (i-k)%2 == 1 {
				cut = i - 1
			}
			b.WriteString(src[last:cut])
			b.WriteString(`\x3C`)
			last = i + 1
		}
		j := strings.IndexByte(src[i+1:], '<')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	b.WriteString(src[last:])
	out := b.String()
	return out, checkScriptText(out)
}

// loadRuntime loads every runtime group (tests use it).
func loadRuntime() error {
	for _, g := range []*runtimeGroup{bootGroup, reactGroup, rechartsGroup} {
		if _, err := g.load(); err != nil {
			return err
		}
	}
	return nil
}

func scriptHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// cspFor returns the document's Content-Security-Policy for scripts with
// the given hash sources. Styles may be inline (React components style
// elements inline and often ship a <style>); nothing may be fetched, so CSS
// cannot reach the network either.
func cspFor(hashes []string) string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + strings.Join(hashes, " "),
		"style-src 'unsafe-inline'",
		"img-src data: blob:",
		"font-src 'none'",
		"connect-src 'none'",
		"media-src 'none'",
		"object-src 'none'",
		"frame-src 'none'",
		"child-src 'none'",
		"worker-src 'none'",
		"manifest-src 'none'",
		"form-action 'none'",
		"base-uri 'none'",
	}, "; ")
}

// realmLock is the first statement of the script that carries generated
// code, so it runs before that code in every realm the code can run in: the
// document itself and any srcdoc frame the code makes that holds a copy of
// the script (its hash is allowed there, as frames inherit the CSP). Child
// frames of the sandboxed document get opaque origins of their own, so the
// code cannot reach into a frame's globals; it can only make a frame run
// this same script again, lock first. It deletes every global that can open
// ICE, STUN or TURN (RTCPeerConnection and all its relatives, prefixed
// names included: everything named RTC*) and the other direct-socket and
// peer APIs a browser may expose. CSP has no say over them in Chromium.
const realmLock = `(function () {
  var g = typeof globalThis !== "undefined" ? globalThis : window;
  var names = Object.getOwnPropertyNames(g);
  for (var i = 0; i < names.length; i++) {
    if (/^(webkit|moz)?RTC/.test(names[i]) || /^(TCPSocket|TCPServerSocket|UDPSocket|MulticastController|PresentationRequest|PresentationConnection|WebTransport|NetworkInformation)$/.test(names[i])) {
      try { delete g[names[i]]; } catch (e) {}
      if (Object.prototype.hasOwnProperty.call(g, names[i])) {
        try { Object.defineProperty(g, names[i], { value: undefined, writable: false, configurable: false }); } catch (e) {}
      }
    }
  }
  if (Object.prototype.hasOwnProperty.call(g, "RTCPeerConnection") && g.RTCPeerConnection !== undefined) {
    throw new Error("codeexec: WebRTC could not be disabled; refusing to run the component");
  }
})();
`

// userScript wraps the compiled IIFE: require is the shim, the module's
// exports are mounted, and a failure while loading the module is reported.
func userScript(js string) string {
	return realmLock + "(function (require) {\ntry {\n" + js +
		"\n;window.__codeexecMount(typeof " + globalName + " === \"undefined\" ? undefined : " + globalName + ");\n" +
		"} catch (e) {\nwindow.__codeexecFail(e);\n}\n})(window.__codeexecRequire);\n"
}

func buildDocument(js string, imports []string) (*Output, error) {
	groups := []*runtimeGroup{bootGroup, reactGroup}
	for _, m := range imports {
		if m == "recharts" {
			groups = append(groups, rechartsGroup)
		}
	}
	var scripts []runtimeScript
	for _, g := range groups {
		s, err := g.load()
		if err != nil {
			return nil, fmt.Errorf("loading the vendored runtime: %w", err)
		}
		scripts = append(scripts, s...)
	}
	user := userScript(js)
	scripts = append(scripts, runtimeScript{text: user, hash: scriptHash(user)})

	var hashes []string
	for _, s := range scripts {
		if err := checkScriptText(s.text); err != nil {
			return nil, fmt.Errorf("refusing to embed a script: %w", err)
		}
		hashes = append(hashes, s.hash)
	}
	csp := cspFor(hashes)

	var b strings.Builder
	size := 1024
	for _, s := range scripts {
		size += len(s.text) + 20
	}
	b.Grow(size)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	// The CSP value holds only quotes, letters, digits, base64 and
	// punctuation from cspFor: attribute-safe.
	b.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"" + csp + "\">\n")
	b.WriteString("<meta name=\"referrer\" content=\"no-referrer\">\n<meta http-equiv=\"x-dns-prefetch-control\" content=\"off\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<title>codeexec component</title>\n")
	b.WriteString("<style>html,body{margin:0;padding:0;background:#fff;color:#111;font-family:system-ui,sans-serif}#root{padding:8px}.codeexec-error{color:#b91c1c;white-space:pre-wrap}</style>\n")
	b.WriteString("</head>\n<body>\n<div id=\"root\"></div>\n")
	for _, s := range scripts {
		b.WriteString("<script>")
		b.WriteString(s.text)
		b.WriteString("</script>\n")
	}
	b.WriteString("</body>\n</html>\n")
	html := b.String()
	sum := sha256.Sum256([]byte(html))
	if imports == nil {
		imports = []string{}
	}
	return &Output{
		JS:   js,
		HTML: html,
		Manifest: Manifest{
			Sandbox:  SandboxTokens,
			CSP:      csp,
			SHA256:   hex.EncodeToString(sum[:]),
			Imports:  imports,
			Messages: MessageSchema,
			Host:     DefaultHostRequirements(),
		},
	}, nil
}
