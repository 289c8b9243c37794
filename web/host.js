// codeexec JSX host: how a product embeds a compiled JSX document.
//
//   var frame = CodeexecHost.mount(container, result.html, {
//     onMessage: function (msg) { ... },   // schema-valid messages only
//     onNavigate: function (loads) { ... } // the frame navigated itself
//   });
//   frame.sendProps({ data: rows });       // pass props to the component
//   frame.destroy();
//
// Rules this file follows (see internal/jsxbuild's package comment):
//   - allow="<every feature in DENIED_FEATURES> 'none'": no powerful feature
//     (camera, microphone, geolocation, screen capture, USB, serial, HID,
//     Bluetooth, payments, the clipboard, ...) is delegated to the frame.
//   - sandbox="allow-scripts" and nothing else: no allow-same-origin, so the
//     frame has an opaque origin and cannot touch this page, its cookies or
//     its storage; no allow-top-navigation*, allow-popups or allow-forms.
//   - the document goes in through the srcdoc property (no HTML escaping to
//     get wrong; a server-side template must attribute-escape it instead).
//   - a message is accepted only when event.source is this iframe's window
//     and the payload has exactly the documented shape; its text is only
//     ever used as text.
//   - the first load event is the document; any later one means the frame
//     navigated (or rewrote) itself, and nothing from it is trusted again.
(function (global) {
  "use strict";

  var SOURCE = "codeexec-jsx";
  var PHASES = { module: true, render: true, runtime: true };
  var MAX_TEXT = 1000;
  var MAX_MESSAGES = 100;
  // DENIED_FEATURES is jsxbuild.DeniedFeatures, the features the manifest's
  // host.iframeAllow sets to 'none' (a Go test keeps the two equal).
  var DENIED_FEATURES = [
    "accelerometer", "ambient-light-sensor", "battery", "bluetooth", "camera", "gamepad",
    "geolocation", "gyroscope", "hid", "magnetometer", "microphone", "midi",
    "serial", "smart-card", "speaker-selection", "usb", "xr-spatial-tracking", "all-screens-capture",
    "autoplay", "captured-surface-control", "display-capture", "encrypted-media", "fullscreen", "idle-detection",
    "keyboard-map", "local-fonts", "media-playback-while-not-visible", "picture-in-picture", "screen-wake-lock", "web-share",
    "window-management", "focus-without-user-activation", "clipboard-read", "clipboard-write", "payment", "publickey-credentials-create",
    "publickey-credentials-get", "identity-credentials-get", "otp-credentials", "digital-credentials-get", "digital-credentials-create", "storage-access",
    "direct-sockets", "direct-sockets-private", "local-network", "local-network-access", "loopback-network", "deferred-fetch",
    "deferred-fetch-minimal", "sync-xhr", "attribution-reporting", "browsing-topics", "interest-cohort", "join-ad-interest-group",
    "run-ad-auction", "private-aggregation", "private-state-token-issuance", "private-state-token-redemption", "shared-storage", "shared-storage-select-url",
    "language-detector", "language-model", "on-device-speech-recognition", "rewriter", "summarizer", "translator",
    "writer", "compute-pressure", "cross-origin-isolated", "document-domain", "unload", "ch-device-memory",
    "ch-downlink", "ch-dpr", "ch-ect", "ch-prefers-color-scheme", "ch-prefers-reduced-motion", "ch-prefers-reduced-transparency",
    "ch-rtt", "ch-save-data", "ch-ua", "ch-ua-arch", "ch-ua-bitness", "ch-ua-form-factors",
    "ch-ua-full-version", "ch-ua-full-version-list", "ch-ua-high-entropy-values", "ch-ua-mobile", "ch-ua-model", "ch-ua-platform",
    "ch-ua-platform-version", "ch-ua-wow64", "ch-viewport-height", "ch-viewport-width", "ch-width"
  ];
  var IFRAME_ALLOW = DENIED_FEATURES.map(function (f) { return f + " 'none'"; }).join("; ");

  function keysAre(obj, want) {
    var keys = Object.keys(obj).sort();
    if (keys.length !== want.length) {
      return false;
    }
    for (var i = 0; i < keys.length; i++) {
      if (keys[i] !== want[i]) {
        return false;
      }
    }
    return true;
  }

  // validMessage returns a fresh copy of d when it matches the schema, or
  // null.
  function validMessage(d) {
    if (d === null || typeof d !== "object" || Array.isArray(d) ||
        Object.getPrototypeOf(d) !== Object.prototype) {
      return null;
    }
    if (d.source !== SOURCE || d.version !== 1) {
      return null;
    }
    if (d.type === "rendered" && keysAre(d, ["source", "type", "version"])) {
      return { source: SOURCE, version: 1, type: "rendered" };
    }
    if (d.type === "error" && keysAre(d, ["message", "phase", "source", "type", "version"]) &&
        typeof d.phase === "string" && Object.prototype.hasOwnProperty.call(PHASES, d.phase) &&
        typeof d.message === "string" && d.message.length <= MAX_TEXT) {
      return { source: SOURCE, version: 1, type: "error", phase: d.phase, message: d.message };
    }
    return null;
  }

  function mount(container, html, opts) {
    opts = opts || {};
    var iframe = document.createElement("iframe");
    iframe.setAttribute("allow", IFRAME_ALLOW);
    iframe.setAttribute("sandbox", "allow-scripts");
    iframe.setAttribute("referrerpolicy", "no-referrer");
    iframe.setAttribute("loading", "eager");
    iframe.setAttribute("title", opts.title || "Generated component");
    iframe.className = "codeexec-frame";

    var state = { loads: 0, navigated: false, accepted: 0, rejected: 0, destroyed: false };

    function onLoad() {
      state.loads++;
      if (state.loads > 1 && !state.navigated) {
        state.navigated = true;
        if (opts.onNavigate) {
          opts.onNavigate(state.loads);
        }
      }
    }

    function onMessage(ev) {
      if (state.destroyed || ev.source === null || ev.source !== iframe.contentWindow) {
        return;
      }
      var msg = state.navigated ? null : validMessage(ev.data);
      if (!msg || state.accepted >= MAX_MESSAGES) {
        state.rejected++;
        if (opts.onReject) {
          opts.onReject();
        }
        return;
      }
      state.accepted++;
      if (opts.onMessage) {
        opts.onMessage(msg);
      }
    }

    iframe.addEventListener("load", onLoad);
    global.addEventListener("message", onMessage);
    iframe.srcdoc = html;
    container.appendChild(iframe);

    return {
      iframe: iframe,
      state: state,
      sendProps: function (props) {
        if (!state.navigated && iframe.contentWindow) {
          iframe.contentWindow.postMessage({ source: "codeexec-host", version: 1, type: "props", props: props }, "*");
        }
      },
      destroy: function () {
        state.destroyed = true;
        global.removeEventListener("message", onMessage);
        iframe.removeEventListener("load", onLoad);
        iframe.remove();
      }
    };
  }

  global.CodeexecHost = { mount: mount, validMessage: validMessage, iframeAllow: IFRAME_ALLOW };
})(window);
