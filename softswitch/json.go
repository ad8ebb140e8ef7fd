package softswitch

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// The BMv2 JSON document, as docs/JSON_format.md of p4lang/behavioral-model
// describes it (format version 2.x). Only what the engine reads is declared;
// sections the engine does not support are kept raw so the loader can reject
// them by name when they are not empty.

type jProgram struct {
	Meta struct {
		Version []int `json:"version"`
	} `json:"__meta__"`
	HeaderTypes       []jHeaderType     `json:"header_types"`
	Headers           []jHeader         `json:"headers"`
	HeaderStacks      []jHeaderStack    `json:"header_stacks"`
	HeaderUnionTypes  []json.RawMessage `json:"header_union_types"`
	HeaderUnions      []json.RawMessage `json:"header_unions"`
	HeaderUnionStacks []json.RawMessage `json:"header_union_stacks"`
	FieldLists        []jNamedList      `json:"field_lists"`
	Errors            [][]any           `json:"errors"`
	Parsers           []jParser         `json:"parsers"`
	ParseVsets        []json.RawMessage `json:"parse_vsets"`
	Deparsers         []jDeparser       `json:"deparsers"`
	MeterArrays       []jMeter          `json:"meter_arrays"`
	CounterArrays     []jCounter        `json:"counter_arrays"`
	RegisterArrays    []jRegister       `json:"register_arrays"`
	Calculations      []jCalculation    `json:"calculations"`
	LearnLists        []jNamedList      `json:"learn_lists"`
	Actions           []jAction         `json:"actions"`
	Pipelines         []jPipeline       `json:"pipelines"`
	Checksums         []jChecksum       `json:"checksums"`
	ExternInstances   []json.RawMessage `json:"extern_instances"`
	FieldAliases      [][]any           `json:"field_aliases"`
}

type jHeaderType struct {
	Name   string  `json:"name"`
	ID     int     `json:"id"`
	Fields [][]any `json:"fields"`
}

type jHeader struct {
	Name       string `json:"name"`
	ID         int    `json:"id"`
	HeaderType string `json:"header_type"`
	Metadata   bool   `json:"metadata"`
}

type jHeaderStack struct {
	Name       string `json:"name"`
	ID         int    `json:"id"`
	HeaderType string `json:"header_type"`
	HeaderIDs  []int  `json:"header_ids"`
}

type jNamedList struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Elements []jTV  `json:"elements"`
}

// jTV is BMv2's "type value object".
type jTV struct {
	Type     string          `json:"type"`
	Value    json.RawMessage `json:"value"`
	Bitwidth int             `json:"bitwidth"`
}

func (t jTV) String() string {
	return fmt.Sprintf("{%s %s}", t.Type, string(t.Value))
}

// jExpr is the value of an "expression" type value object.
type jExpr struct {
	Op    string          `json:"op"`
	Left  json.RawMessage `json:"left"`
	Right json.RawMessage `json:"right"`
	Cond  json.RawMessage `json:"cond"`
}

type jParser struct {
	Name        string        `json:"name"`
	InitState   string        `json:"init_state"`
	ParseStates []jParseState `json:"parse_states"`
}

type jParseState struct {
	Name          string `json:"name"`
	ParserOps     []jParserOp
	TransitionKey []jTV          `json:"transition_key"`
	Transitions   []jTransition  `json:"transitions"`
	Raw           map[string]any `json:"-"`
}

