package config

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// YAML renders the effective config, defaults included, in the file's own
// schema, so that `vipd check --print` output is itself a valid config.
func (c *Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return buf.Bytes(), nil
}
