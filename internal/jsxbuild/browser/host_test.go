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

// allowedInFrame are the features Chromium may still allow in the frame:
// aria-notify only announces text to a screen reader.
var allowedInFrame = map[string]bool{"aria-notify": true}

// TestBrowserHostPage: the host page does what the manifest's host
// requirements say, in Chromium: the frame's allow attribute is
// host.iframeAllow and the frame gets no feature Chromium knows (but
// aria-notify); the page's CSP lets scripts in only by the document's
// hashes, a chart renders under it, and without those hashes no script of
// the document runs.
func TestBrowserHostPage(t *testing.T) {
	h := reviewHarness(t, nil)
	corpus := corpusFiles(t, h.root)

	t.Run("iframe allow", func(t *testing.T) {
		out, err := jsxbuild.Compile(context.Background(), []byte(`export default () => <p>features</p>;`), jsxbuild.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tb := h.renderOn(t, h.host.pageFor(out.Manifest.Host), out.HTML)
		tb.waitMessage("rendered")
		var attr string
		if err := evalJSON(tb.ctx, `document.querySelector('iframe').getAttribute('allow')`, &attr); err != nil {
			t.Fatal(err)
		}
		if attr != out.Manifest.Host.IframeAllow || attr == "" {
			t.Errorf("the frame's allow attribute is %q, want the manifest's host.iframeAllow %q", attr, out.Manifest.Host.IframeAllow)
		}
		var fp struct{ All, Allowed []string }
		if err := frameEval(tb.ctx, `({all: document.featurePolicy.features(), allowed: document.featurePolicy.allowedFeatures()})`, &fp); err != nil {
			t.Fatal(err)
		}
		if len(fp.All) == 0 {
			t.Fatal("Chromium reports no permission-policy features")
		}
		for _, f := range fp.Allowed {
			if !allowedInFrame[f] {
				t.Errorf("the frame is allowed %q", f)
			}
		}
		denied := map[string]bool{}
		for _, f := range jsxbuild.DeniedFeatures {
			denied[f] = true
		}
		for _, f := range fp.All {
			if !denied[f] && !allowedInFrame[f] {
				t.Errorf("Chromium knows the feature %q, which jsxbuild.DeniedFeatures does not list", f)
			}
		}
		tb.checkContained()
	})

	t.Run("chart under the manifest's embedder CSP", func(t *testing.T) {
		c, ok := corpus["ok_01_revenue_bar_chart.jsx"]
		if !ok {
			t.Fatal("ok_01_revenue_bar_chart.jsx is missing from the corpus")
		}
		out, err := jsxbuild.Compile(context.Background(), []byte(c.src), jsxbuild.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tb := h.renderOn(t, h.host.pageFor(out.Manifest.Host), out.HTML)
		var csp string
		if err := evalJSON(tb.ctx, `document.querySelector('meta[http-equiv="Content-Security-Policy"]').content`, &csp); err != nil {
			t.Fatal(err)
		}
		var scriptSrc string
		for _, d := range strings.Split(csp, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(d), "script-src "); ok {
				scriptSrc = v
			}
		}
		if scriptSrc != "'self' "+out.Manifest.Host.EmbedderScriptSrc {
			t.Errorf("the host page's script-src is %q, want 'self' and the manifest's hashes", scriptSrc)
		}
		st := tb.waitMessage("rendered")
		tb.noErrors(st)
		if err := evalJSON(tb.ctx, `window.__cxFrame.sendProps(`+chartProps+`), true`, nil); err != nil {
			t.Fatal(err)
		}
		var bars int
		err = waitFor(tb.ctx, "four bars", func() (bool, error) {
			err := frameEval(tb.ctx, `document.querySelectorAll('.recharts-bar-rectangle path').length`, &bars)
			return bars >= 4, err
		})
		if err != nil {
			t.Fatalf("%v (bars: %d)", err, bars)
		}
		tb.checkContained()
	})

	// web/demo.js, the page's own wiring: a pasted runner result renders
	// on the page made for it, and a manifest whose iframeAllow differs
	// from host.js's (a runner that denies more) is refused.
	for _, c := range []struct {
		name, allow, status, log string
	}{
		{"demo renders a pasted result", "", "rendered", "rendered"},
		{"demo refuses a different iframeAllow", "camera 'none'", "idle", "refusing: the manifest's host.iframeAllow differs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := jsxbuild.Compile(context.Background(), []byte(`export default () => <p>pasted</p>;`), jsxbuild.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c.allow != "" {
				out.Manifest.Host.IframeAllow = c.allow
			}
			payload, err := out.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			path := h.host.pageFor(out.Manifest.Host)
			ctx, cancel := chromedp.NewContext(h.browser)
			t.Cleanup(cancel)
			mark := h.wire.Mark()
			hits := h.listener.hits.Load()
			if err := chromedp.Do(ctx, chromedp.Navigate(h.host.url+path)); err != nil {
				t.Fatal(err)
			}
			pasted, _ := json.Marshal(`{"succeeded":true,"result":` + string(payload) + `}`)
			if err := evalJSON(ctx, `document.getElementById('input').value = `+string(pasted)+`, document.getElementById('render').click(), true`, nil); err != nil {
				t.Fatal(err)
			}
			var status, log string
			err = waitFor(ctx, "the demo's status and log", func() (bool, error) {
				err := evalJSON(ctx, `document.getElementById('status').textContent`, &status)
				if err == nil {
					err = evalJSON(ctx, `document.getElementById('log').textContent`, &log)
				}
				return status == c.status && strings.Contains(log, c.log), err
			})
			if err != nil {
				t.Errorf("%v: status %q, log %q", err, status, log)
			}
			var frames int
			if err := evalJSON(ctx, `document.querySelectorAll('iframe').length`, &frames); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[c.allow == ""]; frames != want {
				t.Errorf("%d frames, want %d", frames, want)
			}
			if evs := pageTraffic(h.wire.Since(mark)); len(evs) > 0 || h.listener.hits.Load() != hits {
				t.Errorf("the demo sent something: %v", evs)
			}
		})
	}

	// The control: the page's CSP is enforced on the document, so a page
	// without the document's hashes (the file unchanged, or a hash short)
	// runs none of them, or not the component.
	for _, c := range []struct {
		name string
		page func(*jsxbuild.Output) string
	}{
		{"host.html unfilled runs no document script", func(*jsxbuild.Output) string { return "/host.html?unfilled=1" }},
		{"host CSP without the component's hash", func(out *jsxbuild.Output) string {
			hashes := strings.Fields(out.Manifest.Host.EmbedderScriptSrc)
			return h.host.pageFor(jsxbuild.HostRequirementsFor(hashes[:len(hashes)-1]))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := jsxbuild.Compile(context.Background(), []byte(`export default () => <p id="cx-ran">ran</p>;`), jsxbuild.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tb := h.renderOn(t, c.page(out), out.HTML)
			if err := waitFor(tb.ctx, "the frame's load", func() (bool, error) {
				var loads int
				err := evalJSON(tb.ctx, `window.__cxFrame.state.loads`, &loads)
				return loads >= 1, err
			}); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(tb.ctx, chromedp.Sleep(2*time.Second)); err != nil {
				t.Fatal(err)
			}
			var kids int
			if err := frameEval(tb.ctx, `document.getElementById('root').childElementCount`, &kids); err != nil {
				t.Fatal(err)
			}
			if st := tb.state(); kids != 0 || len(st.Msgs) != 0 {
				t.Errorf("the component ran on a host page whose CSP does not list its hash: root children %d, messages %+v", kids, st.Msgs)
			}
			tb.checkContained()
		})
	}
}
