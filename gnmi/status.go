package gnmi

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// toStatus maps the package's error kinds to gRPC status codes; it is used
// only where an RPC returns.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, errInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, errNotFound):
		code = codes.NotFound
	case errors.Is(err, errPermission):
		code = codes.PermissionDenied
	case errors.Is(err, errUnauthorized):
		code = codes.Unauthenticated
	case errors.Is(err, errUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, errDevice):
		code = codes.Aborted
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}
