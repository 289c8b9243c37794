// Command pause is the Pod sandbox's placeholder process for the local
// cluster (hack/cluster-up.sh), built into codeexec.io/pause:dev by
// hack/build-image.sh because no registry is reachable to pull
// registry.k8s.io/pause. Like the upstream pause, it sleeps until SIGINT or
// SIGTERM and reaps zombies when it is PID 1 of a shared PID namespace.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
