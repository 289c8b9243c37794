//go:build !runner_slim

package runner

// Slim reports whether this is a runner_slim build (see handoff.go).
const Slim = false

func handOff(Language) error { return nil }
