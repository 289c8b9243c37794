package jsxbuild

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"unsafe"
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
	// EmbedderCSP are the directives the embedding page's own CSP must hold
	// for this document. An about:srcdoc document inherits its embedder's
	// policies, so the page's script-src must let exactly this document's
	// scripts through: by their hashes (EmbedderScriptSrc), never
	// 'unsafe-inline'; a page adds only the sources of its own script
	// files to it ('self' in web/host.html). frame-src 'none' stops the
	// frame navigating itself to a URL (its own CSP cannot).
	EmbedderCSP string `json:"embedderCsp"`
	// EmbedderScriptSrc is the script-src source list of EmbedderCSP: the
	// sha256 hash sources of the document's scripts, the same as in CSP.
	EmbedderScriptSrc string `json:"embedderScriptSrc"`
	// IframeAllow is the iframe's allow attribute: every permission-policy
	// feature in DeniedFeatures set to 'none', so that no powerful
	// feature is delegated to the frame whatever the browser's defaults.
	IframeAllow string `json:"iframeAllow"`
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

// embedderDirectives are the directives of HostRequirements.EmbedderCSP
// besides script-src.
const embedderDirectives = "frame-src 'none'; child-src 'none'; worker-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"

// DefaultHostRequirements is what every manifest carries besides the
// per-document script sources (HostRequirementsFor).
func DefaultHostRequirements() HostRequirements {
	return HostRequirements{
		EmbedderCSP: embedderDirectives,
		IframeAllow: IframeAllow(),
		BrowserPolicies: map[string]any{
			"NetworkPredictionOptions": float64(2), // JSON numbers decode as float64
			"WebRtcIPHandling":         "disable_non_proxied_udp",
		},
	}
}

// HostPagePlaceholder stands in web/host.html's script-src for
// HostRequirements.EmbedderScriptSrc: the server that sends the page
// replaces it (FillHostPage). Left in place it is no valid source, so no
// document script runs.
const HostPagePlaceholder = "'codeexec-embedder-script-src'"

// FillHostPage returns page (web/host.html) with its script-src made to
// let exactly the document of h through.
func FillHostPage(page string, h HostRequirements) string {
	return strings.ReplaceAll(page, HostPagePlaceholder, h.EmbedderScriptSrc)
}

// HostRequirementsFor is DefaultHostRequirements for a document whose
// scripts have the given CSP hash sources.
func HostRequirementsFor(hashes []string) HostRequirements {
	h := DefaultHostRequirements()
	h.EmbedderScriptSrc = strings.Join(hashes, " ")
	h.EmbedderCSP = "script-src " + h.EmbedderScriptSrc + "; " + embedderDirectives
	return h
}

// DeniedFeatures are the permission-policy features the host's iframe
// sets to 'none' (HostRequirements.IframeAllow): every feature a shipping
// browser knows that reaches a device, the screen, the clipboard,
// payments, credentials, storage outside the frame, the local network,
// ads and attribution, on-device models or the page's lifecycle; a chart
// needs none of them. TestBrowser/iframe_allow checks in Chromium that
// the frame gets none of the features Chromium knows (only aria-notify,
// an accessibility announcement, stays allowed). Names a browser does not
// know are ignored by it.
var DeniedFeatures = []string{
	// sensors and devices
	"accelerometer", "ambient-light-sensor", "battery", "bluetooth", "camera", "gamepad",
	"geolocation", "gyroscope", "hid", "magnetometer", "microphone", "midi", "serial",
	"smart-card", "speaker-selection", "usb", "xr-spatial-tracking",
	// screen, windows and input
	"all-screens-capture", "autoplay", "captured-surface-control", "display-capture",
	"encrypted-media", "fullscreen", "idle-detection", "keyboard-map", "local-fonts",
	"media-playback-while-not-visible", "picture-in-picture", "screen-wake-lock",
	"web-share", "window-management", "focus-without-user-activation",
	// clipboard
	"clipboard-read", "clipboard-write",
	// payments and credentials
	"payment", "publickey-credentials-create", "publickey-credentials-get",
	"identity-credentials-get", "otp-credentials", "digital-credentials-get",
	"digital-credentials-create", "storage-access",
	// network and sockets
	"direct-sockets", "direct-sockets-private", "local-network", "local-network-access",
	"loopback-network", "deferred-fetch", "deferred-fetch-minimal", "sync-xhr",
	// ads, attribution and tracking
	"attribution-reporting", "browsing-topics", "interest-cohort", "join-ad-interest-group",
	"run-ad-auction", "private-aggregation", "private-state-token-issuance",
	"private-state-token-redemption", "shared-storage", "shared-storage-select-url",
	// on-device models
	"language-detector", "language-model", "on-device-speech-recognition", "rewriter",
	"summarizer", "translator", "writer",
	// the page's lifecycle and isolation
	"compute-pressure", "cross-origin-isolated", "document-domain", "unload",
	// client hints (the frame sends no request; denied all the same)
	"ch-device-memory", "ch-downlink", "ch-dpr", "ch-ect", "ch-prefers-color-scheme",
	"ch-prefers-reduced-motion", "ch-prefers-reduced-transparency", "ch-rtt", "ch-save-data",
	"ch-ua", "ch-ua-arch", "ch-ua-bitness", "ch-ua-form-factors", "ch-ua-full-version",
	"ch-ua-full-version-list", "ch-ua-high-entropy-values", "ch-ua-mobile", "ch-ua-model",
	"ch-ua-platform", "ch-ua-platform-version", "ch-ua-wow64", "ch-viewport-height",
	"ch-viewport-width", "ch-width",
}

