package p4evpn

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAPIShutdownOnlyFromLoopback: the operator API has no
// authentication, so POST /api/shutdown refuses any client that is not on
// a loopback address and leaves the daemon running; from loopback it
// reaches the daemon (here one that never started, which says so).
func TestAPIShutdownOnlyFromLoopback(t *testing.T) {
	tests := []struct {
		desc       string
		remote     string
		wantStatus int
		wantBody   string
	}{
		{desc: "IPv4 from the network", remote: "192.0.2.7:40000", wantStatus: http.StatusForbidden, wantBody: "192.0.2.7:40000"},
		{desc: "IPv6 from the network", remote: "[2001:db8::7]:40000", wantStatus: http.StatusForbidden, wantBody: "only from a loopback address"},
		{desc: "not an address", remote: "pipe", wantStatus: http.StatusForbidden, wantBody: "pipe"},
		{desc: "IPv4 loopback", remote: "127.0.0.1:40000", wantStatus: http.StatusInternalServerError, wantBody: "not running"},
		{desc: "IPv6 loopback", remote: "[::1]:40000", wantStatus: http.StatusInternalServerError, wantBody: "not running"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			d := &Daemon{log: slog.New(slog.NewTextHandler(io.Discard, nil)), exit: make(chan struct{})}
			req := httptest.NewRequest(http.MethodPost, "/api/shutdown", nil)
			req.RemoteAddr = tc.remote
			rec := httptest.NewRecorder()
			d.apiShutdown(rec, req)
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("POST /api/shutdown from %s: %d %s, want %d and a body naming %q", tc.remote, rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
			select {
			case <-d.ExitRequested():
				t.Errorf("POST /api/shutdown from %s asked the process to exit", tc.remote)
			default:
			}
		})
	}
}