func (s *jParseState) UnmarshalJSON(b []byte) error {
	var v struct {
		Name          string        `json:"name"`
		ParserOps     []jParserOp   `json:"parser_ops"`
		TransitionKey []jTV         `json:"transition_key"`
		Transitions   []jTransition `json:"transitions"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.Name, s.ParserOps, s.TransitionKey, s.Transitions = v.Name, v.ParserOps, v.TransitionKey, v.Transitions
	return nil
}

type jParserOp struct {
	Op         string            `json:"op"`
	Parameters []json.RawMessage `json:"parameters"`
}

type jTransition struct {
	Type      string  `json:"type"`
	Value     *string `json:"value"`
	Mask      *string `json:"mask"`
	NextState *string `json:"next_state"`
}

type jDeparser struct {
	Name  string   `json:"name"`
	Order []string `json:"order"`
}

type jMeter struct {
	Name      string  `json:"name"`
	Size      int     `json:"size"`
	IsDirect  bool    `json:"is_direct"`
	Binding   *string `json:"binding"`
	Type      string  `json:"type"`
	RateCount int     `json:"rate_count"`
}

type jCounter struct {
	Name     string  `json:"name"`
	Size     int     `json:"size"`
	IsDirect bool    `json:"is_direct"`
	Binding  *string `json:"binding"`
}

type jRegister struct {
	Name     string `json:"name"`
	Size     int    `json:"size"`
	Bitwidth int    `json:"bitwidth"`
}

type jCalculation struct {
	Name  string `json:"name"`
	Algo  string `json:"algo"`
	Input []jTV  `json:"input"`
}

type jAction struct {
	Name        string `json:"name"`
	ID          int    `json:"id"`
	RuntimeData []struct {
		Name     string `json:"name"`
		Bitwidth int    `json:"bitwidth"`
	} `json:"runtime_data"`
	Primitives []jPrimitive `json:"primitives"`
}

type jPrimitive struct {
	Op         string `json:"op"`
	Parameters []jTV  `json:"parameters"`
}

type jPipeline struct {
	Name           string           `json:"name"`
	InitTable      *string          `json:"init_table"`
	ActionProfiles []jActionProfile `json:"action_profiles"`
	Tables         []jTable         `json:"tables"`
	Conditionals   []jConditional   `json:"conditionals"`
	ActionCalls    []jActionCall    `json:"action_calls"`
}

type jActionProfile struct {
	Name     string `json:"name"`
	MaxSize  int    `json:"max_size"`
	Selector *struct {
		Algo  string `json:"algo"`
		Input []jTV  `json:"input"`
	} `json:"selector"`
}

type jTable struct {
	Name string `json:"name"`
	Key  []struct {
		MatchType string          `json:"match_type"`
		Name      string          `json:"name"`
		Target    json.RawMessage `json:"target"`
		Mask      *string         `json:"mask"`
	} `json:"key"`
	MatchType       string             `json:"match_type"`
	Type            string             `json:"type"`
	ActionProfile   string             `json:"action_profile"`
	MaxSize         int                `json:"max_size"`
	WithCounters    bool               `json:"with_counters"`
	SupportTimeout  bool               `json:"support_timeout"`
	DirectMeters    *string            `json:"direct_meters"`
	ActionIDs       []int              `json:"action_ids"`
	Actions         []string           `json:"actions"`
	BaseDefaultNext *string            `json:"base_default_next"`
	NextTables      map[string]*string `json:"next_tables"`
	DefaultEntry    *struct {
		ActionID         int      `json:"action_id"`
		ActionConst      bool     `json:"action_const"`
		ActionData       []string `json:"action_data"`
		ActionEntryConst bool     `json:"action_entry_const"`
	} `json:"default_entry"`
	Entries *[]jConstEntry `json:"entries"`
}

type jConstEntry struct {
	MatchKey []struct {
		MatchType    string          `json:"match_type"`
		Key          json.RawMessage `json:"key"`
		Mask         string          `json:"mask"`
		PrefixLength int             `json:"prefix_length"`
		Start        string          `json:"start"`
		End          string          `json:"end"`
	} `json:"match_key"`
	ActionEntry struct {
		ActionID   int      `json:"action_id"`
		ActionData []string `json:"action_data"`
	} `json:"action_entry"`
	Priority int `json:"priority"`
}

type jConditional struct {
	Name       string  `json:"name"`
	Expression jTV     `json:"expression"`
	TrueNext   *string `json:"true_next"`
	FalseNext  *string `json:"false_next"`
}

type jActionCall struct {
	Name     string  `json:"name"`
	ActionID int     `json:"action_id"`
	NextNode *string `json:"next_node"`
}

type jChecksum struct {
	Name        string          `json:"name"`
	Target      json.RawMessage `json:"target"`
	Type        string          `json:"type"`
	Calculation string          `json:"calculation"`
	Verify      *bool           `json:"verify"`
	Update      *bool           `json:"update"`
	IfCond      *jTV            `json:"if_cond"`
}

// parseHexstr reads a BMv2 hexstr ("0x0a", "-0x1") as an integer.
func parseHexstr(s string) (*big.Int, error) {
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimPrefix(s, "-")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	v, ok := new(big.Int).SetString(t, 16)
	if !ok {
		return nil, fmt.Errorf("hexstr %q: %w", s, ErrInvalid)
	}
	if neg {
		v.Neg(v)
	}
	return v, nil
}

// hexUint reads a hexstr into 64 bits, two's complement for negatives.
func hexUint(s string) (uint64, error) {
	v, err := parseHexstr(s)
	if err != nil {
		return 0, err
	}
	if v.Sign() < 0 {
		m := new(big.Int).Lsh(big.NewInt(1), 64)
		v.Add(v, m)
		if v.Sign() < 0 {
			return 0, fmt.Errorf("hexstr %q is below -2^64: %w", s, ErrUnsupported)
		}
	}
	if v.BitLen() > 64 {
		return 0, fmt.Errorf("hexstr %q is wider than 64 bits: %w", s, ErrUnsupported)
	}
	return v.Uint64(), nil
}

// hexBytes reads a non-negative hexstr into n bytes big-endian.
func hexBytes(s string, n int) ([]byte, error) {
	v, err := parseHexstr(s)
	if err != nil {
		return nil, err
	}
	if v.Sign() < 0 {
		return nil, fmt.Errorf("hexstr %q: negative where bytes are expected: %w", s, ErrInvalid)
	}
	if (v.BitLen()+7)/8 > n {
		return nil, fmt.Errorf("hexstr %q does not fit in %d bytes: %w", s, n, ErrInvalid)
	}
	return v.FillBytes(make([]byte, n)), nil
}

// unmarshalString decodes a JSON string.
func unmarshalString(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("expected a string, got %s: %w", raw, ErrInvalid)
	}
	return s, nil
}

// unmarshalPair decodes a JSON 2-tuple of strings (a field reference).
func unmarshalPair(raw json.RawMessage) (string, string, error) {
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil || len(v) != 2 {
		return "", "", fmt.Errorf("expected a [header, field] pair, got %s: %w", raw, ErrInvalid)
	}
	return v[0], v[1], nil
}
