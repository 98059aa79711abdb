package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NginxPath is where `make test` (as root) installs nginx.
const NginxPath = "/usr/sbin/nginx"

const nginxReadyTimeout = 10 * time.Second

// NginxOptions shape StartNginx. The zero value serves "<host name>\n" on port 80.
type NginxOptions struct {
	Port uint16 // default 80
	Body string // answer to every GET; default the host's name and a newline
}

// Nginx is a running nginx with everything it writes in its own directory.
type Nginx struct {
	*Process
	Dir  string
	Port uint16
}

// ErrorLog returns nginx's error log so far.
func (n *Nginx) ErrorLog() string {
	b, err := os.ReadFile(filepath.Join(n.Dir, "error.log"))
	if err != nil {
		return fmt.Sprintf("(cannot read error log: %v)", err)
	}
	return string(b)
}

// StartNginx runs nginx in the node's namespace, listening on all IPv4 and
// IPv6 addresses (a VIP too, once it is on the host), and returns when it
// answers. It skips the test when nginx is not installed.
func StartNginx(t testing.TB, node *Node, opts NginxOptions) *Nginx {
	t.Helper()
	if _, err := os.Stat(NginxPath); err != nil {
		t.Skipf("lab test needs %s: run `make test` as root, which installs it (%v)", NginxPath, err)
	}
	if opts.Port == 0 {
		opts.Port = 80
	}
	if opts.Body == "" {
		opts.Body = node.Name() + "\n"
	}
	n, err := startNginx(t, node, opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func startNginx(t testing.TB, node *Node, opts NginxOptions) (*Nginx, error) {
	dir := t.TempDir()
	if err := writeNginxFiles(dir, opts); err != nil {
		return nil, fmt.Errorf("nginx on %s: %w", node.Name(), err)
	}
	// -e: the error log must be ours before the config is even read.
	p, err := node.Start(NginxPath, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"),
		"-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return nil, err
	}
	n := &Nginx{Process: p, Dir: dir, Port: opts.Port}
	if err := n.waitReady(node, opts.Body); err != nil {
		return nil, fmt.Errorf("nginx on %s: %w\nerror log:\n%s", node.Name(), err, tail(n.ErrorLog(), 20))
	}
	return n, nil
}

// waitReady asks from inside the host itself, so it proves nginx is up
// without depending on the lab network.
func (n *Nginx) waitReady(node *Node, wantBody string) error {
	url := URL(node.IPv4(), n.Port)
	return poll(nginxReadyTimeout, func() error {
		select {
		case <-n.Exited():
			return fmt.Errorf("exited before answering: %v", n.Wait())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		body, err := node.HTTPGet(ctx, url)
		if err != nil {
			return err
		}
		if body != wantBody {
			return fmt.Errorf("%s answered %q, want %q", url, body, wantBody)
		}
		return nil
	})
}

func writeNginxFiles(dir string, opts NginxOptions) error {
	for _, sub := range []string{"www", "temp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "www", "body.txt"), []byte(opts.Body), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(nginxConfig(dir, opts.Port)), 0o644)
}

// nginxConfig keeps every file nginx touches in dir, so labs never share
// /var/lib/nginx or /run/nginx.pid. Workers run as root because the test's
// temp dir is private to root.
func nginxConfig(dir string, port uint16) string {
	return strings.NewReplacer("DIR", dir, "PORT", fmt.Sprint(port)).Replace(`daemon off;
master_process on;
user root;
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log info;

events {
    worker_connections 1024;
}

http {
    access_log DIR/access.log;
    client_body_temp_path DIR/temp/client_body;
    proxy_temp_path DIR/temp/proxy;
    fastcgi_temp_path DIR/temp/fastcgi;
    uwsgi_temp_path DIR/temp/uwsgi;
    scgi_temp_path DIR/temp/scgi;

    server {
        listen PORT default_server;
        listen [::]:PORT default_server ipv6only=on;
        root DIR/www;
        default_type text/plain;
        location / {
            try_files /body.txt =404;
        }
    }
}
`)
}
