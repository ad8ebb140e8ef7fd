package gnmi

import (
	"context"
	"fmt"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// Set implements gNMI Set (gNMI spec §3.4) as one transaction: deletes, then
// replaces, then updates are applied in order to a copy of the running
// config; the result is validated and handed to the Device; only if the
// device accepts it does it become the running config. Any failure leaves
// the running config and the device untouched.
func (s *Server) Set(ctx context.Context, req *gpb.SetRequest) (*gpb.SetResponse, error) {
	resp, err := s.set(ctx, req)
	if err != nil {
		s.log.Warn("Set refused", "err", err)
	}
	return resp, toStatus(err)
}

func (s *Server) set(ctx context.Context, req *gpb.SetRequest) (*gpb.SetResponse, error) {
	if len(req.GetUnionReplace()) > 0 {
		return nil, fmt.Errorf("union_replace is not supported: %w", errUnsupported)
	}
	if err := s.checkTarget(req.GetPrefix()); err != nil {
		return nil, err
	}
	s.setMu.Lock()
	defer s.setMu.Unlock()

	work := s.runningLeaves.clone()
	var results []*gpb.UpdateResult
	for _, p := range req.GetDelete() {
		if err := s.applyDelete(work, req.GetPrefix(), p); err != nil {
			return nil, err
		}
		results = append(results, &gpb.UpdateResult{Path: p, Op: gpb.UpdateResult_DELETE})
	}
	for _, u := range req.GetReplace() {
		if err := s.applyWrite(work, req.GetPrefix(), u, true); err != nil {
			return nil, err
		}
		results = append(results, &gpb.UpdateResult{Path: u.GetPath(), Op: gpb.UpdateResult_REPLACE})
	}
	for _, u := range req.GetUpdate() {
		if err := s.applyWrite(work, req.GetPrefix(), u, false); err != nil {
			return nil, err
		}
		results = append(results, &gpb.UpdateResult{Path: u.GetPath(), Op: gpb.UpdateResult_UPDATE})
	}
	next, err := configFromLeaves(work)
	if err != nil {
		return nil, err
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if err := s.opts.Device.ApplyConfig(ctx, s.running, next); err != nil {
		return nil, fmt.Errorf("%w: %w", errDevice, err)
	}
	nextLeaves := configLeaves(next)
	s.publishConfig(s.runningLeaves, nextLeaves)
	s.running, s.runningLeaves = next, nextLeaves
	s.log.Info("config committed", "deletes", len(req.GetDelete()), "replaces", len(req.GetReplace()), "updates", len(req.GetUpdate()))
	return &gpb.SetResponse{Prefix: req.GetPrefix(), Response: results, Timestamp: s.timestamp()}, nil
}

// resolveConfig resolves a Set path: no wildcards, and it must reach config.
func (s *Server) resolveConfig(prefix, p *gpb.Path) (resolved, error) {
	elems, err := joinPath(prefix, p)
	if err != nil {
		return resolved{}, err
	}
	r, err := resolve(s.schema, elems, false)
	if err != nil {
		return r, err
	}
	for i, e := range r.elems {
		if e.GetName() == "state" {
			return r, fmt.Errorf("path %s: %s is state (config false) and cannot be set: %w", FormatPath(r.elems), FormatPath(r.elems[:i+1]), errInvalid)
		}
	}
	return r, nil
}

func (s *Server) applyDelete(work leafSet, prefix, p *gpb.Path) error {
	r, err := s.resolveConfig(prefix, p)
	if err != nil {
		return err
	}
	if isKeyLeaf(r) {
		return fmt.Errorf("path %s is a list key; delete the list entry instead: %w", FormatPath(r.elems), errInvalid)
	}
	deleteUnder(work, FormatPath(r.elems))
	return nil
}

func deleteUnder(work leafSet, p string) {
	for k := range work {
		if underPath(k, p) {
			delete(work, k)
		}
	}
}

// isKeyLeaf reports whether r is a list key leaf (list-level or config/<key>).
func isKeyLeaf(r resolved) bool {
	if r.node.keyLeaf {
		return true
	}
	n := len(r.elems)
	if r.node.kind != kindLeaf || n < 3 || r.elems[n-2].GetName() != "config" {
		return false
	}
	list := r.node.parent.parent
	_, isKey := r.elems[n-3].GetKey()[r.node.name]
	return list.kind == kindList && isKey
}

func (s *Server) applyWrite(work leafSet, prefix *gpb.Path, u *gpb.Update, replace bool) error {
	r, err := s.resolveConfig(prefix, u.GetPath())
	if err != nil {
		return err
	}
	d := &decoder{out: leafSet{}}
	if err := d.decodeValue(r.node, r.elems, u.GetVal()); err != nil {
		return err
	}
	if isKeyLeaf(r) {
		// Writing config/<key> must repeat the path's key.
		for _, l := range d.out {
			if want := r.elems[len(r.elems)-3].GetKey()[r.node.name]; !keyValueIs(l.val, want) {
				return fmt.Errorf("path %s: value %v differs from the key %q in the path: %w", FormatPath(r.elems), l.val, want, errInvalid)
			}
		}
	}
	d.addPathKeys(s.schema, r.elems)
	if replace {
		deleteUnder(work, FormatPath(r.elems))
	}
	for k, l := range d.out {
		work[k] = l
	}
	return nil
}

func keyValueIs(tv *gpb.TypedValue, want string) bool {
	switch x := tv.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		return x.StringVal == want
	case *gpb.TypedValue_UintVal:
		return fmt.Sprint(x.UintVal) == want
	}
	return false
}
