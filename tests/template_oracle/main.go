// Command oracle renders templates with Go's real text/template and the helper
// functions gert defines (DESIGN §4.1), so gert's Python implementation can be
// checked against it byte for byte.
//
// Input (stdin): one JSON object per line: {"id": "...", "t": "<template>", "d": {data}}.
// Output (stdout): one JSON object per line: {"id": "...", "out": "...", "err": "..."}.
// JSON integers in data decode as Go int, other numbers as float64.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"text/template"
)

type request struct {
	ID   string          `json:"id"`
	Text string          `json:"t"`
	Data json.RawMessage `json:"d"`
}

type response struct {
	ID  string `json:"id"`
	Out string `json:"out"`
	Err string `json:"err,omitempty"`
}

// convert turns json.Number into int where the literal is an integer, else float64.
func convert(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = convert(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = convert(e)
		}
		return x
	}
	return v
}

func iterate(list any) ([]any, error) {
	v := reflect.ValueOf(list)
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = v.Index(i).Interface()
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a list, got %T", list)
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return r.Int() == 0
	case reflect.Float64:
		return r.Float() == 0
	}
	return false
}

var helpers = template.FuncMap{
	"contains":   func(s, sub string) bool { return strings.Contains(s, sub) },
	"hasPrefix":  func(s, p string) bool { return strings.HasPrefix(s, p) },
	"hasSuffix":  func(s, p string) bool { return strings.HasSuffix(s, p) },
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"trim":       strings.TrimSpace,
	"split":      func(s, sep string) []string { return strings.Split(s, sep) },
	"replace":    func(s, old, new string) string { return strings.ReplaceAll(s, old, new) },
	"trimPrefix": strings.TrimPrefix,
	"trimSuffix": strings.TrimSuffix,
	"list":       func(items ...any) []any { return items },
	"join": func(list any, sep string) (string, error) {
		items, err := iterate(list)
		if err != nil {
			return "", err
		}
		parts := make([]string, len(items))
		for i, e := range items {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, sep), nil
	},
	"has": func(item any, list any) (bool, error) {
		items, err := iterate(list)
		if err != nil {
			return false, err
		}
		for _, e := range items {
			if reflect.TypeOf(e) == reflect.TypeOf(item) && reflect.DeepEqual(e, item) {
				return true, nil
			}
		}
		return false, nil
	},
	"default": func(def any, value any) any {
		if isEmpty(value) {
			return def
		}
		return value
	},
	"toJson": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"fromJson": func(s string) (any, error) {
		var v any
		err := json.Unmarshal([]byte(s), &v)
		return v, err
	},
}

func render(req request) response {
	resp := response{ID: req.ID}
	dec := json.NewDecoder(bytes.NewReader(req.Data))
	dec.UseNumber()
	var data any
	if len(req.Data) > 0 {
		if err := dec.Decode(&data); err != nil {
			resp.Err = "bad data: " + err.Error()
			return resp
		}
	}
	data = convert(data)
	tmpl, err := template.New("t").Option("missingkey=error").Funcs(helpers).Parse(req.Text)
	if err != nil {
		resp.Err = err.Error()
		return resp
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		resp.Err = err.Error()
		return resp
	}
	resp.Out = out.String()
	return resp
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintln(os.Stderr, "bad request:", err)
			os.Exit(2)
		}
		if err := enc.Encode(render(req)); err != nil {
			os.Exit(2)
		}
	}
}
