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

  global.CodeexecHost = { mount: mount, validMessage: validMessage };
})(window);
