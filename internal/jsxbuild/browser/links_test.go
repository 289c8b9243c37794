package browser

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// linksComponent has a link (HTML and SVG) to #target far down the page;
// CLICK follows it after the first render.
const linksComponent = `import { useEffect } from 'react';
const $ = (id) => document.getElementById(id);
export default function Links() {
  useEffect(() => { setTimeout(() => { CLICK }, 50); }, []);
  return <div>
    <p>top</p>
    <div style={{ height: 3000 }} />
    <a id="go" href="HREF"><span id="inner">go</span></a>
    <svg width="60" height="20"><a id="svggo" href="HREF"><text id="svgtext" y="15">svg go</text></a></svg>
    <div style={{ height: 3000 }} />
    <h2 id="target">here</h2>
    <div style={{ height: 3000 }} />
  </div>;
}
`

func linksSource(href, click string) string {
	return strings.NewReplacer("HREF", href, "CLICK", click).Replace(linksComponent)
}

// frameScroll is what the frame's own view says after a link.
type frameScroll struct {
	Y    float64 `json:"y"`
	Href string  `json:"href"`
}

// TestBrowserFragmentLinks: a link to a fragment of the document itself
// (<a href="#x">, however it is followed) scrolls the frame and navigates
// nothing; any other link, including to the host page's own URL with a
// fragment, stays blocked (the host sees the frame navigate to an error
// page; no request, no byte).
func TestBrowserFragmentLinks(t *testing.T) {
	h := reviewHarness(t, nil)
	port := strconv.Itoa(h.listener.port())

	for _, c := range []struct{ name, href, click string }{
		{"a.click()", "#target", "$('go').click();"},
		{"click on the link's child", "#target", "$('inner').click();"},
		{"synthetic click event", "#target", "$('go').dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));"},
		{"svg link", "#target", "$('svgtext').dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));"},
		{"the component stops the click's propagation first", "#target",
			"document.addEventListener('click', (e) => e.stopImmediatePropagation(), true); window.addEventListener('click', (e) => e.stopImmediatePropagation(), true); $('go').click();"},
		{"href with spaces and a tab", " #tar\tget ", "$('go').click();"},
		{"percent-encoded fragment", "#%74arget", "$('go').click();"},
	} {
		t.Run("scrolls: "+c.name, func(t *testing.T) {
			tb := h.render(t, linksSource(c.href, c.click))
			tb.waitMessage("rendered")
			var sc frameScroll
			if err := waitFor(tb.ctx, "the frame to scroll to #target", func() (bool, error) {
				err := frameEval(tb.ctx, `({y: window.scrollY, href: location.href})`, &sc)
				return sc.Y > 4000, err
			}); err != nil {
				t.Errorf("%v: %+v, host %+v", err, sc, tb.state())
			}
			// A navigation would show up as a second load of the frame.
			if err := chromedp.Do(tb.ctx, chromedp.Sleep(time.Second)); err != nil {
				t.Fatal(err)
			}
			if st := tb.state(); st.Navs != 0 {
				t.Errorf("the frame navigated (host saw %d loads)", st.Navs)
			}
			if err := frameEval(tb.ctx, `({y: window.scrollY, href: location.href})`, &sc); err != nil {
				t.Fatal(err)
			}
			if sc.Href != "about:srcdoc" {
				t.Errorf("the frame's document is now %q", sc.Href)
			}
			tb.checkContained()
		})
	}

	for _, c := range []struct{ name, href string }{
		{"the host page's path with a fragment", "/host.html#target"},
		{"a query with a fragment", "?q=1#target"},
		{"a loopback URL with a fragment", "http://127.0.0.1:" + port + "/#target"},
	} {
		t.Run("stays blocked: "+c.name, func(t *testing.T) {
			tb := h.render(t, linksSource(c.href, "$('go').click();"))
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
}
