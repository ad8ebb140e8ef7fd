package p4rtserver

import (
	"encoding/hex"
	"strconv"
)

func quote(s string) string  { return strconv.Quote(s) }
func itoa(i int) string      { return strconv.Itoa(i) }
func hexStr(b []byte) string { return "0x" + hex.EncodeToString(b) }
