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

var (
	runtimeOnce    sync.Once
	runtimeErr     error
	bootScript     runtimeScript
	reactScripts   []runtimeScript // react, react-dom
	rechartsScript []runtimeScript // prop-types, recharts
)

func loadRuntime() error {
	runtimeOnce.Do(func() {
		load := func(name string) runtimeScript {
			if runtimeErr != nil {
				return runtimeScript{}
			}
			b, err := assets.ReadFile(name)
			if err != nil {
				runtimeErr = err
				return runtimeScript{}
			}
			text, err := escapeScript(string(b))
			if err != nil {
				runtimeErr = fmt.Errorf("%s: %w", name, err)
				return runtimeScript{}
			}
			return runtimeScript{text: text, hash: scriptHash(text)}
		}
		bootScript = load("shim/boot.js")
		reactScripts = []runtimeScript{load("runtime/react.production.min.js"), load("runtime/react-dom.production.min.js")}
		rechartsScript = []runtimeScript{load("runtime/prop-types.min.js"), load("runtime/recharts.min.js")}
	})
	return runtimeErr
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

// userScript wraps the compiled IIFE: require is the shim, the module's
// exports are mounted, and a failure while loading the module is reported.
func userScript(js string) string {
	return "(function (require) {\ntry {\n" + js +
		"\n;window.__codeexecMount(typeof " + globalName + " === \"undefined\" ? undefined : " + globalName + ");\n" +
		"} catch (e) {\nwindow.__codeexecFail(e);\n}\n})(window.__codeexecRequire);\n"
}

func buildDocument(js string, imports []string) (*Output, error) {
	if err := loadRuntime(); err != nil {
		return nil, fmt.Errorf("loading the vendored runtime: %w", err)
	}
	scripts := []runtimeScript{bootScript}
	scripts = append(scripts, reactScripts...)
	for _, m := range imports {
		if m == "recharts" {
			scripts = append(scripts, rechartsScript...)
		}
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
		},
	}, nil
}
