package p4rtserver

import (
	"errors"
	"fmt"
	"slices"

	p4v1 "github.com/p4lang/p4runtime/go/p4/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// codedError is an error with the canonical gRPC code the spec assigns to it.
// It wraps its cause so callers can still errors.Is an engine sentinel.
type codedError struct {
	code codes.Code
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// errorf builds a codedError; %w in format wraps a cause.
func errorf(code codes.Code, format string, args ...any) error {
	return &codedError{code: code, err: fmt.Errorf(format, args...)}
}

// codeOf is the canonical code of err: the innermost codedError's code, or the
// code of a gRPC status error, or UNKNOWN.
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Unknown
}

// rpcError turns err into the gRPC status returned for an RPC-wide failure
// (spec §12.3 item 2: no details).
func rpcError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		var ce *codedError
		if !errors.As(err, &ce) {
			return err
		}
	}
	return status.Error(codeOf(err), err.Error())
}

// batchError builds the status of a Write or Read batch in which at least one
// element failed: code UNKNOWN with one p4.v1.Error per element, in order, OK
// for the elements that succeeded (spec §12.3 item 3, §13.3).
func batchError(what string, errs []error) error {
	if !slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		return nil
	}
	failed := 0
	st := &spb.Status{Code: int32(codes.Unknown)}
	for _, err := range errs {
		pe := &p4v1.Error{CanonicalCode: int32(codes.OK)}
		if err != nil {
			failed++
			pe.CanonicalCode = int32(codeOf(err))
			pe.Message = err.Error()
		}
		a, aerr := anypb.New(pe)
		if aerr != nil {
			return status.Errorf(codes.Internal, "packing p4.v1.Error: %v", aerr)
		}
		st.Details = append(st.Details, a)
	}
	if failed == 0 {
		return nil
	}
	st.Message = fmt.Sprintf("%s: %d of %d failed", what, failed, len(errs))
	if failed == 1 {
		for _, err := range errs {
			if err != nil {
				st.Message = fmt.Sprintf("%s: %v", what, err)
			}
		}
	}
	return status.ErrorProto(st)
}
