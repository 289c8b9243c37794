// codeexec JSX document: boot script. Runs first, before the vendored
// runtime. Sets up error reporting to the parent and the require shim.
(function () {
  "use strict";
  var parentWindow = window.parent;
  var SOURCE = "codeexec-jsx";
  var MAX_MESSAGES = 50;
  var MAX_TEXT = 1000;
  var sent = 0;

  function text(v) {
    var s;
    try {
      s = v && typeof v === "object" && "message" in v ? String(v.message) : String(v);
    } catch (e) {
      s = "unprintable error";
    }
    if (typeof s !== "string") {
      s = "unprintable error";
    }
    if (s.length > MAX_TEXT) {
      s = s.slice(0, MAX_TEXT);
      // never half of a surrogate pair
      var last = s.charCodeAt(MAX_TEXT - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        s = s.slice(0, MAX_TEXT - 1);
      }
    }
    return s;
  }

  function post(type, phase, message) {
    if (sent >= MAX_MESSAGES || parentWindow === window) {
      return;
    }
    sent++;
    var msg = { source: SOURCE, version: 1, type: type };
    if (type === "error") {
      msg.phase = phase;
      msg.message = text(message);
    }
    try {
      parentWindow.postMessage(msg, "*");
    } catch (e) {
      // nothing else to do
    }
  }

  window.addEventListener("error", function (ev) {
    post("error", "runtime", ev && (ev.error || ev.message));
  });
  window.addEventListener("unhandledrejection", function (ev) {
    post("error", "runtime", ev && ev.reason);
  });

  // In-document links (href="#name") only scroll. An about:srcdoc
  // document's base URL is its parent's, so following one would navigate
  // the frame to the host page's URL (which the host's frame-src 'none'
  // blocks, leaving an error page in the frame). This listener is the
  // first one on the window's capture phase, before any code of the
  // component's: for a link whose href is a fragment alone it cancels the
  // navigation and scrolls to the element named instead. Every other
  // link is left to the sandbox and the CSPs, which block it.
  var XLINK = "http://www.w3.org/1999/xlink";
  function fragmentOf(el) {
    var href = el.getAttribute("href");
    if (href === null && el.namespaceURI !== "http://www.w3.org/1999/xhtml") {
      href = el.getAttributeNS(XLINK, "href");
    }
    if (typeof href !== "string") {
      return null;
    }
    // What the URL parser ignores: leading and trailing C0 controls and
    // spaces, and tabs and newlines anywhere.
    href = href.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "").replace(/[\t\n\r]/g, "");
    return href.charAt(0) === "#" ? href.slice(1) : null;
  }
  function scrollToFragment(frag) {
    var name = frag;
    try {
      name = decodeURIComponent(frag);
    } catch (e) {
      // keep it as written
    }
    var target = document.getElementById(frag) || document.getElementById(name) ||
      document.getElementsByName(name)[0] || null;
    if (target && typeof target.scrollIntoView === "function") {
      target.scrollIntoView();
    } else if (name === "" || name.toLowerCase() === "top") {
      window.scrollTo(0, 0);
    }
  }
  window.addEventListener("click", function (ev) {
    var path = typeof ev.composedPath === "function" ? ev.composedPath() : [ev.target];
    for (var i = 0; i < path.length; i++) {
      var el = path[i];
      if (!el || el.nodeType !== 1) {
        continue;
      }
      var tag = String(el.localName).toLowerCase();
      if (tag !== "a" && tag !== "area") {
        continue;
      }
      var frag = fragmentOf(el);
      if (frag !== null) {
        ev.preventDefault();
        scrollToFragment(frag);
      }
      return;
    }
  }, true);

  var ALLOWED = ["react", "react-dom", "react-dom/client", "react/jsx-runtime", "recharts"];
  var jsxRuntime = null;

  function requireShim(name) {
    switch (name) {
      case "react":
        return window.React;
      case "react-dom":
      case "react-dom/client":
        return window.ReactDOM;
      case "react/jsx-runtime":
        if (!jsxRuntime) {
          var React = window.React;
          var jsx = function (type, props, key) {
            if (key !== undefined) {
              props = Object.assign({}, props, { key: key });
            }
            return React.createElement(type, props);
          };
          jsxRuntime = { Fragment: React.Fragment, jsx: jsx, jsxs: jsx };
        }
        return jsxRuntime;
      case "recharts":
        if (window.Recharts) {
          return window.Recharts;
        }
        break;
    }
    throw new Error("module " + JSON.stringify(String(name)) + " is not available here; allowed: " + ALLOWED.join(", "));
  }

  function mount(mod) {
    var React = window.React;
    var ReactDOM = window.ReactDOM;
    var Component = mod && (mod["default"] || mod.App);
    if (typeof Component !== "function" && !(Component && typeof Component === "object" && Component.$$typeof)) {
      post("error", "module", "the code must export a React component as its default export");
      return;
    }
    var h = React.createElement;

    function Boundary(props) {
      React.Component.call(this, props);
      this.state = { error: null };
    }
    Boundary.prototype = Object.create(React.Component.prototype);
    Boundary.prototype.constructor = Boundary;
    Boundary.getDerivedStateFromError = function (error) {
      return { error: error };
    };
    Boundary.prototype.componentDidCatch = function (error) {
      post("error", "render", error);
    };
    Boundary.prototype.render = function () {
      if (this.state.error) {
        return h("pre", { role: "alert", className: "codeexec-error" }, "Render error: " + text(this.state.error));
      }
      return this.props.children;
    };

    var announced = false;
    function Rendered() {
      React.useEffect(function () {
        if (!announced) {
          announced = true;
          post("rendered");
        }
      }, []);
      return null;
    }

    var props = {};
    var root = ReactDOM.createRoot(document.getElementById("root"));
    function render() {
      root.render(h(Boundary, null, h(Component, props), h(Rendered)));
    }
    window.addEventListener("message", function (ev) {
      if (ev.source !== parentWindow) {
        return;
      }
      var d = ev.data;
      if (d && typeof d === "object" && d.source === "codeexec-host" && d.version === 1 &&
          d.type === "props" && d.props && typeof d.props === "object" && !Array.isArray(d.props)) {
        props = d.props;
        render();
      }
    });
    render();
  }

  Object.defineProperty(window, "__codeexecRequire", { value: requireShim });
  Object.defineProperty(window, "__codeexecMount", { value: mount });
  Object.defineProperty(window, "__codeexecFail", { value: function (e) { post("error", "module", e); } });
})();
