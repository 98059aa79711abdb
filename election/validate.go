package election

import (
	"errors"
	"fmt"
)

// Validate reports what makes the view ambiguous: empty or repeated host
// names and unit keys. Decide still answers for such a view, but gives no
// owner to what is ambiguous, so callers should log these errors.
func (v View) Validate() error {
	var errs []error
	hosts := make(map[string]bool, len(v.Hosts))
	for i, h := range v.Hosts {
		switch {
		case h.Name == "":
			errs = append(errs, fmt.Errorf("election: host %d has no name", i))
		case hosts[h.Name]:
			errs = append(errs, fmt.Errorf("election: host %q appears twice", h.Name))
		}
		hosts[h.Name] = true
	}
	units := make(map[string]bool, len(v.Units))
	for i, u := range v.Units {
		switch {
		case u.Key == "":
			errs = append(errs, fmt.Errorf("election: unit %d has no key", i))
		case units[u.Key]:
			errs = append(errs, fmt.Errorf("election: unit %q appears twice", u.Key))
		}
		units[u.Key] = true
	}
	return errors.Join(errs...)
}
