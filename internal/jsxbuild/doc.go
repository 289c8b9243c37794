// Package jsxbuild compiles AI-generated JSX into a self-contained HTML
// document that a host renders in an <iframe sandbox="allow-scripts">.
//
// Compiling uses esbuild's Transform API only, never Build: no import is
// resolved and no file is read, whatever the code says. Imports stay
// external require() calls and must name an allowed module (AllowedModules);
// JSX pragma comments that point anywhere else are refused.
//
// # Result
//
// Compile returns an Output whose JSON form is the `result` of a JSX
// ExecutionResult:
//
//	{
//	  "js":   "<the compiled IIFE, escaped for inline use: no </script, <!-- or NUL, every value unchanged>",
//	  "html": "<!DOCTYPE html>... complete document ...",
//	  "manifest": {
//	    "sandbox": "allow-scripts",          // the only iframe sandbox token to use
//	    "csp":     "default-src 'none'; script-src 'sha256-...' ...",
//	    "sha256":  "<hex sha256 of the html bytes>",
//	    "imports": ["react", "recharts"],    // modules the code requires
//	    "messages": "codeexec-jsx/1",        // the postMessage schema below
//	    "host": {                            // what the host must add (see below)
//	      "embedderCsp": "script-src 'sha256-...' ...; frame-src 'none'; child-src 'none'; worker-src 'none'; ...",
//	      "embedderScriptSrc": "'sha256-...' ...",  // the document's script hashes, as in csp
//	      "iframeAllow": "accelerometer 'none'; ...; camera 'none'; ...",  // DeniedFeatures
//	      "browserPolicies": {"NetworkPredictionOptions": 2, "WebRtcIPHandling": "disable_non_proxied_udp"}
//	    }
//	  }
//	}
//
// The document carries the CSP as a meta tag (default-src 'none'; scripts
// only by sha256 hash, never 'unsafe-inline' or 'unsafe-eval'; no
// connections, frames, forms, workers, objects or base changes; images only
// from data: and blob:), the vendored React 18, ReactDOM and (when the code
// imports it) recharts UMD builds, a require shim that returns only allowed
// modules, and the compiled component mounted into <div id="root"> under an
// error boundary. Nothing in the document fetches anything.
//
// # Messages
//
// The frame talks to its parent only through postMessage(msg, "*") (the
// sandboxed frame has an opaque origin and cannot know the parent's), with
// exactly these shapes:
//
//	{"source":"codeexec-jsx","version":1,"type":"rendered"}
//	{"source":"codeexec-jsx","version":1,"type":"error","phase":"module"|"render"|"runtime","message":"<= 1000 chars"}
//
// "rendered" is sent once, after the component's first commit; "error" when
// the module fails to load or has no component to export ("module"), when
// rendering throws (caught by the error boundary, "render"), or on an
// uncaught error or rejection afterwards ("runtime"). At most 50 messages are
// sent. The component's code runs in the same frame and can send anything,
// so a host must treat every message as untrusted text: accept it only when
// event.source is the iframe's contentWindow and the payload has exactly this
// shape (web/host.js does).
//
// The host may pass props to the component:
//
//	iframe.contentWindow.postMessage({"source":"codeexec-host","version":1,"type":"props","props":{...}}, "*")
//
// The document accepts it only from window.parent and re-renders.
//
// # What the host must add, and what no CSP covers
//
// An about:srcdoc document inherits its embedder's CSP as well: the host
// page's script-src must let exactly the document's inline scripts
// through, by their hashes (Manifest.Host.EmbedderScriptSrc), never by
// 'unsafe-inline'. The hashes are per document, so the server that sends
// the page fills them in (FillHostPage replaces web/host.html's
// HostPagePlaceholder; unfilled, no document script runs). The host page's
// frame-src 'none' is what stops the frame navigating itself to a URL (a
// sandboxed frame may navigate itself; its own CSP cannot forbid that).
// The frame's allow attribute is Manifest.Host.IframeAllow: every
// permission-policy feature in DeniedFeatures (camera, microphone,
// geolocation, display-capture, usb, serial, hid, bluetooth, payment, the
// clipboard, credentials, ...) set to 'none' (web/host.js sets it).
//
// Links to a fragment of the document itself (<a href="#x">) only scroll:
// an about:srcdoc document's base URL is its parent's, so the boot script
// cancels their navigation (to the host page's URL) and scrolls to the
// element; every other navigation of the frame stays blocked by the host
// page's frame-src 'none'.
//
// Error texts are bounded: a message's text is at most 1000 characters
// (the error boundary shows the same text), and a CompileError or
// RefusedError quotes at most MaxErrorText characters of the source and
// keeps at most MaxDiagnostics diagnostics.
//
// WebRTC: CSP has no say over it in Chromium (webrtc 'block' is ignored),
// so the script that carries the generated code starts by deleting every
// RTC* global (RTCPeerConnection, webkitRTCPeerConnection, RTCIceTransport,
// ...) and the direct-socket and peer APIs, before any generated code runs,
// in whatever realm that script runs in. Child frames of the sandboxed
// document get opaque origins of their own (sandbox flags are inherited),
// so the code cannot take a fresh constructor from a child's globals
// (contentWindow, window[0], named frames: SecurityError), and the only way
// to run code in a child is a srcdoc frame holding copies of the document's
// hashed scripts, where the same lock runs first. javascript: URLs, blob
// workers and popups are refused by the CSP and the sandbox.
//
// DNS and speculative connections, measured in Chromium 156 on the browser
// tests' second network: <link rel=dns-prefetch>, <link rel=preconnect>
// and navigations that CSP then blocks (the frame navigating itself, a
// nested frame's src) still resolve the name (and open a TCP connection
// without sending a byte). No document can close these; the browser policy
// NetworkPredictionOptions=2 does (Manifest.Host). See docs/jsx-security.md.
package jsxbuild
