// Command mangen writes a man page (groff, man macros) for a cobra program
// from the program's own help: it runs PROGRAM --help and PROGRAM SUB --help
// for every subcommand, and formats what they print. packaging/build.sh runs
// it, so the man pages always say what --help says.
//
// The program's long help becomes the page's DESCRIPTION up to its first
// heading (a line in capitals alone, like "EXIT STATUS"); each heading
// becomes a section of the page. Every subcommand gets a subsection under
// COMMANDS with its synopsis, description, options and examples.
//
//	go run ./packaging/mangen -section 8 -version 1.2.3 bin/vipd > vipd.8
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func main() {
	section := flag.String("section", "8", "the manual section")
	version := flag.String("version", "", "the version named in the page footer")
	manual := flag.String("manual", "System Administration", "the manual's title")
	date := flag.String("date", "", "the date in the footer, YYYY-MM-DD (default: $SOURCE_DATE_EPOCH, else today)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mangen [-section N] [-version V] [-date YYYY-MM-DD] PROGRAM > PROGRAM.N\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *date == "" {
		*date = defaultDate()
	}
	prog := flag.Arg(0)
	page, err := build(runner(prog), filepath.Base(prog))
	if err != nil {
		fmt.Fprintf(os.Stderr, "mangen: %v\n", err)
		os.Exit(1)
	}
	if err := page.write(os.Stdout, *section, *version, *manual, *date); err != nil {
		fmt.Fprintf(os.Stderr, "mangen: %v\n", err)
		os.Exit(1)
	}
}

func defaultDate() string {
	t := time.Now()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			t = time.Unix(n, 0)
		}
	}
	return t.UTC().Format("2006-01-02")
}

// helpFunc returns the help text of the command reached by args.
type helpFunc func(args ...string) (string, error)

// runner runs prog with a clean environment, so defaults taken from the
// environment (like VIPD_SOCKET) show as the program's own.
func runner(prog string) helpFunc {
	return func(args ...string) (string, error) {
		cmd := exec.Command(prog, append(args, "--help")...)
		cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("%s %s --help: %v: %s", prog, strings.Join(args, " "), err, stderr.String())
		}
		return string(out), nil
	}
}

// help is one command's --help, split into its parts.
type help struct {
	path     string     // "vipd check"
	long     [][]string // blocks of the description, split at blank lines
	usage    []string
	examples []string
	commands []string // names of the available subcommands
	flags    []string
}

// cobra's headings after the description; "Use ..." ends the text.
var cobraHeadings = map[string]bool{
	"Usage:": true, "Aliases:": true, "Examples:": true, "Available Commands:": true,
	"Additional Commands:": true, "Flags:": true, "Global Flags:": true, "Additional help topics:": true,
}

func parseHelp(path, text string) help {
	h := help{path: path}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	i := 0
	var block []string
	for ; i < len(lines) && !cobraHeadings[lines[i]]; i++ {
		if strings.TrimSpace(lines[i]) == "" {
			if len(block) > 0 {
				h.long = append(h.long, block)
				block = nil
			}
			continue
		}
		block = append(block, lines[i])
	}
	if len(block) > 0 {
		h.long = append(h.long, block)
	}
	heading := ""
	for ; i < len(lines); i++ {
		line := lines[i]
		if cobraHeadings[line] {
			heading = line
			continue
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "Use \"") {
			continue
		}
		switch heading {
		case "Usage:":
			h.usage = append(h.usage, strings.TrimSpace(line))
		case "Examples:":
			h.examples = append(h.examples, line)
		case "Available Commands:", "Additional Commands:":
			if f := strings.Fields(line); len(f) > 0 {
				h.commands = append(h.commands, f[0])
			}
		case "Flags:":
			h.flags = append(h.flags, line)
		}
	}
	return h
}

// page is a program's help and its subcommands' helps.
type page struct {
	root help
	subs []help
}

// skipped are cobra's own subcommands, which need no section of the page.
var skipped = map[string]bool{"help": true, "completion": true}

func build(run helpFunc, name string) (*page, error) {
	text, err := run()
	if err != nil {
		return nil, err
	}
	p := &page{root: parseHelp(name, text)}
	if err := p.addSubs(run, nil, p.root.commands); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *page) addSubs(run helpFunc, parents, names []string) error {
	for _, name := range names {
		if len(parents) == 0 && skipped[name] {
			continue
		}
		args := append(append([]string{}, parents...), name)
		text, err := run(args...)
		if err != nil {
			return err
		}
		h := parseHelp(p.root.path+" "+strings.Join(args, " "), text)
		p.subs = append(p.subs, h)
		if err := p.addSubs(run, args, h.commands); err != nil {
			return err
		}
	}
	return nil
}

var headingRE = regexp.MustCompile(`^[A-Z][A-Z0-9 ]*[A-Z0-9]$`)

// sections splits description blocks at headings: the blocks before the
// first heading, then each heading with its blocks.
func sections(blocks [][]string) (intro [][]string, heads []string, bodies [][][]string) {
	for _, b := range blocks {
		if headingRE.MatchString(b[0]) {
			heads = append(heads, b[0])
			bodies = append(bodies, nil)
			b = b[1:]
			if len(b) == 0 {
				continue
			}
		}
		if len(heads) == 0 {
			intro = append(intro, b)
		} else {
			bodies[len(bodies)-1] = append(bodies[len(bodies)-1], b)
		}
	}
	return intro, heads, bodies
}

