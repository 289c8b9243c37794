package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/codeexec/codeexec-operator/internal/jsxbuild"
	"github.com/codeexec/codeexec-operator/internal/testutil/netns"
)

const chromiumPath = "/usr/bin/chromium"

// waitLimit bounds every wait for the browser; it only turns a hang into
// a failure and is never what a test asserts.
const waitLimit = 30 * time.Second

// repoRoot finds the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root (go.mod)")
		}
		dir = parent
	}
}

// listener accepts TCP connections and UDP datagrams on loopback and only
// counts them: hostile components must never reach it. hits counts
// connections and datagrams; bytes counts what arrived on them.
type listener struct {
	tcp4, tcp6 net.Listener
	udp4       net.PacketConn
	hits       atomic.Int64
	bytes      atomic.Int64
	mu         sync.Mutex
	seen       []string
}

func startListener(t *testing.T) *listener {
	t.Helper()
	l := &listener{}
	var err error
	if l.tcp4, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	port := l.tcp4.Addr().(*net.TCPAddr).Port
	// Same port on ::1 when IPv6 loopback exists.
	if ln, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port)); err == nil {
		l.tcp6 = ln
	}
	if pc, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		l.udp4 = pc
	}
	accept := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.hits.Add(1)
			buf := make([]byte, 256)
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			l.bytes.Add(int64(n))
			l.mu.Lock()
			l.seen = append(l.seen, fmt.Sprintf("tcp %s: %q", c.RemoteAddr(), buf[:n]))
			l.mu.Unlock()
			c.Close()
		}
	}
	go accept(l.tcp4)
	if l.tcp6 != nil {
		go accept(l.tcp6)
	}
	if l.udp4 != nil {
		go func() {
			buf := make([]byte, 1500)
			for {
				n, addr, err := l.udp4.ReadFrom(buf)
				if err != nil {
					return
				}
				l.hits.Add(1)
				l.bytes.Add(int64(n))
				l.mu.Lock()
				l.seen = append(l.seen, fmt.Sprintf("udp %s: %d bytes", addr, n))
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		l.tcp4.Close()
		if l.tcp6 != nil {
			l.tcp6.Close()
		}
		if l.udp4 != nil {
			l.udp4.Close()
		}
	})
	return l
}

func (l *listener) port() int { return l.tcp4.Addr().(*net.TCPAddr).Port }

func (l *listener) log() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.seen, "; ")
}

// hostServer serves web/ on loopback and records every other request.
// /host.html?doc=N is web/host.html with its script-src filled in for the
// N-th registered document (jsxbuild.FillHostPage), as a product's server
// sends it; /host.html alone is the file unchanged.
type hostServer struct {
	url   string
	mu    sync.Mutex
	stray []string
	docs  []jsxbuild.HostRequirements
}

// pageFor registers a document's host requirements and returns the path
// of the host page made for it.
func (h *hostServer) pageFor(req jsxbuild.HostRequirements) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.docs = append(h.docs, req)
	return fmt.Sprintf("/host.html?doc=%d", len(h.docs)-1)
}

