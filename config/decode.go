package config

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder fills Go values from a YAML node tree strictly: unknown keys,
// duplicate keys and wrong types are problems, reported with their position,
// and decoding goes on so that every problem is found in one pass. It also
// records where each path.to.key was written, for the errors of validation.
type decoder struct {
	*problems
	pos     map[string]position // where each value starts
	keyPos  map[string]position // where each key was written
	aliases map[*yaml.Node]bool // aliases being expanded, to stop cycles
}

// defaulter is implemented by list and map elements that have defaults of
// their own, filled in before the file's values are decoded over them.
type defaulter interface{ setDefaults() }

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.aliases[n] {
			d.add(at(n), path, "alias *%s refers to itself; write the value out", n.Value)
			return
		}
		d.aliases[n] = true
		defer delete(d.aliases, n)
		d.value(n.Alias, v, path)
		return
	}
	d.pos[path] = at(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value keeps the default
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		if d.expect(n, yaml.ScalarNode, path, "a single value") {
			if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
				d.add(at(n), path, "%v", err)
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.dict(n, v, path)
	case reflect.String:
		if d.expect(n, yaml.ScalarNode, path, "a string") {
			if n.ShortTag() == "!!bool" {
				d.add(at(n), path, "must be a string, not %s; quote it (%q) if you mean the word", n.Value, n.Value)
				return
			}
			v.SetString(n.Value)
		}
	case reflect.Int:
		if d.expect(n, yaml.ScalarNode, path, "a whole number") {
			i, err := strconv.Atoi(n.Value)
			if err != nil || n.ShortTag() != "!!int" {
				d.add(at(n), path, "must be a whole number, like 2, not %q", n.Value)
				return
			}
			v.SetInt(int64(i))
		}
	case reflect.Bool:
		if d.expect(n, yaml.ScalarNode, path, "true or false") {
			switch n.Value {
			case "true":
				v.SetBool(true)
			case "false":
				v.SetBool(false)
			default:
				d.add(at(n), path, "must be true or false, not %q", n.Value)
			}
		}
	default:
		d.add(at(n), path, "vipd has no decoder for %s; this is a bug in vipd, please report it", v.Type())
	}
}

// expect reports whether n is of the wanted kind, and records a problem if not.
func (d *decoder) expect(n *yaml.Node, kind yaml.Kind, path, want string) bool {
	if n.Kind == kind {
		return true
	}
	d.add(at(n), path, "must be %s, not %s", want, describe(n))
	return false
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping of keys"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "this"
}

// pairs walks the key/value pairs of a mapping node, reporting keys that are
// not plain scalars, merge keys and duplicates, and calls fn for the rest.
func (d *decoder) pairs(n *yaml.Node, path string, fn func(key, val *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		switch {
		case key.Kind != yaml.ScalarNode:
			d.add(at(key), path, "a key must be a plain name, not %s", describe(key))
		case key.ShortTag() == "!!merge":
			d.add(at(key), join(path, key.Value), "YAML merge keys are not supported; write the keys out")
		case seen[key.Value] != 0:
			d.add(at(key), join(path, key.Value), "appears twice; the first is at line %d", seen[key.Value])
		default:
			seen[key.Value] = key.Line
			fn(key, val)
		}
	}
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.MappingNode, path, "a mapping of keys") {
		return
	}
	fields := fieldsByKey(v.Type())
	d.pairs(n, path, func(key, val *yaml.Node) {
		idx, ok := fields[key.Value]
		if !ok {
			d.add(at(key), join(path, key.Value), "unknown key%s", suggest(key.Value, v.Type()))
			return
		}
		d.keyPos[join(path, key.Value)] = at(key)
		d.value(val, v.Field(idx), join(path, key.Value))
	})
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.Value != "" && strings.HasSuffix(path, ".command") {
		d.add(at(n), path, "must be a list: write %s (the program and its arguments, no shell)", flowList(strings.Fields(n.Value)))
		return
	}
	if !d.expect(n, yaml.SequenceNode, path, "a list like [a, b]") {
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		elem := newElem(v.Type().Elem())
		d.value(item, elem, fmt.Sprintf("%s[%d]", path, i))
		out = reflect.Append(out, elem)
	}
	v.Set(out)
}

func (d *decoder) dict(n *yaml.Node, v reflect.Value, path string) {
	if !d.expect(n, yaml.MappingNode, path, "a mapping of names to values") {
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.pairs(n, path, func(key, val *yaml.Node) {
		elem := newElem(v.Type().Elem())
		d.keyPos[join(path, key.Value)] = at(key)
		d.value(val, elem, join(path, key.Value))
		v.SetMapIndex(reflect.ValueOf(key.Value), elem)
	})
}

// flowList writes items as a one-line YAML list, quoting those that need it.
func flowList(items []string) string {
	list := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, item := range items {
		list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: item})
	}
	out, err := yaml.Marshal(list)
	if err != nil {
		return "[" + strings.Join(items, ", ") + "]"
	}
	return strings.TrimSuffix(string(out), "\n")
}

// newElem makes a settable element for a list or map, with its defaults.
func newElem(t reflect.Type) reflect.Value {
	if t.Kind() == reflect.Pointer {
		p := reflect.New(t.Elem())
		if def, ok := p.Interface().(defaulter); ok {
			def.setDefaults()
		}
		elem := reflect.New(t).Elem()
		elem.Set(p)
		return elem
	}
	elem := reflect.New(t).Elem()
	if def, ok := elem.Addr().Interface().(defaulter); ok {
		def.setDefaults()
	}
	return elem
}

func fieldsByKey(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}

// suggest names the closest known key, or lists the known keys.
func suggest(key string, t reflect.Type) string {
	var known []string
	for k := range fieldsByKey(t) {
		known = append(known, k)
	}
	slices.Sort(known)
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; the keys allowed here are: " + strings.Join(known, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func at(n *yaml.Node) position { return position{n.Line, n.Column} }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// where returns the position of path's value, or, when the file does not
// write path, the position of the nearest enclosing key that it does write.
func (d *decoder) where(path string) position {
	if p, ok := d.pos[path]; ok {
		return p
	}
	for path != "" {
		cut := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
		if cut < 0 {
			break
		}
		path = path[:cut]
		if p, ok := d.keyPos[path]; ok {
			return p
		}
		if p, ok := d.pos[path]; ok {
			return p
		}
	}
	if p, ok := d.pos[""]; ok {
		return p
	}
	return position{1, 1}
}
