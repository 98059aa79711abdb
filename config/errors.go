package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Error is one problem in a config file, placed where an editor can jump to
// it: FILE:LINE:COL: path.to.key: what is wrong, and what would be right.
type Error struct {
	File   string
	Line   int
	Column int
	Path   string // empty for problems with the file as a whole
	Msg    string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Path, e.Msg)
}

// Errors lists every *Error that Parse or Load joined into err.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		var e *Error
		if errors.As(err, &e) && e == err {
			out = append(out, e)
			return
		}
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, inner := range joined.Unwrap() {
				walk(inner)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

type position struct{ line, col int }

// problems collects every error found in one file, so the operator sees them
// all at once instead of fixing one per run.
type problems struct {
	file string
	list []*Error
}

func (p *problems) add(at position, path, format string, args ...any) {
	p.list = append(p.list, &Error{File: p.file, Line: at.line, Column: at.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems in file order, joined, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	slices.SortStableFunc(p.list, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	errs := make([]error, len(p.list))
	for i, e := range p.list {
		errs[i] = e
	}
	return errors.Join(errs...)
}