// hostRequirementsOf returns the host requirements of a compiled
// document, read from its own CSP (TestManifestHostRequirements checks
// that the manifest says the same).
func hostRequirementsOf(html string) jsxbuild.HostRequirements {
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="[^"]*script-src ([^;"]*)`).FindStringSubmatch(html)
	if m == nil {
		return jsxbuild.DefaultHostRequirements()
	}
	return jsxbuild.HostRequirementsFor(strings.Fields(m[1]))
}

const (
	hostCookie  = "cxhostsecret=cookie-7f3a9c"
	hostStorage = "storage-5e1b2d"
	hostTitle   = "codeexec JSX host"
)

func startHost(t *testing.T, webDir string) *hostServer {
	t.Helper()
	hs := &hostServer{}
	files := http.FileServer(http.Dir(webDir))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The host page is only ever loaded as the top-level document; a
		// request for a frame means the sandboxed frame navigated to it.
		if d := r.Header.Get("Sec-Fetch-Dest"); d == "iframe" || d == "frame" || d == "embed" || d == "object" {
			hs.mu.Lock()
			hs.stray = append(hs.stray, d+": "+r.Method+" "+r.URL.String())
			hs.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		switch r.URL.Path {
		case "/host.html":
			b, err := os.ReadFile(filepath.Join(webDir, "host.html"))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			page := string(b)
			if d := r.URL.Query().Get("doc"); d != "" {
				n, err := strconv.Atoi(d)
				hs.mu.Lock()
				ok := err == nil && n >= 0 && n < len(hs.docs)
				if ok {
					page = jsxbuild.FillHostPage(page, hs.docs[n])
				}
				hs.mu.Unlock()
				if !ok {
					http.NotFound(w, r)
					return
				}
			}
			http.SetCookie(w, &http.Cookie{Name: "cxhostsecret", Value: "cookie-7f3a9c", Path: "/"})
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(page))
		case "/bare.html":
			// host.html without its own CSP: shows what the document's
			// CSP and the sandbox do alone.
			b, err := os.ReadFile(filepath.Join(webDir, "host.html"))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			re := regexp.MustCompile(`(?s)<meta http-equiv="Content-Security-Policy"[^>]*>`)
			http.SetCookie(w, &http.Cookie{Name: "cxhostsecret", Value: "cookie-7f3a9c", Path: "/"})
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(re.ReplaceAll(b, nil))
		case "/host.js", "/host.css", "/demo.js":
			files.ServeHTTP(w, r)
		case "/favicon.ico":
			// The browser asks for it on behalf of the host page.
			http.NotFound(w, r)
		default:
			hs.mu.Lock()
			hs.stray = append(hs.stray, r.Method+" "+r.URL.String())
			hs.mu.Unlock()
			http.NotFound(w, r)
		}
	})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	hs.url = "http://" + ln.Addr().String()
	return hs
}

func (h *hostServer) strays() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.stray...)
}

// startBrowser starts one headless Chromium for the whole test, with
// extra command-line flags (without the leading "--": "name=value" or
// "name") and extra enterprise policies. In a mount namespace of its own,
// its /etc/resolv.conf names the wire's DNS server, so that every name it
// resolves is seen, and its /etc/chromium holds quietPolicies (plus
// policies), so that nothing but the pages it shows uses the network.
func startBrowser(t *testing.T, policies map[string]any, extra ...string) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Debian's chromium is required at %s (hack/install-deps.sh installs it): %v", chromiumPath, err)
	}
	dir := t.TempDir()
	resolv, err := netns.WriteResolvConf(dir)
	if err != nil {
		t.Fatal(err)
	}
	etc, err := chromiumEtc(dir, policies)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := netns.WrapProgram(dir, chromiumPath,
		netns.Bind{Source: resolv, Target: "/etc/resolv.conf"},
		netns.Bind{Source: etc, Target: "/etc/chromium"})
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("mute-audio", true),
		// Background fetches of the browser's own (none is a page's).
		chromedp.Flag("disable-features", "OptimizationHints,OptimizationGuideModelDownloading,OptimizationHintsFetching,OptimizationTargetPrediction,NetworkTimeServiceQuerying,AutofillServerCommunication,MediaRouter,Translate,CertificateTransparencyComponentUpdater"),
	}
	for _, f := range extra {
		name, value, ok := strings.Cut(f, "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// evalJSON evaluates expr in the tab's main frame and decodes its JSON
// result into v.
func evalJSON(ctx context.Context, expr string, v any) error {
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// frameEval evaluates expr inside the sandboxed child frame. The host page
// cannot read that frame (it has an opaque origin), but the DevTools
// protocol can: through the frame's own target when Chromium runs it out of
// process, or through an isolated world on the frame otherwise. An isolated
// world shares the DOM but not the page's JavaScript globals.
func frameEval(ctx context.Context, expr string, v any) error {
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		return err
	}
	tabID := chromedp.FromContext(ctx).Target.TargetID
	for _, info := range infos {
		if info.Type == "iframe" && info.ParentID == tabID && info.URL == "about:srcdoc" {
			// Detach, never close: closing the frame's target would
			// detach the page too.
			fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
			defer cancel()
			return evalJSON(fctx, expr, v)
		}
	}
	tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		return err
	}
	if len(tree.FrameTree.ChildFrames) == 0 {
		return errors.New("the host page has no child frame")
	}
	fid := tree.FrameTree.ChildFrames[0].Frame.ID
	world, err := chromedp.Call(ctx, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: fid, WorldName: "cx-test"})
	if err != nil {
		return fmt.Errorf("creating an isolated world in the frame: %w", err)
	}
	yes := true
	res, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{
		Expression: expr, ContextID: world.ExecutionContextID, ReturnByValue: &yes, AwaitPromise: &yes,
	})
	if err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("in the frame: %s", res.ExceptionDetails.Text)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(res.Result.Value, v)
}

