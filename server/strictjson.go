package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// strictJSON refuses what encoding/json lets through silently: invalid
// UTF-8 (which it turns into U+FFFD) and an object key given twice (of
// which it keeps the last, so a body could show a proxy or a log one
// client_secret and authenticate with another). The form dialect refuses
// both already; the JSON dialects must not be the weaker door.
func strictJSON(body []byte) error {
	if !utf8.Valid(body) {
		return errors.New("the JSON body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	return walkJSON(dec, 0)
}

// maxJSONDepth bounds the nesting walkJSON follows; no body enlace takes
// nests more than a few levels.
const maxJSONDepth = 32

func walkJSON(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("the JSON body nests too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("the JSON body is malformed: %w", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return fmt.Errorf("the JSON body is malformed: %w", err)
			}
			key, _ := k.(string)
			if seen[key] {
				return fmt.Errorf("the JSON body gives %q twice", key)
			}
			seen[key] = true
			if err := walkJSON(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walkJSON(dec, depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("the JSON body is malformed: %w", err)
	}
	return nil
}