// IframeAllow is the allow attribute value that denies every feature in
// DeniedFeatures: "accelerometer 'none'; ambient-light-sensor 'none'; ...".
func IframeAllow() string {
	parts := make([]string, len(DeniedFeatures))
	for i, f := range DeniedFeatures {
		parts[i] = f + " 'none'"
	}
	return strings.Join(parts, "; ")
}

// SandboxTokens is the only sandbox attribute value a host may use.
const SandboxTokens = "allow-scripts"

// MessageSchema names the postMessage schema the document speaks.
const MessageSchema = "codeexec-jsx/1"

//go:generate env JSXBUILD_UPDATE=1 go test -run ^TestGeneratedRuntime$ .

// runtimeScript is one vendored or own script, already escaped for inline
// use, with its CSP hash source and its text as the inside of a JSON
// string (empty when not known).
type runtimeScript struct {
	text string
	hash string // 'sha256-...'
	json string
}

// runtimeGroup is a set of scripts a document embeds together: the
// recharts group only when the code imports recharts. Their forms are
// generated (runtime_gen.go, TestGeneratedRuntime) and embedded.
type runtimeGroup struct {
	files []string
}

var (
	bootGroup     = &runtimeGroup{files: []string{"shim/boot.js"}}
	reactGroup    = &runtimeGroup{files: []string{"runtime/react.production.min.js", "runtime/react-dom.production.min.js"}}
	rechartsGroup = &runtimeGroup{files: []string{"runtime/prop-types.min.js", "runtime/recharts.min.js"}}
)

func (g *runtimeGroup) load() ([]runtimeScript, error) {
	out := make([]runtimeScript, 0, len(g.files))
	for _, name := range g.files {
		s, ok := generatedRuntime[name]
		if !ok || s.text == "" || s.json == "" {
			return nil, fmt.Errorf("%s has no generated form: run `go generate ./internal/jsxbuild`", name)
		}
		out = append(out, s)
	}
	return out, nil
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
	if err := checkScriptText(user); err != nil {
		return nil, fmt.Errorf("refusing to embed a script: %w", err)
	}
	scripts = append(scripts, runtimeScript{text: user, hash: scriptHash(user)})

	var hashes []string
	for _, s := range scripts {
		hashes = append(hashes, s.hash)
	}
	csp := cspFor(hashes)

	// The document and, beside it, its pieces as the insides of JSON
	// strings: the generated runtime ones are copied, only the few
	// others are escaped (AppendJSON).
	var b strings.Builder
	size := 1024
	for _, s := range scripts {
		size += len(s.text) + 20
	}
	b.Grow(size)
	pieces := make([]string, 0, 2*len(scripts)+2)
	var dyn strings.Builder // the current run of text without a JSON form
	write := func(s runtimeScript) {
		b.WriteString(s.text)
		if s.json != "" {
			if dyn.Len() > 0 {
				pieces = append(pieces, jsonInside(dyn.String()))
				dyn.Reset()
			}
			pieces = append(pieces, s.json)
			return
		}
		dyn.WriteString(s.text)
	}
	text := func(t string) { write(runtimeScript{text: t}) }
	text("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	// The CSP value holds only quotes, letters, digits, base64 and
	// punctuation from cspFor: attribute-safe.
	text("<meta http-equiv=\"Content-Security-Policy\" content=\"" + csp + "\">\n")
	text("<meta name=\"referrer\" content=\"no-referrer\">\n<meta http-equiv=\"x-dns-prefetch-control\" content=\"off\">\n")
	text("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	text("<title>codeexec component</title>\n")
	text("<style>html,body{margin:0;padding:0;background:#fff;color:#111;font-family:system-ui,sans-serif}#root{padding:8px}.codeexec-error{color:#b91c1c;white-space:pre-wrap}</style>\n")
	text("</head>\n<body>\n<div id=\"root\"></div>\n")
	for _, s := range scripts {
		text("<script>")
		write(s)
		text("</script>\n")
	}
	text("</body>\n</html>\n")
	if dyn.Len() > 0 {
		pieces = append(pieces, jsonInside(dyn.String()))
	}
	html := b.String()
	rememberPieces(html, pieces)
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(html), len(html)))
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
			Host:     HostRequirementsFor(hashes),
		},
	}, nil
}

// jsonInside is s as the inside of a JSON string (appendJSONString
// without the quotes).
func jsonInside(s string) string {
	b := appendJSONString(make([]byte, 0, len(s)+len(s)/8+2), s)
	return string(b[1 : len(b)-1])
}

// htmlPieces are the JSON forms of the pieces of the last document
// buildDocument made, for that very string (matched by identity, like
// result.SuccessEncoded): AppendJSON copies them instead of escaping 650
// KB again. Kept outside Output, which stays a plain value; an HTML string
// that is not the one built falls back to escaping.
type htmlPieces struct {
	data   *byte
	n      int
	pieces []string
}

var lastPieces atomic.Pointer[htmlPieces]

func rememberPieces(html string, pieces []string) {
	lastPieces.Store(&htmlPieces{data: unsafe.StringData(html), n: len(html), pieces: pieces})
}

// piecesOf returns the JSON pieces of html, or nil.
func piecesOf(html string) []string {
	p := lastPieces.Load()
	if p == nil || len(html) == 0 || p.data != unsafe.StringData(html) || p.n != len(html) {
		return nil
	}
	return p.pieces
}
