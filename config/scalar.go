package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written the Go way in the file: 500ms, 2s, 1m.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return fmt.Errorf("%q has no unit; write it like %ss or %sms", s, s, s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration; write it like 500ms, 2s or 1m", s)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative; a duration here is 0 or more", s)
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Profile selects the gossip timings: how fast a dead host is noticed.
type Profile string

const (
	ProfileDefault Profile = "default"
	ProfileFast    Profile = "fast"
)

func (p *Profile) UnmarshalText(b []byte) error {
	return parseEnum(b, (*string)(p), string(ProfileDefault), string(ProfileFast))
}

// Family limits which VIPs an interface may carry.
type Family string

const (
	FamilyDual Family = "dual"
	FamilyIPv4 Family = "ipv4"
	FamilyIPv6 Family = "ipv6"
)

func (f *Family) UnmarshalText(b []byte) error {
	return parseEnum(b, (*string)(f), string(FamilyDual), string(FamilyIPv4), string(FamilyIPv6))
}

// Allows reports whether a VIP of addr's family may live on the interface.
func (f Family) Allows(addr netip.Addr) bool {
	switch f {
	case FamilyIPv4:
		return addr.Is4()
	case FamilyIPv6:
		return addr.Is6()
	}
	return true
}

// CheckType is the kind of a health check.
type CheckType string

const (
	CheckHTTP    CheckType = "http"
	CheckHTTPS   CheckType = "https"
	CheckTCP     CheckType = "tcp"
	CheckExec    CheckType = "exec"
	CheckHAProxy CheckType = "haproxy"
	CheckFile    CheckType = "file"
)

var checkTypes = []string{string(CheckHTTP), string(CheckHTTPS), string(CheckTCP), string(CheckExec), string(CheckHAProxy), string(CheckFile)}

func (t *CheckType) UnmarshalText(b []byte) error {
	return parseEnum(b, (*string)(t), checkTypes...)
}

func parseEnum(b []byte, dst *string, allowed ...string) error {
	s := string(b)
	for _, a := range allowed {
		if s == a {
			*dst = s
			return nil
		}
	}
	return fmt.Errorf("%q is not one of: %s", s, strings.Join(allowed, ", "))
}

// StatusRange is the HTTP status codes a check accepts: 200, or 200-399.
type StatusRange struct{ Min, Max int }

func (r *StatusRange) UnmarshalText(b []byte) error {
	s := string(b)
	lo, hi, isRange := strings.Cut(s, "-")
	first, err1 := strconv.Atoi(strings.TrimSpace(lo))
	last, err2 := first, error(nil)
	if isRange {
		last, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil || first < 100 || last > 599 || first > last {
		return fmt.Errorf("%q is not an HTTP status or range; write it like 200 or 200-399", s)
	}
	r.Min, r.Max = first, last
	return nil
}

func (r StatusRange) MarshalText() ([]byte, error) {
	if r.Min == r.Max {
		return []byte(strconv.Itoa(r.Min)), nil
	}
	return []byte(fmt.Sprintf("%d-%d", r.Min, r.Max)), nil
}

// IsZero lets the printer leave out an unset range.
func (r StatusRange) IsZero() bool { return r == StatusRange{} }

// Contains reports whether code is in the range.
func (r StatusRange) Contains(code int) bool { return code >= r.Min && code <= r.Max }

// Address is a VIP: one IPv4 or IPv6 address, written bare or as a host
// prefix (/32, /128).
type Address struct{ netip.Prefix }

func (a *Address) UnmarshalText(b []byte) error {
	s := string(b)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("%q is not an IP address; write it like 192.0.2.10/32 or 2001:db8::10/128", s)
		}
	} else {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return fmt.Errorf("%q is not an IP address; write it like 192.0.2.10/32 or 2001:db8::10/128", s)
		}
		p = netip.PrefixFrom(addr, addr.BitLen())
	}
	addr := p.Addr().Unmap()
	if p.Bits() != addr.BitLen() {
		return fmt.Errorf("%q is a /%d network, but a VIP is one address; write %s/%d", s, p.Bits(), addr, addr.BitLen())
	}
	if !addr.IsGlobalUnicast() {
		return fmt.Errorf("%q is a loopback, link-local, multicast or unspecified address and cannot be a VIP", s)
	}
	a.Prefix = netip.PrefixFrom(addr, addr.BitLen())
	return nil
}

func (a Address) MarshalText() ([]byte, error) { return []byte(a.Prefix.String()), nil }

// IsZero lets the printer and validation tell an unset address.
func (a Address) IsZero() bool { return !a.Prefix.IsValid() }
