// Command webd is the backend of the systemd cluster test
// (cluster_test.go): a static binary copied into each booted container,
// where a minimal Debian has neither python3 nor busybox. It answers every
// GET with the host's name, so the client sees who served the VIP.
//
//	webd -listen [::]:8080
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "[::]:8080", "address to serve on")
	flag.Parse()
	host, err := os.Hostname()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              *listen,
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, host)
		}),
	}
	log.Fatal(srv.ListenAndServe())
}