// waitFor polls cond until it reports true.
func waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(waitLimit)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok && err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("gave up waiting for %s (last error: %v)", what, last)
}

// quietPolicies turn off what Chromium fetches on its own (component and
// time updates, sign-in, autofill and optimisation hints, safe browsing):
// on the test's second network, anything the browser sends must come from
// the page under test. None of them changes what a page may do.
var quietPolicies = map[string]any{
	"ComponentUpdatesEnabled":                 false,
	"BrowserNetworkTimeQueriesEnabled":        false,
	"BrowserSignin":                           0,
	"SyncDisabled":                            true,
	"AutofillAddressEnabled":                  false,
	"AutofillCreditCardEnabled":               false,
	"PasswordManagerEnabled":                  false,
	"SafeBrowsingProtectionLevel":             0,
	"MetricsReportingEnabled":                 false,
	"TranslateEnabled":                        false,
	"SpellCheckServiceEnabled":                false,
	"SearchSuggestEnabled":                    false,
	"UrlKeyedAnonymizedDataCollectionEnabled": false,
	"DomainReliabilityAllowed":                false,
	"ExtensionInstallBlocklist":               []string{"*"},
	"BackgroundModeEnabled":                   false,
	"PromotionalTabsEnabled":                  false,
	"ShowFullUrlsInAddressBar":                false,
}

// chromiumEtc writes a copy of /etc/chromium with a managed policy file
// into dir and returns its path.
func chromiumEtc(dir string, policies map[string]any) (string, error) {
	etc := filepath.Join(dir, "etc-chromium")
	if err := os.MkdirAll(filepath.Join(etc, "policies", "managed"), 0o755); err != nil {
		return "", err
	}
	if b, err := os.ReadFile("/etc/chromium/master_preferences"); err == nil {
		if err := os.WriteFile(filepath.Join(etc, "master_preferences"), b, 0o644); err != nil {
			return "", err
		}
	}
	all := map[string]any{}
	for k, v := range quietPolicies {
		all[k] = v
	}
	for k, v := range policies {
		all[k] = v
	}
	b, err := json.Marshal(all)
	if err != nil {
		return "", err
	}
	return etc, os.WriteFile(filepath.Join(etc, "policies", "managed", "codeexec-test.json"), b, 0o644)
}

// browserBackground are the exact names Chromium itself still looks up
// with quietPolicies (sign-in's ListAccounts, the component updater): the
// wire answers NXDOMAIN and the checks ignore queries for exactly these
// names, which carry no data a page could choose.
var browserBackground = map[string]bool{"accounts.google.com.": true, "update.googleapis.com.": true}

// pageTraffic returns the wire events that are not the browser's own
// background lookups.
func pageTraffic(evs []netns.WireEvent) []netns.WireEvent {
	var out []netns.WireEvent
	for _, e := range evs {
		if e.Kind == "dns" {
			name := string(e.Data)
			if i := strings.LastIndexByte(name, ' '); i >= 0 {
				name = name[i+1:]
			}
			if browserBackground[strings.ToLower(name)] {
				continue
			}
		}
		if e.Kind == "packet" && strings.HasSuffix(e.Dst, ":53") {
			// The same lookups as raw packets; the DNS server records
			// every query it parses, so page queries are not lost.
			continue
		}
		out = append(out, e)
	}
	return out
}
