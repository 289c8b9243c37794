// Package browser holds the headless Chromium tests of the documents
// internal/jsxbuild builds: they load web/host.html from a loopback server,
// render each compiled document in its sandboxed iframe and check what
// happens, inside a private network namespace where only loopback exists.
package browser
