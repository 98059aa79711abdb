package health

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/config"
)

// maxStat bounds what a haproxy check reads from the runtime API; "show
// stat" of a large HAProxy is a few hundred KiB.
const maxStat = 8 << 20

// haproxyChecker asks HAProxy's runtime API ("show stat" on its stats
// socket, unix or TCP) for the state of one backend, and passes when the
// backend is UP with at least minUp of its servers UP.
//
// A server counts as UP when HAProxy sends it traffic: "UP", "UP n/m"
// (failing its checks but not down yet) and "no check" (a server without
// health checks). DOWN, "DOWN n/m" (rising), NOLB, DRAIN and MAINT do not.
type haproxyChecker struct {
	network string // "unix" or "tcp"
	address string
	backend string
	minUp   int
	timeout time.Duration
}

func newHAProxyChecker(c *config.Check) (*haproxyChecker, error) {
	h := &haproxyChecker{backend: c.Backend, minUp: max(c.MinUp, 1), timeout: c.Timeout.Duration}
	switch {
	case c.Socket != "" && c.Address == "":
		h.network, h.address = "unix", c.Socket
	case c.Address != "" && c.Socket == "":
		h.network, h.address = "tcp", c.Address
	default:
		return nil, errors.New("haproxy check: give exactly one of socket and address")
	}
	if c.Backend == "" {
		return nil, errors.New("haproxy check: backend is missing")
	}
	return h, nil
}

func (h *haproxyChecker) Check(ctx context.Context) error {
	probeCtx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	stat, err := h.showStat(probeCtx)
	if err != nil {
		if timedOut(ctx, probeCtx, err) {
			return fmt.Errorf("haproxy backend %s: stats socket %s: %s", h.backend, h.address, timedOutAfter(h.timeout))
		}
		return fmt.Errorf("haproxy backend %s: %w", h.backend, err)
	}
	return judgeBackend(stat, h.backend, h.minUp)
}

// showStat returns HAProxy's answer to "show stat". HAProxy closes the
// connection after answering one command, which ends the answer.
func (h *haproxyChecker) showStat(ctx context.Context) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, h.network, h.address)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	// Wake up blocked reads and writes if the caller gives up early.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(conn, maxStat))
}

// haproxyServer is a row of "show stat" for one proxy.
type haproxyServer struct {
	name   string
	status string
}

func (s haproxyServer) up() bool {
	return s.status == "UP" || strings.HasPrefix(s.status, "UP ") || s.status == "no check"
}

// judgeBackend reads the CSV that "show stat" returns and says whether
// backend is UP with at least minUp servers UP, and if not, why.
func judgeBackend(stat []byte, backend string, minUp int) error {
	rows, err := parseStat(stat)
	if err != nil {
		return fmt.Errorf("haproxy backend %s: %w", backend, err)
	}
	var (
		servers       []haproxyServer
		backendStatus string
		found         bool
		backends      []string
	)
	for _, r := range rows {
		if r.svname == "BACKEND" && !slices.Contains(backends, r.pxname) {
			backends = append(backends, r.pxname)
		}
		if r.pxname != backend {
			continue
		}
		found = true
		switch r.svname {
		case "FRONTEND":
		case "BACKEND":
			backendStatus = r.status
		default:
			servers = append(servers, haproxyServer{r.svname, r.status})
		}
	}
	switch {
	case !found:
		return fmt.Errorf("haproxy backend %s: not found; HAProxy has %s", backend, listSome("backends", backends))
	case backendStatus == "":
		return fmt.Errorf("haproxy backend %s: is a frontend only, it has no servers; HAProxy has %s", backend, listSome("backends", backends))
	}
	up := 0
	var notUp []string
	for _, s := range servers {
		if s.up() {
			up++
		} else {
			notUp = append(notUp, s.name+" "+s.status)
		}
	}
	if up < minUp {
		why := fmt.Sprintf("haproxy backend %s: %d/%d servers UP (min %d)", backend, up, len(servers), minUp)
		if len(notUp) > 0 {
			why += ": " + listSome("", notUp)
		}
		return errors.New(why)
	}
	if backendStatus != "UP" {
		return fmt.Errorf("haproxy backend %s: is %s though %d/%d servers are UP", backend, backendStatus, up, len(servers))
	}
	return nil
}

type statRow struct{ pxname, svname, status string }

// parseStat picks the proxy name, server name and status of every row of
// "show stat" CSV, whose first line names the columns: "# pxname,svname,...".
func parseStat(stat []byte) ([]statRow, error) {
	header, body, _ := bytes.Cut(stat, []byte("\n"))
	if !bytes.HasPrefix(header, []byte("# ")) {
		return nil, fmt.Errorf("unexpected answer to \"show stat\": %q", head(bytes.TrimSpace(header), 120))
	}
	columns := strings.Split(strings.TrimSpace(string(header[2:])), ",")
	px, sv, st := slices.Index(columns, "pxname"), slices.Index(columns, "svname"), slices.Index(columns, "status")
	if px < 0 || sv < 0 || st < 0 {
		return nil, fmt.Errorf("\"show stat\" has no pxname, svname or status column: %q", head(header, 120))
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	var rows []statRow
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("\"show stat\" is not CSV: %w", err)
		}
		if len(record) <= max(px, sv, st) {
			continue // a blank or short line
		}
		rows = append(rows, statRow{record[px], record[sv], record[st]})
	}
}

// listSome renders up to five items, "none" for no items.
func listSome(what string, items []string) string {
	const most = 5
	if len(items) == 0 {
		if what == "" {
			return "none"
		}
		return "no " + what
	}
	text := strings.Join(items[:min(len(items), most)], ", ")
	if len(items) > most {
		text += fmt.Sprintf(" and %d more", len(items)-most)
	}
	if what != "" {
		text = what + " " + text
	}
	return text
}