func (p *page) write(w io.Writer, section, version, manual, date string) error {
	var b strings.Builder
	name := p.root.path
	intro, heads, bodies := sections(p.root.long)
	fmt.Fprintf(&b, ".\\\" Generated by packaging/mangen from '%s --help'; do not edit.\n", name)
	fmt.Fprintf(&b, ".TH %s %s %q %q %q\n", strings.ToUpper(name), section, date, strings.TrimSpace(name+" "+version), manual)
	b.WriteString(".nh\n.ad l\n")
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", name, escape(oneLine(intro, name)))
	b.WriteString(".SH SYNOPSIS\n")
	writeUsage(&b, p.root.usage, name)
	for _, s := range p.subs {
		writeUsage(&b, s.usage, s.path)
	}
	b.WriteString(".SH DESCRIPTION\n")
	writeBlocks(&b, intro)
	if len(p.root.flags) > 0 {
		b.WriteString(".SH OPTIONS\n")
		writeFlags(&b, p.root.flags)
	}
	if len(p.subs) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, s := range p.subs {
			fmt.Fprintf(&b, ".SS %q\n", s.path)
			writeUsage(&b, s.usage, s.path)
			in, hs, bs := sections(s.long)
			writeBlocks(&b, in)
			for i, h := range hs {
				fmt.Fprintf(&b, ".PP\n.B %s\n.RS 4\n", escape(h))
				writeBlocks(&b, bs[i])
				b.WriteString(".RE\n")
			}
			if len(s.flags) > 0 {
				b.WriteString(".PP\n.B OPTIONS\n.RS 4\n")
				writeFlags(&b, s.flags)
				b.WriteString(".RE\n")
			}
			if len(s.examples) > 0 {
				b.WriteString(".PP\n.B EXAMPLES\n.RS 4\n")
				writeBlocks(&b, [][]string{s.examples})
				b.WriteString(".RE\n")
			}
		}
	}
	examplesDone := false
	writeExamples := func() {
		if !examplesDone && len(p.root.examples) > 0 {
			b.WriteString(".SH EXAMPLES\n")
			writeBlocks(&b, [][]string{p.root.examples})
		}
		examplesDone = true
	}
	for i, h := range heads {
		if h == "SEE ALSO" {
			writeExamples()
		}
		fmt.Fprintf(&b, ".SH %s\n", escape(h))
		writeBlocks(&b, bodies[i])
	}
	writeExamples()
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine is the NAME line: the description's first sentence without the
// program's name ("vipd announces ..." -> "announces ...").
func oneLine(intro [][]string, name string) string {
	if len(intro) == 0 {
		return name
	}
	s := strings.Join(intro[0], " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	return strings.TrimPrefix(s, name+" ")
}

func writeUsage(b *strings.Builder, usage []string, path string) {
	for _, u := range usage {
		rest, ok := strings.CutPrefix(u, path)
		if !ok {
			fmt.Fprintf(b, ".PP\n%s\n", escapeCode(u))
			continue
		}
		fmt.Fprintf(b, ".PP\n\\fB%s\\fR%s\n", escapeCode(path), escapeCode(rest))
	}
}

// writeBlocks writes prose blocks as filled paragraphs and blocks with
// indented lines as they are.
func writeBlocks(b *strings.Builder, blocks [][]string) {
	for _, block := range blocks {
		indented := false
		for _, l := range block {
			if strings.HasPrefix(l, " ") {
				indented = true
			}
		}
		b.WriteString(".PP\n")
		if !indented {
			for _, l := range block {
				b.WriteString(line(refs(escape(l))) + "\n")
			}
			continue
		}
		b.WriteString(".nf\n")
		for _, l := range block {
			b.WriteString(line(escapeCode(l)) + "\n")
		}
		b.WriteString(".fi\n")
	}
}

var flagGapRE = regexp.MustCompile(`\S(\s{2,})\S`)

// writeFlags turns cobra's flag lines ("  -c, --config string   what it is")
// into tagged paragraphs.
func writeFlags(b *strings.Builder, flags []string) {
	for _, f := range flags {
		t := strings.TrimSpace(f)
		if !strings.HasPrefix(t, "-") { // a usage that went on over several lines
			b.WriteString(line(escape(t)) + "\n")
			continue
		}
		spec, usage := t, ""
		if m := flagGapRE.FindStringSubmatchIndex(t); m != nil {
			spec, usage = t[:m[2]], t[m[3]:]
		}
		var parts []string
		for _, word := range strings.Fields(spec) {
			name, comma := strings.CutSuffix(word, ",")
			if strings.HasPrefix(name, "-") {
				name = "\\fB" + escapeCode(name) + "\\fR"
			} else {
				name = "\\fI" + escapeCode(name) + "\\fR"
			}
			if comma {
				name += ","
			}
			parts = append(parts, name)
		}
		fmt.Fprintf(b, ".TP\n%s\n%s\n", strings.Join(parts, " "), line(escape(usage)))
	}
}

// escape makes text safe for groff; hyphens that are not between two
// letters (options, ranges, dashes) become \- so they copy as ASCII.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	var out strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if r == '-' && !(i > 0 && i+1 < len(rs) && isLetter(rs[i-1]) && isLetter(rs[i+1])) {
			out.WriteString(`\-`)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

// escapeCode escapes text shown as typed: every hyphen is a minus.
func escapeCode(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\e`), "-", `\-`)
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// line keeps a text line from being read as a request.
func line(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

var refRE = regexp.MustCompile(`\b([a-z][a-z0-9_.]*)\(([1-9])\)`)

// refs sets man page references like vipctl(8) in bold.
func refs(s string) string { return refRE.ReplaceAllString(s, `\fB$1\fR($2)`) }
