package api

import (
	"errors"
	"strconv"
)

// GetParamValue returns the value of the gadget's wasm parameter key (a
// params.wasm.<key> entry of gadget.yaml). Values longer than maxSize bytes
// are an error.
func GetParamValue(key string, maxSize uint32) (string, error) {
	dst := make([]byte, maxSize)
	if hostGetParamValue(key, dst) != 0 {
		return "", errors.New("get parameter " + strconv.Quote(key))
	}
	return string(cutNUL(dst)), nil
}

// SetConfig sets key in the gadget's configuration, e.g.
// "programs.<name>.attach_to" before the eBPF programs are attached. Only
// string values are supported.
func SetConfig(key string, value any) error {
	s, ok := value.(string)
	if !ok {
		return errors.New("set config " + strconv.Quote(key) + ": only string values are supported")
	}
	if hostSetConfigString(key, s) != 0 {
		return errors.New("set config " + key)
	}
	return nil
}
