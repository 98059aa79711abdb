package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and validates the config file at path. The node name defaults
// to this machine's hostname.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	hostname, err := os.Hostname()
	if err != nil {
		hostname = ""
	}
	return Parse(path, data, hostname)
}

// Parse decodes and validates a config; file names it in errors, hostname is
// the node name when the file sets none. On error it returns every problem
// found, each an *Error (see Errors), joined in file order.
func Parse(file string, data []byte, hostname string) (*Config, error) {
	p := &problems{file: file}
	root, ok := parseYAML(p, data)
	if !ok {
		return nil, p.err()
	}
	d := &decoder{problems: p, pos: map[string]position{}, keyPos: map[string]position{}, aliases: map[*yaml.Node]bool{}}
	cfg := defaultConfig()
	if root != nil {
		d.value(root, reflect.ValueOf(cfg).Elem(), "")
	}
	if cfg.NodeName == "" {
		cfg.NodeName = hostname
	}
	for _, c := range cfg.Checks {
		c.setTypeDefaults()
	}
	validate(cfg, d)
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseYAML returns the top node of the file's one document, nil for an
// empty file.
func parseYAML(p *problems, data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		p.add(syntaxPosition(err, data), "", "YAML syntax error: %s", strings.TrimPrefix(syntaxMessage.ReplaceAllString(err.Error(), ""), "yaml: "))
		return nil, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		at := position{1, 1}
		if err == nil {
			at = position{next.Line, next.Column}
		}
		p.add(at, "", "only one YAML document is allowed; remove the '---' and what follows it, or merge it into the first")
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

var syntaxMessage = regexp.MustCompile(`^yaml: line \d+: `)
var syntaxLine = regexp.MustCompile(`^yaml: line (\d+):`)

// syntaxPosition finds the line that yaml.v3 names in a syntax error; it
// gives no column, so the first non-blank character of that line stands in.
func syntaxPosition(err error, data []byte) position {
	m := syntaxLine.FindStringSubmatch(err.Error())
	if m == nil {
		return position{1, 1}
	}
	line, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	col := 1
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		col = len(text) - len(strings.TrimLeft(text, " \t")) + 1
	}
	return position{line, col}
}
