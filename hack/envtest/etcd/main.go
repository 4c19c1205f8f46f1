// Command etcd is the etcd server from go.etcd.io/etcd/server/v3, built here so envtest needs
// no downloaded release binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
