// Package bootstrap embeds the Python bootstrap that the runner's sandbox
// helper hands to `python3 -I -B -c`. The Python source lives beside this
// file so that the runner image's non-Go assets stay in runner-image/.
package bootstrap

import _ "embed"

// Source is the text of bootstrap.py.
//
//go:embed bootstrap.py
var Source string
