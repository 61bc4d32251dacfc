// Command sshlist lists the keys of the agent at $SSH_AUTH_SOCK: the ssh mount tests run it in
// a RUN step, where busybox has no ssh client.
package main

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh/agent"
)

func main() {
	c, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keys, err := agent.NewClient(c).List()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, k := range keys {
		fmt.Println("key", k.Type(), k.Comment)
	}
}
