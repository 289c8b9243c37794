// Demo wiring for host.html: paste a runner result (or a document) and
// render it. Everything from the frame is shown with textContent only.
// The page's CSP lets through only the scripts of the document it was
// served for (manifest.host.embedderScriptSrc, see host.html): any other
// pasted document stays blank.
(function () {
  "use strict";
  var input = document.getElementById("input");
  var stage = document.getElementById("stage");
  var log = document.getElementById("log");
  var status = document.getElementById("status");
  var current = null;

  function say(line) {
    var li = document.createElement("li");
    li.textContent = line;
    log.appendChild(li);
  }

  document.getElementById("render").addEventListener("click", function () {
    var text = input.value;
    var html = text;
    try {
      var parsed = JSON.parse(text);
      var r = parsed.result || parsed;
      if (r && typeof r.html === "string") {
        if (r.manifest && r.manifest.sandbox !== "allow-scripts") {
          say("refusing: unexpected sandbox " + r.manifest.sandbox);
          return;
        }
        // A runner newer than host.js may deny more features: refuse
        // rather than delegate one the manifest says to deny.
        if (r.manifest && r.manifest.host && r.manifest.host.iframeAllow !== CodeexecHost.iframeAllow) {
          say("refusing: the manifest's host.iframeAllow differs from host.js's; update host.js");
          return;
        }
        html = r.html;
      }
    } catch (e) {
      // not JSON: a bare document
    }
    if (current) {
      current.destroy();
    }
    log.textContent = "";
    status.textContent = "loading";
    current = CodeexecHost.mount(stage, html, {
      onMessage: function (m) {
        status.textContent = m.type === "rendered" ? "rendered" : "error";
        say(m.type + (m.phase ? " (" + m.phase + "): " + m.message : ""));
      },
      onNavigate: function () {
        status.textContent = "the component navigated its frame away; messages are ignored";
      }
    });
  });
})();
