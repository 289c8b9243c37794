// Package bootstrap embeds the Python bootstrap that the runner's sandbox
// helper hands to `python3 -I -B -c`, and the result converter it compiles
// only when `result` is not a plain scalar. The Python sources live beside
// this file so that the runner image's non-Go assets stay in runner-image/.
package bootstrap

import _ "embed"

// Source is the text of bootstrap.py.
//
//go:embed bootstrap.py
var Source string

// Convert is the text of convert.py, sent to the bootstrap over its task
// pipe.
//
//go:embed convert.py
var Convert string
