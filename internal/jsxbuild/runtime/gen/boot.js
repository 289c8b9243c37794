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
    return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s;
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
