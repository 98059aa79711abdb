package agent

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/vipd/vipd/api"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/membership"
)

type reloadRequest struct {
	cfg  *config.Config
	done chan reloadOutcome
}

type reloadOutcome struct {
	err error
	old *config.Config
}

// Reload reads the config file again. A file with any error changes
// nothing: the agent keeps running what it had, and status shows the error
// until a reload works. A good file is applied as a diff: VIPs it does not
// change are not disturbed.
func (a *Agent) Reload(ctx context.Context) (api.ReloadResult, error) {
	res := api.ReloadResult{File: a.opts.File}
	cfg, err := a.opts.Load(a.opts.File)
	if err == nil {
		if keys := config.RestartNeeded(a.Config(), cfg); len(keys) > 0 {
			err = fmt.Errorf("%s: %s cannot change on reload; restart vipd ('systemctl restart vipd') to apply them", a.opts.File, strings.Join(keys, ", "))
		}
	}
	if err == nil && a.opts.OnReload != nil {
		err = a.opts.OnReload(cfg)
	}
	if err == nil {
		req := reloadRequest{cfg: cfg, done: make(chan reloadOutcome, 1)}
		select {
		case a.reloads <- req:
			select {
			case out := <-req.done:
				err = out.err
				res.Added, res.Removed, res.Changed = vipDiff(out.old, cfg)
			case <-ctx.Done():
				return res, ctx.Err()
			}
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.reloadErr = err.Error()
		a.log.Error("reload failed; still running the previous config. Fix the file, check it with 'vipd check', then reload again", "file", a.opts.File, "err", err)
		return res, err
	}
	a.reloadErr = ""
	return res, nil
}

// switchConfig runs on the loop: checks and gossip first, so the next
// reconcile decides with the new units.
func (a *Agent) switchConfig(cfg *config.Config) reloadOutcome {
	if err := a.opts.Checks.Apply(cfg); err != nil {
		return reloadOutcome{err: fmt.Errorf("apply checks: %w", err)}
	}
	if err := a.opts.Announcer.Manage(cfg.VIPs); err != nil {
		return reloadOutcome{err: fmt.Errorf("manage the new VIPs: %w", err)}
	}
	if err := a.opts.Cluster.SetUnits(membership.UnitsFromConfig(cfg.VIPs)); err != nil {
		return reloadOutcome{err: fmt.Errorf("gossip the new VIP list: %w", err)}
	}
	a.mu.Lock()
	old := a.cfg
	a.cfg = cfg
	a.loadedAt = a.opts.Clock.Now()
	a.mu.Unlock()
	a.log.Info("config reloaded", "file", a.opts.File, "vips", len(cfg.VIPs))
	return reloadOutcome{old: old}
}

// vipDiff names the VIPs a reload added, removed and changed.
func vipDiff(old, cfg *config.Config) (added, removed, changed []string) {
	if old == nil {
		return nil, nil, nil
	}
	before := map[string]config.VIP{}
	for _, v := range old.VIPs {
		before[v.Name] = v
	}
	for _, v := range cfg.VIPs {
		was, ok := before[v.Name]
		switch {
		case !ok:
			added = append(added, v.Name)
		case !reflect.DeepEqual(was, v):
			changed = append(changed, v.Name)
		}
		delete(before, v.Name)
	}
	removed = slices.Sorted(maps.Keys(before))
	return added, removed, changed
}
